"""Rate-limit headers per credential, and the injected failures GitHub really produces."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from githubsim import GitHubSimulator

from .conftest import bearer


@pytest.fixture
def token(github_sim: GitHubSimulator, mint: Callable[..., dict[str, Any]]) -> str:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/infra", installation_id=installation_id)
    return str(mint(installation_id)["token"])


def test_every_api_response_carries_rate_limit_headers_that_decrement(
    github_sim: GitHubSimulator, token: str, http: requests.Session
) -> None:
    url = f"{github_sim.api_url}/repos/acme/infra"
    first = http.get(url, headers=bearer(token)).headers
    second = http.get(url, headers=bearer(token)).headers
    assert first["x-ratelimit-limit"] == "5000"
    assert first["x-ratelimit-resource"] == "core"
    assert int(first["x-ratelimit-reset"]) > time.time()
    assert (int(first["x-ratelimit-used"]), int(first["x-ratelimit-remaining"])) == (1, 4999)
    assert (int(second["x-ratelimit-used"]), int(second["x-ratelimit-remaining"])) == (2, 4998)
    errors = http.get(f"{github_sim.api_url}/repos/acme/missing", headers=bearer(token))
    assert errors.status_code == 404 and errors.headers["x-ratelimit-remaining"] == "4997"


def test_each_credential_has_its_own_budget(
    github_sim: GitHubSimulator, token: str, http: requests.Session, as_app: dict[str, str]
) -> None:
    app = http.get(f"{github_sim.api_url}/repos/acme/infra/installation", headers=as_app).headers
    assert app["x-ratelimit-used"] == "2"  # the mint in the fixture, then this call
    anonymous = http.get(f"{github_sim.api_url}/repos/acme/infra").headers
    assert anonymous["x-ratelimit-limit"] == "60"
    assert http.get(f"{github_sim.api_url}/repos/acme/infra", headers=bearer(token)).headers["x-ratelimit-used"] == "1"


def test_every_token_of_an_installation_spends_one_budget(
    github_sim: GitHubSimulator, mint: Callable[..., dict[str, Any]], http: requests.Session
) -> None:
    acme = github_sim.add_installation("acme")
    github_sim.add_repository("acme/infra", installation_id=acme)
    globex = github_sim.add_installation("globex")
    github_sim.add_repository("globex/infra", installation_id=globex)
    ours, callers = mint(acme)["token"], mint(acme, repositories=["infra"])["token"]
    other = mint(globex)["token"]

    http.get(f"{github_sim.api_url}/repos/acme/infra", headers=bearer(ours))
    second = http.get(f"{github_sim.api_url}/repos/acme/infra", headers=bearer(callers)).headers
    elsewhere = http.get(f"{github_sim.api_url}/repos/globex/infra", headers=bearer(other)).headers

    assert second["x-ratelimit-used"] == "2"
    assert elsewhere["x-ratelimit-used"] == "1"
    limits = http.get(f"{github_sim.api_url}/rate_limit", headers=bearer(ours))
    assert limits.json()["resources"]["core"]["used"] == 2
    assert limits.headers["x-ratelimit-used"] == "2"  # reading the rate limit does not spend it


def test_an_installation_exhausted_by_one_token_refuses_its_other_tokens(
    github_sim: GitHubSimulator, mint: Callable[..., dict[str, Any]], http: requests.Session
) -> None:
    github_sim.rate_limit = 2
    acme = github_sim.add_installation("acme")
    github_sim.add_repository("acme/infra", installation_id=acme)
    spender, bystander = mint(acme)["token"], mint(acme)["token"]
    for _ in range(2):
        http.get(f"{github_sim.api_url}/repos/acme/infra", headers=bearer(spender))

    refused = http.get(f"{github_sim.api_url}/repos/acme/infra", headers=bearer(bystander))

    assert refused.status_code == 403
    assert refused.headers["x-ratelimit-remaining"] == "0"


def test_a_304_does_not_count(github_sim: GitHubSimulator, token: str, http: requests.Session) -> None:
    url = f"{github_sim.api_url}/repos/acme/infra/contents/README.md"
    etag = http.get(url, headers=bearer(token)).headers["ETag"]
    cached = http.get(url, headers={**bearer(token), "If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.headers["x-ratelimit-used"] == "1"


def test_an_exhausted_budget_answers_403_with_remaining_zero(
    github_sim: GitHubSimulator, token: str, http: requests.Session
) -> None:
    github_sim.rate_limit = 2  # applies to budgets opened from now on: this token has not called yet
    url = f"{github_sim.api_url}/repos/acme/infra"
    assert [http.get(url, headers=bearer(token)).status_code for _ in range(3)] == [200, 200, 403]
    limited = http.get(url, headers=bearer(token))
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert "rate limit" in limited.json()["message"]


def test_a_status_fault_answers_a_github_error_for_the_next_calls_only(
    github_sim: GitHubSimulator, token: str, http: requests.Session
) -> None:
    github_sim.fault("repository", status=502, times=2)
    url = f"{github_sim.api_url}/repos/acme/infra"
    responses = [http.get(url, headers=bearer(token)) for _ in range(3)]
    assert [r.status_code for r in responses] == [502, 502, 200]
    assert responses[0].json() == {
        "message": "Bad Gateway",
        "documentation_url": "https://docs.github.com/rest",
        "status": "502",
    }
    assert github_sim.calls["repository"] == 3


def test_a_rate_limit_fault_sets_remaining_zero_and_a_reset(
    github_sim: GitHubSimulator, token: str, http: requests.Session
) -> None:
    github_sim.fault("contents", kind="rate_limit")
    response = http.get(f"{github_sim.api_url}/repos/acme/infra/contents/README.md", headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["x-ratelimit-reset"]) > time.time()
    assert "rate limit exceeded" in response.json()["message"]


def test_a_secondary_rate_limit_fault_has_retry_after(
    github_sim: GitHubSimulator, token: str, http: requests.Session, as_app: dict[str, str]
) -> None:
    github_sim.fault("access_tokens", kind="secondary_rate_limit", retry_after=7, status=429)
    installation_id = github_sim.tokens_issued[0]["installation_id"]
    response = http.post(f"{github_sim.api_url}/app/installations/{installation_id}/access_tokens", headers=as_app)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert "secondary rate limit" in response.json()["message"]
    assert github_sim.calls["access_tokens"] == 2


def test_a_timeout_fault_holds_the_connection_past_the_client_timeout(
    github_sim: GitHubSimulator, http: requests.Session
) -> None:
    github_sim.timeout_hold_seconds = 1.0
    github_sim.fault("oidc_jwks", kind="timeout")
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(f"{github_sim.issuer}/.well-known/jwks", timeout=0.2)
    assert http.get(f"{github_sim.issuer}/.well-known/jwks", timeout=5).status_code == 200


def test_a_reset_fault_drops_the_connection(github_sim: GitHubSimulator, http: requests.Session) -> None:
    github_sim.fault("oidc_discovery", kind="reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(f"{github_sim.issuer}/.well-known/openid-configuration", timeout=5)
    assert github_sim.calls["oidc_discovery"] == 1


def test_fault_rejects_unknown_endpoints_and_kinds(github_sim: GitHubSimulator) -> None:
    with pytest.raises(ValueError, match="unknown endpoint"):
        github_sim.fault("nope", status=500)
    with pytest.raises(ValueError, match="unknown fault kind"):
        github_sim.fault("contents", kind="nope")
    with pytest.raises(ValueError, match="needs a status"):
        github_sim.fault("contents")


def test_reset_forgets_faults_calls_and_state(github_sim: GitHubSimulator, token: str, http: requests.Session) -> None:
    github_sim.fault("repository", status=500)
    github_sim.reset()
    assert github_sim.calls == {} and github_sim.tokens_issued == [] and github_sim.installations == {}
    assert not github_sim.token_is_live(token)
    assert http.get(f"{github_sim.api_url}/repos/acme/infra", headers=bearer(token)).status_code == 401
    github_sim.reset_calls()
    assert github_sim.calls == {}
