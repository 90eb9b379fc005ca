"""The production layout on loopback under `wrk`: requests/s, p50/p99 and errors of `/readyz` and warm mints.

    .venv/bin/python bench/load.py                     # the whole run, about 8 minutes
    .venv/bin/python bench/load.py --fault-mints 2000  # a shorter fault phase
    .venv/bin/python bench/load.py --phases latency    # one phase (throughput, fault, latency)

What it starts, and stops again whatever happens: the GitHub simulator in its own process (in-memory
state, a high rate limit), gunicorn (`gthread`, `--workers`/`--threads`; `gunicorn.conf.py` too when
the repository has one, the command line's options winning) with `DEBUG=False`, on PostgreSQL (the
database `--database`, dropped and created again) and Redis (`--redis-url`, default db 8, flushed)
as the shared cache. It seeds five organizations with one source each, links them to one workspace,
and exchanges an Actions OIDC token through the API once per caller (4 callers), so the mints carry
real sessions. Needs `wrk` (`apt-get install wrk`), PostgreSQL and Redis on 127.0.0.1.

The server's rate limits are raised for the bench through its environment (documented settings):
`STS_WORKSPACE_THROTTLE`, `STS_CALLER_THROTTLE`, `STS_EXCHANGE_THROTTLE` (100000/second) and
`STS_GITHUB_BUDGET_PER_WORKSPACE`, `STS_GITHUB_BUDGET_PER_CALLER` (100000); the simulator's with
`--rate-limit`.

Phases, each printed as it ends:
1. `/readyz` (the framework's floor: one database round trip), then warm mints of 1 and 2 owners, at
   `--connections`: requests/s, p50, p99, requests that were not a 200 success (must be 0), and the
   ratio mint/readyz (goal: at least 0.25, and at least 300 mints/s on 2 cores).
2. `--fault-mints` mints of 2 owners with the simulator failing one API call in `--fault-one-in`
   (502): server errors (must be 0; a GitHub fault is a source excluded `github_unavailable`, a 200),
   and the audit events of the run counted in the database against the mints wrk sent (exactly one each).
3. The simulator answering every call after `--latency-ms`: the p50 of warm mints of 1, 2 and 5
   owners, one connection (goal: 5 owners within 1.3 x 1 owner; 1 owner within 15 ms of the latency).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_mint import POLICY  # noqa: E402  (bench/ is this script's own folder)

from audit import event_types  # noqa: E402
from githubsim.client import SimulatorClient  # noqa: E402

PHASES = {"throughput", "fault", "latency"}
OWNERS = ("acme", "initech", "globex", "umbrella", "hooli")
SOURCES = tuple(f"{owner}/modules" for owner in OWNERS)
CALLERS = tuple(f"acme/app-{index}" for index in range(4))
# High enough that the bench measures the mint, not its refusals; every mint is still counted by the
# throttles (one script on Redis for both session limits, `sts.throttles`).
RAISED_LIMITS = {
    "STS_WORKSPACE_THROTTLE": "100000/second",
    "STS_CALLER_THROTTLE": "100000/second",
    "STS_EXCHANGE_THROTTLE": "100000/second",
    "STS_GITHUB_BUDGET_PER_WORKSPACE": "100000",
    "STS_GITHUB_BUDGET_PER_CALLER": "100000",
}

# The wrk script (POST a mint with a session; count what is not a 200 success; stop at a quota).
WRK_SCRIPT = Path(__file__).with_name("load_mint.lua")


@dataclass
class Run:
    label: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failures: int  # not a 200 success (non-2xx, socket errors, a body without success)
    server_errors: int
    sent: int = 0
    answered: int = 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # The production layout's own defaults (gunicorn.conf.py: WEB_CONCURRENCY, GUNICORN_THREADS).
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10, help="seconds per throughput measurement")
    parser.add_argument("--fault-mints", type=int, default=20000)
    parser.add_argument("--fault-one-in", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=150)
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="atmospro_load_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--fault-seconds", type=int, default=900, help="the fault phase stops after this at most")
    parser.add_argument(
        "--phases", default="throughput,fault,latency", help="which phases to run, comma-separated (all by default)"
    )
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    if phases - PHASES:
        unknown, known = ", ".join(sorted(phases - PHASES)), ", ".join(sorted(PHASES))
        parser.error(f"--phases: unknown {unknown}; the phases are {known}")
    # A SIGTERM (or Ctrl-C) unwinds the ExitStack below, which stops every process this script started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="bench-load-") as scratch, contextlib.ExitStack() as stack:
        work = Path(scratch)
        sim = stack.enter_context(simulator(work))
        env = server_env(args, work, sim)
        database_url = f"{args.postgres_url}/{args.database}"
        fresh_database(args.postgres_url, args.database)
        redis.Redis.from_url(args.redis_url).flushdb()
        workspace_id = seed(sim, env)
        base_url = stack.enter_context(gunicorn(args, work, env))
        sessions = [exchange(sim, base_url, workspace_id, caller) for caller in CALLERS]
        bodies = {count: json.dumps({"sources": list(SOURCES[:count])}) for count in (1, 2, 5)}
        for body in bodies.values():
            for session in sessions:  # every policy in the shared cache
                warm_mint(base_url, session, body)
        print(f"gunicorn gthread {args.workers} workers x {args.threads} threads, PostgreSQL, Redis, simulator")
        print(f"{'case':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}{'5xx':>6}")
        if "throughput" in phases:
            throughput_phase(args, work, base_url, sessions, bodies)
        if "fault" in phases:
            fault_phase(args, work, base_url, sim, sessions, bodies[2], database_url)
        if "latency" in phases:
            latency_phase(args, work, base_url, sim, sessions, bodies)
    return 0


def throughput_phase(
    args: argparse.Namespace, work: Path, base_url: str, sessions: list[str], bodies: dict[int, str]
) -> None:
    readyz = show(wrk(work, f"{base_url}/readyz", "/readyz", args.connections, args.duration))
    mints = {
        count: show(
            wrk(
                work,
                base_url,
                f"warm mint, {count} owner(s)",
                args.connections,
                args.duration,
                sessions=sessions,
                body=bodies[count],
            )
        )
        for count in (1, 2)
    }
    print(
        f"mint/readyz: 1 owner {mints[1].requests_per_second / readyz.requests_per_second:.2f}, "
        f"2 owners {mints[2].requests_per_second / readyz.requests_per_second:.2f} "
        "(goal: >= 0.25 and >= 300 mints/s)"
    )


def fault_phase(
    args: argparse.Namespace,
    work: Path,
    base_url: str,
    sim: SimulatorClient,
    sessions: list[str],
    body: str,
    database_url: str,
) -> None:
    sim.set_load(fail_one_in=args.fault_one_in, fail_status=502)
    before = settled(lambda: mint_events(database_url))  # the mints wrk left in flight are done
    started = time.monotonic()
    run = show(
        wrk(
            work,
            base_url,
            f"{args.fault_mints} mints, 1 call in {args.fault_one_in} fails",
            args.connections,
            duration=args.fault_seconds,
            sessions=sessions,
            body=body,
            quota=args.fault_mints,
        )
    )
    sim.set_load(fail_one_in=0)
    events = settled(lambda: mint_events(database_url) - before)
    if run.answered == run.sent:
        verdict = "exactly one per mint" if events == run.sent else "MISMATCH"
    else:
        # Stopped by the time limit: wrk closed connections whose mint the server may not have read yet,
        # so the exact count is known for the answered ones only; never more events than mints sent.
        verdict = "one per mint" if run.answered <= events <= run.sent else "MISMATCH"
        print(
            f"  stopped by --fault-seconds {args.fault_seconds} after {run.sent} of {args.fault_mints} mints, "
            f"{run.sent - run.answered} of them unanswered when wrk stopped"
        )
    print(f"  {time.monotonic() - started:.0f} s")
    print(
        f"  mints sent {run.sent}, answered {run.answered}, server errors {run.server_errors} (must be 0); "
        f"audit events {events} ({verdict})"
    )


def latency_phase(
    args: argparse.Namespace,
    work: Path,
    base_url: str,
    sim: SimulatorClient,
    sessions: list[str],
    bodies: dict[int, str],
) -> None:
    sim.set_load(latency_ms=args.latency_ms)
    p50 = {}
    for count in (1, 2, 5):
        warm_mint(base_url, sessions[0], bodies[count])
        run = show(
            wrk(
                work,
                base_url,
                f"warm mint, {count} owner(s), GitHub +{args.latency_ms} ms",
                1,
                args.duration,
                sessions=sessions,
                body=bodies[count],
            )
        )
        p50[count] = run.p50_ms
    print(
        f"p50 at {args.latency_ms} ms per GitHub call: 1 owner {p50[1]:.1f} ms, 2 owners {p50[2]:.1f} ms, "
        f"5 owners {p50[5]:.1f} ms; 5/1 = {p50[5] / p50[1]:.2f} (goal <= 1.3), "
        f"1 owner - latency = {p50[1] - args.latency_ms:.1f} ms (goal <= 15)"
    )
    sim.set_load(latency_ms=0)


# --- What the bench starts -------------------------------------------------------------------------


@contextlib.contextmanager
def simulator(work: Path) -> Iterator[SimulatorClient]:
    log = (work / "githubsim.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "githubsim",
            "--ephemeral",
            "--port",
            "0",
            "--git-port",
            "0",
            "--state-dir",
            str(work / "githubsim"),
            "--rate-limit",
            "100000000",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert process.stdout is not None
        config = {}
        for line in process.stdout:
            if line.strip() == "githubsim ready":
                break
            name, _, value = line.strip().partition(": ")
            config[name] = value
        else:
            raise SystemExit(f"The simulator did not start; see {work / 'githubsim.log'}.")
        yield SimulatorClient(config["api_url"])
    finally:
        stop(process)


def server_env(args: argparse.Namespace, work: Path, sim: SimulatorClient) -> dict[str, str]:
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (work / "session-key.pem").write_bytes(key)
    keep = {name: value for name, value in os.environ.items() if name in ("PATH", "LANG", "LC_ALL", "HOME")}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "atmospro.settings",
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "False",  # plain http on loopback; TLS ends at the load balancer
        "VAR_DIR": str(work / "var"),
        "DATABASE_URL": f"{args.postgres_url}/{args.database}",
        "CACHE_URL": args.redis_url,
        "GITHUB_API_URL": str(sim.config["api_url"]),
        "STS_OIDC_ISSUERS": sim.issuer,
        "GITHUB_APP_ID": str(sim.app_id),
        "GITHUB_APP_PRIVATE_KEY_FILE": str(sim.config["app_private_key_file"]),
        "GITHUB_HOST": sim.git_host,
        "GITHUB_CA_BUNDLE": sim.ca_file,
        "GITHUB_WEBHOOK_SECRETS": secrets.token_urlsafe(32),
        "STS_SESSION_SIGNING_KEY_FILE": str(work / "session-key.pem"),
        "LOG_LEVEL": "WARNING",
        **RAISED_LIMITS,
    }


def fresh_database(postgres_url: str, name: str) -> None:
    with psycopg.connect(f"{postgres_url}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {args[0]} failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def seed(sim: SimulatorClient, env: dict[str, str]) -> str:
    """Five organizations with the App installed, one source each; acme also holds the callers."""
    manage(env, "migrate", "--no-input")
    workspace_id = manage(env, "create_workspace", "Load bench", "--plan", "pro")
    for owner, source in zip(OWNERS, SOURCES, strict=True):
        installation_id = sim.add_installation(owner)
        sim.add_repository(source, installation_id=installation_id, files={".atmos/pro/sts/default.yaml": POLICY})
        if owner == "acme":
            for caller in CALLERS:
                sim.add_repository(caller, installation_id=installation_id)
        manage(env, "link_installation", "--workspace", workspace_id, str(installation_id))
    return workspace_id


@contextlib.contextmanager
def gunicorn(args: argparse.Namespace, work: Path, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    command = [str(Path(sys.executable).with_name("gunicorn")), "atmospro.wsgi:application"]
    if (ROOT / "gunicorn.conf.py").exists():
        command += ["-c", str(ROOT / "gunicorn.conf.py")]
    command += [
        "--worker-class", "gthread", "--workers", str(args.workers), "--threads", str(args.threads),
        "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "5", "--error-logfile", str(work / "gunicorn.log"),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not ready(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not start:\n{(work / 'gunicorn.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield base_url
    finally:
        stop(process)


def ready(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- What the bench asks -----------------------------------------------------------------------------


def exchange(sim: SimulatorClient, base_url: str, workspace_id: str, caller: str) -> str:
    oidc = sim.actions_token(repository=caller)
    response = requests.post(
        f"{base_url}/api/v1/auth/github-oidc", json={"token": oidc, "workspaceId": workspace_id}, timeout=30
    )
    body = response.json()
    if not body.get("success"):
        raise SystemExit(f"The exchange for {caller} failed: {body.get('errorTag')}: {body.get('errorMessage')}")
    return str(body["data"]["token"])


def warm_mint(base_url: str, session: str, body: str) -> None:
    response = requests.post(
        f"{base_url}/api/v1/sts",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {session}"},
        timeout=30,
    )
    answer = response.json()
    if not answer.get("success") or answer["data"]["excluded"]:
        raise SystemExit(f"A warm-up mint failed: {json.dumps(answer)[:500]}")


def mint_events(database_url: str) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM audit_auditevent WHERE action = ANY(%s)", (list(event_types.MINT.actions),)
        ).fetchone()
    return int(row[0]) if row else 0


def settled(count: object) -> int:
    """The count once the server has finished what wrk sent (it stops reading before the server ends)."""
    assert callable(count)
    last, same_since = -1, time.monotonic()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = int(count())
        if now != last:
            last, same_since = now, time.monotonic()
        elif time.monotonic() - same_since > 5:
            return now
        time.sleep(0.25)
    return last


def wrk(
    work: Path,
    url: str,
    label: str,
    connections: int,
    duration: int,
    *,
    sessions: list[str] | None = None,
    body: str | None = None,
    quota: int = 0,
) -> Run:
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "--timeout", "30s", "--latency"]
    answered_file = work / "quota-answered"
    if sessions is not None and body is not None:
        script = work / "mint.lua"
        script.write_text(
            WRK_SCRIPT.read_text()
            .replace("{SESSIONS}", "{" + ", ".join(lua_string(s) for s in sessions) + "}")
            .replace("{BODY}", lua_string(body))
            .replace("{QUOTA}", str(quota))
            .replace("{ANSWERED_FILE}", lua_string(str(answered_file)))
        )
        command += ["-s", str(script)]
    answered_file.unlink(missing_ok=True)
    process = subprocess.Popen([*command, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if quota:
        # wrk runs for its whole duration even once the script has stopped its thread: when every mint
        # of the quota is answered (the script writes the file), an interrupt makes it report at once.
        while process.poll() is None and not answered_file.exists():
            time.sleep(0.2)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    output, errors = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"wrk failed ({process.returncode}): {errors[-2000:]}")
    return parse(label, output)


def lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse(label: str, output: str) -> Run:
    def number(pattern: str) -> float:
        found = re.search(pattern, output)
        return float(found.group(1)) if found else 0.0

    def latency(percentile: str) -> float:
        found = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if not found:
            return float("nan")
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = int(number(r"Non-2xx or 3xx responses: (\d+)"))
    mints = re.search(r"MINTS sent=(\d+) answered=(\d+) server_errors=(\d+) failures=(\d+)", output)
    sent, answered, server_errors, failures = (int(g) for g in mints.groups()) if mints else (0, 0, 0, non_2xx)
    return Run(
        label=label,
        requests_per_second=number(r"Requests/sec:\s+([\d.]+)"),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        failures=failures + socket_errors,
        server_errors=server_errors,
        sent=sent,
        answered=answered,
    )


def show(run: Run) -> Run:
    print(
        f"{run.label:<34}{run.requests_per_second:>9.1f}{run.p50_ms:>9.1f}{run.p99_ms:>9.1f}"
        f"{run.failures:>8}{run.server_errors:>6}",
        flush=True,
    )
    return run


if __name__ == "__main__":
    sys.exit(main())
