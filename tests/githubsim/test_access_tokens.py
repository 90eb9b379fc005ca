"""POST /app/installations/{id}/access_tokens, as strict as GitHub."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from githubsim import GitHubSimulator

from .conftest import bearer

NOT_ACCESSIBLE = "There is at least one repository that does not exist or is not accessible to the parent installation."
NOT_GRANTED = "The permissions requested are not granted to this installation."


@pytest.fixture
def installation_id(github_sim: GitHubSimulator) -> int:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/infra", installation_id=installation_id)
    github_sim.add_repository("acme/modules", installation_id=installation_id)
    github_sim.add_repository("acme/not-selected")
    github_sim.add_installation("globex")
    github_sim.add_repository("globex/infra")
    return installation_id


def post(
    sim: GitHubSimulator, http: requests.Session, headers: dict[str, str], installation_id: int, body: Any
) -> requests.Response:
    return http.post(f"{sim.api_url}/app/installations/{installation_id}/access_tokens", headers=headers, json=body)


def test_it_mints_a_token_for_named_repositories(
    github_sim: GitHubSimulator, installation_id: int, mint: Callable[..., dict[str, Any]]
) -> None:
    body = mint(installation_id, repositories=["infra"], permissions={"contents": "read"})
    assert body["token"].startswith("ghs_")
    assert body["permissions"] == {"contents": "read", "metadata": "read"}
    assert body["repository_selection"] == "selected"
    [repo] = body["repositories"]
    assert repo["full_name"] == "acme/infra"
    assert repo["owner"]["login"] == "acme" and repo["private"] is True and repo["default_branch"] == "main"
    expires = dt.datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    ahead = (expires - dt.datetime.now(dt.UTC)).total_seconds()
    assert 3500 < ahead <= 3600
    assert github_sim.token_is_live(body["token"])
    assert github_sim.tokens_issued[-1] == {
        "installation_id": installation_id,
        "repositories": ["acme/infra"],
        "permissions": {"contents": "read", "metadata": "read"},
        "expires_at": body["expires_at"],
    }
    assert body["token"] not in repr(github_sim.tokens_issued)


def test_repository_names_are_case_insensitive_and_ids_work_too(
    github_sim: GitHubSimulator, installation_id: int, mint: Callable[..., dict[str, Any]]
) -> None:
    modules_id = github_sim.repositories["acme/modules"].id
    body = mint(installation_id, repositories=["INFRA"], repository_ids=[modules_id])
    assert sorted(r["full_name"] for r in body["repositories"]) == ["acme/infra", "acme/modules"]


def test_without_repositories_the_token_covers_the_whole_installation(
    github_sim: GitHubSimulator, installation_id: int, mint: Callable[..., dict[str, Any]]
) -> None:
    body = mint(installation_id)
    assert body["permissions"] == {"contents": "read", "metadata": "read"}
    assert github_sim.tokens_issued[-1]["repositories"] == ["acme/infra", "acme/modules"]


def test_token_lengths_are_not_fixed(installation_id: int, mint: Callable[..., dict[str, Any]]) -> None:
    tokens = [mint(installation_id)["token"] for _ in range(4)]
    assert len({len(t) for t in tokens}) > 1
    assert any(len(t) > 480 and "." in t for t in tokens)
    assert len(set(tokens)) == 4


def test_newer_tokens_carry_the_app_id_and_a_jwt_and_work_everywhere(
    github_sim: GitHubSimulator, installation_id: int, mint: Callable[..., dict[str, Any]], http: requests.Session
) -> None:
    tokens = [str(mint(installation_id)["token"]) for _ in range(2)]
    newer = next(t for t in tokens if t.startswith(f"ghs_{github_sim.app_id}_"))
    jwt_part = newer.removeprefix(f"ghs_{github_sim.app_id}_")

    assert len(newer) > 300 and jwt_part.count(".") == 2
    assert re.fullmatch(r"ghs_[A-Za-z0-9._]{36,}", newer)  # GitHub's suggested pattern, nothing narrower
    assert http.get(f"{github_sim.api_url}/installation/repositories", headers=bearer(newer)).status_code == 200
    assert http.delete(f"{github_sim.api_url}/installation/token", headers=bearer(newer)).status_code == 204
    assert github_sim.token_is_live(newer) is False


@pytest.mark.parametrize("repositories", [["not-selected"], ["missing"], ["infra", "missing"], ["acme/infra"]])
def test_it_refuses_a_repository_the_installation_does_not_cover(
    github_sim: GitHubSimulator,
    installation_id: int,
    http: requests.Session,
    as_app: dict[str, str],
    repositories: list[str],
) -> None:
    response = post(github_sim, http, as_app, installation_id, {"repositories": repositories})
    assert response.status_code == 422
    assert response.json()["message"] == NOT_ACCESSIBLE
    assert github_sim.tokens_issued == []


def test_it_refuses_a_repository_of_another_organization_by_id(
    github_sim: GitHubSimulator, installation_id: int, http: requests.Session, as_app: dict[str, str]
) -> None:
    other_id = github_sim.repositories["globex/infra"].id
    response = post(github_sim, http, as_app, installation_id, {"repository_ids": [other_id]})
    assert response.status_code == 422
    assert response.json()["message"] == NOT_ACCESSIBLE


def test_it_refuses_more_than_500_repositories(
    github_sim: GitHubSimulator, installation_id: int, http: requests.Session, as_app: dict[str, str]
) -> None:
    response = post(github_sim, http, as_app, installation_id, {"repositories": ["infra"] * 501})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "permissions", [{"contents": "write"}, {"issues": "read"}, {"contents": "admin"}, {"contents": "bogus"}]
)
def test_it_refuses_permissions_beyond_the_installation(
    github_sim: GitHubSimulator,
    installation_id: int,
    http: requests.Session,
    as_app: dict[str, str],
    permissions: dict[str, str],
) -> None:
    response = post(github_sim, http, as_app, installation_id, {"permissions": permissions})
    assert response.status_code == 422
    assert response.json()["message"] == NOT_GRANTED


def test_it_answers_403_for_a_suspended_installation(
    github_sim: GitHubSimulator, installation_id: int, http: requests.Session, as_app: dict[str, str]
) -> None:
    github_sim.suspend_installation(installation_id)
    response = post(github_sim, http, as_app, installation_id, {})
    assert response.status_code == 403
    assert response.json()["message"] == "This installation has been suspended"
    github_sim.unsuspend_installation(installation_id)
    assert post(github_sim, http, as_app, installation_id, {}).status_code == 201


def test_it_answers_404_for_an_unknown_installation(
    github_sim: GitHubSimulator, installation_id: int, http: requests.Session, as_app: dict[str, str]
) -> None:
    response = post(github_sim, http, as_app, 1, {})
    assert response.status_code == 404
    assert response.json()["message"] == "Not Found"
    assert post(github_sim, http, as_app, "abc", {}).status_code == 404  # type: ignore[arg-type]


def test_it_answers_400_for_a_body_that_is_not_json(
    github_sim: GitHubSimulator, installation_id: int, http: requests.Session, as_app: dict[str, str]
) -> None:
    url = f"{github_sim.api_url}/app/installations/{installation_id}/access_tokens"
    response = http.post(url, headers=as_app, data=b"{nope")
    assert response.status_code == 400
    assert response.json()["message"] == "Problems parsing JSON"


def test_all_repositories_installation_covers_repositories_added_later(
    github_sim: GitHubSimulator, mint: Callable[..., dict[str, Any]]
) -> None:
    installation_id = github_sim.add_installation("initech", repository_selection="all")
    github_sim.add_repository("initech/one")
    body = mint(installation_id)
    assert body["repository_selection"] == "all"
    github_sim.add_repository("initech/two")
    assert [r["full_name"] for r in mint(installation_id, repositories=["two"])["repositories"]] == ["initech/two"]


def test_an_empty_repository_list_means_every_repository_as_on_github(
    github_sim: GitHubSimulator, installation_id: int, mint: Callable[..., dict[str, Any]]
) -> None:
    body = mint(installation_id, repositories=[], repository_ids=[])
    assert "repositories" not in body
    assert github_sim.tokens_issued[-1]["repositories"] == ["acme/infra", "acme/modules"]
