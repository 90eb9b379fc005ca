"""The work of a webhook delivery, in the background: the receiver answers GitHub in milliseconds."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.db import OperationalError
from django.utils import timezone

from github_app.errors import GitHubRateLimited, GitHubUnavailable, retry_countdown
from sts.policy_index import policy_index_scan_installation
from sts.webhooks.services import (
    webhook_deliveries_purge,
    webhook_deliveries_stale,
    webhook_delivery_apply,
    webhook_delivery_failed,
)
from workspaces.installation_events import installation_reconcile
from workspaces.models import GitHubInstallation
from workspaces.services import InstallationNotFound

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
STALE_DELIVERY_SECONDS = 15 * 60  # a delivery queued this long ago and not done was lost on its way to a worker


@shared_task(bind=True, name="sts.webhooks.tasks.webhook_delivery_process", max_retries=MAX_RETRIES)
def webhook_delivery_process(self: Task, delivery_pk: int) -> str:
    try:
        return webhook_delivery_apply(delivery_pk=delivery_pk)
    except Exception as error:
        if isinstance(error, OperationalError) and self.request.retries < MAX_RETRIES:
            # A lock timeout or a dropped connection passes; the work is idempotent, so it is done again.
            raise self.retry(exc=error, countdown=min(300, 2 * 4**self.request.retries)) from error
        # Retries spent, or a bug: recorded (by the error's class, never its message) for the admin's
        # list of failed deliveries, and raised so that it is seen. A redelivery queues it again.
        webhook_delivery_failed(delivery_pk=delivery_pk, error_tag=type(error).__name__)
        raise


@shared_task(name="sts.webhooks.tasks.installations_reconcile")
def installations_reconcile() -> dict[str, int]:
    """Periodic (``CELERY_BEAT_SCHEDULE``): re-reads every owned installation from GitHub, each in a
    task of its own (with its repositories' policy folders, for the policy index), and queues again the
    deliveries whose task never ran (a broker that lost them). GitHub never redelivers by itself, so this
    is what repairs a lost webhook."""
    pks = list(GitHubInstallation.objects.values_list("pk", flat=True))
    for pk in pks:
        installation_reconcile_one.delay(pk)
    stale = webhook_deliveries_stale(older_than=timedelta(seconds=STALE_DELIVERY_SECONDS))
    for delivery_pk in stale:
        webhook_delivery_process.delay(delivery_pk)
    return {"installations": len(pks), "deliveries_requeued": len(stale)}


@shared_task(bind=True, name="sts.webhooks.tasks.installation_reconcile_one", max_retries=MAX_RETRIES)
def installation_reconcile_one(self: Task, installation_pk: int) -> bool:
    installation = GitHubInstallation.objects.select_related("workspace").filter(pk=installation_pk).first()
    if installation is None:
        return False
    request_id = f"reconcile-{timezone.now():%Y%m%d%H%M}"
    try:
        changed = installation_reconcile(installation=installation, request_id=request_id)
        policy_index_scan_installation(installation_pk=installation_pk, request_id=request_id)
        return changed
    except (GitHubRateLimited, GitHubUnavailable) as error:
        raise self.retry(exc=error, countdown=retry_countdown(error, retries=self.request.retries)) from error
    except InstallationNotFound:
        # Uninstalled at GitHub while its `deleted` webhook was lost, or a transient 404: the row stays,
        # and mints nothing while GitHub refuses its tokens; an operator unlinks it.
        logger.warning("GitHub no longer knows installation %s; left as it is.", installation.github_id)
        return False


@shared_task(name="sts.webhooks.tasks.webhook_deliveries_purge_old")
def webhook_deliveries_purge_old() -> int:
    """Periodic (``CELERY_BEAT_SCHEDULE``): deliveries done long ago go; failed ones stay. Safe to run
    twice or concurrently (deletes are idempotent)."""
    return webhook_deliveries_purge(now=timezone.now())
