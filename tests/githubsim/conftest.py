from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests

from githubsim import GitHubSimulator


@pytest.fixture
def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


@pytest.fixture
def app_jwt(github_sim: GitHubSimulator) -> Callable[..., str]:
    """An App JWT the way GitHub's docs build one (iat 60 s back, exp 10 min ahead); claims overridable."""

    def make(*, key: str | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": str(github_sim.app_id), "iat": now - 60, "exp": now + 600, **overrides}
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key or github_sim.app_private_key_pem, algorithm="RS256")

    return make


@pytest.fixture
def as_app(app_jwt: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {app_jwt()}", "Accept": "application/vnd.github+json"}


@pytest.fixture
def mint(github_sim: GitHubSimulator, http: requests.Session, as_app: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """POST /app/installations/{id}/access_tokens and return the 201 body, once the token works (a client
    waits out GitHub's propagation delay; `wait_until_ready=False` hands the token over at once)."""

    def make(installation_id: int, *, wait_until_ready: bool = True, **body: Any) -> dict[str, Any]:
        response = http.post(
            f"{github_sim.api_url}/app/installations/{installation_id}/access_tokens", headers=as_app, json=body
        )
        assert response.status_code == 201, response.text
        if wait_until_ready:
            time.sleep(max(0.0, github_sim.token_ready_at(response.json()["token"]) - time.time()))
        return dict(response.json())

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
