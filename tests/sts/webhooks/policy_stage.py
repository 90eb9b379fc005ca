"""A source repository at the simulator whose installation (with `checks: write`) a workspace owns, and
the push and pull-request deliveries GitHub would send about it, sent through the receiver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from githubsim import GitHubSimulator
from githubsim.state import CheckRun
from workspaces.models import GitHubInstallation

from .conftest import Sender, owned_installation, push_payload

CHECK_PERMISSIONS = {"contents": "read", "checks": "write", "metadata": "read"}
FULL_NAME = "acme/modules"


def bad_policy(bad_claims: int, *, name: str = "default") -> str:
    """A policy whose rules each name a claim GitHub does not issue: one problem per rule, at the line
    of its claim (line 8 + 2 * i)."""
    rules = "".join(f'    - match:\n        reff{i}: "x"\n' for i in range(bad_claims))
    return f"apiVersion: atmos-pro.com/v1alpha1\nkind: TrustPolicy\nmetadata:\n  name: {name}\nspec:\n  rules:\n{rules}"


@dataclass
class Stage:
    sim: GitHubSimulator
    sender: Sender
    installation: GitHubInstallation
    repository_id: int

    @property
    def head(self) -> str:
        return str(self.sim.repositories[FULL_NAME].git.resolve("main"))

    def commit(self, files: dict[str, str], *, branch: str = "") -> str:
        """Commits files (without a webhook: the test sends the delivery); returns the new head."""
        for path, text in files.items():
            self.sim.put_file(FULL_NAME, path, text, branch=branch)
        return str(self.sim.repositories[FULL_NAME].git.resolve(branch or "main"))

    def push(self, paths: list[str], *, after: str, removed: list[str] | None = None, **extra: Any) -> Any:
        payload = push_payload(
            installation_id=self.installation.github_id,
            repository_id=self.repository_id,
            full_name=FULL_NAME,
            paths=paths,
            after=after,
            **extra,
        )
        if removed:
            payload["commits"][0]["removed"] = removed
        return self.sender.send("push", payload)

    def pull_request(self, number: int, *, head_sha: str, action: str = "opened") -> Any:
        repository = {"id": self.repository_id, "full_name": FULL_NAME, "name": "modules"}
        payload = {
            "action": action,
            "number": number,
            "pull_request": {"number": number, "head": {"sha": head_sha, "ref": "feature"}},
            "repository": repository,
            "installation": {"id": self.installation.github_id},
        }
        return self.sender.send("pull_request", payload)

    def runs(self) -> list[CheckRun]:
        return sorted(self.sim.check_runs.values(), key=lambda run: run.id)


def stage_create(sim: GitHubSimulator, sender: Sender, *, permissions: dict[str, str] | None = None) -> Stage:
    installation_id = sim.add_installation("acme", permissions=permissions or CHECK_PERMISSIONS)
    repository_id = sim.add_repository(FULL_NAME, installation_id=installation_id)
    installation = owned_installation(installation_id, account="acme", repositories={repository_id: FULL_NAME})
    return Stage(sim=sim, sender=sender, installation=installation, repository_id=repository_id)
