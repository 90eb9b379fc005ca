"""A persistent simulator (the standalone one) keeps keys, CA, registrations and tokens across restarts."""

from __future__ import annotations

from pathlib import Path

from githubsim import GitHubSimulator


def test_keys_and_ca_survive_a_restart(tmp_path: Path) -> None:
    first = GitHubSimulator(tmp_path)
    second = GitHubSimulator(tmp_path)
    assert second.app_private_key_pem == first.app_private_key_pem
    assert second.oidc_private_key_pem == first.oidc_private_key_pem
    assert Path(second.ca_file).read_bytes() == Path(first.ca_file).read_bytes()
    assert second.app_private_key_pem.startswith("-----BEGIN RSA PRIVATE KEY-----")


def test_a_persistent_simulator_remembers_what_was_seeded(tmp_path: Path) -> None:
    first = GitHubSimulator(tmp_path, persistent=True)
    installation_id = first.add_installation("acme", suspended=True)
    repo_id = first.add_repository("acme/infra", installation_id=installation_id, files={"a.txt": "a"})
    first.put_file("acme/infra", "b.txt", "b")
    first.unsuspend_installation(installation_id)
    token, _record = first.mint_installation_token(first.installations[installation_id], None, {"contents": "read"})

    second = GitHubSimulator(tmp_path, persistent=True)
    assert second.installations[installation_id].suspended_at is None
    repo = second.repositories["acme/infra"]
    assert repo.id == repo_id
    assert second.installation_for(repo) is second.installations[installation_id]
    assert sorted(repo.git.flat_tree("main")) == ["README.md", "a.txt", "b.txt"]
    assert second.token_is_live(token)
    assert second.add_repository("acme/next") == repo_id + 1
    assert token not in (tmp_path / "state.json").read_text()


def test_a_simulator_that_is_not_persistent_starts_empty(tmp_path: Path) -> None:
    GitHubSimulator(tmp_path, persistent=True).add_installation("acme")
    assert GitHubSimulator(tmp_path).installations == {}


def test_a_rename_and_a_symlink_survive_a_restart(tmp_path: Path) -> None:
    first = GitHubSimulator(tmp_path, persistent=True)
    repo_id = first.add_repository("acme/infra", symlinks={"link.md": "README.md"})
    first.rename_repository("acme/infra", "platform")

    second = GitHubSimulator(tmp_path, persistent=True)
    renamed = second.renamed_to("acme/infra")
    assert renamed is not None and renamed.id == repo_id and renamed.full_name == "acme/platform"
    assert renamed.git.flat_tree("main")["link.md"][0] == "120000"
