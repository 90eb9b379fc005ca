"""The one place tests build workspaces, installations, repositories, callers and trust policies.

Records are made as the product makes them: an installation exists at the simulator (GitHub) and in
our records; a repository the workspace knows is one GitHub lists for the installation. Each factory
takes keyword arguments with the values most tests share, so a test names only what matters to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from githubsim.simulator import GitHubSimulator
from sts.sessions import session_issue
from workspaces.models import GitHubInstallation, InstallationRepository, Plan, Workspace

POLICY_PATH = ".atmos/pro/sts/default.yaml"
READ_PERMISSIONS = {"contents": "read", "metadata": "read"}

# The caller's OIDC claims as GitHub Actions sends them for a push to acme/app's main branch.
CALLER: dict[str, str] = {
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


def caller_claims(**claims: str) -> dict[str, str]:
    """The sample caller's claims with `claims` changed or added."""
    return {**CALLER, **claims}


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


# The sample policy: it admits the sample caller (acme/app, any branch).
SAMPLE_POLICY = policy('repository: "acme/app"', 'ref: "refs/heads/*"')


# The trust-policy specification's example, verbatim: acme's branches, and acme's tagged reusable workflows.
SPEC_EXAMPLE_POLICY = """\
# yaml-language-server: $schema=https://atmos-pro.com/schemas/v1alpha1/trust-policy.json
apiVersion: atmos-pro.com/v1alpha1
kind: TrustPolicy
metadata:
  name: default
spec:
  rules:
    - match:
        repository_owner: "acme"          # glob
        ref: "refs/heads/*"               # glob
      permissions:
        contents: read
    - match:
        job_workflow_ref: { regex: "acme/workflows/\\\\.github/workflows/[a-z-]+\\\\.yml@refs/tags/v[0-9]+" }
"""


def workspace_create(*, name: str = "Acme", plan: str | Plan = "pro") -> Workspace:
    """A workspace on `plan` (a plan's slug, or the plan itself)."""
    plan_row = plan if isinstance(plan, Plan) else Plan.objects.get(slug=plan)
    return Workspace.objects.create(name=name, plan=plan_row)


def installation_record(
    *,
    workspace: Workspace,
    github_id: int,
    account: str = "acme",
    account_id: int | None = None,
    account_type: str = "Organization",
    repository_selection: str = "selected",
    permissions: dict[str, str] | None = None,
) -> GitHubInstallation:
    """Our record of an installation only (GitHub may know it or not): the link a workspace holds."""
    return GitHubInstallation.objects.create(
        github_id=github_id,
        workspace=workspace,
        account_login=account,
        account_id=github_id + 10_000 if account_id is None else account_id,
        account_type=account_type,
        repository_selection=repository_selection,
        permissions=READ_PERMISSIONS if permissions is None else permissions,
    )


def installation_create(
    *, sim: GitHubSimulator, workspace: Workspace, account: str = "acme", permissions: dict[str, str] | None = None
) -> GitHubInstallation:
    """An installation of the App on `account`, at the simulator and in our records, with its account id."""
    github_id = sim.add_installation(account, permissions=permissions)
    return installation_record(
        workspace=workspace,
        github_id=github_id,
        account=account,
        account_id=sim.installations[github_id].account.id,
        permissions=permissions,
    )


def repository_record(*, installation: GitHubInstallation, github_id: int, full_name: str) -> InstallationRepository:
    """Our record that `installation` covers the repository."""
    return InstallationRepository.objects.create(installation=installation, github_id=github_id, full_name=full_name)


def repository_create(
    *,
    sim: GitHubSimulator,
    installation: GitHubInstallation,
    full_name: str,
    files: dict[str, str] | None = None,
    at_github: bool = True,
    recorded: bool = True,
) -> int:
    """A repository at the simulator (covered by `installation` there unless `at_github` is false) and,
    when `recorded`, in our records; returns its GitHub id."""
    github_id = sim.add_repository(
        full_name, installation_id=installation.github_id if at_github else None, files=files or {}
    )
    if recorded:
        repository_record(installation=installation, github_id=github_id, full_name=full_name)
    return github_id


def session_create(*, workspace: Workspace, identity: dict[str, str], request_id: str = "req_test") -> str:
    """A session JWT for `identity`, as the exchange issues it."""
    token, _ = session_issue(workspace=workspace, identity=identity, request_id=request_id)
    return token


@dataclass
class World:
    """A workspace with its simulator; its methods add installations, the caller and sources to both."""

    sim: Any
    workspace: Workspace
    caller_repository_id: int | None = None

    def installation(self, account: str, *, permissions: dict[str, str] | None = None) -> GitHubInstallation:
        """An installation at the simulator and in our records; the caller's own account's installation
        also covers the caller's repository, as it must for the caller to mint."""
        github_id = self.sim.add_installation(account, permissions=permissions)
        installation = installation_record(
            workspace=self.workspace, github_id=github_id, account=account, permissions=permissions
        )
        if account == CALLER["repository_owner"]:
            self.caller(installation)
        return installation

    def caller(self, installation: GitHubInstallation, *, at_github: bool = True) -> int:
        """The caller's repository, covered by `installation`; sessions name it by its GitHub id."""
        github_id = repository_create(
            sim=self.sim, installation=installation, full_name=CALLER["repository"], at_github=at_github
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
        return repository_create(
            sim=self.sim, installation=installation, full_name=full_name, files=files, recorded=recorded
        )

    def source(self, full_name: str, installation: GitHubInstallation, policy_text: str | None, **kwargs: Any) -> int:
        files = {} if policy_text is None else {POLICY_PATH: policy_text}
        return self.repository(full_name, installation, files=files, **kwargs)


@dataclass
class Acme:
    """A workspace that installed the App on "acme", covering acme/app, at the simulator and in our records."""

    sim: GitHubSimulator
    workspace: Workspace
    installation: GitHubInstallation
    repository_id: int

    def token(self, **options: Any) -> str:
        return self.sim.actions_token(**options)


def acme_create(sim: GitHubSimulator) -> Acme:
    workspace = workspace_create()
    installation = installation_create(sim=sim, workspace=workspace)
    repository_id = repository_create(sim=sim, installation=installation, full_name="acme/app")
    return Acme(sim=sim, workspace=workspace, installation=installation, repository_id=repository_id)
