"""Reads of workspaces and the GitHub installations they own."""

from __future__ import annotations

from workspaces.models import GitHubInstallation, InstallationRepository, Workspace


def workspace_by_public_id(public_id: str) -> Workspace | None:
    return Workspace.objects.select_related("plan").filter(public_id=public_id).first()


def installed_repository(
    *, workspace: Workspace, full_name: str, github_id: int | None = None
) -> InstallationRepository | None:
    """The workspace's record of a repository, by GitHub id when known (it survives renames), else by
    name compared without regard to case, as GitHub compares it."""
    rows = InstallationRepository.objects.select_related("installation").filter(installation__workspace=workspace)
    if github_id is not None:
        found = rows.filter(github_id=github_id).first()
        if found is not None:
            return found
    return rows.filter(full_name_key=full_name.lower()).first()


def installations_for_account(*, workspace: Workspace, account_login: str) -> list[GitHubInstallation]:
    return list(workspace.installations.filter(account_login__iexact=account_login))
