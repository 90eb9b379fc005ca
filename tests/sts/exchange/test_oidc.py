"""sts.oidc.verify_actions_token against the simulator's issuer: keys, their cache, and the issuer failing."""

from __future__ import annotations

import time
from typing import Any

import pytest

from githubsim.simulator import GitHubSimulator
from sts import oidc
from sts.errors import InvalidOidcToken
from sts.oidc import OidcIssuerUnavailable, run_identity, verify_actions_token


def test_it_returns_the_verified_claims_of_a_github_token_with_its_backdated_nbf(github_sim: GitHubSimulator) -> None:
    token = github_sim.actions_token(repository="acme/app")

    claims = verify_actions_token(token)

    assert claims["repository"] == "acme/app" and claims["iss"] == github_sim.issuer
    assert claims["nbf"] == claims["iat"] - 600


def test_it_refuses_an_issuer_that_is_not_configured_without_fetching_anything(github_sim: GitHubSimulator) -> None:
    token = github_sim.actions_token(iss="https://token.actions.githubusercontent.com/evil-enterprise")

    with pytest.raises(InvalidOidcToken):
        verify_actions_token(token)

    assert github_sim.calls["oidc_discovery"] == 0 and github_sim.calls["oidc_jwks"] == 0


def test_it_keeps_the_key_set_in_the_shared_cache_not_only_in_the_process(github_sim: GitHubSimulator) -> None:
    verify_actions_token(github_sim.actions_token())
    oidc._parsed.clear()  # what another worker process would start with

    verify_actions_token(github_sim.actions_token())

    assert github_sim.calls["oidc_jwks"] == 1 and github_sim.calls["oidc_discovery"] == 1


def test_a_flood_of_made_up_kids_refreshes_the_key_set_once(github_sim: GitHubSimulator) -> None:
    verify_actions_token(github_sim.actions_token())

    for number in range(20):
        with pytest.raises(InvalidOidcToken):
            verify_actions_token(github_sim.actions_token(kid=f"made-up-{number}"))

    assert github_sim.calls["oidc_jwks"] == 2  # the first fetch, then one refresh for the whole flood


def test_it_refreshes_again_once_the_refresh_window_has_passed(github_sim: GitHubSimulator) -> None:
    verify_actions_token(github_sim.actions_token())
    with pytest.raises(InvalidOidcToken):
        verify_actions_token(github_sim.actions_token(kid="made-up"))
    oidc.cache.delete(oidc._refresh_slot_key(github_sim.issuer))  # the window's cache entry timing out
    new_kid = github_sim.rotate_oidc_key(keep_previous=True)

    claims = verify_actions_token(github_sim.actions_token(kid=new_kid))

    assert claims["iss"] == github_sim.issuer
    assert github_sim.calls["oidc_jwks"] == 3


def test_it_still_refuses_a_rotated_key_while_the_refresh_window_is_closed(github_sim: GitHubSimulator) -> None:
    verify_actions_token(github_sim.actions_token())
    with pytest.raises(InvalidOidcToken):
        verify_actions_token(github_sim.actions_token(kid="made-up"))  # spends the window's refresh
    github_sim.rotate_oidc_key(keep_previous=True)

    with pytest.raises(InvalidOidcToken):
        verify_actions_token(github_sim.actions_token())

    assert github_sim.calls["oidc_jwks"] == 2


@pytest.mark.parametrize(
    ("endpoint", "kind", "status"),
    [
        ("oidc_jwks", "status", 500),
        ("oidc_jwks", "status", 404),
        ("oidc_jwks", "reset", None),
        ("oidc_discovery", "status", 503),
        ("oidc_discovery", "reset", None),
    ],
)
def test_it_answers_issuer_unavailable_when_discovery_or_keys_fail(
    github_sim: GitHubSimulator, endpoint: str, kind: str, status: int | None
) -> None:
    github_sim.fault(endpoint, kind=kind, status=status)

    with pytest.raises(OidcIssuerUnavailable) as refused:
        verify_actions_token(github_sim.actions_token())

    assert (refused.value.status, refused.value.tag) == (503, "OidcIssuerUnavailable")


def test_it_answers_issuer_unavailable_when_the_issuer_does_not_answer_in_time(
    github_sim: GitHubSimulator, settings: Any
) -> None:
    settings.GITHUB_HTTP_TIMEOUT = 1
    github_sim.fault("oidc_jwks", kind="timeout")

    with pytest.raises(OidcIssuerUnavailable):
        verify_actions_token(github_sim.actions_token())


def test_after_a_failed_fetch_it_fails_fast_for_a_few_seconds_instead_of_fetching_again(
    github_sim: GitHubSimulator,
) -> None:
    github_sim.fault("oidc_jwks", kind="status", status=500)
    with pytest.raises(OidcIssuerUnavailable):
        verify_actions_token(github_sim.actions_token())

    with pytest.raises(OidcIssuerUnavailable):
        verify_actions_token(github_sim.actions_token())  # the fault is spent: only the backoff refuses

    assert github_sim.calls["oidc_jwks"] == 1


def test_it_recovers_once_the_backoff_has_passed(github_sim: GitHubSimulator) -> None:
    github_sim.fault("oidc_jwks", kind="status", status=500)
    with pytest.raises(OidcIssuerUnavailable):
        verify_actions_token(github_sim.actions_token())
    oidc.cache.delete(oidc._failure_key(github_sim.issuer))  # the backoff's cache entry timing out

    assert verify_actions_token(github_sim.actions_token())["iss"] == github_sim.issuer


def test_it_refuses_keys_whose_discovery_document_names_another_issuer(
    github_sim: GitHubSimulator, settings: Any
) -> None:
    # Same server, another spelling: its discovery document says the issuer is the 127.0.0.1 one.
    issuer = github_sim.issuer.replace("127.0.0.1", "localhost")
    settings.STS_OIDC_ISSUERS = [issuer]

    with pytest.raises(OidcIssuerUnavailable):
        verify_actions_token(github_sim.actions_token(iss=issuer))


def test_it_fetches_keys_only_from_https_or_a_loopback_address() -> None:
    assert oidc._is_acceptable_key_url("https://token.actions.githubusercontent.com/.well-known/jwks")
    assert oidc._is_acceptable_key_url("http://127.0.0.1:8080/oidc/.well-known/jwks")
    assert not oidc._is_acceptable_key_url("http://token.actions.githubusercontent.com/.well-known/jwks")
    assert not oidc._is_acceptable_key_url("https://user:pass@example.com/jwks")
    assert not oidc._is_acceptable_key_url("file:///etc/passwd")


def test_it_accepts_a_token_from_a_second_configured_issuer_only_by_exact_match(
    github_sim: GitHubSimulator, settings: Any
) -> None:
    settings.STS_OIDC_ISSUERS = ["https://token.actions.githubusercontent.com", github_sim.issuer]

    assert verify_actions_token(github_sim.actions_token())["iss"] == github_sim.issuer
    with pytest.raises(InvalidOidcToken):
        verify_actions_token(github_sim.actions_token(iss=github_sim.issuer.upper()))


def test_it_refuses_a_token_issued_in_the_future_beyond_the_leeway(github_sim: GitHubSimulator, settings: Any) -> None:
    settings.STS_OIDC_LEEWAY_SECONDS = 60

    with pytest.raises(InvalidOidcToken, match="not valid yet"):
        verify_actions_token(github_sim.actions_token(issued_at=int(time.time()) + 120))


def test_the_run_identity_keeps_the_policy_claims_and_drops_the_token_mechanics(github_sim: GitHubSimulator) -> None:
    claims = verify_actions_token(github_sim.actions_token(repo_property_team="platform", environment="prod"))

    identity = run_identity(claims)

    assert identity["repository"] == "acme/app" and identity["environment"] == "prod"
    assert identity["repo_property_team"] == "platform" and identity["sub"].startswith("repo:acme/app:")
    assert not {"aud", "exp", "nbf", "iat", "jti"} & set(identity)
    assert identity["iss"] == github_sim.issuer  # policies may tell issuers (GHES, enterprise) apart
