"""POST/PATCH /repos/{owner}/{repo}/check-runs: `checks: write`, at most 50 annotations per request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from githubsim import GitHubSimulator

from .conftest import bearer


@pytest.fixture
def installation_id(github_sim: GitHubSimulator) -> int:
    installation_id = github_sim.add_installation(
        "acme", permissions={"contents": "read", "checks": "write", "metadata": "read"}
    )
    github_sim.add_repository("acme/infra", installation_id=installation_id)
    return installation_id


@pytest.fixture
def head_sha(github_sim: GitHubSimulator, installation_id: int) -> str:
    return str(github_sim.repositories["acme/infra"].git.resolve("main"))


@pytest.fixture
def checks_token(installation_id: int, mint: Callable[..., dict[str, Any]]) -> str:
    return str(mint(installation_id, permissions={"checks": "write"})["token"])


def annotations(count: int) -> list[dict[str, Any]]:
    return [
        {"path": ".atmos/pro/sts/default.yaml", "start_line": i, "end_line": i, "annotation_level": "failure",
         "message": f"problem {i}"}
        for i in range(1, count + 1)
    ]  # fmt: skip


def create(sim: GitHubSimulator, http: requests.Session, token: str, **body: Any) -> requests.Response:
    return http.post(f"{sim.api_url}/repos/acme/infra/check-runs", headers=bearer(token), json=body)


def test_a_completed_run_with_annotations_is_created(
    github_sim: GitHubSimulator, http: requests.Session, checks_token: str, head_sha: str
) -> None:
    response = create(
        github_sim,
        http,
        checks_token,
        name="Trust Policy Validation",
        head_sha=head_sha,
        conclusion="failure",
        output={"title": "1 problem", "summary": "default.yaml is invalid", "annotations": annotations(1)},
    )

    assert response.status_code == 201
    run = response.json()
    assert (run["name"], run["status"], run["conclusion"]) == ("Trust Policy Validation", "completed", "failure")
    assert run["head_sha"] == head_sha and run["completed_at"]
    assert run["output"]["annotations_count"] == 1
    listed = http.get(run["output"]["annotations_url"], headers=bearer(checks_token)).json()
    assert listed[0]["message"] == "problem 1"


def test_more_than_50_annotations_in_one_request_are_refused(
    github_sim: GitHubSimulator, http: requests.Session, checks_token: str, head_sha: str
) -> None:
    output = {"title": "t", "summary": "s", "annotations": annotations(51)}
    response = create(github_sim, http, checks_token, name="n", head_sha=head_sha, output=output)

    assert response.status_code == 422
    assert response.json()["message"] == "Invalid request.\n\nNo more than 50 items are allowed; 51 were supplied."
    assert github_sim.check_runs == {}


def test_updates_append_annotations_beyond_50(
    github_sim: GitHubSimulator, http: requests.Session, checks_token: str, head_sha: str
) -> None:
    first = create(
        github_sim,
        http,
        checks_token,
        name="n",
        head_sha=head_sha,
        status="in_progress",
        output={"title": "t", "summary": "s", "annotations": annotations(50)},
    ).json()

    update = http.patch(
        first["url"],
        headers=bearer(checks_token),
        json={"conclusion": "failure", "output": {"title": "t", "summary": "s", "annotations": annotations(30)}},
    )

    assert update.status_code == 200
    assert update.json()["output"]["annotations_count"] == 80
    assert update.json()["status"] == "completed"


def test_a_token_without_checks_write_is_refused(
    github_sim: GitHubSimulator,
    http: requests.Session,
    installation_id: int,
    mint: Callable[..., dict[str, Any]],
    head_sha: str,
) -> None:
    reader = str(mint(installation_id, permissions={"contents": "read"})["token"])

    response = create(github_sim, http, reader, name="n", head_sha=head_sha)

    assert response.status_code == 403
    assert response.json()["message"] == "Resource not accessible by integration"


def test_an_app_jwt_cannot_create_a_check_run(
    github_sim: GitHubSimulator, http: requests.Session, as_app: dict[str, str], head_sha: str
) -> None:
    response = http.post(
        f"{github_sim.api_url}/repos/acme/infra/check-runs", headers=as_app, json={"name": "n", "head_sha": head_sha}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"head_sha": "HEAD"}, '"name" wasn\'t supplied.'),
        ({"name": "n"}, '"head_sha" wasn\'t supplied.'),
        ({"name": "n", "head_sha": "HEAD", "status": "done"}, "is not a valid value"),
        ({"name": "n", "head_sha": "HEAD", "status": "completed"}, '"conclusion" wasn\'t supplied.'),
        ({"name": "n", "head_sha": "HEAD", "conclusion": "stale"}, "is not a valid value"),
        ({"name": "n", "head_sha": "HEAD", "output": {"summary": "s"}}, '"title" wasn\'t supplied.'),
        ({"name": "n", "head_sha": "HEAD", "output": {"title": "t", "summary": "s" * 65536}}, "65535"),
    ],
)
def test_malformed_requests_are_422(
    github_sim: GitHubSimulator,
    http: requests.Session,
    checks_token: str,
    head_sha: str,
    body: dict[str, Any],
    fragment: str,
) -> None:
    body = {k: head_sha if v == "HEAD" else v for k, v in body.items()}
    response = create(github_sim, http, checks_token, **body)

    assert response.status_code == 422
    assert fragment in response.json()["message"]


def test_an_unknown_commit_is_422(github_sim: GitHubSimulator, http: requests.Session, checks_token: str) -> None:
    response = create(github_sim, http, checks_token, name="n", head_sha="0" * 40)

    assert response.status_code == 422
    assert response.json()["message"] == f"No commit found for SHA: {'0' * 40}"


def test_an_annotation_without_a_line_is_422(
    github_sim: GitHubSimulator, http: requests.Session, checks_token: str, head_sha: str
) -> None:
    broken = [{"path": "a", "annotation_level": "warning", "message": "m", "start_line": 0, "end_line": 1}]
    output = {"title": "t", "summary": "s", "annotations": broken}

    assert create(github_sim, http, checks_token, name="n", head_sha=head_sha, output=output).status_code == 422


def test_a_run_of_another_repository_is_404(
    github_sim: GitHubSimulator, http: requests.Session, checks_token: str, head_sha: str, installation_id: int
) -> None:
    run = create(github_sim, http, checks_token, name="n", head_sha=head_sha).json()
    github_sim.add_repository("acme/other", installation_id=installation_id)

    response = http.get(f"{github_sim.api_url}/repos/acme/other/check-runs/{run['id']}", headers=bearer(checks_token))

    assert response.status_code == 404
