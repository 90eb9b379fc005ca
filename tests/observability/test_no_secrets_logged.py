"""A full run, logged at DEBUG by every logger in both formats, holds none of the secrets it used:
the OIDC tokens (valid and forged), the session, every installation token (the caller's and our
own reader's), the App's private key, the webhook secret, METRICS_TOKEN and SECRET_KEY. The same
search finds each of them once one is planted in a log line, so it is able to fail."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from github_app.credentials import reader_tokens
from observability.log_context import LogContextFilter
from observability.logs import PLAIN_FORMAT, JsonLineFormatter
from tests.factories import Acme
from tests.sts.webhooks.conftest import push_payload, signature

pytestmark = pytest.mark.django_db

EXCHANGE = "/api/v1/auth/github-oidc"
WEBHOOK_SECRET = "whsec-" + "Nq3Lp8Wd2Rx7Vb5K"
METRICS_TOKEN = "metrics-" + "Hs6Jw1Qe9Tz4Mc2Y"


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], str]]:
    """Everything every logger wrote from now on: pytest's capture (messages and their arguments) and
    the lines as production (JSON) and development (plain) format them."""
    caplog.set_level(logging.DEBUG)
    streams = [io.StringIO(), io.StringIO()]
    handlers = [logging.StreamHandler(stream) for stream in streams]
    handlers[0].setFormatter(JsonLineFormatter())
    handlers[1].setFormatter(logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    for handler in handlers:
        handler.addFilter(LogContextFilter())
        root.addHandler(handler)
    try:
        yield lambda: "\n".join(
            [caplog.text, *(repr(record.args) for record in caplog.records), *(s.getvalue() for s in streams)]
        )
    finally:
        for handler in handlers:
            root.removeHandler(handler)


@pytest.fixture
def configured(settings: Any) -> Any:
    settings.GITHUB_WEBHOOK_SECRETS = [WEBHOOK_SECRET]
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return settings


def secrets_found(text: str, secrets: dict[str, list[str]]) -> list[str]:
    """The names of the secrets any of whose values appears in `text`, as it is or as JSON escapes it."""
    escaped = json.dumps(text)
    return sorted(
        name for name, values in secrets.items() if any(value in text or value in escaped for value in values)
    )


def pem_body_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def run_everything(client: Client, acme: Acme, on_commit: Any) -> tuple[dict[str, list[str]], str]:
    """Exchange (forged, then valid), mint twice, revoke, a webhook that forgets a policy, a scrape:
    the secrets each step used, by name, and what the scrape answered."""
    oidc = acme.token()
    forged = acme.token()[:-16] + "forgedsignature0"
    assert exchange(client, forged, acme).status_code == 401
    session = exchange(client, oidc, acme).json()["data"]["token"]
    tokens = [token["token"] for token in mint(client, session)["tokens"]]
    tokens += [token["token"] for token in mint(client, session)["tokens"]]
    revoked = client.post(
        "/api/v1/sts/revoke",
        {"token": tokens[0]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {session}",
    )
    assert revoked.json()["success"], revoked.json()
    payload = push_payload(
        installation_id=acme.installation.github_id,
        repository_id=acme.repository_id,
        full_name="acme/app",
        paths=[".atmos/pro/sts/default.yaml"],
    )
    body = json.dumps(payload).encode()
    headers = {
        "X-Hub-Signature-256": signature(WEBHOOK_SECRET, body),
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "d1",
    }
    with on_commit(execute=True):
        delivered = client.post("/webhooks/github", body, content_type="application/json", headers=headers)
    assert delivered.status_code == 202, delivered.json()
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200
    assert len(tokens) == 2
    return {
        "oidc token": [oidc, oidc.split(".")[2]],
        "forged oidc token": [forged],
        "session token": [session, session.split(".")[2]],
        "installation tokens": tokens,
        "reader tokens": [reader.token for reader in reader_tokens._tokens.values()],
        "app private key": pem_body_lines(settings.GITHUB_APP_PRIVATE_KEY),
        "session signing key": pem_body_lines(settings.STS_SESSION_SIGNING_KEY),
        "webhook secret": [WEBHOOK_SECRET],
        "metrics token": [METRICS_TOKEN],
        "secret key": [settings.SECRET_KEY],
    }, scraped.content.decode()


def exchange(client: Client, token: str, acme: Acme) -> Any:
    return client.post(
        EXCHANGE, {"token": token, "workspaceId": acme.workspace.public_id}, content_type="application/json"
    )


def mint(client: Client, session: str) -> Any:
    response = client.post(
        "/api/v1/sts",
        {"sources": ["acme/modules"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {session}",
    )
    return response.json()["data"]


def test_a_full_run_logged_at_debug_holds_no_secret(
    client: Client, acme: Acme, configured: Any, logged: Callable[[], str], django_capture_on_commit_callbacks: Any
) -> None:
    used, scrape = run_everything(client, acme, django_capture_on_commit_callbacks)
    assert used["reader tokens"], "the mint read its policy with a reader token of ours"
    text = logged()
    assert "Unauthorized: /api/v1/auth/github-oidc" in text  # the capture did see the run
    assert secrets_found(text, used) == []
    assert secrets_found(scrape, used) == []


@pytest.mark.parametrize(
    "how",
    [
        lambda log, value: log.debug("token %s", value),
        lambda log, value: log.warning(f"failed with {value}"),
        lambda log, value: log.error("failed", exc_info=ValueError(value)),
    ],
    ids=["argument", "message", "exception"],
)
def test_the_search_finds_a_secret_planted_in_a_log_line(
    client: Client,
    acme: Acme,
    configured: Any,
    logged: Callable[[], str],
    django_capture_on_commit_callbacks: Any,
    how: Callable[[logging.Logger, str], None],
) -> None:
    used, _ = run_everything(client, acme, django_capture_on_commit_callbacks)
    logger = logging.getLogger("sts.mint")
    for values in used.values():
        how(logger, values[-1])
    assert secrets_found(logged(), used) == sorted(used)
