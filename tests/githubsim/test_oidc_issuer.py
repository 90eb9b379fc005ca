from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
import requests

from githubsim import GitHubSimulator

STRING_CLAIMS = [
    "jti",
    "sub",
    "aud",
    "ref",
    "sha",
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "repository_visibility",
    "run_id",
    "run_number",
    "run_attempt",
    "actor",
    "actor_id",
    "workflow",
    "workflow_ref",
    "workflow_sha",
    "head_ref",
    "base_ref",
    "event_name",
    "ref_type",
    "ref_protected",
    "job_workflow_ref",
    "job_workflow_sha",
    "runner_environment",
    "check_run_id",
    "iss",
]


def verify(sim: GitHubSimulator, token: str, http: requests.Session, **options: object) -> dict[str, object]:
    discovery = http.get(f"{sim.issuer}/.well-known/openid-configuration").json()
    jwks = jwt.PyJWKSet.from_dict(http.get(discovery["jwks_uri"]).json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    return dict(
        jwt.decode(token, key.key, algorithms=["RS256"], audience="atmos-pro.com", issuer=sim.issuer, **options)
    )


def segment(token: str, index: int) -> dict[str, object]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_discovery_document_describes_the_issuer(github_sim: GitHubSimulator, http: requests.Session) -> None:
    response = http.get(f"{github_sim.issuer}/.well-known/openid-configuration")
    assert response.status_code == 200
    body = response.json()
    assert body["issuer"] == github_sim.issuer
    assert body["jwks_uri"] == f"{github_sim.issuer}/.well-known/jwks"
    assert body["id_token_signing_alg_values_supported"] == ["RS256"]
    for name in ("subject_types_supported", "response_types_supported", "claims_supported", "scopes_supported"):
        assert body[name]
    assert "repository_owner_id" in body["claims_supported"]
    assert github_sim.calls["oidc_discovery"] == 1


def test_jwks_publishes_rsa_signing_keys(github_sim: GitHubSimulator, http: requests.Session) -> None:
    keys = http.get(f"{github_sim.issuer}/.well-known/jwks").json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert key["kid"] and key["e"] == "AQAB"
    modulus = base64.urlsafe_b64decode(key["n"] + "=" * (-len(key["n"]) % 4))
    assert len(modulus) * 8 == 2048


def test_actions_token_carries_every_claim_github_issues(github_sim: GitHubSimulator, http: requests.Session) -> None:
    before = int(time.time())
    token = github_sim.actions_token()
    claims = verify(github_sim, token, http)
    for name in STRING_CLAIMS:
        assert isinstance(claims[name], str), name
    assert claims["repository"] == "acme/app"
    assert claims["repository_owner"] == "acme"
    assert claims["sub"] == "repo:acme/app:ref:refs/heads/main"
    assert claims["aud"] == "atmos-pro.com"
    assert claims["event_name"] == "push"
    assert claims["ref_type"] == "branch"
    assert claims["ref_protected"] == "true"
    assert claims["runner_environment"] == "github-hosted"
    assert claims["workflow_ref"] == "acme/app/.github/workflows/ci.yml@refs/heads/main"
    assert claims["repository_id"].isdigit() and claims["run_id"].isdigit()  # type: ignore[union-attr]
    uuid.UUID(str(claims["jti"]))
    iat = int(claims["iat"])  # type: ignore[call-overload]
    assert before <= iat <= int(time.time())
    assert claims["nbf"] == iat - 600
    assert claims["exp"] == iat + 300
    assert segment(token, 0)["kid"] == github_sim.oidc_kid


def test_each_actions_token_has_a_fresh_jti(github_sim: GitHubSimulator) -> None:
    assert segment(github_sim.actions_token(), 1)["jti"] != segment(github_sim.actions_token(), 1)["jti"]


def test_derived_claims_follow_an_overridden_repository(github_sim: GitHubSimulator, http: requests.Session) -> None:
    claims = verify(github_sim, github_sim.actions_token(repository="globex/infra", ref="refs/tags/v1"), http)
    assert claims["repository_owner"] == "globex"
    assert claims["sub"] == "repo:globex/infra:ref:refs/tags/v1"
    assert claims["ref_type"] == "tag"
    assert claims["workflow_ref"] == "globex/infra/.github/workflows/ci.yml@refs/tags/v1"
    assert claims["job_workflow_ref"] == claims["workflow_ref"]


def test_sub_follows_environment_and_pull_requests(github_sim: GitHubSimulator) -> None:
    assert segment(github_sim.actions_token(environment="prod"), 1)["sub"] == "repo:acme/app:environment:prod"
    assert segment(github_sim.actions_token(event_name="pull_request"), 1)["sub"] == "repo:acme/app:pull_request"


def test_repository_ids_match_a_seeded_repository(github_sim: GitHubSimulator) -> None:
    github_sim.add_installation("acme")
    repo_id = github_sim.add_repository("acme/app")
    claims = segment(github_sim.actions_token(), 1)
    assert claims["repository_id"] == str(repo_id)


def test_keyword_claims_override_and_omit_removes(github_sim: GitHubSimulator) -> None:
    token = github_sim.actions_token(sub="custom", actor="mallory", audience="other", omit=("jti", "ref_protected"))
    claims = segment(token, 1)
    assert claims["sub"] == "custom"
    assert claims["actor"] == "mallory"
    assert claims["aud"] == "other"
    assert "jti" not in claims and "ref_protected" not in claims


def test_lifetime_and_issued_at_shape_the_timestamps(github_sim: GitHubSimulator, http: requests.Session) -> None:
    token = github_sim.actions_token(issued_at=1_000_000, lifetime=60)
    claims = segment(token, 1)
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (1_000_000, 1_000_000 - 600, 1_000_060)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(github_sim, token, http)


def test_rotation_keeps_the_previous_key_published(github_sim: GitHubSimulator, http: requests.Session) -> None:
    old_kid = github_sim.oidc_kid
    old_token = github_sim.actions_token()
    new_kid = github_sim.rotate_oidc_key()
    assert new_kid != old_kid
    kids = [k["kid"] for k in http.get(f"{github_sim.issuer}/.well-known/jwks").json()["keys"]]
    assert kids == [new_kid, old_kid]
    assert segment(github_sim.actions_token(), 0)["kid"] == new_kid
    assert verify(github_sim, old_token, http)["repository"] == "acme/app"


def test_rotation_without_keep_previous_unpublishes_the_old_key(
    github_sim: GitHubSimulator, http: requests.Session
) -> None:
    old_kid = github_sim.oidc_kid
    old_token = github_sim.actions_token()
    new_kid = github_sim.rotate_oidc_key(keep_previous=False)
    kids = [k["kid"] for k in http.get(f"{github_sim.issuer}/.well-known/jwks").json()["keys"]]
    assert kids == [new_kid]
    with pytest.raises(StopIteration):
        verify(github_sim, old_token, http)
    # A retired key can still sign on request, to test tokens from a key the issuer no longer publishes.
    assert segment(github_sim.actions_token(kid=old_kid), 0)["kid"] == old_kid


def test_an_unknown_kid_is_announced_but_signed_with_the_current_key(github_sim: GitHubSimulator) -> None:
    token = github_sim.actions_token(kid="made-up")
    assert segment(token, 0)["kid"] == "made-up"
    public = jwt.PyJWK.from_dict(github_sim.jwks()["keys"][0]).key
    assert jwt.decode(token, public, algorithms=["RS256"], audience="atmos-pro.com")["repository"] == "acme/app"


def test_header_overrides_can_forge_an_unsigned_token(github_sim: GitHubSimulator) -> None:
    token = github_sim.actions_token(header_overrides={"alg": "none"})
    assert token.endswith(".")
    assert segment(token, 0)["alg"] == "none"


def test_the_current_private_key_signs_what_the_jwks_publishes(github_sim: GitHubSimulator) -> None:
    forged = jwt.encode({"sub": "x"}, github_sim.oidc_private_key_pem, algorithm="RS256")
    public = jwt.PyJWK.from_dict(github_sim.jwks()["keys"][0]).key
    assert jwt.decode(forged, public, algorithms=["RS256"]) == {"sub": "x"}
