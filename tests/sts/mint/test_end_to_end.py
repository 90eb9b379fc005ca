"""The Atmos CLI's whole flow against a live server, the simulator and the real `git` client:
OIDC token -> exchange -> mint -> GIT_CONFIG_* rewrites -> clone -> refusal outside the token ->
revocation at GitHub -> the same clone refused."""

from __future__ import annotations

import subprocess
import time

import pytest

from demo import atmos_client
from tests.factories import POLICY_PATH, installation_record, repository_create, workspace_create

from .conftest import ADMITS_ACME_APP

pytestmark = pytest.mark.django_db(transaction=True)


def clone(url: str, into, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "clone", "--quiet", url, str(into)], env=env, capture_output=True, text=True, timeout=60
    )


def clone_as_the_client_does(url: str, into, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A freshly minted token is unknown to GitHub's git servers for a few seconds (401), then lacks its
    permissions for a moment more (403); the simulator models both. The Atmos CLI retries a refused
    clone for about 30 seconds, and so does this."""
    deadline = time.monotonic() + 30
    while True:
        result = clone(url, into, env)
        propagating = "Authentication failed" in result.stderr or "error: 403" in result.stderr
        if result.returncode == 0 or not propagating or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_the_cli_flow_clones_what_the_token_covers_and_nothing_else(live_server, github_sim, git_env, tmp_path):
    sim = github_sim
    installation_id = sim.add_installation("acme")
    workspace = workspace_create()
    installation = installation_record(workspace=workspace, github_id=installation_id, account_id=501)
    app_id = repository_create(sim=sim, installation=installation, full_name="acme/app")
    repository_create(
        sim=sim,
        installation=installation,
        full_name="acme/terraform-modules",
        files={POLICY_PATH: ADMITS_ACME_APP, "vpc/main.tf": "# vpc module\n"},
    )
    repository_create(sim=sim, installation=installation, full_name="acme/private-other", files={"secret.txt": "no"})

    oidc = sim.actions_token(repository="acme/app", repository_id=str(app_id), repository_owner_id="501")
    session = atmos_client.exchange(live_server.url, oidc, workspace.public_id)
    data = atmos_client.mint(live_server.url, session, sources=["acme/terraform-modules", "acme/private-other"])

    assert data["excluded"] == [{"repo": "acme/private-other", "reason": "no_trust_policy"}]
    [token] = data["tokens"]
    env = {**git_env, **atmos_client.git_rewrite_env(data["tokens"])}
    base = f"https://{token['host']}/acme"

    allowed = clone_as_the_client_does(f"{base}/terraform-modules", tmp_path / "modules", env)
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "modules" / "vpc" / "main.tf").read_text() == "# vpc module\n"

    refused = clone(f"{base}/private-other", tmp_path / "other", env)
    assert refused.returncode != 0
    assert not (tmp_path / "other" / "secret.txt").exists()

    assert atmos_client.revoke_at_github(sim.api_url, token["token"]) == 204
    after = clone(f"{base}/terraform-modules", tmp_path / "again", env)
    assert after.returncode != 0
    assert token["token"] not in after.stderr + allowed.stderr + refused.stderr


def test_a_clone_without_the_rewrites_is_refused(github_sim, git_env, tmp_path):
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/terraform-modules", installation_id=installation_id, files={"a.tf": ""})
    result = clone(f"{github_sim.git_base_url}/acme/terraform-modules", tmp_path / "x", git_env)
    assert result.returncode != 0
