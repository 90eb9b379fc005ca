"""What the service counts, counted once per event, with label values from its vocabularies only."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from celery import shared_task
from django.test import Client

from audit.event_types import OIDC_TOKEN_EXCHANGE_FAILURE as EXCHANGE_FAILED
from audit.event_types import OIDC_TOKEN_EXCHANGE_SUCCESS as EXCHANGED
from audit.event_types import TOKEN_MINTED as MINTED
from github_app.http import ENDPOINT_TEMPLATES, endpoint_template
from observability.metrics import api_request_observed, webhook_delivery_observed
from sts.policy.parse_cache import parse_cache_clear
from sts.reasons import Reason
from tests.factories import Acme
from tests.sts.webhooks.conftest import SECRET, signature

from .conftest import label_values

pytestmark = pytest.mark.django_db

EXCHANGE = "/api/v1/auth/github-oidc"
TEMPLATES = {template for _, template in ENDPOINT_TEMPLATES} | {"other"}


def exchange(client: Client, token: str, workspace_id: str) -> Any:
    return client.post(EXCHANGE, {"token": token, "workspaceId": workspace_id}, content_type="application/json")


def mint(client: Client, session: str, sources: list[str]) -> Any:
    return client.post(
        "/api/v1/sts", {"sources": sources}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {session}"
    )


def test_a_refused_exchange_is_counted_by_its_error_tag(client: Client, acme: Acme, delta: Callable) -> None:
    forged = acme.token()[:-8] + "AAAAAAAA"
    assert exchange(client, forged, acme.workspace.public_id).status_code == 401
    assert exchange(client, "not a jwt", acme.workspace.public_id).status_code == 401
    refused = {"action": EXCHANGE_FAILED, "outcome": "denied", "error_tag": "InvalidOidcToken"}
    assert delta("atmospro_api_requests_total", **refused) == 2
    assert delta("atmospro_api_requests_total", action=EXCHANGED, outcome="allowed", error_tag="") == 0


def test_a_mint_counts_its_sources_by_reason_its_tokens_and_its_github_calls(
    client: Client, acme: Acme, delta: Callable
) -> None:
    parse_cache_clear()  # this process's parse cache may know the policy from an earlier test
    session = exchange(client, acme.token(), acme.workspace.public_id).json()["data"]["token"]
    asked = ["acme/modules", "acme/no-policy", "globex/elsewhere", "../../etc/passwd"]
    body = mint(client, session, asked).json()
    assert len(body["data"]["tokens"]) == 1, body

    assert delta("atmospro_api_requests_total", action=EXCHANGED, outcome="allowed", error_tag="") == 1
    assert delta("atmospro_api_requests_total", action=MINTED, outcome="allowed", error_tag="") == 1
    assert delta("atmospro_mint_sources_total", decision="granted", reason="") == 1
    for reason in (Reason.NO_POLICY, Reason.NOT_INSTALLED, Reason.INVALID_NAME):
        assert delta("atmospro_mint_sources_total", decision="excluded", reason=reason.value) == 1, reason
    assert delta("atmospro_tokens_minted_total") == 1
    created = {"method": "POST", "endpoint": "/app/installations/{id}/access_tokens", "status": "201"}
    assert delta("atmospro_github_requests_total", **created) >= 1
    timed = {"method": "POST", "endpoint": "/app/installations/{id}/access_tokens"}
    assert delta("atmospro_github_request_duration_seconds_count", **timed) >= 1
    assert delta("atmospro_policy_cache_lookups_total", cache="file", result="miss") == 2
    assert delta("atmospro_policy_cache_lookups_total", cache="parse", result="miss") == 1

    mint(client, session, ["acme/modules"])
    assert delta("atmospro_policy_cache_lookups_total", cache="file", result="hit") == 1
    assert delta("atmospro_policy_cache_lookups_total", cache="parse", result="hit") == 1
    assert delta("atmospro_tokens_minted_total") == 2


def test_no_label_names_a_repository_or_a_path(client: Client, acme: Acme) -> None:
    session = exchange(client, acme.token(), acme.workspace.public_id).json()["data"]["token"]
    mint(client, session, ["acme/modules", "acme/no-policy", "acme/{id}", "acme/<script>", "a" * 300])
    assert label_values("atmospro_github_requests_total", "endpoint") <= TEMPLATES
    assert label_values("atmospro_github_request_duration_seconds_count", "endpoint") <= TEMPLATES
    assert label_values("atmospro_mint_sources_total", "reason") <= {reason.value for reason in Reason} | {""}
    everything = json.dumps([label_values(name, label) for name, label in _LABELLED], default=sorted)
    assert "acme/" not in everything
    assert "<script>" not in everything


_LABELLED = [
    ("atmospro_api_requests_total", "action"),
    ("atmospro_api_requests_total", "error_tag"),
    ("atmospro_github_requests_total", "endpoint"),
    ("atmospro_github_rate_limit_remaining", "installation"),
    ("atmospro_mint_sources_total", "reason"),
    ("atmospro_webhook_deliveries_total", "event"),
]


def test_github_s_rate_limit_is_remembered_per_installation(client: Client, acme: Acme) -> None:
    session = exchange(client, acme.token(), acme.workspace.public_id).json()["data"]["token"]
    mint(client, session, ["acme/modules"])
    installations = label_values("atmospro_github_rate_limit_remaining", "installation")
    assert "app" in installations
    assert str(acme.installation.github_id) in installations


@pytest.mark.parametrize(
    ("url", "template"),
    [
        ("https://api.github.com/app/installations/42/access_tokens", "/app/installations/{id}/access_tokens"),
        ("https://ghe.example/api/v3/app/installations/42", "/app/installations/{id}"),
        ("https://api.github.com/repos/acme/x/installation", "/repos/{owner}/{repo}/installation"),
        ("https://api.github.com/repositories/7/contents/.atmos/pro/sts/a.yaml", "/repositories/{id}/contents/{path}"),
        ("https://api.github.com/repos/a/b/contents/x/installation", "/repos/{owner}/{repo}/contents/{path}"),
        ("https://api.github.com/repos/a/b/contents/app/installations/1", "/repos/{owner}/{repo}/contents/{path}"),
        ("https://api.github.com/installation/token", "/installation/token"),
        ("https://token.actions.githubusercontent.com/.well-known/jwks", "/.well-known/jwks"),
        ("https://issuer.example/keys/acme-secret", "other"),
        ("https://api.github.com/repos/acme/secret-name", "other"),
        ("https://api.github.com/app/installations/42abc", "other"),
        ("not a url at all", "other"),
    ],
)
def test_an_outbound_call_is_named_by_its_endpoint_template(url: str, template: str) -> None:
    assert endpoint_template(url) == template


@pytest.mark.parametrize("hostile", ["acme/secret repo", "x" * 200, "", "a\nb", "é", "<b>"])
def test_a_label_value_outside_the_vocabulary_is_counted_as_other(hostile: str, delta: Callable) -> None:
    api_request_observed(action=hostile, outcome="denied", error_tag=hostile or "x y")
    assert delta("atmospro_api_requests_total", action="other", outcome="denied", error_tag="other") == 1


def test_webhook_deliveries_are_counted_by_event_and_result(client: Client, delta: Callable, settings: Any) -> None:
    settings.GITHUB_WEBHOOK_SECRETS = [SECRET]
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    signed = {"X-Hub-Signature-256": signature(SECRET, body), "X-GitHub-Delivery": "d-1", "X-GitHub-Event": "ping"}
    assert client.post("/webhooks/github", body, content_type="application/json", headers=signed).status_code == 200
    forged = {**signed, "X-Hub-Signature-256": signature("guessed", body), "X-GitHub-Event": "acme/secret-repo"}
    assert client.post("/webhooks/github", body, content_type="application/json", headers=forged).status_code == 401
    assert delta("atmospro_webhook_deliveries_total", event="ping", result="ignored") == 1
    assert delta("atmospro_webhook_deliveries_total", event="other", result="WebhookSignatureInvalid") == 1
    webhook_delivery_observed(event="push", result="duplicate")
    assert delta("atmospro_webhook_deliveries_total", event="push", result="duplicate") == 1


@shared_task(name="tests.observability.always_fails")
def always_fails() -> None:
    raise RuntimeError("this task fails on purpose")


def test_a_failed_celery_task_is_counted_by_its_name(delta: Callable) -> None:
    # Run in this process through Celery's own tracer, as a worker runs it (not raised here).
    assert always_fails.apply(throw=False).failed()
    assert delta("atmospro_celery_task_failures_total", task="tests.observability.always_fails") == 1


def test_every_throttled_request_is_counted_though_one_event_a_minute_is_written(
    client: Client, acme: Acme, settings: Any, delta: Callable
) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"oidc_exchange": "1/minute"}}
    statuses = [exchange(client, "x", acme.workspace.public_id).status_code for _ in range(6)]
    assert statuses.count(429) == 5
    throttled = {"action": EXCHANGE_FAILED, "outcome": "denied", "error_tag": "Throttled"}
    assert delta("atmospro_api_requests_total", **throttled) == 5


def test_a_bug_is_counted_as_an_error(
    client: Client, acme: Acme, monkeypatch: pytest.MonkeyPatch, delta: Callable
) -> None:
    def broken(**_: Any) -> Any:  # a stand-in for a bug behind the view
        raise RuntimeError("a bug")

    monkeypatch.setattr("sts.exchange.session_issue", broken)
    assert exchange(client, acme.token(), acme.workspace.public_id).status_code == 500
    failed = {"action": EXCHANGE_FAILED, "outcome": "error", "error_tag": "InternalError"}
    assert delta("atmospro_api_requests_total", **failed) == 1
