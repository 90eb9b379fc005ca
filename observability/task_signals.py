"""Celery task failures, counted from Celery's own signal in the process that ran the task
(https://docs.celeryq.dev/en/stable/userguide/signals.html#task-failure). Imported by the Celery app."""

from __future__ import annotations

from typing import Any

from celery.signals import task_failure

from observability.metrics import task_failure_observed


@task_failure.connect
def _task_failed(sender: Any = None, **_: Any) -> None:
    task_failure_observed(str(getattr(sender, "name", "") or "unknown"))
