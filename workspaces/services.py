"""Writes of workspaces and the GitHub App installations they own."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, PermissionsMixin
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent
from audit.services import audit_record
from github_app.client import GitHubApp, Installation, Repository
from workspaces.entitlements import FeatureValue, feature_named, feature_refusal
from workspaces.models import (
    FeatureOverride,
    GitHubInstallation,
    InstallationRepository,
    Plan,
    PlanFeature,
    Workspace,
)
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


class InvalidFeatureValue(WorkspaceError):
    tag = "InvalidFeatureValue"


class InvalidOverride(WorkspaceError):
    tag = "InvalidOverride"


class FeatureNotEntitled(WorkspaceError):
    tag = "FeatureNotEntitled"


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
    (they lag behind GitHub until the next `link_installation` or `installation_sync`). Only a repository of one of the
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
    """Records a suspension GitHub reported (a refused call) before our records knew of it."""
    installations_mark_suspended(installation_github_ids={installation_github_id})


def installations_mark_suspended(*, installation_github_ids: Collection[int]) -> None:
    """Records suspensions GitHub reported (refused calls) before our records knew of them, in one statement."""
    GitHubInstallation.objects.filter(github_id__in=installation_github_ids, suspended_at__isnull=True).update(
        suspended_at=timezone.now()
    )


def installations_repositories_remember(*, learned: Sequence[tuple[GitHubInstallation, list[Repository]]]) -> None:
    """Records repositories GitHub says installations cover (from tokens' own answers) that our
    records lacked; rows we have are left as they are. One read and at most one write, however many."""
    wanted = {
        (installation.pk, repository.id): (installation, repository)
        for installation, repositories in learned
        for repository in repositories
    }
    if not wanted:
        return
    known = set(
        InstallationRepository.objects.filter(
            installation_id__in={pk for pk, _ in wanted}, github_id__in={github_id for _, github_id in wanted}
        ).values_list("installation_id", "github_id")
    )
    missing = [
        InstallationRepository(
            installation=installation,
            github_id=repository.id,
            full_name=repository.full_name,
            full_name_key=repository.full_name.lower(),  # bulk_create does not call save(), which sets it
        )
        for key, (installation, repository) in wanted.items()
        if key not in known
    ]
    if missing:
        # A concurrent mint may have added the same row since the read: its row is as good as ours.
        InstallationRepository.objects.bulk_create(missing, ignore_conflicts=True)


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


# --- entitlements and switches: each change is one audit event, in the change's own transaction ---

SWITCHES = ("sts_enabled", "allow_write_tokens")
BILLING_STAFF_GROUP = "billing-admins"


@dataclass(frozen=True)
class Actor:
    """Who made a configuration change: the operator's staff, or a member of the workspace."""

    username: str
    kind: Literal["staff", "member"]

    @classmethod
    def of_user(cls, user: AbstractBaseUser | AnonymousUser) -> Actor:
        """A signed-in user as an actor: superusers and the operator's billing staff (the Django group
        BILLING_STAFF_GROUP) act as staff, everyone else as a member of the workspace they change."""
        is_staff = isinstance(user, PermissionsMixin) and (
            user.is_superuser or user.groups.filter(name=BILLING_STAFF_GROUP).exists()
        )
        return cls(user.get_username(), "staff" if is_staff else "member")

    def identity(self) -> dict[str, str]:
        return {"actor": self.username, "actor_kind": self.kind}


def workspace_plan_change(*, workspace: Workspace, plan: Plan, actor: Actor, request_id: str = "") -> Workspace:
    """Moves the workspace to another plan; the next request of every process sees the new plan's features."""
    with transaction.atomic():
        locked = Workspace.objects.select_for_update().select_related("plan").get(pk=workspace.pk)
        old = locked.plan
        if old.pk != plan.pk:
            locked.plan = plan
            locked.save(update_fields=["plan"])
            configuration_change_record(
                action=AuditEvent.Action.ENTITLEMENT_PLAN_CHANGED,
                actor=actor,
                request_id=request_id,
                workspace=locked,
                detail={"old": old.slug, "new": plan.slug},
            )
    return locked


def plan_feature_set(
    *, plan: Plan, feature: str, value: FeatureValue | None, actor: Actor, request_id: str = ""
) -> PlanFeature | None:
    """Sets a feature's value in the plan, for every workspace on it; None takes the row away, and the
    registry's default counts again."""
    known = feature_named(feature)
    if value is not None:
        _value_check(feature=known.key, value=value)
    with transaction.atomic():
        # One change of the plan's features at a time, so that each event's old value is the true one.
        Plan.objects.select_for_update().get(pk=plan.pk)
        row = PlanFeature.objects.filter(plan=plan, key=known.key).first()
        old = row.value if row is not None else None
        if value is None:
            if row is not None:
                row.delete()
            row = None
        elif row is None:
            row = PlanFeature.objects.create(plan=plan, key=known.key, value=value)
        else:
            row.value = value
            row.save(update_fields=["value"])
        if _stored(old) != _stored(value):
            configuration_change_record(
                action=AuditEvent.Action.ENTITLEMENT_FEATURE_CHANGED,
                actor=actor,
                request_id=request_id,
                detail={"plan": plan.slug, "feature": known.key, "old": old, "new": value, "default": known.default},
            )
    return row


def override_grant(
    *,
    workspace: Workspace,
    feature: str,
    value: FeatureValue,
    expires_at: datetime,
    actor: Actor,
    note: str = "",
    request_id: str = "",
) -> FeatureOverride:
    """Grants the workspace a feature value until `expires_at` (a trial), in place of its plan's; it
    replaces an override of the same feature."""
    known = feature_named(feature)
    _value_check(feature=known.key, value=value)
    if timezone.is_naive(expires_at):
        raise InvalidOverride("Give the end of an override with its time zone.")
    if expires_at <= timezone.now():
        raise InvalidOverride(f"An override must end in the future, not at {expires_at:%Y-%m-%d %H:%M %Z}.")
    longest = FeatureOverride._meta.get_field("note").max_length or 0
    if len(note) > longest:
        raise InvalidOverride(f"An override's note has at most {longest} characters.")
    with transaction.atomic():
        locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
        row = FeatureOverride.objects.filter(workspace=locked, key=known.key).first()
        old = _override_facts(row)
        if row is None:
            row = FeatureOverride(workspace=locked, key=known.key)
        row.value, row.expires_at, row.note, row.granted_by = value, expires_at, note, actor.username
        row.save()
        configuration_change_record(
            action=AuditEvent.Action.ENTITLEMENT_OVERRIDE_CHANGED,
            actor=actor,
            request_id=request_id,
            workspace=locked,
            detail={"feature": known.key, "old": old, "new": _override_facts(row)},
        )
    return row


def override_revoke(*, workspace: Workspace, feature: str, actor: Actor, request_id: str = "") -> None:
    """Ends the workspace's override of a feature now; its plan's value counts again."""
    known = feature_named(feature)
    with transaction.atomic():
        locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
        row = FeatureOverride.objects.filter(workspace=locked, key=known.key).first()
        if row is None:
            return
        old = _override_facts(row)
        row.delete()
        configuration_change_record(
            action=AuditEvent.Action.ENTITLEMENT_OVERRIDE_CHANGED,
            actor=actor,
            request_id=request_id,
            workspace=locked,
            detail={"feature": known.key, "old": old, "new": None},
        )


def workspace_switch_set(
    *, workspace: Workspace, switch: str, on: bool, actor: Actor, request_id: str = ""
) -> Workspace:
    """Turns a workspace switch (`sts_enabled`, `allow_write_tokens`) on or off. Write tokens go on
    only while the plan (or an override) includes them; raises FeatureNotEntitled with the sentence."""
    if switch not in SWITCHES:
        raise ValueError(f"There is no workspace switch {switch!r}; known switches: {', '.join(SWITCHES)}.")
    with transaction.atomic():
        locked = Workspace.objects.select_for_update().select_related("plan").get(pk=workspace.pk)
        old = bool(getattr(locked, switch))
        if old == on:
            return locked
        if switch == "allow_write_tokens" and on:
            refusal = feature_refusal(workspace=locked, feature="write_tokens")
            if refusal is not None:
                raise FeatureNotEntitled(refusal)
        setattr(locked, switch, on)
        locked.save(update_fields=[switch])
        configuration_change_record(
            action=AuditEvent.Action.WORKSPACE_SETTING_CHANGED,
            actor=actor,
            request_id=request_id,
            workspace=locked,
            detail={"setting": switch, "old": old, "new": on},
        )
    return locked


def configuration_change_record(
    *,
    action: str,
    actor: Actor,
    detail: dict[str, Any],
    workspace: Workspace | None = None,
    request_id: str = "",
) -> AuditEvent:
    """The audit event of a person's change to a workspace's (or a plan's) configuration."""
    return audit_record(
        action=action,
        outcome=AuditEvent.Outcome.ALLOWED,
        # A change made outside an API request (the admin, a command) gets a trace id of its own.
        request_id=request_id or "chg_" + secrets.token_hex(12),
        workspace_public_id=workspace.public_id if workspace is not None else "",
        identity=actor.identity(),
        detail=detail,
    )


def _value_check(*, feature: str, value: object) -> None:
    problem = feature_named(feature).problem(value)
    if problem is not None:
        raise InvalidFeatureValue(problem)


def _stored(value: object) -> tuple[str, object]:
    # True == 1 in Python; a change from 1 to true is still a change of the stored JSON.
    return (type(value).__name__, value)


def _override_facts(row: FeatureOverride | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"value": row.value, "until": row.expires_at.isoformat(), "note": row.note}
