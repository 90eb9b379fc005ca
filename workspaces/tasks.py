"""Background work on workspaces: tasks take ids, load, call the service, and own their retries."""

from __future__ import annotations

import logging
import time

from celery import Task, shared_task

from github_app.errors import GitHubRateLimited, GitHubUnavailable
from workspaces.models import GitHubInstallation
from workspaces.services import InstallationNotFound, installation_link

logger = logging.getLogger(__name__)

SYNC_MAX_RETRIES = 5


@shared_task(bind=True, max_retries=SYNC_MAX_RETRIES)
def installation_sync(self: Task, installation_pk: int) -> None:
    """Refreshes one linked installation and its repositories from GitHub."""
    installation = GitHubInstallation.objects.select_related("workspace").filter(pk=installation_pk).first()
    if installation is None:
        logger.info("Installation row %s is gone; nothing to sync.", installation_pk)
        return
    try:
        installation_link(workspace=installation.workspace, installation_github_id=installation.github_id)
    except GitHubRateLimited as error:
        # GitHub tells when the limit resets; retrying earlier only spends the next window.
        raise self.retry(exc=error, countdown=max(1, int(error.retry_at - time.time()))) from error
    except GitHubUnavailable as error:
        raise self.retry(exc=error, countdown=_backoff_seconds(self.request.retries)) from error
    except InstallationNotFound:
        # Uninstalled at GitHub: the `installation.deleted` webhook owns removing the row.
        logger.warning("GitHub no longer knows installation %s; left as it is.", installation.github_id)


def _backoff_seconds(retries: int) -> int:
    return min(600, 5 * 4**retries)
