"""The real `git` client against the simulator's smart HTTP over TLS."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from githubsim import GitHubSimulator


@pytest.fixture
def installation_id(github_sim: GitHubSimulator) -> int:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/infra", installation_id=installation_id, files={"main.tf": "# infra\n"})
    github_sim.add_repository("acme/other", installation_id=installation_id)
    return installation_id


def clone(
    sim: GitHubSimulator, env: dict[str, str], dest: Path, path: str, token: str | None
) -> subprocess.CompletedProcess[str]:
    auth = f"x-access-token:{token}@" if token else ""
    return subprocess.run(
        ["git", "clone", "--quiet", f"https://{auth}{sim.git_host}/{path}", str(dest)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_covering_token_clones_the_repository(
    github_sim: GitHubSimulator,
    installation_id: int,
    mint: Callable[..., dict[str, Any]],
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    token = mint(installation_id, repositories=["infra"])["token"]
    github_sim.put_file("acme/infra", "modules/vpc.tf", "# vpc\n")
    done = clone(github_sim, git_env, tmp_path / "infra", "Acme/Infra.git", token)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "infra" / "main.tf").read_text() == "# infra\n"
    assert (tmp_path / "infra" / "modules" / "vpc.tf").read_text() == "# vpc\n"
    assert token not in done.stderr
    assert github_sim.calls["git"] >= 2
    fetch = subprocess.run(
        ["git", "-C", str(tmp_path / "infra"), "fetch", "--quiet"], env=git_env, capture_output=True, text=True
    )
    assert fetch.returncode == 0, fetch.stderr


def test_a_token_of_the_newer_long_shape_clones_too(
    github_sim: GitHubSimulator,
    installation_id: int,
    mint: Callable[..., dict[str, Any]],
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    tokens = [str(mint(installation_id, repositories=["infra"])["token"]) for _ in range(2)]
    newer = next(t for t in tokens if t.startswith(f"ghs_{github_sim.app_id}_"))

    done = clone(github_sim, git_env, tmp_path / "infra", "acme/infra", newer)

    assert done.returncode == 0, done.stderr
    assert len(newer) > 300


def test_a_clone_without_a_token_is_refused(
    github_sim: GitHubSimulator, installation_id: int, git_env: dict[str, str], tmp_path: Path
) -> None:
    done = clone(github_sim, git_env, tmp_path / "c", "acme/infra", None)
    assert done.returncode != 0
    response = requests.get(
        f"{github_sim.git_base_url}/acme/infra/info/refs?service=git-upload-pack", verify=github_sim.ca_file, timeout=5
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="GitHub"'


def test_a_public_repository_still_needs_a_token(
    github_sim: GitHubSimulator, git_env: dict[str, str], tmp_path: Path
) -> None:
    github_sim.add_repository("acme/public", private=False)
    assert clone(github_sim, git_env, tmp_path / "c", "acme/public", None).returncode != 0


def test_a_token_for_another_repository_is_refused(
    github_sim: GitHubSimulator,
    installation_id: int,
    mint: Callable[..., dict[str, Any]],
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    token = mint(installation_id, repositories=["infra"])["token"]
    done = clone(github_sim, git_env, tmp_path / "c", "acme/other", token)
    assert done.returncode != 0
    assert "Authentication failed" in done.stderr
    assert token not in done.stderr


def test_a_revoked_or_expired_token_is_refused(
    github_sim: GitHubSimulator,
    installation_id: int,
    mint: Callable[..., dict[str, Any]],
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    revoked, expired = mint(installation_id)["token"], mint(installation_id)["token"]
    requests.delete(
        f"{github_sim.api_url}/installation/token", headers={"Authorization": f"Bearer {revoked}"}, timeout=5
    )
    github_sim.expire_token(expired)
    assert clone(github_sim, git_env, tmp_path / "a", "acme/infra", revoked).returncode != 0
    assert clone(github_sim, git_env, tmp_path / "b", "acme/infra", expired).returncode != 0


def test_a_push_is_refused_even_with_a_covering_token(
    github_sim: GitHubSimulator,
    installation_id: int,
    mint: Callable[..., dict[str, Any]],
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    token = mint(installation_id, repositories=["infra"])["token"]
    work = tmp_path / "infra"
    assert clone(github_sim, git_env, work, "acme/infra", token).returncode == 0
    (work / "new.tf").write_text("x\n")
    for args in (["add", "new.tf"], ["commit", "--quiet", "-m", "x"]):
        subprocess.run(["git", "-C", str(work), *args], env=git_env, check=True, capture_output=True)
    before = github_sim.repositories["acme/infra"].git.resolve("main")
    push = subprocess.run(
        ["git", "-C", str(work), "push", "origin", "main"], env=git_env, capture_output=True, text=True
    )
    assert push.returncode != 0
    assert "403" in push.stderr or "denied" in push.stderr or "not granted" in push.stderr
    assert github_sim.repositories["acme/infra"].git.resolve("main") == before


def test_a_git_fault_fails_the_clone(
    github_sim: GitHubSimulator,
    installation_id: int,
    mint: Callable[..., dict[str, Any]],
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    token = mint(installation_id)["token"]
    github_sim.fault("git", status=503, times=5)
    assert clone(github_sim, git_env, tmp_path / "c", "acme/infra", token).returncode != 0


def test_the_certificate_names_loopback(github_sim: GitHubSimulator) -> None:
    port = github_sim.git_host.split(":")[1]
    assert requests.get(f"https://localhost:{port}/x", verify=github_sim.ca_file, timeout=5).status_code == 404
    assert requests.get(f"{github_sim.git_base_url}/x", verify=github_sim.ca_file, timeout=5).status_code == 404
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{github_sim.git_base_url}/x", timeout=5)


def test_the_dumb_protocol_is_refused(github_sim: GitHubSimulator, installation_id: int) -> None:
    response = requests.get(f"{github_sim.git_base_url}/acme/infra/info/refs", verify=github_sim.ca_file, timeout=5)
    assert response.status_code == 403


def test_a_fresh_token_can_be_made_to_wait_for_propagation(
    github_sim: GitHubSimulator,
    installation_id: int,
    mint: Callable[..., dict[str, Any]],
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    github_sim.token_propagation_seconds = 60
    token = mint(installation_id, wait_until_ready=False)["token"]
    early = clone(github_sim, git_env, tmp_path / "early", "acme/infra", token)
    assert early.returncode != 0 and "Authentication failed" in early.stderr
    github_sim.set_consistency(propagation_seconds=0, permissions_seconds=60)
    copying = clone(github_sim, git_env, tmp_path / "copying", "acme/infra", token)
    assert copying.returncode != 0 and "403" in copying.stderr
    github_sim.set_consistency(propagation_seconds=0, permissions_seconds=0)
    assert clone(github_sim, git_env, tmp_path / "later", "acme/infra", token).returncode == 0
