"""GitHub is eventually consistent: a fresh installation token answers 401 (unknown yet), then 403
(permissions not copied yet), on every route it is used on, before it works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from githubsim import GitHubSimulator
from githubsim.client import SimulatorClient

from .conftest import bearer


@pytest.fixture
def fresh_token(github_sim: GitHubSimulator, mint: Callable[..., dict[str, Any]]) -> str:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/infra", installation_id=installation_id, files={"a.txt": "a"})
    github_sim.set_consistency(propagation_seconds=60, permissions_seconds=60)
    return str(mint(installation_id, wait_until_ready=False)["token"])


def routes(sim: GitHubSimulator, http: requests.Session, token: str) -> dict[str, int]:
    api = sim.api_url
    return {
        "installation_repositories": http.get(f"{api}/installation/repositories", headers=bearer(token)).status_code,
        "contents": http.get(f"{api}/repos/acme/infra/contents/a.txt", headers=bearer(token)).status_code,
        "repository": http.get(f"{api}/repos/acme/infra", headers=bearer(token)).status_code,
        "rate_limit": http.get(f"{api}/rate_limit", headers=bearer(token)).status_code,
    }


def test_every_test_runs_with_a_propagation_delay_by_default(github_sim: GitHubSimulator) -> None:
    assert github_sim.token_propagation_seconds > 0
    assert github_sim.token_permissions_seconds > 0


def test_a_fresh_token_is_unknown_on_every_route(
    github_sim: GitHubSimulator, fresh_token: str, http: requests.Session
) -> None:
    assert set(routes(github_sim, http, fresh_token).values()) == {401}
    response = http.get(f"{github_sim.api_url}/installation/repositories", headers=bearer(fresh_token))
    assert response.json()["message"] == "Bad credentials"


def test_then_its_permissions_are_not_copied_yet(
    github_sim: GitHubSimulator, fresh_token: str, http: requests.Session
) -> None:
    github_sim.set_consistency(propagation_seconds=0, permissions_seconds=60)
    assert set(routes(github_sim, http, fresh_token).values()) == {403}
    response = http.get(f"{github_sim.api_url}/repos/acme/infra/contents/a.txt", headers=bearer(fresh_token))
    assert response.json()["message"] == "Resource not accessible by integration"


def test_then_it_works(github_sim: GitHubSimulator, fresh_token: str, http: requests.Session) -> None:
    github_sim.set_consistency(propagation_seconds=0, permissions_seconds=0)
    assert set(routes(github_sim, http, fresh_token).values()) == {200}


def test_revoking_a_token_github_does_not_know_yet_answers_401_and_revokes_nothing(
    github_sim: GitHubSimulator, fresh_token: str, http: requests.Session
) -> None:
    revoke = http.delete(f"{github_sim.api_url}/installation/token", headers=bearer(fresh_token))

    assert revoke.status_code == 401
    assert github_sim.token_is_live(fresh_token) is True
    github_sim.set_consistency(propagation_seconds=0, permissions_seconds=0)
    assert http.get(f"{github_sim.api_url}/repos/acme/infra", headers=bearer(fresh_token)).status_code == 200


def test_revoking_needs_no_permission_so_the_403_window_does_not_stop_it(
    github_sim: GitHubSimulator, fresh_token: str, http: requests.Session
) -> None:
    github_sim.set_consistency(propagation_seconds=0, permissions_seconds=60)

    assert http.delete(f"{github_sim.api_url}/installation/token", headers=bearer(fresh_token)).status_code == 204
    assert github_sim.token_is_live(fresh_token) is False


def test_a_test_can_turn_the_delay_off(
    github_sim: GitHubSimulator, mint: Callable[..., dict[str, Any]], http: requests.Session
) -> None:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/infra", installation_id=installation_id, files={"a.txt": "a"})
    github_sim.set_consistency(propagation_seconds=0)

    token = str(mint(installation_id, wait_until_ready=False)["token"])

    assert set(routes(github_sim, http, token).values()) == {200}


def test_negative_delays_are_refused(github_sim: GitHubSimulator) -> None:
    with pytest.raises(ValueError):
        github_sim.set_consistency(propagation_seconds=-1)


def test_the_control_api_sets_the_delays(github_sim: GitHubSimulator) -> None:
    SimulatorClient(github_sim.api_url).set_consistency(propagation_seconds=2.5, permissions_seconds=1)

    assert (github_sim.token_propagation_seconds, github_sim.token_permissions_seconds) == (2.5, 1.0)
