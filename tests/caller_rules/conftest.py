"""A workspace, the claims of a caller as its session holds them, and the people who change the rules."""

from __future__ import annotations

import pytest

from workspaces.models import Plan, Workspace
from workspaces.services import Actor

ADMIN = Actor("ada", "member")

CALLER = {
    "sub": "repo:acme/app:ref:refs/heads/main",
    "repository": "acme/app",
    "repository_id": "1001",
    "repository_owner": "acme",
    "repository_owner_id": "501",
    "ref": "refs/heads/main",
    "ref_type": "branch",
    "ref_protected": "true",
    "environment": "staging",
    "workflow_ref": "acme/app/.github/workflows/deploy.yml@refs/heads/main",
    "job_workflow_ref": "acme/app/.github/workflows/deploy.yml@refs/heads/main",
    "event_name": "push",
    "actor": "octocat",
    "run_id": "777",
}


def caller(**claims: str) -> dict[str, str]:
    return {**CALLER, **claims}


@pytest.fixture
def workspace(db: None) -> Workspace:
    return Workspace.objects.create(name="Acme", plan=Plan.objects.get(slug="pro"))
