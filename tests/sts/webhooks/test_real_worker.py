"""Webhooks through a real broker to a real `celery worker` process: the receiver answers at once, the
worker does the work. Needs CELERY_BROKER_URL (Redis) and PostgreSQL: `make test-celery`."""

from __future__ import annotations

import os
from typing import Any

import pytest

from audit.models import AuditEvent
from sts.webhooks.models import WebhookDelivery
from tests.celery_worker import eventually
from workspaces.models import GitHubInstallation, Plan, Workspace

from .conftest import SECRET

pytestmark = [
    pytest.mark.celery,
    pytest.mark.skipif(not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (make test-celery)"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_worker_applies_a_delivered_suspension_once(github_sim: Any, live_server: Any, worker_queue: str) -> None:
    github_sim.configure_webhook(url=f"{live_server.url}/webhooks/github", secret=SECRET)
    workspace = Workspace.objects.create(name="Acme", plan=Plan.objects.get(slug="pro"))
    github_id = github_sim.add_installation("acme")
    GitHubInstallation.objects.create(
        github_id=github_id,
        workspace=workspace,
        account_login="acme",
        account_id=1,
        account_type="Organization",
        repository_selection="selected",
        permissions={"contents": "read"},
    )

    github_sim.suspend_installation(github_id)
    github_sim.wait_for_deliveries()
    [delivery] = [d for d in github_sim.webhook_deliveries if d["action"] == "suspend"]
    assert delivery["status_code"] == 202  # answered before the work was done

    eventually(lambda: GitHubInstallation.objects.get(github_id=github_id).is_suspended, "the worker suspended it")
    eventually(lambda: WebhookDelivery.objects.get(guid=delivery["guid"]).status == "done", "the delivery is done")
    github_sim.unsuspend_installation(github_id)
    github_sim.wait_for_deliveries()
    eventually(lambda: not GitHubInstallation.objects.get(github_id=github_id).is_suspended, "unsuspended")

    github_sim.redeliver(delivery["guid"])
    github_sim.wait_for_deliveries()

    assert github_sim.webhook_deliveries[-1]["status_code"] == 200
    assert not GitHubInstallation.objects.get(github_id=github_id).is_suspended
    assert AuditEvent.objects.filter(action=AuditEvent.Action.INSTALLATION_SUSPENDED).count() == 1
