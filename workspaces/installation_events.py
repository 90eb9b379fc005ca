"""What GitHub's webhooks tell about the installations workspaces own, applied to our records.

Each service changes only installations a workspace already owns (an installation reaches a
workspace through `workspaces.services.installation_link`), returns None for any other, and writes
one audit event per change, in the change's own transaction. Each is idempotent: the same event
applied twice leaves the same records.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent
from audit.services import audit_record
from github_app.client import Installation, Repository
from github_app.webhooks import InstallationEvent, InstallationRepositoriesEvent
from workspaces.models import GitHubInstallation, InstallationRepository
from workspaces.services import installation_link

WEBHOOK_ACTOR = {"actor": "github", "actor_kind": "webhook"}
AUDITED_NAMES_AT_MOST = 100  # an event lists this many repository names; the count says how many changed
_BATCH = 500  # rows per statement: SQLite limits the parameters of one statement

_INSTALLATION_ACTIONS = {
    "created": AuditEvent.Action.INSTALLATION_CREATED,
    "deleted": AuditEvent.Action.INSTALLATION_DELETED,
    "suspend": AuditEvent.Action.INSTALLATION_SUSPENDED,
    "unsuspend": AuditEvent.Action.INSTALLATION_UNSUSPENDED,
    "new_permissions_accepted": AuditEvent.Action.INSTALLATION_PERMISSIONS_ACCEPTED,
}


def installation_event_apply(*, event: InstallationEvent, request_id: str) -> GitHubInstallation | None:
    """Brings an owned installation's record to what an `installation` event says. A suspended one
    mints nothing (the mint reads `suspended_at`, no GitHub call); a deleted one's record and its
    repositories are removed, so it mints nothing either."""
    facts = event.installation
    with transaction.atomic():
        record = _owned_installation(facts.id)
        if record is None:
            return None
        old = {"suspended": record.is_suspended, "permissions": record.permissions}
        if event.action == "deleted":
            record.delete()
        else:
            _installation_facts_set(record, facts=facts, action=event.action)
            record.save()
            if event.repositories is not None:
                _repositories_replace(installation=record, repositories=event.repositories)
        new = (
            None if event.action == "deleted" else {"suspended": record.is_suspended, "permissions": record.permissions}
        )
        installation_event_record(
            action=_INSTALLATION_ACTIONS[event.action],
            installation=record,
            request_id=request_id,
            detail={"old": old, "new": new},
        )
    return record


def installation_repositories_event_apply(
    *, event: InstallationRepositoriesEvent, request_id: str
) -> GitHubInstallation | None:
    """Adds and removes an owned installation's repositories as an `installation_repositories` event says."""
    with transaction.atomic():
        record = _owned_installation(event.installation.id)
        if record is None:
            return None
        removed = {repository.id for repository in event.removed}
        _rows_delete(installation=record, github_ids=removed)
        added = [repository for repository in event.added if repository.id not in removed]
        _rows_upsert(installation=record, repositories=added)
        installation_event_record(
            action=AuditEvent.Action.INSTALLATION_REPOSITORIES_CHANGED,
            installation=record,
            request_id=request_id,
            detail={
                "added": [repository.full_name for repository in added[:AUDITED_NAMES_AT_MOST]],
                "added_count": len(added),
                "removed": [repository.full_name for repository in event.removed[:AUDITED_NAMES_AT_MOST]],
                "removed_count": len(removed),
            },
        )
    return record


def installation_repository_moved(*, repository: Repository, request_id: str) -> list[str]:
    """Records a repository's name after a rename or a transfer, matched by GitHub id (which both
    keep); a transfer to another account also takes it out of the installations of the old one (an
    installation covers its own account's repositories only). Returns every name the repository had
    in our records, and its new one, when our records know it; an empty list otherwise."""
    owner = repository.full_name.split("/", 1)[0].lower()
    with transaction.atomic():
        rows = list(
            InstallationRepository.objects.select_for_update()
            .select_related("installation__workspace")
            .filter(github_id=repository.id)
        )
        known = {row.full_name for row in rows}
        for row in rows:
            old_name = row.full_name
            if row.installation.account_login.lower() != owner:
                row.delete()
            elif old_name != repository.full_name:
                row.full_name = repository.full_name
                row.save()
            else:
                continue
            installation_event_record(
                action=AuditEvent.Action.INSTALLATION_REPOSITORY_MOVED,
                installation=row.installation,
                request_id=request_id,
                detail={"repository_id": repository.id, "old": old_name, "new": repository.full_name},
            )
    if not rows:
        return []
    return sorted(known | {repository.full_name})


def installation_owner_of_repository(*, repository_id: int, installation_id: int | None) -> GitHubInstallation | None:
    """The owned installation covering a repository (by GitHub id), that of `installation_id` when given."""
    rows = InstallationRepository.objects.select_related("installation__workspace").filter(github_id=repository_id)
    if installation_id is not None:
        rows = rows.filter(installation__github_id=installation_id)
    row = rows.first()
    return row.installation if row is not None else None


def installation_event_record(
    *, action: str, installation: GitHubInstallation, request_id: str, detail: dict[str, Any]
) -> None:
    """The audit event of a change GitHub told us about an owned installation, in its workspace's chain."""
    audit_record(
        action=action,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id=request_id,
        workspace_public_id=installation.workspace.public_id,
        identity=WEBHOOK_ACTOR,
        detail={"installation_id": installation.github_id, "account": installation.account_login, **detail},
    )


def _owned_installation(github_id: int) -> GitHubInstallation | None:
    return (
        GitHubInstallation.objects.select_for_update().select_related("workspace").filter(github_id=github_id).first()
    )


def _installation_facts_set(record: GitHubInstallation, *, facts: Installation, action: str) -> None:
    record.account_login = facts.account_login
    record.account_id = facts.account_id
    record.account_type = facts.account_type
    record.repository_selection = facts.repository_selection
    record.permissions = facts.permissions
    if action == "suspend" and record.suspended_at is None:
        record.suspended_at = (parse_datetime(facts.suspended_at) if facts.suspended_at else None) or timezone.now()
    elif action == "unsuspend":
        record.suspended_at = None


def _repositories_replace(*, installation: GitHubInstallation, repositories: tuple[Repository, ...]) -> None:
    """Makes the installation's rows exactly the event's list, matched by GitHub id."""
    wanted = {repository.id for repository in repositories}
    stale = set(installation.repositories.values_list("github_id", flat=True)) - wanted
    _rows_delete(installation=installation, github_ids=stale)
    _rows_upsert(installation=installation, repositories=list(repositories))


def _rows_delete(*, installation: GitHubInstallation, github_ids: set[int]) -> None:
    ids = sorted(github_ids)
    for start in range(0, len(ids), _BATCH):
        installation.repositories.filter(github_id__in=ids[start : start + _BATCH]).delete()


def _rows_upsert(*, installation: GitHubInstallation, repositories: list[Repository]) -> None:
    """Rows for repositories, matched by GitHub id; a known one takes its new name."""
    existing = {row.github_id: row for row in installation.repositories.all()}
    fresh: dict[int, InstallationRepository] = {}
    for repository in repositories:
        row = existing.get(repository.id)
        if row is None:
            fresh[repository.id] = InstallationRepository(
                installation=installation,
                github_id=repository.id,
                full_name=repository.full_name,
                full_name_key=repository.full_name.lower(),  # bulk_create does not call save(), which sets it
            )
        elif row.full_name != repository.full_name:
            row.full_name = repository.full_name
            row.save()
    InstallationRepository.objects.bulk_create(fresh.values(), batch_size=_BATCH, ignore_conflicts=True)


def installation_reconcile(*, installation: GitHubInstallation, request_id: str) -> bool:
    """Re-reads an owned installation and its repositories from GitHub and records them, repairing
    what a lost webhook missed; a difference is one audit event. Returns whether anything changed.
    Raises InstallationNotFound and the `github_app.errors.GitHubError` family as `installation_link` does."""
    before = _snapshot(installation)
    record = installation_link(workspace=installation.workspace, installation_github_id=installation.github_id)
    after = _snapshot(record)
    if before == after:
        return False
    old_repositories, new_repositories = set(before.pop("repositories")), set(after.pop("repositories"))
    installation_event_record(
        action=AuditEvent.Action.INSTALLATION_RECONCILED,
        installation=record,
        request_id=request_id,
        detail={
            "old": before,
            "new": after,
            "added": sorted(name for _, name in new_repositories - old_repositories)[:AUDITED_NAMES_AT_MOST],
            "removed": sorted(name for _, name in old_repositories - new_repositories)[:AUDITED_NAMES_AT_MOST],
        },
    )
    return True


def _snapshot(installation: GitHubInstallation) -> dict[str, Any]:
    fresh = GitHubInstallation.objects.get(pk=installation.pk)
    return {
        "suspended": fresh.is_suspended,
        "permissions": fresh.permissions,
        "repository_selection": fresh.repository_selection,
        "repositories": sorted(fresh.repositories.values_list("github_id", "full_name")),
    }
