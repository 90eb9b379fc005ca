"""GET /repos/{owner}/{repo}/pulls/{number}/files: what a pull request's head changed against its base,
paged as GitHub pages it; `pull_request` webhooks when one is opened and when its branch moves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from githubsim import GitHubSimulator

from .conftest import bearer


@pytest.fixture
def token(github_sim: GitHubSimulator, mint: Callable[..., dict[str, Any]]) -> str:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/infra", installation_id=installation_id, files={"a.txt": "a", "b.txt": "b"})
    github_sim.add_repository("acme/other", installation_id=installation_id)
    return str(mint(installation_id)["token"])


def files(sim: GitHubSimulator, http: requests.Session, token: str, number: int, **params: Any) -> requests.Response:
    return http.get(f"{sim.api_url}/repos/acme/infra/pulls/{number}/files", headers=bearer(token), params=params)


def test_it_lists_what_the_branch_added_modified_and_removed(
    github_sim: GitHubSimulator, http: requests.Session, token: str
) -> None:
    github_sim.put_file("acme/infra", "a.txt", "changed", branch="feature")
    github_sim.put_file("acme/infra", "c.txt", "new", branch="feature")
    github_sim.delete_file("acme/infra", "b.txt", branch="feature")
    number = github_sim.open_pull_request("acme/infra", branch="feature")

    response = files(github_sim, http, token, number)

    assert response.status_code == 200
    assert [(item["filename"], item["status"]) for item in response.json()] == [
        ("a.txt", "modified"),
        ("b.txt", "removed"),
        ("c.txt", "added"),
    ]


def test_it_pages_thirty_by_default_and_a_hundred_at_most(
    github_sim: GitHubSimulator, http: requests.Session, token: str
) -> None:
    for index in range(120):
        github_sim.repositories["acme/infra"].git.create_branch("many", start="main")
        github_sim.put_file("acme/infra", f"f{index:03}.txt", "x", branch="many")
    number = github_sim.open_pull_request("acme/infra", branch="many")

    first = files(github_sim, http, token, number)
    widest = files(github_sim, http, token, number, per_page=500, page=2)

    assert len(first.json()) == 30 and 'rel="next"' in first.headers["Link"]
    assert len(widest.json()) == 20 and 'rel="next"' not in widest.headers["Link"]


def test_an_unknown_pull_request_or_another_repositorys_is_a_404(
    github_sim: GitHubSimulator, http: requests.Session, token: str
) -> None:
    github_sim.put_file("acme/infra", "a.txt", "changed", branch="feature")
    number = github_sim.open_pull_request("acme/infra", branch="feature")
    assert files(github_sim, http, token, number + 1).status_code == 404
    other = http.get(f"{github_sim.api_url}/repos/acme/other/pulls/{number}/files", headers=bearer(token))
    assert other.status_code == 404


def test_a_private_repositorys_pull_request_is_invisible_without_a_token(
    github_sim: GitHubSimulator, http: requests.Session, token: str
) -> None:
    github_sim.put_file("acme/infra", "a.txt", "changed", branch="feature")
    number = github_sim.open_pull_request("acme/infra", branch="feature")
    assert http.get(f"{github_sim.api_url}/repos/acme/infra/pulls/{number}/files").status_code == 404


def test_it_is_served_by_repository_id_too(github_sim: GitHubSimulator, http: requests.Session, token: str) -> None:
    github_sim.put_file("acme/infra", "a.txt", "changed", branch="feature")
    number = github_sim.open_pull_request("acme/infra", branch="feature")
    repository_id = github_sim.repositories["acme/infra"].id
    response = http.get(
        f"{github_sim.api_url}/repositories/{repository_id}/pulls/{number}/files", headers=bearer(token)
    )
    assert [item["filename"] for item in response.json()] == ["a.txt"]


def test_opening_and_moving_a_pull_request_are_events_with_its_head(github_sim: GitHubSimulator, token: str) -> None:
    # Nothing listens on the discard port: the deliveries fail, and GitHub's record of each keeps its payload.
    github_sim.configure_webhook(url="http://127.0.0.1:9/webhooks")
    github_sim.put_file("acme/infra", "a.txt", "changed", branch="feature")
    number = github_sim.open_pull_request("acme/infra", branch="feature")
    github_sim.put_file("acme/infra", "a.txt", "again", branch="feature")
    github_sim.wait_for_deliveries()

    sent = [(d["event"], d["payload"]) for d in github_sim.webhook_deliveries]
    pulls = [body for event, body in sent if event == "pull_request"]
    head = github_sim.repositories["acme/infra"].git.resolve("feature")
    assert [(p["action"], p["number"]) for p in pulls] == [("opened", number), ("synchronize", number)]
    assert pulls[-1]["pull_request"]["head"]["sha"] == head
    assert [body["ref"] for event, body in sent if event == "push"] == ["refs/heads/feature", "refs/heads/feature"]
