"""OIDC exchange throughput and latency against the in-process GitHub simulator (warm key cache).

    .venv/bin/python bench/bench_exchange.py                  # 500 exchanges, one client
    .venv/bin/python bench/bench_exchange.py -n 2000 --threads 4
    .venv/bin/python bench/bench_exchange.py --tmp-dir /dev/shm  # database and cache in memory: no fsync

Each exchange goes through Django's full stack (middleware, DRF view, RS256 verification, the
single-use insert, workspace checks, session signing and record, audit) with the test client, in
one process, against a fresh SQLite file and a file cache, as a gunicorn worker would. Tokens are
signed by the simulator before the clock starts; one exchange before it warms the key cache, so
the simulator is not called while measuring (the script checks that).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from githubsim.simulator import GitHubSimulator


def configure(sim: GitHubSimulator, var_dir: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="atmospro.settings",
        VAR_DIR=var_dir,
        DATABASE_URL=f"sqlite:///{var_dir}/bench.sqlite3",
        CACHE_URL=f"filecache://{var_dir}/cache",
        STS_OIDC_ISSUERS=sim.issuer,
        STS_EXCHANGE_THROTTLE="100000000/minute",  # one client IP sends everything: the throttle is not measured
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(sim: GitHubSimulator) -> str:
    from workspaces.models import GitHubInstallation, InstallationRepository, Plan, Workspace

    installation_id = sim.add_installation("acme")
    repository_id = sim.add_repository("acme/app", installation_id=installation_id)
    workspace = Workspace.objects.create(name="Acme", plan=Plan.objects.get(slug="pro"))
    installation = GitHubInstallation.objects.create(
        github_id=installation_id,
        workspace=workspace,
        account_login="acme",
        account_id=sim.installations[installation_id].account.id,
        account_type="Organization",
        repository_selection="selected",
    )
    InstallationRepository.objects.create(installation=installation, github_id=repository_id, full_name="acme/app")
    return workspace.public_id


def run(tokens: list[str], workspace_id: str, latencies: list[float], failures: list[int]) -> None:
    import json

    from django.db import connection
    from django.test import Client

    client = Client()
    try:
        for token in tokens:
            body = json.dumps({"token": token, "workspaceId": workspace_id})
            started = time.perf_counter()
            response = client.post("/api/v1/auth/github-oidc", data=body, content_type="application/json")
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                failures.append(response.status_code)
    finally:
        connection.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--exchanges", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--tmp-dir", default=None, help="where the SQLite file and the cache live (e.g. /dev/shm to leave out the disk)"
    )
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-exchange-", dir=options.tmp_dir) as var_dir:
        sim = GitHubSimulator(Path(var_dir) / "sim")
        sim.start()
        try:
            configure(sim, var_dir)
            workspace_id = seed(sim)
            warm: list[float] = []
            failures: list[int] = []
            run([sim.actions_token()], workspace_id, warm, failures)
            if failures:
                raise SystemExit(f"the warm-up exchange failed with HTTP {failures[0]}")
            fetches = sim.calls["oidc_jwks"]
            tokens = [sim.actions_token() for _ in range(options.exchanges)]
            shares = [tokens[index :: options.threads] for index in range(options.threads)]
            latencies: list[float] = []
            workers = [
                threading.Thread(target=run, args=(share, workspace_id, latencies, failures)) for share in shares
            ]
            started = time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            elapsed = time.perf_counter() - started
        finally:
            sim.stop()

    print(f"exchanges: {len(latencies)} with {options.threads} thread(s), failures: {len(failures)}")
    print(f"key set fetches while measuring: {sim.calls['oidc_jwks'] - fetches}")
    print(f"throughput: {len(latencies) / elapsed:.1f} exchanges/s")
    print(
        f"latency: p50 {percentile(latencies, 0.50) * 1000:.2f} ms, p99 {percentile(latencies, 0.99) * 1000:.2f} ms,"
        f" mean {statistics.fmean(latencies) * 1000:.2f} ms, max {max(latencies) * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
