"""GitHub's JSON shapes of the simulator's objects, shared by the REST API and the webhook payloads."""

from __future__ import annotations

import base64
from typing import Any

from githubsim.state import Installation, Repository, SimulatorState, iso


def installation_json(sim: SimulatorState, installation: Installation) -> dict[str, Any]:
    api = sim.api_url
    suspended = installation.suspended_at
    return {
        "id": installation.id,
        "client_id": sim.client_id,
        "account": installation.account.as_json(api),
        "repository_selection": installation.repository_selection,
        "access_tokens_url": f"{api}/app/installations/{installation.id}/access_tokens",
        "repositories_url": f"{api}/installation/repositories",
        "html_url": f"https://github.com/organizations/{installation.account.login}/settings/installations/{installation.id}",
        "app_id": sim.app_id,
        "app_slug": sim.app_slug,
        "target_id": installation.account.id,
        "target_type": installation.account.type,
        "permissions": dict(installation.permissions),
        "events": ["push"],
        "created_at": iso(installation.created_at),
        "updated_at": iso(installation.created_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": {"login": "octocat", "id": 583231, "type": "User"} if suspended else None,
        "suspended_at": iso(suspended) if suspended else None,
    }


def repository_json(sim: SimulatorState, repo: Repository) -> dict[str, Any]:
    api = sim.api_url
    return {
        "id": repo.id,
        "node_id": base64.b64encode(f"010:Repository{repo.id}".encode()).decode(),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "visibility": "private" if repo.private else "public",
        "owner": repo.owner.as_json(api),
        "html_url": f"https://github.com/{repo.full_name}",
        "description": None,
        "fork": False,
        "url": f"{api}/repos/{repo.full_name}",
        "contents_url": f"{api}/repos/{repo.full_name}/contents/{{+path}}",
        "clone_url": f"{sim.git_base_url}/{repo.full_name}.git",
        "default_branch": repo.default_branch,
        "archived": False,
        "disabled": False,
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.created_at),
        "pushed_at": iso(repo.created_at),
    }
