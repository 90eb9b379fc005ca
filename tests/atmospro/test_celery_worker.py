"""Tasks through a real broker to a real `celery worker` process, against the test database.

Needs CELERY_BROKER_URL (Redis) and PostgreSQL (a worker in another process cannot see an in-memory
SQLite test database): `make test-celery`. `make test` deselects these tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from sts.models import OidcTokenUse
from tests.factories import workspace_create
from workspaces.models import GitHubInstallation
from workspaces.services import installation_link
from workspaces.tasks import installation_sync

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 30

pytestmark = [
    pytest.mark.celery,
    pytest.mark.skipif(not os.environ.get("CELERY_BROKER_URL"), reason="needs CELERY_BROKER_URL (make test-celery)"),
    # serialized_rollback: the flush after each test also takes the plans that a data migration made.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _database_url() -> str:
    database = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.fail("the Celery worker tests need PostgreSQL: set DATABASE_URL (make test-celery does)")
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    return f"postgres://{database['USER']}{password}@{host}:{port}/{database['NAME']}"


def _eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"within {WAIT_SECONDS} s: {what}")


@pytest.fixture
def worker_queue(github_sim: Any, tmp_path: Path) -> Iterator[str]:
    """A `celery -A atmospro worker` on a queue of its own, pointed at this test's database and simulator."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("GITHUB_", "STS_", "DATABASE_"))}
    env.update(
        DEBUG="True",
        DATABASE_URL=_database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        VAR_DIR=str(tmp_path / "var"),
        GITHUB_API_URL=github_sim.api_url,
        STS_OIDC_ISSUERS=github_sim.issuer,
        GITHUB_APP_ID=str(github_sim.app_id),
        GITHUB_APP_PRIVATE_KEY_FILE=github_sim.app_private_key_path,
        GITHUB_HOST=github_sim.git_host,
        GITHUB_CA_BUNDLE=github_sim.ca_file,
    )
    log = tmp_path / "worker.log"
    command = [
        *(sys.executable, "-m", "celery", "-A", "atmospro", "worker"),
        *("--pool", "solo", "--queues", queue, "--loglevel", "INFO", "--hostname", f"{queue}@%h"),
        *("--without-gossip", "--without-mingle", "--without-heartbeat"),
    ]
    with log.open("w") as output:
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        _eventually(lambda: "ready." in log.read_text() or worker.poll() is not None, "the worker is ready")
        if worker.poll() is not None:
            pytest.fail(f"the worker exited: {log.read_text()[-3000:]}")
        yield queue
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_a_worker_syncs_an_installation_enqueued_on_commit(github_sim: Any, worker_queue: str) -> None:
    workspace = workspace_create()
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/mods", installation_id=installation_id)
    installation = installation_link(workspace=workspace, installation_github_id=installation_id)
    github_sim.add_repository("acme/new", installation_id=installation_id)
    github_sim.suspend_installation(installation_id)

    with transaction.atomic():
        GitHubInstallation.objects.filter(pk=installation.pk).update(account_login="stale-name")
        transaction.on_commit(lambda: installation_sync.apply_async(args=[installation.pk], queue=worker_queue))

    def synced() -> bool:
        installation.refresh_from_db()
        return installation.account_login == "acme" and installation.suspended_at is not None

    _eventually(synced, "the worker refreshed the installation from GitHub")
    assert github_sim.calls["installation"] >= 2


def test_a_worker_retries_a_sync_while_github_is_unavailable(github_sim: Any, worker_queue: str) -> None:
    workspace = workspace_create()
    installation_id = github_sim.add_installation("acme")
    installation = installation_link(workspace=workspace, installation_github_id=installation_id)
    github_sim.add_repository("acme/new", installation_id=installation_id)
    github_sim.reset_calls()
    github_sim.fault("installation_repositories", kind="status", status=503, times=3)

    transaction.on_commit(
        lambda: installation_sync.apply_async(args=[installation.pk], queue=worker_queue, countdown=0)
    )

    # The first run fails (3 answers of 503), and the retry it schedules (5 s later) succeeds.
    _eventually(
        lambda: set(installation.repositories.values_list("full_name", flat=True)) == {"acme/new"},
        "the retried sync recorded the new repository",
    )
    assert github_sim.calls["installation_repositories"] == 4


def test_a_worker_purges_expired_oidc_token_records(worker_queue: str) -> None:
    from sts.tasks import expired_records_purge

    long_ago = timezone.now() - timedelta(days=1)
    expired = OidcTokenUse.objects.create(issuer="https://issuer.example", jti="old", expires_at=long_ago)
    live = OidcTokenUse.objects.create(
        issuer="https://issuer.example", jti="new", expires_at=timezone.now() + timedelta(minutes=5)
    )

    transaction.on_commit(lambda: expired_records_purge.apply_async(queue=worker_queue))

    _eventually(lambda: not OidcTokenUse.objects.filter(pk=expired.pk).exists(), "the expired record is gone")
    assert OidcTokenUse.objects.filter(pk=live.pk).exists()
