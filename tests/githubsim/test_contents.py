"""GET /repos/{owner}/{repo}/contents/{path}, read from the real git repository."""

from __future__ import annotations

import base64
import hashlib
import http.client
from collections.abc import Callable
from typing import Any

import pytest
import requests

from githubsim import GitHubSimulator

from .conftest import bearer

POLICY = "version: 1\nrules:\n  - allow: true\n"


@pytest.fixture
def token(github_sim: GitHubSimulator, mint: Callable[..., dict[str, Any]]) -> str:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository(
        "acme/infra", installation_id=installation_id, files={".atmos/pro/sts/default.yaml": POLICY}
    )
    github_sim.add_repository("acme/other", installation_id=installation_id)
    return str(mint(installation_id, repositories=["infra"])["token"])


def contents(sim: GitHubSimulator, http: requests.Session, path: str, token: str, **headers: str) -> requests.Response:
    return http.get(f"{sim.api_url}/repos/acme/infra/contents/{path}", headers={**bearer(token), **headers})


def test_a_file_comes_back_base64_with_its_blob_sha(
    github_sim: GitHubSimulator, token: str, http: requests.Session
) -> None:
    response = contents(github_sim, http, ".atmos/pro/sts/default.yaml", token)
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "file" and body["encoding"] == "base64"
    assert base64.b64decode(body["content"]).decode() == POLICY
    assert body["size"] == len(POLICY)
    assert body["path"] == ".atmos/pro/sts/default.yaml" and body["name"] == "default.yaml"
    expected_sha = hashlib.sha1(f"blob {len(POLICY)}\0{POLICY}".encode()).hexdigest()
    assert body["sha"] == expected_sha
    assert response.headers["ETag"].startswith('"') and not response.headers["ETag"].startswith("W/")


def test_base64_content_has_a_newline_every_60_characters(
    github_sim: GitHubSimulator, token: str, http: requests.Session
) -> None:
    github_sim.put_file("acme/infra", "big.txt", "x" * 200)
    content = contents(github_sim, http, "big.txt", token).json()["content"]
    lines = content.split("\n")
    assert content.endswith("\n")
    assert all(len(line) == 60 for line in lines[:-2]) and len(lines[0]) == 60


def test_if_none_match_answers_304_until_the_file_changes(
    github_sim: GitHubSimulator, token: str, http: requests.Session
) -> None:
    first = contents(github_sim, http, ".atmos/pro/sts/default.yaml", token)
    etag = first.headers["ETag"]
    again = contents(github_sim, http, ".atmos/pro/sts/default.yaml", token, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    github_sim.put_file("acme/infra", ".atmos/pro/sts/default.yaml", POLICY + "# changed\n")
    changed = contents(github_sim, http, ".atmos/pro/sts/default.yaml", token, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert base64.b64decode(changed.json()["content"]).decode().endswith("# changed\n")


def test_a_missing_or_deleted_file_is_404(github_sim: GitHubSimulator, token: str, http: requests.Session) -> None:
    assert contents(github_sim, http, "nope.yaml", token).status_code == 404
    github_sim.delete_file("acme/infra", ".atmos/pro/sts/default.yaml")
    response = contents(github_sim, http, ".atmos/pro/sts/default.yaml", token)
    assert response.status_code == 404
    assert response.json()["message"] == "Not Found"


def test_a_directory_answers_a_json_array(github_sim: GitHubSimulator, token: str, http: requests.Session) -> None:
    github_sim.put_file("acme/infra", ".atmos/pro/sts/prod.yaml", "x")
    listing = contents(github_sim, http, ".atmos/pro/sts", token).json()
    assert isinstance(listing, list)
    assert [(e["name"], e["type"], e["size"]) for e in listing] == [
        ("default.yaml", "file", len(POLICY)),
        ("prod.yaml", "file", 1),
    ]
    assert all("content" not in e for e in listing)
    root = http.get(f"{github_sim.api_url}/repos/acme/infra/contents", headers=bearer(token)).json()
    assert {(e["name"], e["type"]) for e in root} == {(".atmos", "dir"), ("README.md", "file")}


def test_ref_selects_a_commit_and_an_unknown_ref_is_404(
    github_sim: GitHubSimulator, token: str, http: requests.Session
) -> None:
    before = github_sim.repositories["acme/infra"].git.resolve("main")
    github_sim.put_file("acme/infra", "README.md", "new\n")
    old = contents(github_sim, http, f"README.md?ref={before}", token).json()
    assert base64.b64decode(old["content"]) == b"# infra\n"
    assert (
        contents(github_sim, http, "README.md?ref=main", token).json()["content"]
        == base64.b64encode(b"new\n").decode() + "\n"
    )
    assert contents(github_sim, http, "README.md?ref=no-such-branch", token).status_code == 404
    assert contents(github_sim, http, "README.md?ref=--output=/tmp/x", token).status_code == 404


def test_a_repository_the_token_does_not_cover_is_hidden(
    github_sim: GitHubSimulator, token: str, http: requests.Session
) -> None:
    response = http.get(f"{github_sim.api_url}/repos/acme/other/contents/README.md", headers=bearer(token))
    assert response.status_code == 404
    assert http.get(f"{github_sim.api_url}/repos/acme/infra/contents/README.md").status_code == 404


@pytest.mark.parametrize(
    "path", ["../other/README.md", "./README.md", "%2E%2E/other/README.md", "a//b", ".git/config", "README.md%0Ax"]
)
def test_hostile_paths_are_404(github_sim: GitHubSimulator, token: str, path: str) -> None:
    # http.client sends the path as is; requests would normalise the dot segments away.
    connection = http.client.HTTPConnection(github_sim.api_url.removeprefix("http://"), timeout=5)
    connection.request("GET", f"/repos/acme/infra/contents/{path}", headers={**bearer(token), "User-Agent": "t"})
    response = connection.getresponse()
    assert response.status == 404
    connection.close()


def test_a_token_without_contents_permission_is_refused(
    github_sim: GitHubSimulator, mint: Callable[..., dict[str, Any]], http: requests.Session
) -> None:
    installation_id = github_sim.add_installation("initech")
    github_sim.add_repository("initech/infra", installation_id=installation_id)
    metadata_only = mint(installation_id, permissions={"metadata": "read"})["token"]
    response = http.get(f"{github_sim.api_url}/repos/initech/infra/contents/README.md", headers=bearer(metadata_only))
    assert response.status_code == 403
    assert response.json()["message"] == "Resource not accessible by integration"
    assert http.get(f"{github_sim.api_url}/repos/initech/infra", headers=bearer(metadata_only)).status_code == 200


def test_a_file_over_1_mb_is_403_too_large_with_the_default_media_type(
    github_sim: GitHubSimulator, token: str, http: requests.Session
) -> None:
    github_sim.put_file("acme/infra", "big.bin", b"x" * (1024 * 1024 + 1))
    response = contents(github_sim, http, "big.bin", token)
    assert response.status_code == 403
    body = response.json()
    assert body["errors"] == [{"resource": "Blob", "field": "data", "code": "too_large"}]
    assert body["message"].startswith("This API returns blobs up to 1 MB in size.")


def test_a_file_over_1_mb_has_no_content_in_the_object_media_type(
    github_sim: GitHubSimulator, token: str, http: requests.Session
) -> None:
    github_sim.put_file("acme/infra", "big.bin", b"x" * (1024 * 1024 + 1))
    response = contents(github_sim, http, "big.bin", token, Accept="application/vnd.github.object")
    assert response.status_code == 200
    assert (response.json()["encoding"], response.json()["content"]) == ("none", "")
    exactly = b"y" * (1024 * 1024)
    github_sim.put_file("acme/infra", "edge.bin", exactly)
    assert base64.b64decode(contents(github_sim, http, "edge.bin", token).json()["content"]) == exactly


def test_a_symlink_to_a_file_of_the_repository_answers_the_target_with_its_path(
    github_sim: GitHubSimulator, token: str, http: requests.Session
) -> None:
    github_sim.put_file("acme/infra", "docs/elsewhere.yaml", "version: 1\nrules: []\n")
    github_sim.put_symlink("acme/infra", ".atmos/pro/sts/linked.yaml", "../../../docs/elsewhere.yaml")

    body = contents(github_sim, http, ".atmos/pro/sts/linked.yaml", token).json()

    assert body["type"] == "file"
    assert body["path"] == "docs/elsewhere.yaml" and body["name"] == "elsewhere.yaml"
    assert base64.b64decode(body["content"]) == b"version: 1\nrules: []\n"


def test_the_git_store_holds_a_real_symlink(github_sim: GitHubSimulator, token: str) -> None:
    github_sim.put_symlink("acme/infra", "link.md", "README.md")
    repo = github_sim.repositories["acme/infra"]
    assert repo.git.flat_tree("main")["link.md"][0] == "120000"


@pytest.mark.parametrize("target", ["../../outside", "/etc/passwd", ".atmos", "missing.yaml"])
def test_a_symlink_out_of_the_repository_or_to_no_file_answers_the_link_itself(
    github_sim: GitHubSimulator, token: str, http: requests.Session, target: str
) -> None:
    github_sim.put_symlink("acme/infra", "links/link", target)

    body = contents(github_sim, http, "links/link", token).json()

    assert body["type"] == "symlink"
    assert body["target"] == target and body["path"] == "links/link"
    assert "content" not in body


def test_etags_belong_to_the_token_that_asked(
    github_sim: GitHubSimulator, token: str, http: requests.Session, mint: Callable[..., dict[str, Any]]
) -> None:
    path = ".atmos/pro/sts/default.yaml"
    first = contents(github_sim, http, path, token)
    other_token = str(mint(_acme(github_sim), repositories=["infra"])["token"])

    theirs = contents(github_sim, http, path, other_token, **{"If-None-Match": first.headers["ETag"]})

    assert theirs.status_code == 200
    assert theirs.headers["ETag"] != first.headers["ETag"]
    again = contents(github_sim, http, path, other_token, **{"If-None-Match": theirs.headers["ETag"]})
    assert again.status_code == 304


def _acme(sim: GitHubSimulator) -> int:
    return next(i.id for i in sim.installations.values() if i.account.login == "acme")
