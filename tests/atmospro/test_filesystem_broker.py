"""`make run`'s background tasks: a real `celery worker --beat` on kombu's broker in files under
VAR_DIR (`CELERY_BROKER_URL=filesystem://`), fed by another process, as the demo server feeds it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.celery_worker import eventually

ROOT = Path(__file__).resolve().parents[2]
SEND = "from atmospro.celery import app; print(app.send_task('celery.accumulate', args=(42,)).id)"


def _environment(var_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("CELERY_", "DATABASE_"))}
    env.update(DEBUG="True", VAR_DIR=str(var_dir), CELERY_BROKER_URL="filesystem://", PYTHONPATH=str(ROOT))
    env["DJANGO_SETTINGS_MODULE"] = "atmospro.settings"
    return env


@pytest.fixture
def worker_log(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "worker.log"
    command = [
        *(sys.executable, "-m", "celery", "-A", "atmospro", "worker", "--beat", "--pool", "solo"),
        *("--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"),
    ]
    with log.open("w") as output:
        worker = subprocess.Popen(
            command, cwd=ROOT, env=_environment(tmp_path / "var"), stdout=output, stderr=subprocess.STDOUT
        )
    try:
        eventually(lambda: "ready." in log.read_text() or worker.poll() is not None, "the worker is ready")
        if worker.poll() is not None:
            pytest.fail(f"the worker exited: {log.read_text()[-3000:]}")
        yield log
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_a_task_sent_by_another_process_is_run_by_the_worker(worker_log: Path, tmp_path: Path) -> None:
    sent = subprocess.run(
        [sys.executable, "-c", SEND], cwd=ROOT, env=_environment(tmp_path / "var"), capture_output=True, text=True
    )
    assert sent.returncode == 0, sent.stderr
    task_id = sent.stdout.strip().splitlines()[-1]
    eventually(lambda: f"celery.accumulate[{task_id}] succeeded" in worker_log.read_text(), "the task ran")


def test_beat_runs_inside_the_worker_and_keeps_its_schedule_in_var(worker_log: Path, tmp_path: Path) -> None:
    eventually(lambda: "beat: Starting..." in worker_log.read_text(), "beat started")
    eventually(lambda: any((tmp_path / "var").glob("celerybeat-schedule*")), "beat's schedule file in VAR_DIR")
    assert (tmp_path / "var" / "broker" / "queue").is_dir()
