"""A webhook delivery received once, and its work: each event kept current in our records.

`webhook_delivery_receive` runs in the request and only records; `webhook_delivery_apply` runs in
the Celery task and changes things. Both are idempotent per delivery GUID.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.models import AuditEvent
from github_app.webhooks import (
    InstallationEvent,
    InstallationRepositoriesEvent,
    PushEvent,
    RepositoryEvent,
    WebhookEvent,
    webhook_event_parse,
)
from sts.policy.vocabulary import POLICY_DIRECTORY
from sts.policy_store import policy_files_invalidate
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
        outcome = _dispatch(event, request_id=f"whk_{delivery.guid}") if event is not None else None
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


def _dispatch(event: WebhookEvent, *, request_id: str) -> str | None:
    """What the event changed, in a sentence; None when it concerns nothing a workspace owns."""
    if isinstance(event, InstallationEvent):
        installation = installation_event_apply(event=event, request_id=request_id)
        return None if installation is None else f"Installation {event.installation.id}: {event.action}."
    if isinstance(event, InstallationRepositoriesEvent):
        installation = installation_repositories_event_apply(event=event, request_id=request_id)
        if installation is None:
            return None
        return f"Installation {installation.github_id}: {len(event.added)} added, {len(event.removed)} removed."
    if isinstance(event, RepositoryEvent):
        names = installation_repository_moved(repository=event.repository, request_id=request_id)
        for name in names:
            policy_files_invalidate(full_name=name)
        return f"Repository {event.repository.id} is now {event.repository.full_name}." if names else None
    return _push(event, request_id=request_id)


def _push(event: PushEvent, *, request_id: str) -> str | None:
    installation = installation_owner_of_repository(
        repository_id=event.repository.id, installation_id=event.installation_id
    )
    if installation is None:
        return None
    if not event.to_default_branch:
        return "A push to another ref than the default branch; policies are read from the default branch only."
    if not event.may_touch(POLICY_DIRECTORY):
        return f"A push that left {POLICY_DIRECTORY}/ untouched."
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
    if isinstance(event, RepositoryEvent | PushEvent):
        return event.installation_id
    return None
