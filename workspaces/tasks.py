"""Background work on workspaces: tasks take ids, load, call the service, and own their retries."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from audit.chain import chained_workspaces
from audit.models import AuditEvent
from audit.services import audit_record, audit_retention_apply
from github_app.errors import GitHubRateLimited, GitHubUnavailable, retry_countdown
from workspaces.entitlements import feature_value
from workspaces.models import GitHubInstallation, Workspace
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
    except (GitHubRateLimited, GitHubUnavailable) as error:
        raise self.retry(exc=error, countdown=retry_countdown(error, retries=self.request.retries)) from error
    except InstallationNotFound:
        # Uninstalled at GitHub. The row stays until an operator unlinks it: a transient 404 must never
        # erase a workspace's installation, and its repositories then mint nothing (GitHub refuses).
        logger.warning("GitHub no longer knows installation %s; left as it is.", installation.github_id)


@shared_task(name="workspaces.tasks.audit_retention_apply_all")
def audit_retention_apply_all() -> dict[str, int]:
    """Daily (``CELERY_BEAT_SCHEDULE``): each workspace keeps its plan's `audit_retention_days` of
    events; events that name no workspace, or a workspace that is gone, keep
    ``AUDIT_UNSCOPED_RETENTION_DAYS``. Each chain that was cut is itself an audit event. Safe to run
    twice: a second run finds nothing old enough."""
    now = timezone.now()
    # Chains of workspaces that are gone (or never were) keep what events naming no workspace keep.
    horizons = dict.fromkeys(chained_workspaces(), settings.AUDIT_UNSCOPED_RETENTION_DAYS)
    horizons[""] = settings.AUDIT_UNSCOPED_RETENTION_DAYS
    for workspace in Workspace.objects.select_related("plan").iterator():
        horizons[workspace.public_id] = int(feature_value(workspace=workspace, feature="audit_retention_days", now=now))
    removed: dict[str, int] = {}
    for workspace_public_id, days in horizons.items():
        checkpoint = audit_retention_apply(workspace_public_id=workspace_public_id, before=now - timedelta(days=days))
        if checkpoint is None:
            continue
        removed[workspace_public_id] = checkpoint.sequence
        audit_record(
            action=AuditEvent.Action.AUDIT_RETENTION_APPLIED,
            outcome=AuditEvent.Outcome.ALLOWED,
            request_id=f"retention-{now:%Y%m%d}",
            workspace_public_id=workspace_public_id,
            identity={"actor": "atmos-pro", "actor_kind": "system"},
            detail={"retention_days": days, "removed_through": checkpoint.sequence, "checkpoint_hash": checkpoint.hash},
        )
    return removed
