"""gunicorn with several workers, as deployed (gunicorn.conf.py): /metrics adds up every worker's
counts exactly, even across a worker that was replaced, and the access log is JSON with the request id.

A real gunicorn on a socket this test binds (loopback, a free port), a SQLite file migrated for it,
requests that each increment one counter: exchanges refused for a token that is not a JWT.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "scrape-" + "Pw7Kd2Xs9Lq4Vn1R"
NOT_A_JWT = "not-a-jwt-" + "Ug5Hy8Ct3Bm6Qa0Z"
REFUSED = {"action": "pro.atmos.auth.oidc_token_exchange_failure", "outcome": "denied", "error_tag": "InvalidOidcToken"}
CLEARED = ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL", "PROMETHEUS_MULTIPROC_DIR", "LOG_FORMAT", "DEBUG")


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    output: Path

    def lines(self) -> list[dict[str, Any]]:
        """The JSON lines gunicorn and the workers wrote (every line must be one)."""
        return [json.loads(line) for line in self.output.read_text().splitlines() if line.strip()]

    def worker_pids(self) -> set[int]:
        return {line["pid"] for line in self.lines() if line["logger"] == "gunicorn.access"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    env = {name: value for name, value in os.environ.items() if name not in CLEARED}
    metrics_dir = tmp_path / "prometheus"
    env.update(
        PYTHONPATH=str(ROOT),
        VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        LOG_FORMAT="json",
        METRICS_TOKEN=METRICS_TOKEN,
        STS_EXCHANGE_THROTTLE="100000/minute",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    # The counts of an earlier run, as a restart finds them: gunicorn must remove them, or they would be added in.
    (metrics_dir / "counter_1.db").write_bytes(b"stale")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    output = tmp_path / "gunicorn.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--workers",
                "2",
                "--bind",
                f"fd://{listener.fileno()}",
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            pass_fds=[listener.fileno()],
        )
    listener.close()
    running = Server(url=f"http://127.0.0.1:{port}", process=process, output=output)
    try:
        _wait_until_ready(running)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.output.read_text()
        try:
            # The socket listens from the start; a request waits there until a worker has booted.
            if requests.get(f"{server.url}/healthz", timeout=30).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer within 60 s:\n{server.output.read_text()}")


def refused_exchange(server: Server) -> str:
    response = requests.post(
        f"{server.url}/api/v1/auth/github-oidc",
        json={"token": NOT_A_JWT, "workspaceId": "ws_nowhere"},
        headers={"Connection": "close"},
        timeout=30,
    )
    assert response.status_code == 401, response.text
    assert response.json()["traceId"] == response.headers["X-Request-Id"]
    return response.headers["X-Request-Id"]


def send(server: Server, count: int) -> list[str]:
    """`count` refused exchanges, four at a time, so that both workers serve some."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda _: refused_exchange(server), range(count)))


def scraped(server: Server, name: str, **labels: str) -> float:
    response = requests.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30)
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def test_metrics_count_every_worker_s_requests_exactly(server: Server) -> None:
    request_ids = send(server, 40)
    served_by = server.worker_pids()
    assert len(served_by) >= 2, "the requests were all served by one worker; the test proves nothing then"
    assert scraped(server, "atmospro_api_requests_total", **REFUSED) == 40

    # A worker replaced (as gunicorn does after max_requests or a crash): its counts stay, and the
    # replacement's are added to them.
    # A gthread worker that is told to stop may reset a connection it had accepted but not yet served
    # (the client retries); so from here on, the server's own access log is the count to match.
    os.kill(next(iter(served_by)), signal.SIGTERM)
    deadline = time.monotonic() + 30
    while not server.worker_pids() - served_by and time.monotonic() < deadline:
        try:
            request_ids += send(server, 4)
        except requests.ConnectionError:
            time.sleep(0.1)
    assert server.worker_pids() - served_by, "gunicorn did not replace the worker"
    request_ids += send(server, 4)  # served by the replacement's generation: counted too

    access = [line for line in server.lines() if line["logger"] == "gunicorn.access"]
    exchanges = [line for line in access if line["path"] == "/api/v1/auth/github-oidc"]
    assert scraped(server, "atmospro_api_requests_total", **REFUSED) == len(exchanges)
    assert set(request_ids) <= {line["request_id"] for line in exchanges}
    assert len(exchanges) - len(request_ids) <= 4, "more answers lost than the one stopping worker could hold"
    assert {(line["method"], line["status"]) for line in exchanges} == {("POST", 401)}
    output = server.output.read_text()
    assert NOT_A_JWT not in output
    assert METRICS_TOKEN not in output
