from __future__ import annotations

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """An app of its own inside sts, so that Django finds its models and admin, and Celery its tasks."""

    name = "sts.webhooks"
    label = "webhooks"
    verbose_name = "GitHub webhooks"
