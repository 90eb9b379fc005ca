from __future__ import annotations

import os

from celery import Celery

import observability.task_signals  # noqa: F401  (counts task failures, wherever tasks run)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atmospro.settings")

app = Celery("atmospro")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
