"""A webhook delivery received once, and its work: each event kept current in our records.

`webhook_delivery_receive` runs in the request and only records; `webhook_delivery_apply` runs in
the Celery task and changes things. Both are idempotent per delivery GUID.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.models import AuditEvent
from github_app.webhooks import (
    InstallationEvent,
    InstallationRepositoriesEvent,
    PullRequestEvent,
    PushEvent,
    RepositoryEvent,
    WebhookEvent,
    webhook_event_parse,
)
from sts.models import PolicyCheck
from sts.policy.vocabulary import POLICY_DIRECTORY
from sts.policy_checks import policy_check_queue
from sts.policy_index import (
    policy_index_incomplete,
    policy_index_push,
    policy_index_repositories_left,
    policy_index_repository_moved,
)
from sts.policy_store import policy_files_invalidate
from sts.tasks import policy_check_process, policy_index_scan_one
from sts.webhooks.models import WebhookDelivery
from workspaces.installation_events import (
    installation_event_apply,
    installation_event_record,
    installation_owner_of_repository,
    installation_repositories_event_apply,
    installation_repository_moved,
)

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status
PURGE_BATCH = 5000  # rows per DELETE: a backlog of months goes in short statements, not one long lock


@dataclass(frozen=True)
class Received:
    delivery: WebhookDelivery
    enqueue: bool  # whether the caller must have the task run once the transaction commits
    duplicate: bool


def webhook_delivery_receive(*, guid: str, event: str, payload: object) -> Received:
    """Records a delivery whose signature was checked. Raises `WebhookPayloadInvalid` (nothing
    recorded) when an event we act on does not have GitHub's shape. A GUID already recorded changes
    nothing, unless its work failed for good or never finished: then it is queued again."""
    parsed = webhook_event_parse(event=event, payload=payload)
    action = payload.get("action") if isinstance(payload, dict) else None
    with transaction.atomic():
        delivery, created = WebhookDelivery.objects.select_for_update().get_or_create(
            guid=guid,
            defaults={
                "event": event,
                "action": action[:64] if isinstance(action, str) else "",
                "installation_github_id": _installation_id(parsed),
                "payload": payload if parsed is not None else {},
                "status": Status.QUEUED if parsed is not None else Status.IGNORED,
                "outcome": "" if parsed is not None else "Not an event this service acts on.",
            },
        )
        if created:
            return Received(delivery, enqueue=parsed is not None, duplicate=False)
        if delivery.status == Status.FAILED:
            delivery.status, delivery.error_tag = Status.QUEUED, ""
            delivery.save(update_fields=["status", "error_tag"])
        return Received(delivery, enqueue=delivery.status == Status.QUEUED, duplicate=True)


def webhook_delivery_apply(*, delivery_pk: int) -> str:
    """Does a delivery's work once; the delivery row is locked, so a second run (a redelivery, a retried
    task) waits and then finds it done. Returns the delivery's status."""
    WebhookDelivery.objects.filter(pk=delivery_pk, status=Status.QUEUED).update(attempts=F("attempts") + 1)
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_pk).first()
        if delivery is None or delivery.status != Status.QUEUED:
            return delivery.status if delivery is not None else "missing"
        event = webhook_event_parse(event=delivery.event, payload=delivery.payload)
        outcome = _dispatch(event, guid=delivery.guid) if event is not None else None
        delivery.status = Status.DONE if outcome is not None else Status.IGNORED
        delivery.outcome = (outcome or "No workspace owns the installation or repository; nothing changed.")[:300]
        delivery.processed_at = timezone.now()
        delivery.save(update_fields=["status", "outcome", "processed_at"])
    logger.info("Webhook delivery %s (%s): %s", delivery.guid, delivery.event, delivery.status)
    return delivery.status


def webhook_delivery_failed(*, delivery_pk: int, error_tag: str) -> None:
    """Records that a delivery's work failed for good (after the task's retries); the admin lists it."""
    WebhookDelivery.objects.filter(pk=delivery_pk).exclude(status=Status.DONE).update(
        status=Status.FAILED, error_tag=error_tag[:64], processed_at=timezone.now()
    )


def webhook_deliveries_stale(*, older_than: timedelta) -> list[int]:
    """Deliveries still queued `older_than` after they arrived: their task never ran or never finished."""
    cutoff = timezone.now() - older_than
    return list(
        WebhookDelivery.objects.filter(status=Status.QUEUED, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:1000]
    )


def webhook_deliveries_purge(*, now: datetime) -> int:
    """Deletes deliveries done or ignored more than `WEBHOOK_DELIVERY_RETENTION_DAYS` before `now`, in
    batches; returns how many went. A failed or still queued delivery stays, whatever its age: the admin
    lists it until a redelivery (or the reconciliation) gets it done. What a delivery changed is in the
    audit log for good; the row only keeps a redelivery of the same GUID from acting twice, which GitHub
    allows for 3 days (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks)."""
    cutoff = now - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS)
    finished = WebhookDelivery.objects.filter(status__in=(Status.DONE, Status.IGNORED), received_at__lt=cutoff)
    removed = 0
    while batch := list(finished.order_by("pk").values_list("pk", flat=True)[:PURGE_BATCH]):
        deleted, _ = WebhookDelivery.objects.filter(pk__in=batch).delete()
        removed += deleted
    return removed


def _dispatch(event: WebhookEvent, *, guid: str) -> str | None:
    """What the event changed, in a sentence; None when it concerns nothing a workspace owns."""
    request_id = f"whk_{guid}"
    if isinstance(event, InstallationEvent):
        installation = installation_event_apply(event=event, request_id=request_id)
        return None if installation is None else f"Installation {event.installation.id}: {event.action}."
    if isinstance(event, InstallationRepositoriesEvent):
        installation = installation_repositories_event_apply(event=event, request_id=request_id)
        if installation is None:
            return None
        policy_index_repositories_left(
            installation=installation, repository_ids=[r.id for r in event.removed], request_id=request_id
        )
        if event.added:
            # The index has not seen the new repositories' policies: complete again after a scan.
            policy_index_incomplete(installation=installation)
            _after_commit(policy_index_scan_one, installation.pk)
        return f"Installation {installation.github_id}: {len(event.added)} added, {len(event.removed)} removed."
    if isinstance(event, RepositoryEvent):
        names = installation_repository_moved(repository=event.repository, request_id=request_id)
        for name in names:
            policy_files_invalidate(full_name=name)
        if names:
            policy_index_repository_moved(
                repository_id=event.repository.id, full_name=event.repository.full_name, request_id=request_id
            )
        return f"Repository {event.repository.id} is now {event.repository.full_name}." if names else None
    if isinstance(event, PullRequestEvent):
        return _pull_request(event, guid=guid)
    return _push(event, guid=guid)


def _pull_request(event: PullRequestEvent, *, guid: str) -> str | None:
    installation = installation_owner_of_repository(
        repository_id=event.repository.id, installation_id=event.installation_id
    )
    if installation is None:
        return None
    check = policy_check_queue(
        delivery_guid=guid,
        installation=installation,
        repository_id=event.repository.id,
        full_name=event.repository.full_name,
        head_sha=event.head_sha,
        pull_request_number=event.number,
    )
    _check_after_commit(check)
    return f"Pull request {event.number}: its policy files are checked on {event.head_sha[:12]}."


def _push(event: PushEvent, *, guid: str) -> str | None:
    request_id = f"whk_{guid}"
    installation = installation_owner_of_repository(
        repository_id=event.repository.id, installation_id=event.installation_id
    )
    if installation is None:
        return None
    if not event.may_touch(POLICY_DIRECTORY):
        return f"A push that left {POLICY_DIRECTORY}/ untouched."
    if event.head_sha is not None and event.ref.startswith("refs/heads/"):
        check = policy_check_queue(
            delivery_guid=guid,
            installation=installation,
            repository_id=event.repository.id,
            full_name=event.repository.full_name,
            head_sha=event.head_sha,
            paths=event.paths,
            to_default_branch=event.to_default_branch,
        )
        _check_after_commit(check)
    if not event.to_default_branch:
        return "A push to another branch than the default one: its policy files are checked, not used."
    indexed = event.paths is not None and policy_index_push(
        installation=installation,
        repository_id=event.repository.id,
        full_name=event.repository.full_name,
        paths=event.paths,
        removed=event.removed,
        request_id=request_id,
    )
    if not indexed:
        # The index cannot tell which policies the push changed: complete again once the folders are listed.
        policy_index_incomplete(installation=installation)
        _after_commit(policy_index_scan_one, installation.pk)
    recorded = installation.repositories.filter(github_id=event.repository.id).values_list("full_name", flat=True)
    names = sorted({event.repository.full_name, *recorded})
    for name in names:
        # The shared cache: every server process reads the policies afresh on its next mint.
        policy_files_invalidate(full_name=name)
    installation_event_record(
        action=AuditEvent.Action.POLICY_INVALIDATED,
        installation=installation,
        request_id=request_id,
        detail={
            "repository": event.repository.full_name,
            "repository_id": event.repository.id,
            "why": "changed" if event.paths is not None else "cannot tell what changed",
        },
    )
    return f"Cached policies of {event.repository.full_name} forgotten."


def _installation_id(event: WebhookEvent | None) -> int | None:
    if isinstance(event, InstallationEvent | InstallationRepositoriesEvent):
        return event.installation.id
    if isinstance(event, RepositoryEvent | PushEvent | PullRequestEvent):
        return event.installation_id
    return None


def _check_after_commit(check: PolicyCheck) -> None:
    if check.status == PolicyCheck.Status.QUEUED:
        _after_commit(policy_check_process, check.pk)


def _after_commit(task: Any, pk: int) -> None:
    """The task runs once the delivery's transaction committed: it reads what the transaction wrote."""
    transaction.on_commit(lambda: task.delay(pk))
