"""A real `celery -A atmospro worker` process for the `celery` tests: on a queue of its own, pointed
at this test's PostgreSQL database and GitHub simulator. Loaded as a pytest plugin by tests/conftest.py."""

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

ROOT = Path(__file__).resolve().parents[1]
WAIT_SECONDS = 30


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"within {WAIT_SECONDS} s: {what}")


def _database_url() -> str:
    database = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.fail("a worker in another process needs PostgreSQL: set DATABASE_URL (make test-celery does)")
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    return f"postgres://{database['USER']}{password}@{host}:{port}/{database['NAME']}"


@pytest.fixture
def worker_queue(github_sim: Any, tmp_path: Path) -> Iterator[str]:
    """The worker's queue; tasks this test enqueues without naming a queue are routed to it too."""
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
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    with log.open("w") as output:
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        eventually(lambda: "ready." in log.read_text() or worker.poll() is not None, "the worker is ready")
        if worker.poll() is not None:
            pytest.fail(f"the worker exited: {log.read_text()[-3000:]}")
        yield queue
    finally:
        celery_app.conf.task_default_queue = default_queue
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
