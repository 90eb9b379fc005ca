from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _default_plans(sender: AppConfig, **kwargs: Any) -> None:
    # Also after `flush` (which emits post_migrate), as between transactional tests: a database
    # without plans cannot hold a workspace.
    from workspaces.models import default_plans_create

    default_plans_create()


class WorkspacesConfig(AppConfig):
    name = "workspaces"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_default_plans, sender=self)
