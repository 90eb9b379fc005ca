"""Every metric the service exports, and the one call each instrumented place makes.

Label values come from closed vocabularies only: the audit actions and outcomes, the error tags and
exclusion reasons of the code, GitHub endpoint templates, the webhook events the App subscribes to,
task names. Never a repository name, a path or anything else a caller chose: each label value is
checked here, and one that does not look like a vocabulary word is counted as `other`.

With several worker processes (gunicorn), `PROMETHEUS_MULTIPROC_DIR` must be set before the first
import of prometheus_client; each process then writes its values to files there, and `/metrics`
adds them up (`exposition`).
"""

from __future__ import annotations

import enum
import os
import re
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Protocol, TypeVar

from prometheus_client import Counter, Gauge, Histogram

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # A metric without labels opens its file as it is defined below: the directory must exist by then.
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

OTHER = "other"
_WORD = re.compile(r"^[A-Za-z0-9_.:{}/-]{1,100}$")
# https://docs.github.com/en/webhooks/webhook-events-and-payloads: the events the App subscribes to.
WEBHOOK_EVENTS = frozenset(
    {
        "installation",
        "installation_repositories",
        "push",
        "pull_request",
        "repository",
        "check_run",
        "check_suite",
        "ping",
    }
)

API_REQUESTS = Counter(
    "atmospro_api_requests",
    "API requests by audit event type (pro.atmos.sts.token_minted, ...), outcome and error tag ('' on success).",
    ["action", "outcome", "error_tag"],
)
MINT_SOURCES = Counter(
    "atmospro_mint_sources",
    "Sources decided by mints: granted, or excluded with its reason.",
    ["decision", "reason"],
)
TOKENS_MINTED = Counter("atmospro_tokens_minted", "Installation tokens handed out by mints.")
GITHUB_REQUESTS = Counter(
    "atmospro_github_requests",
    "Outbound HTTP calls (GitHub, OIDC issuers) by endpoint template and status ('error': no answer).",
    ["method", "endpoint", "status"],
)
GITHUB_LATENCY = Histogram(
    "atmospro_github_request_duration_seconds",
    "Time to GitHub's (or an OIDC issuer's) answer, by endpoint template.",
    ["method", "endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GITHUB_RATE_LIMIT_REMAINING = Gauge(
    "atmospro_github_rate_limit_remaining",
    "GitHub's x-ratelimit-remaining as last answered, per installation ('app': the App's own JWT).",
    ["installation"],
    # The last answer of any process is the truth, even from a worker that has since exited.
    multiprocess_mode="mostrecent",
)
POLICY_CACHE = Counter(
    "atmospro_policy_cache_lookups",
    "Trust policy caches: file (shared cache; hit, revalidated by ETag, miss) and parse (per process).",
    ["cache", "result"],
)
WEBHOOK_DELIVERIES = Counter(
    "atmospro_webhook_deliveries",
    "GitHub webhook deliveries received, by event and result (queued, ignored, duplicate, or the refusal's tag).",
    ["event", "result"],
)
TASK_FAILURES = Counter("atmospro_celery_task_failures", "Celery tasks that failed for good, by task.", ["task"])


def _label(value: str, *, allowed: Collection[str] | None = None) -> str:
    if allowed is not None:
        return value if value in allowed else OTHER
    return value if _WORD.match(value) else OTHER


def api_request_observed(*, action: str, outcome: str, error_tag: str) -> None:
    API_REQUESTS.labels(_label(action), _label(outcome), _label(error_tag) if error_tag else "").inc()


def mint_source_observed(*, reason: enum.Enum | None) -> None:
    """`reason`: a member of the exclusion vocabulary, or None for a granted source."""
    if reason is None:
        MINT_SOURCES.labels("granted", "").inc()
    else:
        MINT_SOURCES.labels("excluded", _label(str(reason.value))).inc()


def tokens_minted_observed(count: int) -> None:
    if count:
        TOKENS_MINTED.inc(count)


class _Answer(Protocol):
    status_code: int


AnswerT = TypeVar("AnswerT", bound=_Answer)


def outbound_call_observed(*, method: str, endpoint: str, send: Callable[[], AnswerT]) -> AnswerT:
    """`send()`, counted by its status (or `error` when it raised) and timed. `endpoint` is a template."""
    started = time.perf_counter()
    status = "error"
    try:
        answer = send()
        status = str(answer.status_code)
        return answer
    finally:
        method, endpoint = _label(method.upper()), _label(endpoint)
        GITHUB_LATENCY.labels(method, endpoint).observe(time.perf_counter() - started)
        GITHUB_REQUESTS.labels(method, endpoint, _label(status)).inc()


def github_rate_limit_observed(*, credential: str | None, remaining: str | None) -> None:
    """`credential`: "app" or "installation:<id>", as the client names them; `remaining`: GitHub's header."""
    if credential is None or remaining is None or not remaining.isdigit():
        return
    installation = credential.removeprefix("installation:")
    if installation != "app" and not installation.isdigit():
        return
    GITHUB_RATE_LIMIT_REMAINING.labels(installation).set(int(remaining))


def policy_cache_observed(*, cache: str, result: str) -> None:
    POLICY_CACHE.labels(_label(cache), _label(result)).inc()


def webhook_delivery_observed(*, event: str, result: str) -> None:
    WEBHOOK_DELIVERIES.labels(_label(event, allowed=WEBHOOK_EVENTS), _label(result)).inc()


def task_failure_observed(task_name: str) -> None:
    TASK_FAILURES.labels(_label(task_name)).inc()
