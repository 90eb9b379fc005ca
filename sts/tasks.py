"""Celery tasks of STS: they load what they need and call a service."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.utils import timezone

from github_app.errors import GitHubError, GitHubRateLimited, GitHubUnavailable, retry_countdown
from sts.models import PolicyCheck
from sts.policy_checks import policy_check_failed, policy_check_perform
from sts.policy_index import policy_index_scan_installation
from sts.purge import expired_records_delete

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
    except (GitHubRateLimited, GitHubUnavailable) as error:
        if self.request.retries < MAX_RETRIES:
            raise self.retry(exc=error, countdown=retry_countdown(error, retries=self.request.retries)) from error
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
    try:
        return policy_index_scan_installation(
            installation_pk=installation_pk, request_id=f"scan-{timezone.now():%Y%m%d%H%M}"
        )
    except (GitHubRateLimited, GitHubUnavailable) as error:
        raise self.retry(exc=error, countdown=retry_countdown(error, retries=self.request.retries)) from error
