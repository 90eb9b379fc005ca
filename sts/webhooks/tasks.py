"""The work of a webhook delivery, in the background: the receiver answers GitHub in milliseconds."""

from __future__ import annotations

from celery import Task, shared_task
from django.db import OperationalError

from sts.webhooks.services import webhook_delivery_apply, webhook_delivery_failed

MAX_RETRIES = 5


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
