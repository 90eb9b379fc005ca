"""The policy-name index: which repositories of an installation hold which policy files on their default
branch, with each file's last validation, so a mint without `sources` reads only the repositories that
hold the policy it asks for.

Kept current three ways: a push to the default branch updates it in the delivery's own transaction (so
the very next mint sees a policy pushed a moment ago); the push's check fills in each file's blob and
validation; the hourly reconciliation lists the folder of every repository once and marks the
installation's index complete. Until an installation's index is complete the mint reads as it did
without one. Every entry added, changed or removed is an audit event (`pro.atmos.policy.*`) in the
workspace's chain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from audit.models import AuditEvent
from github_app.client import GitHubApp
from github_app.errors import GitHubError, GitHubFileTooLarge, GitHubRateLimited, GitHubUnavailable
from github_app.repository_checks import directory_list
from sts.models import PolicyIndexEntry, PolicyIndexScan
from sts.policy.names import policy_name_of_path, policy_path
from sts.policy.vocabulary import POLICY_DIRECTORY
from sts.policy_check_report import FileVerdict, file_verdict
from sts.policy_store import TOO_LARGE, PolicyFile, policy_file_of
from workspaces.installation_events import installation_event_record
from workspaces.models import GitHubInstallation, InstallationRepository

logger = logging.getLogger(__name__)

PROBLEMS_KEPT = 3
# A push naming more policy files than this has the installation's folders listed again instead: one
# delivery never writes thousands of index rows and audit events.
MAX_POLICIES_PER_PUSH = 100


def policy_index_push(
    *,
    installation: GitHubInstallation,
    repository_id: int,
    full_name: str,
    paths: Iterable[str],
    removed: Iterable[str],
    request_id: str,
) -> bool:
    """What a push to the default branch says of the policy folder, recorded at once: a file added or
    modified is held (its validation unknown until its check reads it), a file removed is not. A push
    naming more than MAX_POLICIES_PER_PUSH policy files, or replacing the folder, is not recorded file by
    file: the installation's index is marked incomplete instead, and False returned (the caller has it
    scanned)."""
    gone, paths = set(removed), set(paths)
    named = sorted({(path, name) for path in paths if (name := policy_name_of_path(path)) is not None})
    parts = POLICY_DIRECTORY.split("/")
    replaced = any("/".join(parts[:depth]) in paths for depth in range(1, len(parts) + 1))
    if len(named) > MAX_POLICIES_PER_PUSH or replaced:
        # Too many to record one by one, or the folder (or one above it) replaced by a file or a link.
        policy_index_incomplete(installation=installation)
        return False
    now = timezone.now()
    with transaction.atomic():
        for path, name in named:
            entry = _entries(installation, repository_id).filter(policy_name=name).first()
            if path in gone:
                if entry is not None:
                    _remove(entry, via="push", request_id=request_id)
                continue
            if entry is None:
                entry = PolicyIndexEntry(
                    installation=installation, repository_github_id=repository_id, policy_name=name
                )
            action = AuditEvent.Action.POLICY_ADDED if entry.pk is None else AuditEvent.Action.POLICY_CHANGED
            entry.full_name, entry.changed_at = full_name, now
            entry.blob_sha, entry.valid, entry.validated_at = "", None, None
            entry.save()
            _audit(action, entry, via="push", request_id=request_id)
    return True


def policy_index_verdicts(
    *, installation: GitHubInstallation, repository_id: int, full_name: str, verdicts: Sequence[FileVerdict]
) -> None:
    """Each file's blob and validation, as a check of the default branch's head found them."""
    now = timezone.now()
    for verdict in verdicts:
        if verdict.state == "removed":
            continue
        _entries(installation, repository_id).filter(policy_name=verdict.policy_name).update(
            full_name=full_name, **_validation(verdict), validated_at=now
        )


def policy_index_scan_installation(*, installation_pk: int, request_id: str) -> int:
    """`policy_index_scan` of one installation row, for the tasks: a suspended installation is not read
    (GitHub refuses it); GitHub refusing it otherwise (gone, our credentials) leaves the index incomplete,
    so mints read as without it and the hourly reconciliation tries again. GitHub failing or limiting us
    raises, for the task's retry. Returns how many entries changed."""
    installation = GitHubInstallation.objects.select_related("workspace").filter(pk=installation_pk).first()
    if installation is None or installation.is_suspended:
        return 0
    try:
        return policy_index_scan(installation=installation, app=GitHubApp.from_settings(), request_id=request_id)
    except (GitHubRateLimited, GitHubUnavailable):
        raise
    except GitHubError as error:
        logger.warning("Policy index of installation %s not scanned: %s", installation.github_id, type(error).__name__)
        return 0


def policy_index_scan(*, installation: GitHubInstallation, app: GitHubApp, request_id: str) -> int:
    """Lists the policy folder of every repository of the installation (one request each), brings the
    index to what it holds, validates the files whose blob it has not validated, and marks the
    installation's index complete. Raises the `GitHubError` family (nothing is marked complete then).
    Returns how many entries changed."""
    allow_write = installation.workspace.write_tokens_allowed()
    repositories = list(installation.repositories.order_by("github_id").values_list("github_id", "full_name"))
    changed = 0
    for repository_id, full_name in repositories:
        listing = directory_list(
            app,
            installation_id=installation.github_id,
            full_name=full_name,
            repository_id=repository_id,
            path=POLICY_DIRECTORY,
        )
        held = {
            name: entry.sha
            for entry in listing or []
            if (name := policy_name_of_path(entry.path)) is not None and entry.kind in ("file", "symlink")
        }
        changed += _repository_replace(
            installation=installation,
            repository_id=repository_id,
            full_name=full_name,
            held=held,
            request_id=request_id,
        )
        _validate_unvalidated(installation=installation, repository_id=repository_id, app=app, allow_write=allow_write)
    with transaction.atomic():
        known = set(installation.repositories.values_list("github_id", flat=True))
        for entry in PolicyIndexEntry.objects.filter(installation=installation).exclude(repository_github_id__in=known):
            _remove(entry, via="scan", request_id=request_id)  # the repository left the installation
            changed += 1
        PolicyIndexScan.objects.update_or_create(
            installation=installation, defaults={"complete": True, "scanned_at": timezone.now()}
        )
    return changed


def policy_index_repositories_left(
    *, installation: GitHubInstallation, repository_ids: Iterable[int], request_id: str
) -> None:
    """Repositories removed from the installation (or moved away): their entries go, each audited."""
    entries = PolicyIndexEntry.objects.filter(installation=installation, repository_github_id__in=list(repository_ids))
    for entry in entries:
        _remove(entry, via="repository left the installation", request_id=request_id)


def policy_index_repository_moved(*, repository_id: int, full_name: str, request_id: str) -> None:
    """A repository renamed or transferred: its entries take the new name (the index keys on its GitHub
    id, which stays), and go where a transfer took it out of the installation."""
    entries = PolicyIndexEntry.objects.filter(repository_github_id=repository_id).select_related("installation")
    for entry in entries:
        if entry.installation.repositories.filter(github_id=repository_id).exists():
            PolicyIndexEntry.objects.filter(pk=entry.pk).update(full_name=full_name)
        else:
            _remove(entry, via="repository left the installation", request_id=request_id)


def policy_index_incomplete(*, installation: GitHubInstallation) -> None:
    """The index may miss a policy (a repository added, a push that cannot show what it changed) until
    the next full scan: a mint without `sources` reads as if there were no index meanwhile."""
    PolicyIndexScan.objects.update_or_create(installation=installation, defaults={"complete": False})


def repositories_holding(
    rows: QuerySet[InstallationRepository], *, policy_name: str
) -> QuerySet[InstallationRepository]:
    """Of `rows`, those a mint without `sources` must read for `policy_name`: the ones the index says hold
    it, and every one of an installation whose index is not known complete."""
    held = PolicyIndexEntry.objects.filter(
        installation=OuterRef("installation"), repository_github_id=OuterRef("github_id"), policy_name=policy_name
    )
    complete = PolicyIndexScan.objects.filter(installation=OuterRef("installation"), complete=True)
    return rows.filter(Q(Exists(held)) | ~Q(Exists(complete)))


def policy_index_of(*, workspace_pk: int) -> QuerySet[PolicyIndexEntry]:
    """Every indexed policy file of a workspace, by repository and name."""
    return PolicyIndexEntry.objects.filter(installation__workspace_id=workspace_pk).order_by("full_name", "policy_name")


def _repository_replace(
    *,
    installation: GitHubInstallation,
    repository_id: int,
    full_name: str,
    held: dict[str, str],
    request_id: str,
) -> int:
    changed = 0
    now = timezone.now()
    with transaction.atomic():
        entries = {entry.policy_name: entry for entry in _entries(installation, repository_id).select_for_update()}
        for name, entry in entries.items():
            if name not in held:
                _remove(entry, via="scan", request_id=request_id)
                changed += 1
        for name, sha in sorted(held.items()):
            known = entries.get(name)
            if known is not None and known.blob_sha == sha and known.full_name == full_name:
                continue
            if known is not None and known.blob_sha in ("", sha):
                # Only the blob we had not read yet, or a new name: no change of the policy itself.
                known.blob_sha, known.full_name = sha, full_name
                known.save(update_fields=["blob_sha", "full_name"])
                continue
            action = AuditEvent.Action.POLICY_ADDED if known is None else AuditEvent.Action.POLICY_CHANGED
            entry = known or PolicyIndexEntry(
                installation=installation, repository_github_id=repository_id, policy_name=name
            )
            entry.full_name, entry.blob_sha, entry.changed_at = full_name, sha, now
            entry.valid, entry.validated_at = None, None
            entry.save()
            _audit(action, entry, via="scan", request_id=request_id)
            changed += 1
    return changed


def _validate_unvalidated(
    *, installation: GitHubInstallation, repository_id: int, app: GitHubApp, allow_write: bool
) -> None:
    """Reads and validates the entries of a repository whose current blob was never validated."""
    for entry in _entries(installation, repository_id).filter(validated_at__isnull=True):
        path = policy_path(entry.policy_name)
        try:
            found: PolicyFile = policy_file_of(
                app.read_file(
                    installation_id=installation.github_id,
                    full_name=entry.full_name,
                    repository_id=repository_id,
                    path=path,
                ),
                path=path,
            )
        except GitHubFileTooLarge:
            found = PolicyFile(content=None, refusal=TOO_LARGE)
        verdict = file_verdict(
            path=path, policy_name=entry.policy_name, found=found, blob_sha=entry.blob_sha, allow_write=allow_write
        )
        if verdict.state != "removed":
            PolicyIndexEntry.objects.filter(pk=entry.pk).update(**_validation(verdict), validated_at=timezone.now())


def _validation(verdict: FileVerdict) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "valid": verdict.state == "valid",
        "problem_count": len(verdict.problems),
        "problems": [problem.as_dict() for problem in verdict.problems[:PROBLEMS_KEPT]],
        "rules": list(verdict.rules),
    }
    if verdict.blob_sha:
        fields["blob_sha"] = verdict.blob_sha
    return fields


def _entries(installation: GitHubInstallation, repository_id: int) -> QuerySet[PolicyIndexEntry]:
    return PolicyIndexEntry.objects.filter(installation=installation, repository_github_id=repository_id)


def _remove(entry: PolicyIndexEntry, *, via: str, request_id: str) -> None:
    entry.delete()
    _audit(AuditEvent.Action.POLICY_REMOVED, entry, via=via, request_id=request_id)


def _audit(action: str, entry: PolicyIndexEntry, *, via: str, request_id: str) -> None:
    installation_event_record(
        action=action,
        installation=entry.installation,
        request_id=request_id,
        detail={
            "repository": entry.full_name,
            "repository_id": entry.repository_github_id,
            "policy_name": entry.policy_name,
            "blob_sha": entry.blob_sha,
            "via": via,
        },
    )
