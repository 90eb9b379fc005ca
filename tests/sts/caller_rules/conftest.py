"""A workspace, the claims of a caller as its session holds them, and the people who change the rules."""

from __future__ import annotations

import pytest

from tests.factories import caller_claims, workspace_create
from workspaces.models import Workspace
from workspaces.services import Actor

ADMIN = Actor("ada", "member")


def caller(**claims: str) -> dict[str, str]:
    """The sample caller, deploying to its staging environment, with `claims` changed or added."""
    return caller_claims(**{"environment": "staging", **claims})


@pytest.fixture
def workspace(db: None) -> Workspace:
    return workspace_create()
