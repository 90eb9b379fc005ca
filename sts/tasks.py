"""Celery tasks of STS: they load what they need and call a service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from sts.purge import expired_records_delete


@shared_task(name="sts.tasks.expired_records_purge")
def expired_records_purge() -> dict[str, int]:
    """Scheduled by ``CELERY_BEAT_SCHEDULE``; safe to run twice or concurrently (deletes are idempotent)."""
    return expired_records_delete(now=timezone.now())
