"""pytest fixtures: one simulator per test session, reset before each test that asks for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from githubsim.simulator import GitHubSimulator

# GitHub's eventual consistency, on by default in every test so no test assumes a token works the instant
# it is created: a fresh token answers 401, then 403, for these (small, to keep the suite fast). A test
# that needs otherwise sets `github_sim.token_propagation_seconds` / `token_permissions_seconds` itself.
TEST_TOKEN_PROPAGATION_SECONDS = 0.2
TEST_TOKEN_PERMISSIONS_SECONDS = 0.1


@pytest.fixture(scope="session")
def github_sim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubSimulator]:
    sim = GitHubSimulator(tmp_path_factory.mktemp("githubsim"))
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def github_sim(github_sim_server: GitHubSimulator, settings: Any) -> Iterator[GitHubSimulator]:
    """The session simulator, forgotten state, and Django settings pointed at it (API, web host, App)."""
    sim = github_sim_server
    sim.reset()
    sim.set_consistency(
        propagation_seconds=TEST_TOKEN_PROPAGATION_SECONDS, permissions_seconds=TEST_TOKEN_PERMISSIONS_SECONDS
    )
    settings.GITHUB_API_URL = sim.api_url
    settings.STS_OIDC_ISSUERS = [sim.issuer]
    settings.GITHUB_APP_ID = str(sim.app_id)
    settings.GITHUB_APP_PRIVATE_KEY = sim.app_private_key_pem
    settings.GITHUB_HOST = sim.git_host
    settings.GITHUB_CA_BUNDLE = sim.ca_file
    settings.GITHUB_WEB_URL = sim.web_url
    settings.GITHUB_APP_SLUG = sim.app_slug
    settings.GITHUB_APP_CLIENT_ID = sim.client_id
    settings.GITHUB_APP_CLIENT_SECRET = sim.client_secret
    yield sim


@pytest.fixture
def git_env(github_sim_server: GitHubSimulator, tmp_path: Path) -> dict[str, str]:
    """Environment for the real `git` client against the simulator: its CA, no prompt, no user config."""
    home = tmp_path / "git-home"
    home.mkdir(exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GIT_") and k not in ("SSH_ASKPASS", "XDG_CONFIG_HOME", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
    }
    env.update(
        {
            "HOME": str(home),
            "GIT_SSL_CAINFO": github_sim_server.ca_file,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.invalid",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.invalid",
        }
    )
    return env
