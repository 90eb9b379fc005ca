"""A renamed repository: its old name answers 301 to the repository's id; by id it never moves."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
import requests

from githubsim import GitHubSimulator
from githubsim.client import SimulatorClient

from .conftest import bearer


@pytest.fixture
def renamed(github_sim: GitHubSimulator, mint: Callable[..., dict[str, Any]]) -> tuple[int, str]:
    installation_id = github_sim.add_installation("acme")
    repo_id = github_sim.add_repository("acme/infra", installation_id=installation_id, files={"a.txt": "a\n"})
    token = str(mint(installation_id)["token"])
    github_sim.rename_repository("acme/infra", "platform")
    return repo_id, token


def test_a_read_by_the_old_name_answers_301_to_the_repository_id(
    github_sim: GitHubSimulator, renamed: tuple[int, str], http: requests.Session
) -> None:
    repo_id, token = renamed
    response = http.get(
        f"{github_sim.api_url}/repos/acme/infra/contents/a.txt?ref=main", headers=bearer(token), allow_redirects=False
    )

    assert response.status_code == 301
    location = f"{github_sim.api_url}/repositories/{repo_id}/contents/a.txt?ref=main"
    assert response.headers["Location"] == location
    assert response.json()["message"] == "Moved Permanently" and response.json()["url"] == location
    followed = http.get(location, headers=bearer(token))
    assert base64.b64decode(followed.json()["content"]) == b"a\n"


def test_the_new_name_and_the_id_answer_directly(
    github_sim: GitHubSimulator, renamed: tuple[int, str], http: requests.Session
) -> None:
    repo_id, token = renamed
    by_name = http.get(f"{github_sim.api_url}/repos/acme/platform", headers=bearer(token))
    by_id = http.get(f"{github_sim.api_url}/repositories/{repo_id}", headers=bearer(token))

    assert by_name.status_code == by_id.status_code == 200
    assert by_name.json()["full_name"] == by_id.json()["full_name"] == "acme/platform"


def test_the_app_is_redirected_too_when_it_looks_up_the_installation(
    github_sim: GitHubSimulator, renamed: tuple[int, str], http: requests.Session, as_app: dict[str, str]
) -> None:
    repo_id, _ = renamed
    response = http.get(f"{github_sim.api_url}/repos/acme/infra/installation", headers=as_app, allow_redirects=False)

    assert response.status_code == 301
    assert response.headers["Location"] == f"{github_sim.api_url}/repositories/{repo_id}/installation"
    assert http.get(response.headers["Location"], headers=as_app).status_code == 200


def test_an_old_name_is_not_a_way_to_discover_a_private_repository(
    github_sim: GitHubSimulator, renamed: tuple[int, str], http: requests.Session
) -> None:
    response = http.get(f"{github_sim.api_url}/repos/acme/infra", allow_redirects=False)

    assert response.status_code == 404


def test_a_new_repository_that_takes_the_old_name_ends_the_redirect(
    github_sim: GitHubSimulator, renamed: tuple[int, str], http: requests.Session, mint: Callable[..., dict[str, Any]]
) -> None:
    repo_id, _ = renamed
    installation_id = next(iter(github_sim.installations))
    newcomer = github_sim.add_repository("acme/infra", installation_id=installation_id, files={"b.txt": "b"})
    token = str(mint(installation_id)["token"])

    by_name = http.get(f"{github_sim.api_url}/repos/acme/infra", headers=bearer(token), allow_redirects=False)

    assert by_name.status_code == 200 and by_name.json()["id"] == newcomer != repo_id
    assert http.get(f"{github_sim.api_url}/repositories/{repo_id}", headers=bearer(token)).json()["name"] == "platform"


def test_a_renamed_repository_still_clones_by_its_new_name(
    github_sim: GitHubSimulator, renamed: tuple[int, str], git_env: dict[str, str], tmp_path: Any
) -> None:
    _, token = renamed
    done = subprocess.run(
        [
            "git",
            "clone",
            "--quiet",
            f"https://x-access-token:{token}@{github_sim.git_host}/acme/platform",
            tmp_path / "c",
        ],
        env=git_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "c" / "a.txt").read_text() == "a\n"


def test_the_control_api_renames_and_links(github_sim: GitHubSimulator, http: requests.Session) -> None:
    client = SimulatorClient(github_sim.api_url)
    client.add_repository("acme/public", private=False, files={"x.txt": "x"})
    client.put_symlink("acme/public", "y.txt", "x.txt")
    client.rename_repository("acme/public", "open")

    body = http.get(f"{github_sim.api_url}/repos/acme/open/contents/y.txt").json()

    assert (body["path"], base64.b64decode(body["content"])) == ("x.txt", b"x")
