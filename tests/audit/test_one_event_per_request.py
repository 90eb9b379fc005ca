"""Every request to an audited endpoint leaves exactly one audit event, whatever way it ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from audit import event_types
from audit.models import AuditEvent
from githubsim.simulator import GitHubSimulator
from sts.sessions import session_issue
from tests.factories import acme_create, caller_claims, session_create

EXCHANGE = "/api/v1/auth/github-oidc"
MINT = "/api/v1/sts"
REVOKE = "/api/v1/sts/revoke"
ENDPOINTS = {
    EXCHANGE: event_types.EXCHANGE,
    MINT: event_types.MINT,
    REVOKE: event_types.REVOKE,
}


@pytest.fixture
def caller(github_sim: GitHubSimulator, db: None) -> dict[str, Any]:
    acme = acme_create(github_sim)
    identity = caller_claims(
        repository_id=str(acme.repository_id), repository_owner_id=str(acme.installation.account_id)
    )
    session = session_create(workspace=acme.workspace, identity=identity, request_id="req_setup")
    return {"sim": github_sim, "workspace": acme.workspace, "session": session}


def _post(client: Client, path: str, caller: dict[str, Any], body: Any, **extra: Any) -> Any:
    if path == EXCHANGE and body == "valid":
        body = {"token": caller["sim"].actions_token(), "workspaceId": caller["workspace"].public_id}
    elif body == "valid":
        body = {"sources": ["acme/app"]} if path == MINT else {"token": "ghs_" + "x" * 40}
    headers = {} if path == EXCHANGE else {"HTTP_AUTHORIZATION": f"Bearer {caller['session']}"}
    return client.post(path, data=body, content_type=extra.pop("content_type", "application/json"), **headers, **extra)


WAYS_TO_END: dict[str, Callable[[Client, str, dict[str, Any]], Any]] = {
    "answered": lambda client, path, caller: _post(client, path, caller, "valid"),
    "body not JSON": lambda client, path, caller: _post(client, path, caller, "{not json"),
    "body not an object": lambda client, path, caller: _post(client, path, caller, "[1, 2]"),
    "wrong media type": lambda client, path, caller: _post(client, path, caller, "x=1", content_type="text/plain"),
    "wrong method": lambda client, path, caller: client.get(path),
    "OPTIONS": lambda client, path, caller: client.options(path),
    "body too large": lambda client, path, caller: _post(client, path, caller, '{"a": "' + "x" * 70_000 + '"}'),
}


@pytest.mark.parametrize("path", list(ENDPOINTS))
@pytest.mark.parametrize("way", list(WAYS_TO_END))
def test_each_way_a_request_ends_leaves_exactly_one_event(
    caller: dict[str, Any], client: Client, path: str, way: str
) -> None:
    before = AuditEvent.objects.count()

    response = WAYS_TO_END[way](client, path, caller)

    body = response.json()
    events = list(AuditEvent.objects.order_by("-id")[: AuditEvent.objects.count() - before])
    assert len(events) == 1, f"{way} on {path} left {len(events)} events"
    event = events[0]
    expected = ENDPOINTS[path].type_for(allowed=event.outcome == AuditEvent.Outcome.ALLOWED)
    assert (event.action, event.request_id) == (expected, body["traceId"])
    assert event.error_tag == body.get("errorTag", "")


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_a_bug_behind_an_endpoint_is_one_error_event_and_a_500_envelope(
    caller: dict[str, Any], client: Client, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for a bug: nothing real fails on demand at this point of each service.
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    target = {
        EXCHANGE: "sts.exchange.session_issue",
        MINT: "sts.api.mint.token_mint",
        REVOKE: "sts.api.mint.token_revoke",
    }[path]
    monkeypatch.setattr(target, broken)

    response = _post(client, path, caller, "valid")

    assert (response.status_code, response.json()["errorTag"]) == (500, "InternalError")
    event = AuditEvent.objects.get(action=ENDPOINTS[path].failed)
    assert (event.outcome, event.error_tag, event.request_id) == ("error", "InternalError", response["X-Request-Id"])


@pytest.mark.parametrize("path", [MINT, REVOKE])
def test_a_request_without_a_session_is_one_denied_event(caller: dict[str, Any], client: Client, path: str) -> None:
    response = client.post(path, data={}, content_type="application/json", HTTP_AUTHORIZATION="Bearer nonsense")

    assert response.status_code == 401
    event = AuditEvent.objects.get(action=ENDPOINTS[path].failed)
    assert (event.outcome, event.error_tag, event.workspace_public_id, event.identity) == (
        "denied",
        "InvalidSession",
        "",
        {},
    )


def test_a_throttled_caller_leaves_one_event_a_minute_and_another_caller_is_not_throttled(
    caller: dict[str, Any], client: Client, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "oidc_exchange": "100/minute",
            "sts_workspace": "100/minute",
            "sts_caller": "2/minute",
        },
    }
    statuses = [_post(client, MINT, caller, {"sources": []}).status_code for _ in range(10)]
    other_repository, _ = session_issue(
        workspace=caller["workspace"],
        identity={"sub": "repo:acme/other:ref:refs/heads/main", "repository": "acme/other", "repository_id": "99"},
        request_id="req_setup",
    )
    other = client.post(MINT, data={}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {other_repository}")

    assert statuses.count(429) == 8
    assert other.status_code != 429
    throttled = AuditEvent.objects.filter(action=AuditEvent.Action.MINT_DENIED, error_tag="Throttled")
    assert throttled.count() == 1
    assert throttled.get().repository == "acme/app"


def test_the_workspace_throttle_counts_every_caller_of_the_workspace_together(
    caller: dict[str, Any], client: Client, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "oidc_exchange": "100/minute",
            "sts_workspace": "3/minute",
            "sts_caller": "100/minute",
        },
    }
    sessions = [
        session_issue(
            workspace=caller["workspace"],
            identity={
                "sub": f"repo:acme/r{n}:ref:refs/heads/main",
                "repository": f"acme/r{n}",
                "repository_id": str(n),
            },
            request_id="req_setup",
        )[0]
        for n in range(5)
    ]
    statuses = [
        client.post(MINT, data={}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {s}").status_code
        for s in sessions
    ]

    assert statuses.count(429) == 2
