"""The audit review pages at a million events: load a realistic log into PostgreSQL, then time the pages.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/bench_audit.py --events 1000000
    ... --reuse       # keep the loaded log (database atmospro_bench_audit), only time the pages
    ... --verify      # also run `manage.py audit_verify` over the loaded chains

The log goes into its own database, `atmospro_bench_audit`, on the server DATABASE_URL names (recreated
unless --reuse). Six workspaces, one holding 70% of the events; hundreds of callers, actors and refs,
thousands of source repositories (a few popular, most rare), 1-5 source rows per mint, ninety days of
time. Rows are written with COPY in the order the writer would have chained them, each event's hash
computed with `audit.chain.event_hash`, so `audit_verify` passes on the loaded log.

Then, signed in as a security member of the large workspace, each measurement is a GET through
Django's full stack with DEBUG off (test client, middleware, view, template): p50 and p95 over --runs
runs, then EXPLAIN (ANALYZE, BUFFERS) of the SQL each one ran on the audit tables. "chart+facets" is
`audit_summary` alone (the list page draws it from the same call); an export's "first row" is the first
line after the CSV header (which leaves before any query).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DATABASE = "atmospro_bench_audit"
# The event types, written as the strings the log stores (issue 11's names).
MINTED = "pro.atmos.sts.token_minted"
MINT_DENIED = "pro.atmos.sts.mint_denied"
EXCHANGED = "pro.atmos.auth.oidc_token_exchange_success"
EXCHANGE_FAILED = "pro.atmos.auth.oidc_token_exchange_failure"
REVOKED = "pro.atmos.sts.token_revoked"
# (type, outcome, share of the events)
MIX = (
    (MINTED, "allowed", 0.50),
    (MINT_DENIED, "denied", 0.08),
    (MINT_DENIED, "error", 0.02),
    (EXCHANGED, "allowed", 0.30),
    (EXCHANGE_FAILED, "denied", 0.05),
    (REVOKED, "allowed", 0.05),
)
REASONS = ("trust_policy_denied", "no_trust_policy", "not_installed_in_workspace", "github_rate_limited")
DAYS = 90


@dataclass
class Tenant:
    """One workspace's names: its callers, actors, refs, workflows and sources (popular ones first)."""

    public_id: str
    org: str
    callers: list[str]
    actors: list[str]
    refs: list[str]
    workflows: list[str]
    sources: list[str]
    sequence: int = 0
    head: str = ""
    weights: dict[str, list[float]] = field(default_factory=dict)

    def pick(self, rng: random.Random, kind: str) -> str:
        names: list[str] = getattr(self, kind)
        if kind not in self.weights:
            # A long tail: the i-th name is drawn about 1/(i+1) as often as the first.
            running, total = [], 0.0
            for index in range(len(names)):
                total += 1 / (index + 1) ** 0.9
                running.append(total)
            self.weights[kind] = running
        return rng.choices(names, cum_weights=self.weights[kind])[0]


def tenant(public_id: str, org: str, scale: int) -> Tenant:
    return Tenant(
        public_id=public_id,
        org=org,
        callers=[f"{org}/service-{n:03d}" for n in range(60 * scale)],
        actors=[f"{org}-dev-{n:03d}" for n in range(80 * scale)] + ["dependabot[bot]", "github-actions[bot]"],
        refs=["refs/heads/main"] + [f"refs/heads/feature/{org}-{n}" for n in range(40 * scale)] + ["refs/tags/v1.0.0"],
        workflows=["deploy", "plan", "ci", "release", "nightly", "terraform apply"],
        sources=[f"{org}/module-{n:04d}" for n in range(600 * scale)],
    )


def tenants(public_ids: list[str]) -> list[Tenant]:
    """The first is the large workspace (five times the names of the others, 70% of the events)."""
    orgs = ["acme", "globex", "initech", "umbrella", "hooli", "stark"]
    return [tenant(public_id, orgs[i], 5 if i == 0 else 1) for i, public_id in enumerate(public_ids)]


def generated(count: int, workspaces: list[Tenant], *, end: datetime, seed: int = 11) -> Iterator[dict[str, Any]]:
    """`count` events (as the writer fills them, sources included) oldest first over DAYS days to `end`."""
    rng = random.Random(seed)
    start = end - timedelta(days=DAYS)
    step = (end - start) / count
    shares = [0.70] + [0.30 / (len(workspaces) - 1)] * (len(workspaces) - 1)
    kinds, kind_weights = [m[:2] for m in MIX], [m[2] for m in MIX]
    for number in range(count):
        ws = rng.choices(workspaces, weights=shares)[0]
        action, outcome = rng.choices(kinds, weights=kind_weights)[0]
        created_at = start + step * number + timedelta(microseconds=rng.randrange(1000))
        identity = {
            "repository": ws.pick(rng, "callers"),
            "repository_owner": ws.org,
            "ref": ws.pick(rng, "refs"),
            "sha": hashlib.sha1(f"{number}".encode()).hexdigest(),
            "actor": ws.pick(rng, "actors"),
            "workflow": ws.pick(rng, "workflows"),
            "run_id": str(9_000_000_000 + number),
            "event_name": rng.choice(["push", "pull_request", "workflow_dispatch", "schedule"]),
            "environment": rng.choice(["", "production", "staging"]),
        }
        sources: list[dict[str, Any]] = []
        detail: dict[str, Any] = {}
        error_tag = ""
        if action in (MINTED, MINT_DENIED):
            names = list(dict.fromkeys(ws.pick(rng, "sources") for _ in range(rng.randint(1, 5))))
            granted = action == MINTED
            fingerprint = hashlib.sha256(f"token-{number}".encode()).hexdigest()[:44]
            for index, name in enumerate(names):
                ok = granted and (index == 0 or rng.random() < 0.8)
                sources.append(
                    {
                        "repository": name,
                        "github_id": 500_000 + int(name.rsplit("-", 1)[1]),
                        "decision": "granted" if ok else "excluded",
                        "reason": "" if ok else rng.choice(REASONS),
                        "rule": 0 if ok else None,
                        "fingerprint": fingerprint if ok else "",
                    }
                )
            detail = {
                "policy_name": "default",
                "requested": {"count": len(names), "first": names},
                "decisions": [
                    {"repo": s["repository"], "decision": s["decision"], "reason": s["reason"]} for s in sources
                ],
                "tokens": [
                    {"fingerprint": fingerprint, "repositories": [s["repository"] for s in sources if s["rule"] == 0]}
                ]
                if granted
                else [],
            }
            if outcome == "error":
                error_tag = "GitHubUnavailable"
        elif outcome != "allowed":
            error_tag = rng.choice(["OidcTokenInvalid", "OidcTokenReplayed", "WorkspaceNotFound"])
        yield {
            "created_at": created_at,
            "request_id": f"req_{number:012d}",
            "action": action,
            "outcome": outcome,
            "error_tag": error_tag,
            "workspace": ws,
            "identity": identity,
            "detail": detail,
            "sources": sources,
        }


def load(count: int, public_ids: list[str], *, end: datetime, batch: int = 50_000) -> None:
    """Writes `count` chained events of these workspaces: COPY on PostgreSQL, bulk inserts elsewhere.
    The workspaces' chains must be empty."""
    from django.db import connection, transaction

    from audit.chain import GENESIS_HASH, event_hash
    from audit.models import AuditChainHead, AuditEvent, AuditSource

    workspaces = tenants(public_ids)
    for ws in workspaces:
        ws.head = GENESIS_HASH
    next_event = (AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    next_source = (AuditSource.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    events: list[AuditEvent] = []
    sources: list[AuditSource] = []
    for row in generated(count, workspaces, end=end):
        ws = row["workspace"]
        ws.sequence += 1
        identity = row["identity"]
        event = AuditEvent(
            id=next_event,
            created_at=row["created_at"],
            request_id=row["request_id"],
            action=row["action"],
            outcome=row["outcome"],
            error_tag=row["error_tag"],
            workspace_public_id=ws.public_id,
            repository=identity["repository"],
            ref=identity["ref"],
            actor=identity["actor"],
            workflow=identity["workflow"],
            run_id=identity["run_id"],
            identity=identity,
            detail=row["detail"],
            sequence=ws.sequence,
            previous_hash=ws.head,
        )
        rows = []
        for source in row["sources"]:
            rows.append(
                AuditSource(
                    id=next_source,
                    event_id=next_event,
                    workspace_public_id=ws.public_id,
                    created_at=event.created_at,
                    repository_key=source["repository"].lower(),
                    **source,
                )
            )
            next_source += 1
        event.hash = ws.head = event_hash(event, [source.as_hashed() for source in rows])
        events.append(event)
        sources.extend(rows)
        next_event += 1
        if len(events) >= batch:
            _write(events, sources)
            events, sources = [], []
    _write(events, sources)
    with transaction.atomic():
        for ws in workspaces:
            AuditChainHead.objects.update_or_create(
                workspace_public_id=ws.public_id, defaults={"sequence": ws.sequence, "hash": ws.head}
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("audit_auditevent", "audit_auditsource"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


EVENT_COLUMNS = [
    "id",
    "created_at",
    "request_id",
    "action",
    "outcome",
    "error_tag",
    "workspace_public_id",
    "repository",
    "ref",
    "actor",
    "workflow",
    "run_id",
    "identity",
    "detail",
    "sequence",
    "previous_hash",
    "hash",
]
SOURCE_COLUMNS = [
    "id",
    "event_id",
    "workspace_public_id",
    "created_at",
    "repository",
    "repository_key",
    "github_id",
    "decision",
    "reason",
    "rule",
    "fingerprint",
]


def _write(events: list[Any], sources: list[Any]) -> None:
    import json

    from django.db import connection, transaction

    from audit.models import AuditEvent, AuditSource

    if connection.vendor != "postgresql":
        with transaction.atomic():
            AuditEvent.objects.bulk_create(events, batch_size=500)
            AuditSource.objects.bulk_create(sources, batch_size=500)
        return
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY audit_auditevent ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
            for event in events:
                values = [getattr(event, name) for name in EVENT_COLUMNS]
                values[12], values[13] = json.dumps(event.identity), json.dumps(event.detail)
                copy.write_row(values)
        with raw.copy(f"COPY audit_auditsource ({', '.join(SOURCE_COLUMNS)}) FROM STDIN") as copy:
            for source in sources:
                copy.write_row([getattr(source, name) for name in SOURCE_COLUMNS])


@contextmanager
def indexes_built_after() -> Iterator[None]:
    """The audit tables' plain indexes dropped while the rows are copied, and built again after:
    building an index once is far cheaper than updating it a million times. Constraints stay."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('audit_auditevent', 'audit_auditsource')"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        definitions = cursor.fetchall()
        for name, _ in definitions:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in definitions:
            cursor.execute(definition)


# --- the measurements -------------------------------------------------------------------------------


def configure(database_url: str) -> str:
    parts = urlsplit(database_url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL server (postgres://...).")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="atmospro.settings",
        CACHE_URL="locmemcache://",
        LOG_LEVEL="WARNING",
        DATABASE_URL=urlunsplit(parts._replace(path=f"/{DATABASE}")),
        **production_settings(),
    )
    return urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))


def production_settings() -> dict[str, str]:
    """DEBUG off, as deployed (DEBUG logs every query and slows the templates): with it, the settings
    demand their secrets, which the bench makes up; the test client speaks plain HTTP to `testserver`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def pem(key: Any) -> str:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    return {
        "DEBUG": "False",
        "SECRET_KEY": os.urandom(32).hex(),
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "False",
        "GITHUB_APP_ID": "1",
        "GITHUB_APP_PRIVATE_KEY": pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "GITHUB_WEBHOOK_SECRETS": os.urandom(16).hex(),
        "STS_SESSION_SIGNING_KEY": pem(ec.generate_private_key(ec.SECP256R1())),
    }


def recreate(server: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def timed(label: str, runs: int, request: Callable[[], Any]) -> tuple[str, float, float]:
    for _ in range(3):
        request()  # warm: the connection, the templates, the caches
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        request()
        samples.append((time.perf_counter() - began) * 1000)
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[18]
    return label, statistics.median(samples), p95


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="keep the loaded log; only time the pages")
    parser.add_argument("--verify", action="store_true", help="run audit_verify over the loaded chains")
    parser.add_argument("--no-plans", action="store_true", help="skip the EXPLAIN output")
    args = parser.parse_args()
    server = configure(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    if not args.reuse:
        recreate(server)

    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from workspaces.models import Membership, Plan, Workspace

    call_command("migrate", verbosity=0)
    names = [f"Bench {n}" for n in range(6)]
    if not args.reuse:
        pro = Plan.objects.get(slug="pro")
        public_ids = [Workspace.objects.create(name=name, plan=pro).public_id for name in names]
        began = time.perf_counter()
        with indexes_built_after():
            load(args.events, public_ids, end=datetime.now(UTC))
        loaded = time.perf_counter() - began
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE audit_auditevent")
            cursor.execute("VACUUM ANALYZE audit_auditsource")
        print(
            f"loaded {args.events} events in {loaded:.1f} s ({args.events / loaded:.0f} events/s, indexes built "
            "after the rows), then VACUUM ANALYZE"
        )
    big = Workspace.objects.get(name=names[0])
    user, _ = User.objects.get_or_create(username="bench-security")
    Membership.objects.get_or_create(user=user, workspace=big, defaults={"role": Membership.Role.SECURITY})
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        events = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM audit_auditsource")
        source_rows = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM audit_auditevent WHERE workspace_public_id = %s", [big.public_id])
        in_big = cursor.fetchone()[0]
    print(f"{events} events, {source_rows} source rows; the large workspace holds {in_big}")
    if args.verify:
        began = time.perf_counter()
        call_command("audit_verify")
        print(f"audit_verify: {time.perf_counter() - began:.1f} s")

    # Popular-but-not-top names, so each query selects a realistic few thousand events.
    acme = tenants([big.public_id])[0]
    caller, source, actor = acme.callers[7], acme.sources[30], acme.actors[3]
    rare = acme.sources[-1]
    today = datetime.now(UTC).date()
    week = f"{today - timedelta(days=20)}..{today - timedelta(days=14)}"
    client = Client()
    client.force_login(user)

    def page(query: str) -> Callable[[], Any]:
        def get() -> Any:
            response = client.get("/audit/", {"q": query})
            assert response.status_code == 200, response.status_code
            return response

        return get

    def older_page(day: Any) -> Callable[[], Any]:
        before = f"{day}T12:00:00.000000Z,{10**15}"

        def get() -> Any:
            response = client.get("/audit/", {"q": "", "before": before})
            assert response.status_code == 200, response.status_code
            return response

        return get

    def first_line(kind: str, query: str) -> Callable[[], Any]:
        def get() -> Any:
            response = client.get(f"/audit/export.{kind}", {"q": query})
            chunks = iter(response.streaming_content)
            first = next(chunks)
            if kind == "csv":
                first = next(chunks)  # the header is written before any row is read: time the first row
            response.close()
            return first

        return get

    def chart(query: str) -> Callable[[], Any]:
        from audit.selectors import audit_events_for, audit_summary

        return lambda: audit_summary(events=audit_events_for(workspace_public_ids=[big.public_id], query=query))

    measured = [
        (f"page  repo:{caller.upper()}", page(f"repo:{caller.upper()}")),
        (f"page  source:{source}", page(f"source:{source}")),
        (f"page  actor:{actor} created:{week}", page(f"actor:{actor} created:{week}")),
        (f"page  source:{rare}  (a rare one)", page(f"source:{rare}")),
        ("page  (no query)", page("")),
        ("page  (no query), 30 days back by cursor", older_page(today - timedelta(days=30))),
        (f"page  outcome:denied created:{week}", page(f"outcome:denied created:{week}")),
        (f"chart+facets  repo:{caller}", chart(f"repo:{caller}")),
        ("chart+facets  (no query)", chart("")),
        ("export.csv first row  (no query)", first_line("csv", "")),
        ("export.jsonl first line  (no query)", first_line("jsonl", "")),
        (f"export.csv first row  source:{source}", first_line("csv", f"source:{source}")),
    ]
    print(f"\n{'request':<72} {'p50 ms':>8} {'p95 ms':>8}   ({args.runs} runs each)")
    for label, request in measured:
        _, p50, p95 = timed(label, args.runs, request)
        print(f"{label:<72} {p50:8.1f} {p95:8.1f}")
        sys.stdout.flush()
    if args.no_plans:
        return
    for label, request in measured:
        with CaptureQueriesContext(connection) as captured:
            request()
        print(f"\n===== {label}")
        for query in captured.captured_queries:
            sql = query["sql"]
            if "audit_audit" not in sql or sql.startswith(("SAVEPOINT", "RELEASE")):
                continue
            if "LIMIT" not in sql:
                sql += " LIMIT 1000"  # an export's cursor: its first chunk, as the stream reads it
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                # A condition on a thousand ids (the summary's top sources) is cut to its start.
                plan = "\n".join(f"    {_shortened(row[0])}" for row in cursor.fetchall())
            print(f"--- {sql[:400]}{' ...' if len(sql) > 400 else ''}\n{plan}")


def _shortened(line: str, length: int = 300) -> str:
    return line if len(line) <= length else line[:length] + " ..."


if __name__ == "__main__":
    main()
