"""Celery tasks of STS: they load what they need and call a service."""

from __future__ import annotations

import logging
import time

from celery import Task, shared_task
from django.utils import timezone

from github_app.client import GitHubApp
from github_app.errors import GitHubError, GitHubRateLimited, GitHubUnavailable
from sts.models import PolicyCheck
from sts.policy_checks import policy_check_failed, policy_check_perform
from sts.policy_index import policy_index_scan
from sts.purge import expired_records_delete
from workspaces.models import GitHubInstallation

logger = logging.getLogger(__name__)

MAX_RETRIES = 5


@shared_task(name="sts.tasks.expired_records_purge")
def expired_records_purge() -> dict[str, int]:
    """Scheduled by ``CELERY_BEAT_SCHEDULE``; safe to run twice or concurrently (deletes are idempotent)."""
    return expired_records_delete(now=timezone.now())


@shared_task(bind=True, name="sts.tasks.policy_check_process", max_retries=MAX_RETRIES)
def policy_check_process(self: Task, check_pk: int) -> str:
    """Reports one policy check run (`sts.policy_checks`); retried while GitHub fails or limits us."""
    try:
        return policy_check_perform(check_pk=check_pk)
    except GitHubRateLimited as error:
        if self.request.retries < MAX_RETRIES:
            # GitHub tells when the limit resets; retrying earlier only spends the next window.
            raise self.retry(exc=error, countdown=max(1, int(error.retry_at - time.time()))) from error
        policy_check_failed(check_pk=check_pk, error_tag=type(error).__name__)
        raise
    except GitHubUnavailable as error:
        if self.request.retries < MAX_RETRIES:
            raise self.retry(exc=error, countdown=_backoff_seconds(self.request.retries)) from error
        policy_check_failed(check_pk=check_pk, error_tag=type(error).__name__)
        raise
    except GitHubError as error:
        # A refusal that a retry does not change (the installation lacks `checks: write`, the commit is
        # gone): recorded by the error's class, never its message, and the delivery's work stays done.
        logger.warning("Policy check %s not reported: %s", check_pk, type(error).__name__)
        policy_check_failed(check_pk=check_pk, error_tag=type(error).__name__)
        return PolicyCheck.Status.FAILED


@shared_task(bind=True, name="sts.tasks.policy_index_scan_one", max_retries=MAX_RETRIES)
def policy_index_scan_one(self: Task, installation_pk: int) -> int:
    """Lists the policy folder of every repository of one installation and marks its index complete."""
    installation = GitHubInstallation.objects.select_related("workspace").filter(pk=installation_pk).first()
    if installation is None:
        return 0
    try:
        return policy_index_scan(
            installation=installation, app=GitHubApp.from_settings(), request_id=f"scan-{timezone.now():%Y%m%d%H%M}"
        )
    except GitHubRateLimited as error:
        raise self.retry(exc=error, countdown=max(1, int(error.retry_at - time.time()))) from error
    except GitHubUnavailable as error:
        raise self.retry(exc=error, countdown=_backoff_seconds(self.request.retries)) from error
    except GitHubError as error:
        # GitHub refuses the installation (gone, suspended, our credentials): the index stays incomplete,
        # so mints read as without it, and the hourly reconciliation tries again.
        logger.warning("Policy index of installation %s not scanned: %s", installation_pk, type(error).__name__)
        return 0


def _backoff_seconds(retries: int) -> int:
    return min(600, 5 * 4**retries)
