"""Writes of workspaces and the GitHub App installations they own."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from github_app.client import GitHubApp, Installation, Repository
from workspaces.models import GitHubInstallation, InstallationRepository, Plan, Workspace
from workspaces.selectors import installations_for_account

logger = logging.getLogger(__name__)

DISCOVERY_MEMORY_SECONDS = 60


class WorkspaceError(Exception):
    """A workspace operation that cannot be done; `tag` is stable, the message is a sentence for an operator."""

    tag = "WorkspaceError"


class PlanNotFound(WorkspaceError):
    tag = "PlanNotFound"


class InstallationNotFound(WorkspaceError):
    tag = "InstallationNotFound"


class InstallationLinkedElsewhere(WorkspaceError):
    tag = "InstallationLinkedElsewhere"


def workspace_create(*, name: str, plan_slug: str) -> Workspace:
    name = name.strip()
    if not name:
        raise WorkspaceError("A workspace needs a name.")
    longest = Workspace._meta.get_field("name").max_length or 0
    if len(name) > longest:
        raise WorkspaceError(f"A workspace name has at most {longest} characters.")
    plan = Plan.objects.filter(slug=plan_slug).first()
    if plan is None:
        known = ", ".join(Plan.objects.order_by("slug").values_list("slug", flat=True)) or "none"
        raise PlanNotFound(f"There is no plan {plan_slug!r}; known plans: {known}.")
    return Workspace.objects.create(name=name, plan=plan)


def installation_link(*, workspace: Workspace, installation_github_id: int) -> GitHubInstallation:
    """Reads the installation and its repositories from GitHub as the App and records them for the
    workspace; running it again refreshes both (repositories GitHub no longer lists are forgotten).

    Raises InstallationNotFound, InstallationLinkedElsewhere, or the `github_app.errors.GitHubError` family
    (GitHubUnavailable when GitHub does not answer)."""
    app = GitHubApp.from_settings()
    # GitHub first, outside any transaction: slow I/O never holds a database lock.
    installation = app.installation(installation_github_id)
    if installation is None:
        raise InstallationNotFound(f"GitHub does not know installation {installation_github_id} of this App.")
    repositories: list[Repository] | None = None
    if installation.suspended_at is None:
        # A suspended installation cannot get a token, so GitHub cannot list its repositories:
        # https://docs.github.com/en/apps/maintaining-github-apps/suspending-a-github-app-installation
        # Its rows stay as they were; they come back up to date with the next link after unsuspension.
        repositories = app.installation_repositories(installation_github_id)
    return _installation_record(workspace=workspace, installation=installation, repositories=repositories)


def installation_discover(
    *, workspace: Workspace, full_name: str, app: GitHubApp, before_asking: Callable[[], None] | None = None
) -> GitHubInstallation | None:
    """The workspace's installation that GitHub says covers a repository our records do not list yet
    (they lag behind GitHub until the next link or webhook). Only a repository of one of the
    workspace's own accounts is asked about: another organization's never reaches GitHub.
    `before_asking` runs just before GitHub is asked (not for a remembered answer) and may raise to
    stop the call. Raises the `github_app.errors.GitHubError` family when GitHub cannot answer."""
    installations = installations_for_account(workspace=workspace, account_login=full_name.split("/", 1)[0])
    if not installations:
        return None
    # GitHub's answer is remembered for a minute, a "no" included: made-up names must not let one
    # caller spend the App's rate limit, which every workspace shares.
    key = f"workspaces:discovered:{workspace.pk}:{full_name.lower()}"
    installation_id = cache.get(key)
    if installation_id is None:
        if before_asking is not None:
            before_asking()
        found = app.installation_for_repository(full_name)
        installation_id = found.id if found is not None else 0
        cache.set(key, installation_id, timeout=DISCOVERY_MEMORY_SECONDS)
    return next((row for row in installations if row.github_id == installation_id), None)


# --- What a mint learns from GitHub about the installations it uses ---


def installation_mark_suspended(*, installation_github_id: int) -> None:
    """Records a suspension GitHub reported before our records knew (its webhook may still be on its way)."""
    GitHubInstallation.objects.filter(github_id=installation_github_id, suspended_at__isnull=True).update(
        suspended_at=timezone.now()
    )


def installation_repositories_remember(*, installation: GitHubInstallation, repositories: list[Repository]) -> None:
    """Records repositories GitHub says the installation covers (from a token's own answer) that our
    records lacked; rows we have are left as they are."""
    for repository in repositories:
        InstallationRepository.objects.get_or_create(
            installation=installation, github_id=repository.id, defaults={"full_name": repository.full_name}
        )


def _installation_record(
    *, workspace: Workspace, installation: Installation, repositories: list[Repository] | None
) -> GitHubInstallation:
    fields = {
        "account_login": installation.account_login,
        "account_id": installation.account_id,
        "account_type": installation.account_type,
        "repository_selection": installation.repository_selection,
        "permissions": installation.permissions,
        "suspended_at": parse_datetime(installation.suspended_at) if installation.suspended_at else None,
    }
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                record = _installation_upsert(workspace=workspace, installation=installation, fields=fields)
                if repositories is not None:
                    _repositories_replace(installation=record, repositories=repositories)
        except IntegrityError:
            # Another link of the same installation committed between our read and our insert: its
            # row exists now, so a second pass takes the update path (or refuses another workspace).
            if attempt == 2:
                raise
            continue
        logger.info(
            "Linked installation %s (%s) to workspace %s.",
            installation.id,
            installation.account_login,
            workspace.public_id,
        )
        return record
    raise AssertionError("unreachable")


def _installation_upsert(
    *, workspace: Workspace, installation: Installation, fields: dict[str, object]
) -> GitHubInstallation:
    record = (
        GitHubInstallation.objects.select_for_update()
        .select_related("workspace")
        .filter(github_id=installation.id)
        .first()
    )
    if record is None:
        return GitHubInstallation.objects.create(github_id=installation.id, workspace=workspace, **fields)
    if record.workspace_id != workspace.pk:
        raise InstallationLinkedElsewhere(
            f"Installation {installation.id} ({installation.account_login}) is already linked to workspace "
            f"{record.workspace.public_id}; unlink it there first."
        )
    for name, value in fields.items():
        setattr(record, name, value)
    record.save()
    return record


def _repositories_replace(*, installation: GitHubInstallation, repositories: list[Repository]) -> None:
    """Makes the installation's rows exactly GitHub's list, matched by GitHub id (names change on renames)."""
    wanted = {repository.id: repository.full_name for repository in repositories}
    installation.repositories.exclude(github_id__in=wanted).delete()
    existing = {row.github_id: row for row in installation.repositories.all()}
    for github_id, full_name in wanted.items():
        row = existing.get(github_id)
        if row is None:
            InstallationRepository(installation=installation, github_id=github_id, full_name=full_name).save()
        elif row.full_name != full_name:
            row.full_name = full_name
            row.save()
