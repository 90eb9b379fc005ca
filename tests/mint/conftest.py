"""A workspace on the pro plan with installations at the simulator, and sessions for callers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sts.models import StsSession
from sts.sessions import session_issue
from workspaces.models import GitHubInstallation, InstallationRepository, Plan, Workspace

CALLER = {
    "sub": "repo:acme/app:ref:refs/heads/main",
    "repository": "acme/app",
    "repository_id": "1001",
    "repository_owner": "acme",
    "repository_owner_id": "501",
    "repository_visibility": "private",
    "ref": "refs/heads/main",
    "ref_type": "branch",
    "ref_protected": "true",
    "sha": "a" * 40,
    "actor": "octocat",
    "actor_id": "9",
    "workflow": "deploy",
    "workflow_ref": "acme/app/.github/workflows/deploy.yml@refs/heads/main",
    "job_workflow_ref": "acme/app/.github/workflows/deploy.yml@refs/heads/main",
    "event_name": "push",
    "run_id": "777",
    "run_number": "12",
    "run_attempt": "1",
    "runner_environment": "github-hosted",
}


def policy(*match_lines: str, permissions: str = "", name: str = "default") -> str:
    """A trust policy whose single rule matches on `match_lines` (YAML `claim: value` lines)."""
    match = "\n".join(f"        {line}" for line in match_lines)
    return (
        "apiVersion: atmos-pro.com/v1alpha1\n"
        "kind: TrustPolicy\n"
        f"metadata:\n  name: {name}\n"
        "spec:\n  rules:\n    - match:\n"
        f"{match}\n" + (f"      permissions:\n{permissions}" if permissions else "")
    )


ADMITS_ACME_APP = policy('repository: "acme/app"', 'ref: "refs/heads/*"')
ADMITS_OTHER = policy('repository: "acme/somebody-else"')


@dataclass
class World:
    sim: Any
    workspace: Workspace
    caller_repository_id: int | None = None

    def installation(self, account: str, *, permissions: dict[str, str] | None = None) -> GitHubInstallation:
        """An installation at the simulator and in our records; the caller's own account's installation
        also covers the caller's repository, as it must for the caller to mint."""
        github_id = self.sim.add_installation(account, permissions=permissions)
        installation = GitHubInstallation.objects.create(
            github_id=github_id,
            workspace=self.workspace,
            account_login=account,
            account_id=github_id + 10_000,
            account_type="Organization",
            repository_selection="selected",
            permissions=permissions or {"contents": "read", "metadata": "read"},
        )
        if account == CALLER["repository_owner"]:
            self.caller(installation)
        return installation

    def caller(self, installation: GitHubInstallation, *, at_github: bool = True) -> int:
        """The caller's repository, covered by `installation`; sessions name it by its GitHub id."""
        github_id = self.sim.add_repository(
            CALLER["repository"], installation_id=installation.github_id if at_github else None
        )
        InstallationRepository.objects.create(
            installation=installation, github_id=github_id, full_name=CALLER["repository"]
        )
        self.caller_repository_id = github_id
        return github_id

    def repository(
        self,
        full_name: str,
        installation: GitHubInstallation,
        *,
        files: dict[str, str] | None = None,
        recorded: bool = True,
    ) -> int:
        github_id = self.sim.add_repository(full_name, installation_id=installation.github_id, files=files or {})
        if recorded:
            InstallationRepository.objects.create(installation=installation, github_id=github_id, full_name=full_name)
        return github_id

    def source(self, full_name: str, installation: GitHubInstallation, policy_text: str | None, **kwargs: Any) -> int:
        files = {} if policy_text is None else {".atmos/pro/sts/default.yaml": policy_text}
        return self.repository(full_name, installation, files=files, **kwargs)


@pytest.fixture
def world(github_sim: Any, db: None) -> World:
    workspace = Workspace.objects.create(name="Acme", plan=Plan.objects.get(slug="pro"))
    return World(sim=github_sim, workspace=workspace)


@pytest.fixture
def session_for(world: World) -> Callable[..., str]:
    """A session JWT for the caller CALLER (claims overridable), as the exchange would issue it."""

    def issue(workspace: Workspace | None = None, **claims: str) -> str:
        recorded = {} if world.caller_repository_id is None else {"repository_id": str(world.caller_repository_id)}
        token, _ = session_issue(
            workspace=workspace or world.workspace, identity={**CALLER, **recorded, **claims}, request_id="req_test"
        )
        return token

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
