"""What each route really answers, success and every kind of refusal, is what its description says:
a status it lists, the envelope it describes for that status (with an `errorTag` it lists there), the
headers it promises. Also the regressions of what schemathesis found (`make test-schema`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sts.api.parsing import MAX_BODY_BYTES
from tests.sts.mint.conftest import ADMITS_ACME_APP, mint, revoke

from .openapi import assert_conforms, request_validator, served_schema

pytestmark = pytest.mark.django_db

EXCHANGE = "/api/v1/auth/github-oidc"
MINT = "/api/v1/sts"
REVOKE = "/api/v1/sts/revoke"


@pytest.fixture
def schema(client: Any) -> dict[str, Any]:
    return served_schema(client)


def post(client: Any, path: str, body: Any, **extra: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json", **extra)


def test_a_successful_exchange_and_its_replay_conform(client, schema, acme):
    body = {"token": acme.token(), "workspaceId": acme.workspace.public_id}
    first, replay = post(client, EXCHANGE, body), post(client, EXCHANGE, body)
    assert (first.status_code, replay.status_code) == (200, 401)
    assert replay.json()["errorTag"] == "OidcTokenReplayed"
    assert_conforms(schema, EXCHANGE, first)
    assert_conforms(schema, EXCHANGE, replay)


def test_an_exchange_for_an_unknown_workspace_conforms(client, schema, acme):
    response = post(client, EXCHANGE, {"token": acme.token(), "workspaceId": "ws_nosuchworkspace"})
    assert response.status_code == 404
    assert_conforms(schema, EXCHANGE, response)


@pytest.mark.parametrize(
    ("request_options", "status"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400),
        ({"data": json.dumps({"token": ""}), "content_type": "application/json"}, 400),
        ({"data": "token=x", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"data": json.dumps({"token": "x" * MAX_BODY_BYTES}), "content_type": "application/json"}, 413),
        ({"data": "{}", "content_type": "application/json", "HTTP_ACCEPT": "text/html"}, 406),
    ],
    ids=["not-json", "blank-token", "form-body", "too-large", "accepts-html-only"],
)
def test_refusals_of_the_framework_conform_on_every_route(client, schema, request_options, status, acme):
    for path in (EXCHANGE, MINT, REVOKE):
        response = client.post(path, **request_options)
        if path != EXCHANGE and status == 400:
            continue  # the routes behind a session refuse a missing bearer first (below)
        assert response.status_code == (401 if path != EXCHANGE and status != 406 else status), path
        assert_conforms(schema, path, response)


@pytest.mark.parametrize("method", ["get", "put", "delete", "options"])
def test_another_method_is_a_described_405_that_allows_post_only(client, schema, world, session_for, method):
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {session_for()}"}
    for path, extra in ((EXCHANGE, {}), (MINT, bearer), (REVOKE, bearer)):
        response = getattr(client, method)(path, **extra)
        assert response.status_code == 405
        # OPTIONS answers 405 too, so the Allow header must not offer it (schemathesis found that it did).
        assert response["Allow"] == "POST"
        assert_conforms(schema, path, response)


def test_a_throttled_caller_gets_a_described_429_with_retry_after(client, schema, acme, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "oidc_exchange": "1/minute"},
    }
    post(client, EXCHANGE, {"token": "x", "workspaceId": "ws_x"})
    response = post(client, EXCHANGE, {"token": "x", "workspaceId": "ws_x"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert_conforms(schema, EXCHANGE, response)


def test_a_mint_with_tokens_and_exclusions_conforms(client, schema, world, session_for):
    world.source("acme/a", world.installation("acme"), ADMITS_ACME_APP)
    response = mint(client, session_for(), {"sources": ["acme/a", "acme/missing", "not a name"]})
    assert response.status_code == 200
    assert len(response.json()["data"]["tokens"]) == 1
    assert len(response.json()["data"]["excluded"]) == 2
    assert_conforms(schema, MINT, response)


@pytest.mark.parametrize(
    "body",
    [{"policyName": "../etc"}, {"sources": "acme/a"}, {"sources": [1]}, [], {"sources": ["x" * 301]}],
    ids=["bad-policy-name", "sources-not-a-list", "source-not-a-string", "not-an-object", "source-too-long"],
)
def test_a_mint_the_caller_can_fix_is_a_described_200_failure(client, schema, world, session_for, body):
    response = mint(client, session_for(), body)
    assert (response.status_code, response.json()["errorTag"]) == (200, "InvalidMintRequest")
    assert_conforms(schema, MINT, response)


def test_a_mint_without_a_valid_session_is_a_described_401(client, schema, world):
    for session in (None, "not-a-jwt"):
        response = mint(client, session)
        assert response.status_code == 401
        assert_conforms(schema, MINT, response)


def test_a_revocation_and_a_revocation_of_an_unknown_token_conform(client, schema, world, session_for, minted):
    unknown, revoked, not_a_string = (
        revoke(client, session_for(), "ghs_notours"),
        revoke(client, session_for(), minted),
        revoke(client, session_for(), 42),
    )
    assert (unknown.status_code, revoked.status_code, not_a_string.status_code) == (404, 200, 200)
    for response in (unknown, revoked, not_a_string):
        assert_conforms(schema, REVOKE, response)


# --- what schemathesis found: a body the description called valid, refused as malformed ---

WHITESPACE_ONLY = ["", " ", "\t\n", "\x1c\x1d\x1e\x1f", "\x85\xa0", "\u3000\u2028"]


@pytest.mark.parametrize("workspace_id", [*WHITESPACE_ONLY, "ws_\x00"])
def test_a_workspace_id_the_server_refuses_as_malformed_is_one_the_description_calls_invalid(
    client, schema, acme, workspace_id
):
    body = {"token": "x", "workspaceId": workspace_id}
    assert post(client, EXCHANGE, body).status_code == 400
    assert not request_validator(schema, EXCHANGE).is_valid(body)


@pytest.mark.parametrize("token", ["", "a\x00b"])
def test_a_token_the_server_refuses_as_malformed_is_one_the_description_calls_invalid(client, schema, acme, token):
    body = {"token": token, "workspaceId": acme.workspace.public_id}
    assert post(client, EXCHANGE, body).status_code == 400
    assert not request_validator(schema, EXCHANGE).is_valid(body)


@pytest.mark.parametrize("value", [" x ", "\u3000ws_a", " ", "\ufeff", "x" * 8192])
def test_a_body_the_description_calls_valid_is_never_refused_as_malformed(client, schema, acme, value):
    body = {"token": value, "workspaceId": value[:40] if value.strip() else "ws_a"}
    assert request_validator(schema, EXCHANGE).is_valid(body)
    assert post(client, EXCHANGE, body).status_code == 401
