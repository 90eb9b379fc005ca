"""Installation lookup (App JWT) and the installation-token endpoints."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any

import pytest
import requests

from githubsim import GitHubSimulator

from .conftest import bearer


@pytest.fixture
def installation_id(github_sim: GitHubSimulator) -> int:
    installation_id = github_sim.add_installation("Acme", permissions={"contents": "read", "metadata": "read"})
    github_sim.add_repository("Acme/Infra", installation_id=installation_id)
    github_sim.add_repository("Acme/outside")
    return installation_id


def test_repo_installation_finds_the_covering_installation_case_insensitively(
    github_sim: GitHubSimulator, installation_id: int, http: requests.Session, as_app: dict[str, str]
) -> None:
    response = http.get(f"{github_sim.api_url}/repos/acme/INFRA/installation", headers=as_app)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == installation_id
    assert body["account"]["login"] == "Acme" and body["account"]["type"] == "Organization"
    assert isinstance(body["account"]["id"], int)
    assert body["repository_selection"] == "selected"
    assert body["permissions"] == {"contents": "read", "metadata": "read"}
    assert body["suspended_at"] is None
    assert body["app_id"] == github_sim.app_id
    assert body["target_type"] == "Organization"


@pytest.mark.parametrize("full_name", ["Acme/outside", "Acme/missing", "nobody/infra"])
def test_repo_installation_is_404_for_an_uncovered_repository(
    github_sim: GitHubSimulator, installation_id: int, http: requests.Session, as_app: dict[str, str], full_name: str
) -> None:
    response = http.get(f"{github_sim.api_url}/repos/{full_name}/installation", headers=as_app)
    assert response.status_code == 404
    assert response.json()["message"] == "Not Found"
    assert response.json()["status"] == "404"


def test_installation_shows_suspension(
    github_sim: GitHubSimulator, installation_id: int, http: requests.Session, as_app: dict[str, str]
) -> None:
    github_sim.suspend_installation(installation_id)
    body = http.get(f"{github_sim.api_url}/app/installations/{installation_id}", headers=as_app).json()
    assert body["suspended_at"].endswith("Z")
    assert http.get(f"{github_sim.api_url}/app/installations/999", headers=as_app).status_code == 404


def test_removing_a_repository_from_the_installation_hides_it(
    github_sim: GitHubSimulator, installation_id: int, http: requests.Session, as_app: dict[str, str]
) -> None:
    url = f"{github_sim.api_url}/repos/Acme/Infra/installation"
    github_sim.remove_repository_from_installation("Acme/Infra", installation_id)
    assert http.get(url, headers=as_app).status_code == 404
    github_sim.add_repository_to_installation("acme/infra", installation_id)
    assert http.get(url, headers=as_app).status_code == 200


def test_installation_repositories_paginates_with_a_link_header(
    github_sim: GitHubSimulator, installation_id: int, mint: Callable[..., dict[str, Any]], http: requests.Session
) -> None:
    for n in range(4):
        github_sim.add_repository(f"Acme/repo{n}", installation_id=installation_id)
    token = mint(installation_id)["token"]
    names: list[str] = []
    url: str | None = f"{github_sim.api_url}/installation/repositories?per_page=2"
    pages = 0
    while url:
        response = http.get(url, headers=bearer(token))
        assert response.status_code == 200
        body = response.json()
        assert body["total_count"] == 5
        assert len(body["repositories"]) <= 2
        names += [r["full_name"] for r in body["repositories"]]
        url = response.links.get("next", {}).get("url")
        pages += 1
    assert pages == 3
    assert names == ["Acme/Infra", "Acme/repo0", "Acme/repo1", "Acme/repo2", "Acme/repo3"]


def test_installation_repositories_lists_only_what_the_token_covers(
    github_sim: GitHubSimulator, installation_id: int, mint: Callable[..., dict[str, Any]], http: requests.Session
) -> None:
    github_sim.add_repository("Acme/second", installation_id=installation_id)
    token = mint(installation_id, repositories=["second"])["token"]
    body = http.get(f"{github_sim.api_url}/installation/repositories", headers=bearer(token)).json()
    assert [r["full_name"] for r in body["repositories"]] == ["Acme/second"]
    assert body["repository_selection"] == "selected"


def test_revoked_token_gets_401_everywhere(
    github_sim: GitHubSimulator, installation_id: int, mint: Callable[..., dict[str, Any]], http: requests.Session
) -> None:
    token = mint(installation_id)["token"]
    api = github_sim.api_url
    assert http.get(f"{api}/repos/Acme/Infra", headers=bearer(token)).status_code == 200
    assert http.delete(f"{api}/installation/token", headers=bearer(token)).status_code == 204
    assert not github_sim.token_is_live(token)
    for response in (
        http.get(f"{api}/repos/Acme/Infra", headers=bearer(token)),
        http.get(f"{api}/repos/Acme/Infra/contents/README.md", headers=bearer(token)),
        http.get(f"{api}/installation/repositories", headers=bearer(token)),
        http.delete(f"{api}/installation/token", headers=bearer(token)),
    ):
        assert response.status_code == 401
        assert response.json()["message"] == "Bad credentials"


def test_expired_token_gets_401(
    github_sim: GitHubSimulator, installation_id: int, mint: Callable[..., dict[str, Any]], http: requests.Session
) -> None:
    token = mint(installation_id)["token"]
    github_sim.expire_token(token)
    assert not github_sim.token_is_live(token)
    assert http.get(f"{github_sim.api_url}/installation/repositories", headers=bearer(token)).status_code == 401


def test_a_made_up_token_gets_401(github_sim: GitHubSimulator, http: requests.Session) -> None:
    response = http.get(f"{github_sim.api_url}/installation/repositories", headers=bearer("ghs_" + "a" * 36))
    assert response.status_code == 401
    assert http.get(f"{github_sim.api_url}/installation/repositories").status_code == 401


def test_suspending_the_installation_stops_its_tokens(
    github_sim: GitHubSimulator, installation_id: int, mint: Callable[..., dict[str, Any]], http: requests.Session
) -> None:
    token = mint(installation_id)["token"]
    github_sim.suspend_installation(installation_id)
    response = http.get(f"{github_sim.api_url}/repos/Acme/Infra", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["message"] == "This installation has been suspended"


def test_repository_is_404_for_a_token_that_does_not_cover_it(
    github_sim: GitHubSimulator, installation_id: int, mint: Callable[..., dict[str, Any]], http: requests.Session
) -> None:
    token = mint(installation_id)["token"]
    body = http.get(f"{github_sim.api_url}/repos/acme/infra", headers=bearer(token)).json()
    assert body["full_name"] == "Acme/Infra" and body["private"] is True
    assert http.get(f"{github_sim.api_url}/repos/Acme/outside", headers=bearer(token)).status_code == 404
    assert http.get(f"{github_sim.api_url}/repos/Acme/Infra").status_code == 404


def test_unknown_routes_answer_a_github_404(github_sim: GitHubSimulator, http: requests.Session) -> None:
    response = http.get(f"{github_sim.api_url}/nope")
    assert response.status_code == 404
    assert response.json() == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
        "status": "404",
    }


def test_a_request_without_user_agent_is_forbidden(github_sim: GitHubSimulator) -> None:
    connection = http.client.HTTPConnection(github_sim.api_url.removeprefix("http://"), timeout=5)
    connection.request("GET", "/app", headers={"Accept": "application/vnd.github+json"})
    response = connection.getresponse()
    assert response.status == 403
    assert b"User-Agent" in response.read()
    connection.close()
