"""Webhooks through a real broker to a real `celery worker` process: the receiver answers at once, the
worker does the work. Needs CELERY_BROKER_URL (Redis) and PostgreSQL: `make test-celery`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from atmospro.celery import app as celery_app
from audit.models import AuditEvent
from sts.webhooks.models import WebhookDelivery
from workspaces.models import GitHubInstallation, Plan, Workspace

from .conftest import SECRET

ROOT = Path(__file__).resolve().parents[3]
WAIT_SECONDS = 30

pytestmark = [
    pytest.mark.celery,
    pytest.mark.skipif(not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (make test-celery)"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"within {WAIT_SECONDS} s: {what}")


@pytest.fixture
def worker(github_sim: Any, tmp_path: Path) -> Iterator[None]:
    """A `celery -A atmospro worker` on a queue of its own, which this test's tasks are routed to."""
    database = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.fail("a worker in another process needs PostgreSQL: set DATABASE_URL (make test-celery does)")
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("GITHUB_", "STS_", "DATABASE_"))}
    env.update(
        DEBUG="True",
        DATABASE_URL=f"postgres://{database['USER']}{password}@{host}:{port}/{database['NAME']}",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        VAR_DIR=str(tmp_path / "var"),
        GITHUB_API_URL=github_sim.api_url,
        GITHUB_APP_ID=str(github_sim.app_id),
        GITHUB_APP_PRIVATE_KEY_FILE=github_sim.app_private_key_path,
        GITHUB_CA_BUNDLE=github_sim.ca_file,
    )
    log = tmp_path / "worker.log"
    command = [
        *(sys.executable, "-m", "celery", "-A", "atmospro", "worker", "--pool", "solo", "--queues", queue),
        *("--loglevel", "INFO", "--hostname", f"{queue}@%h", "--without-gossip", "--without-mingle"),
        "--without-heartbeat",
    ]
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        eventually(lambda: "ready." in log.read_text() or process.poll() is not None, "the worker is ready")
        if process.poll() is not None:
            pytest.fail(f"the worker exited: {log.read_text()[-3000:]}")
        yield
    finally:
        celery_app.conf.task_default_queue = default_queue
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_worker_applies_a_delivered_suspension_once(github_sim: Any, live_server: Any, worker: None) -> None:
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
