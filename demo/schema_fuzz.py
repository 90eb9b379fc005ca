"""Fuzzes the API from its own description (`make test-schema`): a live server, schemathesis on every route.

``python -m demo.schema_fuzz [--max-examples N] [-- ST_RUN_OPTIONS]`` starts, each on a free loopback
port and with its state in a temporary directory, the GitHub simulator and gunicorn over a fresh SQLite
database seeded like the demo (`demo.seed`); takes a real OIDC token from the simulator's issuer and
exchanges it for a session; runs schemathesis with every check against ``/api/v1/schema/``, with the
session as the mint's and the revocation's bearer (`demo/schemathesis.toml`); prints how often each
route answered each status; stops everything it started, and exits with schemathesis's status.

The throttles are raised for the run, so that the examples reach the routes' own code instead of mostly
answering 429 (which the description covers). The session is handed to schemathesis through the
environment and its output is sanitized: no token is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from demo.seed import CALLER, seed_simulator, server_env
from githubsim.client import SimulatorClient

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
BIN = Path(sys.executable).parent
READY_SECONDS = 60
UNLIMITED = "100000/minute"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def started(command: list[str], *, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process of ours in its own session, stopped (and waited for) whatever happens."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(what: str, ready: Callable[[], bool], *, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if ready():
            return
        time.sleep(0.2)
    sys.stderr.write(log.read_text(errors="replace"))
    raise SystemExit(f"{what} did not get ready.")


def _ready(simulator_log: Path) -> bool:
    return "githubsim ready" in simulator_log.read_text(errors="replace")


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"manage.py {args[0]} failed (exit {result.returncode}).")
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def server_environment(config: dict[str, str], var_dir: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL", "GITHUB_APP_PRIVATE_KEY"}
    }
    env.update(server_env(config))
    env.update(
        {
            "VAR_DIR": str(var_dir),
            "STS_EXCHANGE_THROTTLE": UNLIMITED,
            "STS_WORKSPACE_THROTTLE": UNLIMITED,
            "STS_CALLER_THROTTLE": UNLIMITED,
        }
    )
    return env


def session_for(base_url: str, simulator: SimulatorClient, workspace_id: str) -> str:
    """A real session: an OIDC token of the simulator's issuer, exchanged like the Atmos CLI does."""
    oidc_token = simulator.actions_token(repository=CALLER, ref="refs/heads/main", audience="atmos-pro.com")
    answer = requests.post(
        f"{base_url}/api/v1/auth/github-oidc", json={"token": oidc_token, "workspaceId": workspace_id}, timeout=30
    )
    body = answer.json()
    if answer.status_code != 200 or not body.get("success"):
        raise SystemExit(f"The exchange failed: {answer.status_code} {body.get('errorTag')}.")
    return str(body["data"]["token"])


def fuzz(*, base_url: str, session: str, max_examples: int, report_dir: Path, work: Path, extra: list[str]) -> int:
    command = [
        str(BIN / "st"),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/api/v1/schema/?format=json",
        "--url",
        base_url,
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--workers",
        "2",
        "--seed",
        "1",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        *extra,
    ]
    # In the scratch directory: schemathesis keeps a cache of its findings in its working directory.
    env = {**os.environ, "SCHEMA_FUZZ_SESSION": session}
    return subprocess.run(command, cwd=work, env=env, check=False).returncode


ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>/api/v1/[^ ?]*)[^"]*" (?P<status>\d{3}) ')


def print_answers(server_log: Path) -> None:
    """How often each route answered each status (from gunicorn's access log): what the run reached."""
    counts = Counter(
        (match["path"], match["method"], match["status"])
        for match in map(ACCESS_LINE.search, server_log.read_text(errors="replace").splitlines())
        if match is not None
    )
    print("\nAnswers of the server during the run (route, method, status: count):")
    for (path, method, status), count in sorted(counts.items()):
        print(f"    {path:<28} {method:<8} {status}: {count}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.schema_fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--max-examples", type=int, default=100, help="schemathesis examples per operation")
    parser.add_argument("--report-dir", type=Path, default=ROOT / "var" / "schema-fuzz")
    parser.add_argument("extra", nargs="*", help="more options for `st run`, after --")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="schema-fuzz-") as scratch:
        work = Path(scratch)
        sim_log, server_log = work / "githubsim.log", work / "server.log"
        simulator_command = [sys.executable, "-m", "githubsim", "--port", "0", "--git-port", "0"]
        simulator_command += ["--state-dir", str(work / "githubsim")]
        with started(simulator_command, env=dict(os.environ), log=sim_log) as sim_process:
            wait_for("The GitHub simulator", lambda: _ready(sim_log), process=sim_process, log=sim_log)
            config = json.loads((work / "githubsim" / "config.json").read_text())
            simulator = SimulatorClient(config["api_url"])
            installation_id = seed_simulator(simulator)
            env = server_environment(config, work / "var")
            manage("migrate", "--no-input", env=env)
            workspace_id = manage("create_workspace", "Schema fuzzing", "--plan", "pro", env=env)
            manage("link_installation", "--workspace", workspace_id, str(installation_id), env=env)
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            server_command = [str(BIN / "gunicorn"), "atmospro.wsgi:application", "--bind", f"127.0.0.1:{port}"]
            server_command += ["--workers", "2", "--graceful-timeout", "5", "--access-logfile", "-"]
            with started(server_command, env=env, log=server_log) as server_process:
                wait_for("The server", lambda: answers(f"{base_url}/healthz"), process=server_process, log=server_log)
                session = session_for(base_url, simulator, workspace_id)
                status = fuzz(
                    base_url=base_url,
                    session=session,
                    max_examples=args.max_examples,
                    report_dir=args.report_dir.resolve(),
                    work=work,
                    extra=args.extra,
                )
            print_answers(server_log)
            if status != 0:
                sys.stderr.write("--- server log ---\n" + server_log.read_text(errors="replace")[-20000:])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
