"""One row per webhook delivery GitHub sent, by its GUID: a redelivery finds the row and does nothing twice."""

from __future__ import annotations

from django.db import models


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        DONE = "done"
        IGNORED = "ignored"
        FAILED = "failed"

    # `X-GitHub-Delivery`: GitHub keeps it on a redelivery
    # (https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries).
    guid = models.CharField("delivery GUID", max_length=64, unique=True)
    event = models.CharField(max_length=64)
    action = models.CharField(max_length=64, blank=True)
    installation_github_id = models.BigIntegerField("GitHub installation id", null=True, blank=True)
    # What the task needs, as GitHub sent it (webhook payloads carry no credential); empty for an event we ignore.
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    outcome = models.CharField(max_length=300, blank=True, help_text="What the delivery changed, in a sentence.")
    error_tag = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        action = f".{self.action}" if self.action else ""
        return f"{self.event}{action} {self.guid} ({self.status})"
