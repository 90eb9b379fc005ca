"""Deliveries done long ago are purged by a beat task; failed and queued ones stay visible until handled."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from sts.webhooks import services
from sts.webhooks.models import WebhookDelivery
from sts.webhooks.services import webhook_deliveries_purge, webhook_delivery_receive
from sts.webhooks.tasks import webhook_deliveries_purge_old

pytestmark = pytest.mark.django_db
Status = WebhookDelivery.Status


def _now() -> datetime:
    return timezone.now().replace(microsecond=0)


def delivery(status: str, *, days_ago: float, now: datetime, guid: str | None = None) -> WebhookDelivery:
    row = WebhookDelivery.objects.create(
        guid=guid or f"{status}-{days_ago}-{WebhookDelivery.objects.count()}", event="ping", status=status
    )
    # received_at is set on creation: moved back in time as the clock would have.
    WebhookDelivery.objects.filter(pk=row.pk).update(received_at=now - timedelta(days=days_ago))
    return row


def remaining() -> set[str]:
    return set(WebhookDelivery.objects.values_list("guid", flat=True))


def test_done_and_ignored_deliveries_older_than_the_retention_are_purged(settings: Any) -> None:
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 10
    now = _now()
    delivery(Status.DONE, days_ago=11, now=now, guid="old-done")
    delivery(Status.IGNORED, days_ago=10.01, now=now, guid="old-ignored")
    delivery(Status.DONE, days_ago=9.99, now=now, guid="recent-done")
    delivery(Status.IGNORED, days_ago=0, now=now, guid="new-ignored")

    assert webhook_deliveries_purge(now=now) == 2
    assert remaining() == {"recent-done", "new-ignored"}


def test_failed_and_queued_deliveries_stay_however_old(settings: Any) -> None:
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 10
    now = _now()
    delivery(Status.FAILED, days_ago=400, now=now, guid="failed")
    delivery(Status.QUEUED, days_ago=400, now=now, guid="queued")

    assert webhook_deliveries_purge(now=now) == 0
    assert remaining() == {"failed", "queued"}


def test_a_backlog_larger_than_one_batch_goes_in_one_run(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 10
    monkeypatch.setattr(services, "PURGE_BATCH", 3)
    now = _now()
    for number in range(8):
        delivery(Status.DONE, days_ago=20, now=now, guid=f"done-{number}")
    delivery(Status.FAILED, days_ago=20, now=now, guid="failed")

    assert webhook_deliveries_purge(now=now) == 8
    assert remaining() == {"failed"}


def test_a_redelivery_within_githubs_window_still_finds_its_row_and_does_nothing(settings: Any) -> None:
    now = _now()
    delivery(Status.DONE, days_ago=3, now=now, guid="redelivered")
    webhook_deliveries_purge(now=now)

    received = webhook_delivery_receive(guid="redelivered", event="ping", payload={"zen": "Keep it logically awesome."})
    assert (received.duplicate, received.enqueue) == (True, False)
    assert WebhookDelivery.objects.get(guid="redelivered").status == Status.DONE


def test_the_beat_task_purges_with_the_configured_retention(settings: Any) -> None:
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 5
    now = timezone.now()
    delivery(Status.DONE, days_ago=6, now=now, guid="old")
    delivery(Status.DONE, days_ago=4, now=now, guid="recent")

    assert webhook_deliveries_purge_old() == 1
    assert remaining() == {"recent"}
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert webhook_deliveries_purge_old.name in schedule


def test_the_default_retention_outlasts_githubs_redelivery_window() -> None:
    assert settings.WEBHOOK_DELIVERY_RETENTION_DAYS > 3
