"""Mint latency, throughput and GitHub calls per mint, against the in-process GitHub simulator.

    .venv/bin/python bench/bench_mint.py                     # SQLite (a fresh file)
    .venv/bin/python bench/bench_mint.py --postgres   # PostgreSQL at 127.0.0.1 (database atmospro_bench, recreated)

Requests go through Django's full stack (middleware, DRF view, service, database, audit) with the
test client, in one process; GitHub is the simulator on loopback HTTP. "cold" clears the policy cache
and our reader tokens before every mint, so each mint also creates a reader token per installation
and reads every policy file; "warm" is the steady state inside the policy cache's TTL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from githubsim import GitHubSimulator

POLICY = """apiVersion: atmos-pro.com/v1alpha1
kind: TrustPolicy
metadata:
  name: default
spec:
  rules:
    - match:
        repository_owner: "acme"
        ref: "refs/heads/*"
"""


def caller_identity(caller_id: int, label: str) -> dict[str, str]:
    """The verified claims of a run of acme/app (repository id `caller_id`), as a session records them."""
    return {
        "repository": "acme/app",
        "repository_id": str(caller_id),
        "repository_owner": "acme",
        "ref": "refs/heads/main",
        "sub": "repo:acme/app:ref:refs/heads/main",
        "actor": label,
        "workflow": label,
        "run_id": "1",
    }


def configure(sim: GitHubSimulator, postgres: bool, var_dir: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="atmospro.settings",
        DEBUG="True",
        VAR_DIR=var_dir,
        CACHE_URL="locmemcache://",
        GITHUB_API_URL=sim.api_url,
        STS_OIDC_ISSUERS=sim.issuer,
        GITHUB_APP_ID=str(sim.app_id),
        GITHUB_APP_PRIVATE_KEY=sim.app_private_key_pem,
        GITHUB_HOST=sim.git_host,
        GITHUB_CA_BUNDLE=sim.ca_file,
        STS_WORKSPACE_THROTTLE="1000000/minute",
        STS_CALLER_THROTTLE="1000000/minute",
        LOG_LEVEL="WARNING",
    )
    if postgres:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
            connection.execute("DROP DATABASE IF EXISTS atmospro_bench")
            connection.execute("CREATE DATABASE atmospro_bench")
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/atmospro_bench"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{var_dir}/bench.sqlite3"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()

    sim = GitHubSimulator()
    sim.start()
    var_dir = tempfile.mkdtemp(prefix="bench-mint-")
    configure(sim, args.postgres, var_dir)

    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client

    from github_app.credentials import github_memory_clear
    from sts.sessions import session_issue
    from workspaces.models import GitHubInstallation, InstallationRepository, Plan, Workspace

    call_command("migrate", verbosity=0)
    workspace = Workspace.objects.create(name="Bench", plan=Plan.objects.get(slug="pro"))
    installation_id = sim.add_installation("acme")
    installation = GitHubInstallation.objects.create(
        github_id=installation_id,
        workspace=workspace,
        account_login="acme",
        account_id=1,
        account_type="Organization",
        repository_selection="selected",
        permissions={"contents": "read", "metadata": "read"},
    )
    # The caller's own repository: every mint checks that an installation of the workspace still covers it.
    caller_id = sim.add_repository("acme/app", installation_id=installation_id)
    InstallationRepository.objects.create(installation=installation, github_id=caller_id, full_name="acme/app")
    sources = []
    for index in range(20):
        name = f"acme/module-{index:02d}"
        repo_id = sim.add_repository(
            name, installation_id=installation_id, files={".atmos/pro/sts/default.yaml": POLICY}
        )
        InstallationRepository.objects.create(installation=installation, github_id=repo_id, full_name=name)
        sources.append(name)
    session, _ = session_issue(workspace=workspace, identity=caller_identity(caller_id, "bench"), request_id="bench")
    client = Client()

    def one(count: int, cold: bool) -> float:
        if cold:
            cache.clear()
            github_memory_clear()
        started = time.perf_counter()
        response = client.post(
            "/api/v1/sts",
            data={"sources": sources[:count]},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {session}",
        )
        elapsed = time.perf_counter() - started
        body = response.json()
        assert body["success"] and len(body["data"]["tokens"]) == 1, body
        return elapsed

    database = "postgresql" if args.postgres else "sqlite"
    print(f"database={database} iterations={args.iterations} (Django test client, simulator on loopback)")
    print(f"{'case':<18}{'p50 ms':>9}{'p99 ms':>9}{'mints/s':>9}{'GitHub calls/mint':>19}")
    for count in (1, 20):
        for cold in (True, False):
            one(count, cold)  # prime
            sim.reset_calls()
            timings = [one(count, cold) for _ in range(args.iterations)]
            calls = sum(sim.calls.values()) / args.iterations
            p50 = statistics.median(timings) * 1000
            p99 = statistics.quantiles(timings, n=100)[98] * 1000
            label = f"{count} source{'s' if count > 1 else ''}, {'cold' if cold else 'warm'}"
            print(f"{label:<18}{p50:>9.1f}{p99:>9.1f}{len(timings) / sum(timings):>9.1f}{calls:>19.2f}")
    sim.stop()


if __name__ == "__main__":
    main()
