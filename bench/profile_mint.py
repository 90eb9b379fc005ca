"""Where a warm mint spends its time: cProfile over many warm mints, in-process, against the simulator.

    .venv/bin/python bench/profile_mint.py                  # SQLite, 300 mints of 1 source
    .venv/bin/python bench/profile_mint.py --postgres -n 500 --owners 2 --top 40

Requests go through Django's whole stack (middleware, DRF view, service, database, audit) with the
test client; GitHub is the simulator on loopback HTTP in this process's other threads (the profile
sees only the request's thread: GitHub's own time shows as the socket read that waits for it). It
prints the functions by cumulative time, the database statements of one warm mint, and the time per
mint with GitHub's share (the socket reads) taken out: the server's own cost.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_mint import POLICY, caller_identity, configure

from githubsim import GitHubSimulator

OWNERS = ("acme", "initech", "globex", "umbrella", "hooli")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("-n", "--mints", type=int, default=300)
    parser.add_argument("--owners", type=int, default=1, choices=range(1, len(OWNERS) + 1))
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative", choices=("cumulative", "tottime"))
    args = parser.parse_args()

    sim = GitHubSimulator()
    sim.start()
    var_dir = tempfile.mkdtemp(prefix="profile-mint-")
    configure(sim, args.postgres, var_dir)
    os.environ["DEBUG"] = "False"  # no query log, as in production
    os.environ.update(SECRET_KEY="profile", ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="False")
    os.environ.update(GITHUB_WEBHOOK_SECRETS="profile", STS_SESSION_SIGNING_KEY=_session_key())
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from sts.sessions import session_issue
    from workspaces.models import GitHubInstallation, InstallationRepository, Plan, Workspace

    call_command("migrate", verbosity=0)
    workspace = Workspace.objects.create(name="Profile", plan=Plan.objects.get(slug="pro"))
    sources = []
    caller_id = 0
    for owner in OWNERS[: args.owners]:
        installation_id = sim.add_installation(owner)
        installation = GitHubInstallation.objects.create(
            github_id=installation_id,
            workspace=workspace,
            account_login=owner,
            account_id=installation_id,
            account_type="Organization",
            repository_selection="selected",
            permissions={"contents": "read", "metadata": "read"},
        )
        if owner == "acme":
            caller_id = sim.add_repository("acme/app", installation_id=installation_id)
            InstallationRepository.objects.create(installation=installation, github_id=caller_id, full_name="acme/app")
        name = f"{owner}/modules"
        repo_id = sim.add_repository(
            name, installation_id=installation_id, files={".atmos/pro/sts/default.yaml": POLICY}
        )
        InstallationRepository.objects.create(installation=installation, github_id=repo_id, full_name=name)
        sources.append(name)
    session, _ = session_issue(
        workspace=workspace, identity=caller_identity(caller_id, "profile"), request_id="profile"
    )
    client = Client()

    def one() -> None:
        response = client.post(
            "/api/v1/sts",
            data={"sources": sources},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {session}",
        )
        body = response.json()
        assert body["success"] and len(body["data"]["tokens"]) == args.owners, body

    for _ in range(20):
        one()  # warm: policies cached, App JWT and keys loaded, connections open
    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        one()

    # The request thread's own CPU time, without the profiler: what a warm mint costs the server
    # itself (GitHub is the simulator's threads, PostgreSQL another process; neither is counted).
    cpu_started, wall_started = time.thread_time(), time.perf_counter()
    for _ in range(args.mints):
        one()
    cpu = (time.thread_time() - cpu_started) / args.mints * 1000
    wall = (time.perf_counter() - wall_started) / args.mints * 1000

    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for _ in range(args.mints):
        one()
    profile.disable()
    elapsed = time.perf_counter() - started
    sim.stop()

    stats = pstats.Stats(profile)
    entries = stats.stats.items()  # type: ignore[attr-defined]
    # Waiting, not working: socket reads are GitHub's answers; psycopg's wait is PostgreSQL's (SQLite
    # runs in this thread: its time is the server's own).
    github = sum(t[3] for (_, _, name), t in entries if name in ("<method 'recv_into' of '_socket.socket' objects>",))
    database_wait = sum(t[3] for (path, _, name), t in entries if name == "wait" and "psycopg" in path)
    database = "postgresql" if args.postgres else "sqlite"
    per = 1000 / args.mints
    print(f"{args.mints} warm mints of {args.owners} owner(s), {database}, profiled (cProfile adds its own overhead)")
    print(
        f"per mint: {elapsed * per:.2f} ms; waiting for GitHub {github * per:.2f} ms, for PostgreSQL "
        f"{database_wait * per:.2f} ms; the server's own: {(elapsed - github - database_wait) * per:.2f} ms"
    )
    print(f"without the profiler: {wall:.2f} ms per mint, of which the request thread's own CPU {cpu:.2f} ms")
    print(f"database statements in one warm mint: {len(statements)}")
    for sql in statements:
        print(f"    {sql[:110]}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())


def _session_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


if __name__ == "__main__":
    main()
