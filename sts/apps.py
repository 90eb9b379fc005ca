from __future__ import annotations

from django.apps import AppConfig


class StsConfig(AppConfig):
    name = "sts"
    default_auto_field = "django.db.models.BigAutoField"
