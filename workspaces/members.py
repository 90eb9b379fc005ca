"""Writes of workspace memberships: a workspace never loses its last admin."""

from __future__ import annotations

from django.db import transaction

from workspaces.models import Membership
from workspaces.services import WorkspaceError


class LastWorkspaceAdmin(WorkspaceError):
    tag = "LastWorkspaceAdmin"


def last_admin_refusal(*, membership: Membership, new_role: str | None, lock: bool = False) -> str | None:
    """Why `membership` may not become `new_role` (None: be removed), in a sentence; None when it may.
    With `lock` (inside a transaction) the workspace's admin rows stay locked until it ends."""
    if membership.pk is None or new_role == Membership.Role.ADMIN:
        return None
    admins = Membership.objects.filter(workspace_id=membership.workspace_id, role=Membership.Role.ADMIN)
    if lock:
        # Every admin row of the workspace, this one included: two admins demoting each other at once
        # wait for each other, and the second sees the first's change.
        admins = admins.select_for_update()
    admin_pks = set(admins.values_list("pk", flat=True))
    if membership.pk not in admin_pks or admin_pks - {membership.pk}:
        return None
    return "This is the workspace's last admin: make another member admin first."


def membership_save(*, membership: Membership) -> Membership:
    with transaction.atomic():
        refusal = last_admin_refusal(membership=membership, new_role=membership.role, lock=True)
        if refusal is not None:
            raise LastWorkspaceAdmin(refusal)
        membership.save()
    return membership


def membership_remove(*, membership: Membership) -> None:
    with transaction.atomic():
        refusal = last_admin_refusal(membership=membership, new_role=None, lock=True)
        if refusal is not None:
            raise LastWorkspaceAdmin(refusal)
        membership.delete()
