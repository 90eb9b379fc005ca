"""A workspace that installed the GitHub App on "acme" (with acme/app), at the simulator and in our database."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from githubsim.simulator import GitHubSimulator
from workspaces.models import GitHubInstallation, InstallationRepository, Plan, Workspace

EXCHANGE_URL = "/api/v1/auth/github-oidc"


@pytest.fixture(autouse=True)
def _private_cache(settings: Any, tmp_path: Path) -> None:
    """A file cache of this test's own: the key-set cache and the throttle counts start empty, and no
    other test run on this machine (which may clear var/cache at any moment) can disturb them."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
            "KEY_PREFIX": settings.DEPLOYMENT_CACHE_PREFIX,
        }
    }


@dataclass
class Acme:
    sim: GitHubSimulator
    workspace: Workspace
    installation: GitHubInstallation
    repository_id: int

    def token(self, **options: Any) -> str:
        return self.sim.actions_token(**options)


def acme_world(sim: GitHubSimulator) -> Acme:
    installation_id = sim.add_installation("acme")
    repository_id = sim.add_repository("acme/app", installation_id=installation_id)
    plan = Plan.objects.get(slug="pro")
    workspace = Workspace.objects.create(name="Acme", plan=plan)
    installation = GitHubInstallation.objects.create(
        github_id=installation_id,
        workspace=workspace,
        account_login="acme",
        account_id=sim.installations[installation_id].account.id,
        account_type="Organization",
        repository_selection="selected",
        permissions={"contents": "read", "metadata": "read"},
    )
    InstallationRepository.objects.create(installation=installation, github_id=repository_id, full_name="acme/app")
    return Acme(sim=sim, workspace=workspace, installation=installation, repository_id=repository_id)


@pytest.fixture
def acme(github_sim: GitHubSimulator, db: None) -> Acme:
    return acme_world(github_sim)


def exchange(
    client: Client, body: Any, *, content_type: str = "application/json", raw: bytes | None = None, **extra: Any
) -> Any:
    """POST to the exchange as the Atmos CLI does; the response's JSON is on ``.json()``."""
    data = raw if raw is not None else json.dumps(body)
    return client.post(EXCHANGE_URL, data=data, content_type=content_type, **extra)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value).encode())


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return _unb64(header), _unb64(payload), signature


def _unb64(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


TokenFactory = Callable[[Acme], str]
