"""POST /api/v1/auth/github-oidc, end to end through Django against the GitHub simulator's OIDC issuer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from sts.models import OidcTokenUse, StsSession
from sts.sessions import SESSION_KIND, session_verify
from tests.factories import Acme, installation_create, repository_create, workspace_create
from tests.sts.exchange.conftest import EXCHANGE_URL, exchange, segments
from tests.sts.exchange.tokens import (
    attacker_jwk,
    flipped_signature,
    hs256_with_public_key,
    signed_by_attacker,
    signed_by_issuer,
    valid_claims,
    with_payload,
    with_raw_payload,
)
from workspaces.models import InstallationRepository

# --- the table of hostile or broken requests ---


@dataclass(frozen=True)
class Case:
    name: str
    request: Callable[[Acme], dict[str, Any]]  # keyword arguments of `exchange()`
    status: int
    tag: str


def token_case(name: str, make: Callable[[Acme], Any], status: int = 401, tag: str = "InvalidOidcToken") -> Case:
    return Case(name, lambda a: {"body": {"token": make(a), "workspaceId": a.workspace.public_id}}, status, tag)


def body_case(name: str, make: Callable[[Acme], Any], status: int = 400, tag: str = "MalformedRequest") -> Case:
    return Case(name, lambda a: {"body": make(a)}, status, tag)


def raw_case(
    name: str, raw: bytes, content_type: str = "application/json", status: int = 400, tag: str = "MalformedRequest"
) -> Case:
    return Case(name, lambda a: {"body": None, "raw": raw, "content_type": content_type}, status, tag)


def now() -> int:
    return int(time.time())


REQUIRED = (
    "exp",
    "iat",
    "nbf",
    "iss",
    "aud",
    "jti",
    "sub",
    "repository",
    "repository_owner",
    "repository_id",
    "repository_owner_id",
)

CASES = [
    # signatures, algorithms and keys
    token_case("tampered signature", lambda a: flipped_signature(a.token())),
    token_case(
        "payload changed after signing",
        lambda a: with_payload(a.token(), valid_claims(a.sim, repository="acme/secrets")),
    ),
    token_case("signature stripped", lambda a: a.token().rsplit(".", 1)[0] + "."),
    token_case("unknown kid", lambda a: a.token(kid="made-up-kid")),
    token_case("no kid", lambda a: a.token(header_overrides={"kid": None, "x5t": None})),
    token_case("kid not a string", lambda a: a.token(header_overrides={"kid": 7})),
    token_case("alg none", lambda a: a.token(header_overrides={"alg": "none"})),
    token_case("alg None, signed anyway", lambda a: a.token(header_overrides={"alg": "None"})),
    token_case("HS256 keyed with the issuer's public key", lambda a: hs256_with_public_key(a.sim)),
    token_case("RS512 by the issuer's key", lambda a: signed_by_issuer(a.sim, valid_claims(a.sim), algorithm="RS512")),
    token_case("PS256 by the issuer's key", lambda a: signed_by_issuer(a.sim, valid_claims(a.sim), algorithm="PS256")),
    token_case("attacker's key announcing the issuer's kid", lambda a: signed_by_attacker(a.sim)),
    token_case(
        "jku header pointing elsewhere", lambda a: signed_by_attacker(a.sim, jku="https://evil.example/jwks.json")
    ),
    token_case("jwk header embedding the attacker's key", lambda a: signed_by_attacker(a.sim, jwk=attacker_jwk())),
    token_case("x5u header", lambda a: a.token(header_overrides={"x5u": "https://evil.example/cert.pem"})),
    token_case("crit header", lambda a: a.token(header_overrides={"crit": ["exp"]})),
    # times
    token_case("expired", lambda a: a.token(issued_at=now() - 1000)),
    token_case("not yet valid (nbf)", lambda a: a.token(nbf=now() + 600)),
    token_case("iat in the future", lambda a: a.token(issued_at=now() + 600)),
    token_case("exp as a string", lambda a: a.token(exp=str(now() + 300))),
    token_case("exp as a list", lambda a: a.token(exp=[now() + 300])),
    token_case("exp as a huge float", lambda a: a.token(exp=1e300)),
    token_case("exp as a boolean", lambda a: a.token(exp=True)),
    # issuer and audience
    token_case("issuer not configured", lambda a: a.token(iss="https://token.actions.githubusercontent.com")),
    token_case("issuer with a trailing slash", lambda a: a.token(iss=a.sim.issuer + "/")),
    token_case("issuer as a list", lambda a: a.token(iss=[a.sim.issuer])),
    token_case("wrong audience", lambda a: a.token(audience="https://github.com/acme")),
    token_case(
        "audience list without ours", lambda a: a.token(audience=["https://github.com/acme", "sts.amazonaws.com"])
    ),
    token_case("audience as a number", lambda a: a.token(audience=42)),
    # claims
    *[token_case(f"missing {claim}", lambda a, claim=claim: a.token(omit=(claim,))) for claim in REQUIRED],
    token_case("repository_id as a number", lambda a: a.token(repository_id=a.repository_id)),
    token_case("repository_id not digits", lambda a: a.token(repository_id="69x")),
    token_case("repository_id in other digits", lambda a: a.token(repository_id="\uff16\uff19\uff10")),
    token_case("repository_id beyond 64 bits", lambda a: a.token(repository_id="9" * 25)),
    token_case("repository_owner_id negative", lambda a: a.token(repository_owner_id="-5")),
    token_case("jti as a number", lambda a: a.token(jti=12345)),
    token_case("empty jti", lambda a: a.token(jti="")),
    token_case("sub as a list", lambda a: a.token(sub=["repo:acme/app:ref:refs/heads/main"])),
    token_case("ref as an object", lambda a: a.token(ref={"name": "main"})),
    token_case(
        "control character in repository", lambda a: a.token(repository="acme/app\u0007", repository_owner="acme")
    ),
    token_case("newline in sub", lambda a: a.token(sub="repo:acme/app:ref:refs/heads/main\nrepo:acme/admin")),
    token_case("line separator in workflow", lambda a: a.token(workflow="CI\u2028deploy")),
    token_case("overlong claim", lambda a: a.token(workflow="w" * 2000)),
    token_case("repository of another owner", lambda a: a.token(repository="evil/app", repository_owner="acme")),
    token_case("repository without a name", lambda a: a.token(repository="acme/", repository_owner="acme")),
    token_case("repository with two slashes", lambda a: a.token(repository="acme/app/x", repository_owner="acme")),
    # not a JWT at all
    token_case("payload a JSON array", lambda a: with_raw_payload(a.sim, b"[1, 2]")),
    token_case("payload not JSON", lambda a: with_raw_payload(a.sim, b"not json")),
    token_case("header not JSON", lambda a: "bm90IGpzb24." + a.token().split(".", 1)[1]),
    token_case("two segments", lambda a: ".".join(a.token().split(".")[:2])),
    token_case("four segments", lambda a: a.token() + ".AAAA"),
    token_case("garbage", lambda a: "definitely not a jwt"),
    token_case("whitespace", lambda a: "   "),
    token_case("multi-byte characters beyond 8 KiB", lambda a: "é" * 5000),
    # the body
    body_case("empty token", lambda a: {"token": "", "workspaceId": a.workspace.public_id}),
    body_case("oversize token", lambda a: {"token": "eyJ" + "A" * 9000, "workspaceId": a.workspace.public_id}),
    body_case("token as a number", lambda a: {"token": 12345, "workspaceId": a.workspace.public_id}),
    body_case("token as null", lambda a: {"token": None, "workspaceId": a.workspace.public_id}),
    body_case("token as a list", lambda a: {"token": [a.token()], "workspaceId": a.workspace.public_id}),
    body_case("token with a NUL", lambda a: {"token": a.token() + "\x00", "workspaceId": a.workspace.public_id}),
    body_case("missing token", lambda a: {"workspaceId": a.workspace.public_id}),
    body_case("missing workspaceId", lambda a: {"token": a.token()}),
    body_case("workspaceId as a number", lambda a: {"token": a.token(), "workspaceId": 7}),
    body_case("empty workspaceId", lambda a: {"token": a.token(), "workspaceId": ""}),
    body_case("oversize workspaceId", lambda a: {"token": a.token(), "workspaceId": "ws_" + "a" * 100}),
    raw_case("non-JSON body", b"{token: nope"),
    raw_case("JSON array body", b'[{"token": "x", "workspaceId": "y"}]'),
    raw_case("JSON string body", b'"token"'),
    raw_case("empty body", b""),
    raw_case("invalid UTF-8", b'{"token": "\xff\xfe", "workspaceId": "ws_x"}'),
    raw_case("deeply nested JSON", b"[" * 30_000 + b"]" * 30_000),
    raw_case("NaN in JSON", b'{"token": NaN, "workspaceId": "ws_x"}'),
    raw_case(
        "body too large", json.dumps({"token": "x", "pad": "p" * 70_000}).encode(), status=413, tag="PayloadTooLarge"
    ),
    raw_case("text/plain body", b'{"token": "x", "workspaceId": "y"}', "text/plain", 415, "UnsupportedMediaType"),
    raw_case("form body", b"token=x&workspaceId=y", "application/x-www-form-urlencoded", 415, "UnsupportedMediaType"),
    # the workspace
    Case(
        "unknown workspace",
        lambda a: {"body": {"token": a.token(), "workspaceId": "ws_000000000000000000000000"}},
        404,
        "WorkspaceNotFound",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_it_refuses_hostile_and_broken_requests(case: Case, acme: Acme, client: Client) -> None:
    response = exchange(client, **case.request(acme))

    body = response.json()
    assert (response.status_code, body["errorTag"]) == (case.status, case.tag), body
    assert body["success"] is False and body["status"] == case.status and body["errorMessage"]
    assert body["traceId"] == body["request"] == response["X-Request-Id"]
    assert StsSession.objects.count() == 0
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.error_tag) == (
        "pro.atmos.auth.oidc_token_exchange_failure",
        "denied",
        case.tag,
    )
    assert event.request_id == body["traceId"]
    assert event.detail["reason"]


def test_the_table_is_at_least_forty_cases_long() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", [case for case in CASES if case.tag == "InvalidOidcToken"], ids=lambda case: case.name)
def test_it_records_no_identity_from_a_token_it_refused(case: Case, acme: Acme, client: Client) -> None:
    exchange(client, **case.request(acme))

    event = AuditEvent.objects.get()
    assert event.identity == {} and event.repository == "" and "oidc_jti" not in event.detail


# --- the workspace and the repository ---


def test_it_refuses_a_repository_that_the_workspace_did_not_install(acme: Acme, client: Client) -> None:
    acme.sim.add_repository("acme/other")  # the account's, but not selected for the App's installation

    response = exchange(client, {"token": acme.token(repository="acme/other"), "workspaceId": acme.workspace.public_id})

    assert (response.status_code, response.json()["errorTag"]) == (403, "RepositoryNotInWorkspace")
    event = AuditEvent.objects.get()
    assert (event.outcome, event.repository, event.workspace_public_id) == (
        "denied",
        "acme/other",
        acme.workspace.public_id,
    )
    assert StsSession.objects.count() == 0


def test_it_accepts_an_installed_repository_that_our_records_lack_yet_and_records_it(
    acme: Acme, client: Client
) -> None:
    repository_id = acme.sim.add_repository("acme/new", installation_id=acme.installation.github_id)

    response = exchange(client, {"token": acme.token(repository="acme/new"), "workspaceId": acme.workspace.public_id})

    assert response.status_code == 200, response.json()
    assert acme.sim.calls["repo_installation"] == 1
    assert InstallationRepository.objects.filter(installation=acme.installation, github_id=repository_id).exists()


def test_it_never_asks_github_about_another_organizations_repository(acme: Acme, client: Client) -> None:
    installation_id = acme.sim.add_installation("globex")
    acme.sim.add_repository("globex/app", installation_id=installation_id)

    response = exchange(client, {"token": acme.token(repository="globex/app"), "workspaceId": acme.workspace.public_id})

    assert (response.status_code, response.json()["errorTag"]) == (403, "RepositoryNotInWorkspace")
    assert acme.sim.calls["repo_installation"] == 0


def test_it_answers_503_when_github_cannot_say_whether_the_repository_is_installed(acme: Acme, client: Client) -> None:
    acme.sim.add_repository("acme/new", installation_id=acme.installation.github_id)
    acme.sim.fault("repo_installation", kind="status", status=502, times=10)

    response = exchange(client, {"token": acme.token(repository="acme/new"), "workspaceId": acme.workspace.public_id})

    assert (response.status_code, response.json()["errorTag"]) == (503, "GitHubUnavailable")
    assert StsSession.objects.count() == 0


def test_it_refuses_a_namesake_of_an_installed_repository_in_another_organization(acme: Acme, client: Client) -> None:
    # "acme" deleted and created again by someone else: same names, new ids.
    token = acme.token(repository_id="777777777", repository_owner_id="888888")

    response = exchange(client, {"token": token, "workspaceId": acme.workspace.public_id})

    assert (response.status_code, response.json()["errorTag"]) == (403, "RepositoryNotInWorkspace")
    assert StsSession.objects.count() == 0


def test_it_refuses_an_installed_repository_id_under_another_owner_id(acme: Acme, client: Client) -> None:
    token = acme.token(repository_owner_id="888888")

    response = exchange(client, {"token": token, "workspaceId": acme.workspace.public_id})

    assert (response.status_code, response.json()["errorTag"]) == (403, "RepositoryNotInWorkspace")


def test_it_refuses_a_repository_installed_in_another_workspace(acme: Acme, client: Client) -> None:
    other = workspace_create(name="Evil", plan=acme.workspace.plan)
    installation = installation_create(sim=acme.sim, workspace=other, account="evil", permissions={})
    repository_create(sim=acme.sim, installation=installation, full_name="evil/app")

    response = exchange(client, {"token": acme.token(repository="evil/app"), "workspaceId": acme.workspace.public_id})

    assert (response.status_code, response.json()["errorTag"]) == (403, "RepositoryNotInWorkspace")


def test_it_burns_a_token_even_when_the_workspace_refuses_it(acme: Acme, client: Client) -> None:
    token = acme.token()
    first = exchange(client, {"token": token, "workspaceId": "ws_000000000000000000000000"})

    second = exchange(client, {"token": token, "workspaceId": acme.workspace.public_id})

    assert first.status_code == 404
    assert (second.status_code, second.json()["errorTag"]) == (401, "OidcTokenReplayed")
    assert StsSession.objects.count() == 0


# --- success and single use ---


def test_it_exchanges_a_valid_token_for_a_session(acme: Acme, client: Client) -> None:
    response = exchange(client, {"token": acme.token(), "workspaceId": acme.workspace.public_id})

    body = response.json()
    assert response.status_code == 200, body
    assert body["success"] is True and body["status"] == 200 and body["traceId"] == response["X-Request-Id"]
    session = session_verify(body["data"]["token"])
    assert session.workspace == acme.workspace
    assert session.identity["repository"] == "acme/app"
    assert session.identity["repository_id"] == str(acme.repository_id)
    assert session.request_id == body["traceId"]
    _, claims, _ = segments(body["data"]["token"])
    assert claims["kind"] == SESSION_KIND and claims["workspaceId"] == acme.workspace.public_id
    assert claims["exp"] > time.time() + 3000
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.error_tag, event.repository, event.ref) == (
        "pro.atmos.auth.oidc_token_exchange_success",
        "allowed",
        "",
        "acme/app",
        "refs/heads/main",
    )
    assert event.detail["session"] == session.jti and event.request_id == body["traceId"]


def test_it_accepts_a_token_that_expired_within_the_leeway(acme: Acme, client: Client, settings: Any) -> None:
    settings.STS_OIDC_LEEWAY_SECONDS = 60
    token = acme.token(issued_at=now() - 330)  # exp was 30 s ago

    response = exchange(client, {"token": token, "workspaceId": acme.workspace.public_id})

    assert response.status_code == 200, response.json()


def test_it_accepts_a_workflow_custom_property_claim_and_keeps_it_in_the_session(acme: Acme, client: Client) -> None:
    token = acme.token(repo_property_team="platform")

    response = exchange(client, {"token": token, "workspaceId": acme.workspace.public_id})

    assert StsSession.objects.get().identity["repo_property_team"] == "platform"
    assert response.status_code == 200


def test_it_refuses_the_same_token_twice(acme: Acme, client: Client) -> None:
    token = acme.token()
    first = exchange(client, {"token": token, "workspaceId": acme.workspace.public_id})

    second = exchange(client, {"token": token, "workspaceId": acme.workspace.public_id})

    assert first.status_code == 200
    assert (second.status_code, second.json()["errorTag"]) == (401, "OidcTokenReplayed")
    assert StsSession.objects.count() == 1
    replay = AuditEvent.objects.get(error_tag="OidcTokenReplayed")
    assert replay.repository == "acme/app"  # the signature verified: who replayed is known
    assert OidcTokenUse.objects.count() == 1


# --- GitHub's keys ---


def test_it_accepts_a_token_signed_by_a_rotated_key_after_one_refresh(acme: Acme, client: Client) -> None:
    previous_kid = acme.sim.oidc_kid
    assert exchange(client, {"token": acme.token(), "workspaceId": acme.workspace.public_id}).status_code == 200
    acme.sim.rotate_oidc_key(keep_previous=True)
    fetches = acme.sim.calls["oidc_jwks"]

    rotated = exchange(client, {"token": acme.token(), "workspaceId": acme.workspace.public_id})
    previous = exchange(client, {"token": acme.token(kid=previous_kid), "workspaceId": acme.workspace.public_id})

    assert rotated.status_code == 200, rotated.json()
    assert previous.status_code == 200, previous.json()
    assert acme.sim.calls["oidc_jwks"] == fetches + 1


def test_it_answers_503_with_its_own_tag_when_the_key_set_cannot_be_fetched(acme: Acme, client: Client) -> None:
    acme.sim.fault("oidc_jwks", kind="status", status=500)

    response = exchange(client, {"token": acme.token(), "workspaceId": acme.workspace.public_id})

    body = response.json()
    assert (response.status_code, body["errorTag"]) == (503, "OidcIssuerUnavailable")
    assert body["traceId"] in body["errorMessage"]
    event = AuditEvent.objects.get()
    assert (event.outcome, event.error_tag, event.identity) == ("error", "OidcIssuerUnavailable", {})
    assert StsSession.objects.count() == 0 and OidcTokenUse.objects.count() == 0


# --- the HTTP surface ---


def test_it_refuses_get_with_a_405_envelope(acme: Acme, client: Client) -> None:
    response = client.get(EXCHANGE_URL)

    assert (response.status_code, response.json()["errorTag"]) == (405, "MethodNotAllowed")
    assert AuditEvent.objects.get().error_tag == "MethodNotAllowed"


def test_it_refuses_options_with_a_405_envelope(acme: Acme, client: Client) -> None:
    response = client.options(EXCHANGE_URL)

    assert (response.status_code, response.json()["errorTag"]) == (405, "MethodNotAllowed")


def test_it_answers_an_unknown_route_with_a_404_envelope(db: None, client: Client) -> None:
    response = client.post("/api/v1/auth/github-oidc/extra", data="{}", content_type="application/json")

    assert (response.status_code, response.json()["errorTag"]) == (404, "NotFound")


def test_it_throttles_a_client_that_exchanges_too_often(acme: Acme, client: Client, settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"oidc_exchange": "2/minute", "sts_workspace": "2/minute", "sts_caller": "2/minute"},
    }
    for _ in range(2):
        exchange(client, {"token": acme.token(), "workspaceId": acme.workspace.public_id})

    response = exchange(client, {"token": acme.token(), "workspaceId": acme.workspace.public_id})
    other_client = exchange(
        client, {"token": acme.token(), "workspaceId": acme.workspace.public_id}, REMOTE_ADDR="127.0.0.2"
    )

    body = response.json()
    assert (response.status_code, body["errorTag"]) == (429, "Throttled")
    assert int(response["Retry-After"]) > 0
    assert other_client.status_code == 200
    assert AuditEvent.objects.filter(error_tag="Throttled").count() == 1


def test_a_flood_of_throttled_requests_leaves_one_audit_event_a_minute(
    acme: Acme, client: Client, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"oidc_exchange": "1/minute", "sts_workspace": "1/minute", "sts_caller": "1/minute"},
    }
    statuses = [
        exchange(client, {"token": "x", "workspaceId": acme.workspace.public_id}).status_code for _ in range(20)
    ]

    assert statuses.count(429) == 19
    assert AuditEvent.objects.filter(error_tag="Throttled").count() == 1


def test_a_bug_behind_the_view_is_a_500_envelope_and_an_error_event(
    acme: Acme, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for a bug: nothing real here fails on demand after the token was verified and burned.
    def broken(**_: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr("sts.exchange.session_issue", broken)

    response = exchange(client, {"token": acme.token(), "workspaceId": acme.workspace.public_id})

    body = response.json()
    assert (response.status_code, body["errorTag"]) == (500, "InternalError")
    assert body["traceId"] in body["errorMessage"] and "a bug" not in body["errorMessage"]
    event = AuditEvent.objects.get()
    assert (event.outcome, event.error_tag, event.repository) == ("error", "InternalError", "acme/app")


def test_it_records_the_client_address_in_the_audit_event(acme: Acme, client: Client) -> None:
    exchange(client, {"token": acme.token(), "workspaceId": acme.workspace.public_id}, REMOTE_ADDR="192.0.2.7")

    assert AuditEvent.objects.get().detail["client_ip"] == "192.0.2.7"
