"""A workspace on the pro plan with installations at the simulator, and sessions for callers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sts.models import StsSession
from tests.factories import SAMPLE_POLICY, World, caller_claims, policy, session_create, workspace_create
from workspaces.models import Workspace

ADMITS_ACME_APP = SAMPLE_POLICY
ADMITS_OTHER = policy('repository: "acme/somebody-else"')


@pytest.fixture
def world(github_sim: Any, db: None) -> World:
    return World(sim=github_sim, workspace=workspace_create())


@pytest.fixture
def session_for(world: World) -> Callable[..., str]:
    """A session JWT for the caller CALLER (claims overridable), as the exchange would issue it."""

    def issue(workspace: Workspace | None = None, **claims: str) -> str:
        recorded = {} if world.caller_repository_id is None else {"repository_id": str(world.caller_repository_id)}
        return session_create(workspace=workspace or world.workspace, identity=caller_claims(**{**recorded, **claims}))

    return issue


def mint(client: Any, session: str | None, body: Any = None, **extra: Any) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {session}"} if session else {}
    return client.post(
        "/api/v1/sts", data=body if body is not None else {}, content_type="application/json", **headers, **extra
    )


def latest_session() -> StsSession:
    return StsSession.objects.latest("created_at")


def revoke(client: Any, session: str, token: Any) -> Any:
    return client.post(
        "/api/v1/sts/revoke",
        data={"token": token},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {session}",
    )


@pytest.fixture
def two_sources(world: World) -> World:
    """Two admitting sources, of two installations (acme's also covers the caller)."""
    acme = world.installation("acme")
    initech = world.installation("initech")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    world.source("initech/b", initech, ADMITS_ACME_APP)
    return world


@pytest.fixture
def minted(client: Any, world: World, session_for: Callable[..., str]) -> str:
    """A token minted for the caller over acme/a, which the sample policy admits."""
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    [token] = mint(client, session_for(), {"sources": ["acme/a"]}).json()["data"]["tokens"]
    return str(token["token"])
