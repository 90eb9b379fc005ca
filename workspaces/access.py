"""Who may see which workspaces, with which role, and what each role may do to each kind of record.

`workspace_access` is the one selector every admin page and every later page asks; `ROLE_PERMISSIONS`
is the one table of what a role may do. Superusers are the operator's own staff and see everything;
the Django group `billing-admins` is the operator's billing staff, who edit plans and move workspaces
between plans and do nothing else.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from workspaces.models import Membership
from workspaces.services import BILLING_STAFF_GROUP

Action = Literal["view", "add", "change", "delete"]
ACTIONS: tuple[Action, ...] = ("view", "add", "change", "delete")

BILLING_STAFF = "billing-staff"  # the operator's billing staff in the table below, next to the workspace roles

Role = Membership.Role
_V: frozenset[Action] = frozenset({"view"})
_ALL: frozenset[Action] = frozenset(ACTIONS)

# Model label -> who -> actions. Workspace roles act only inside their own workspaces; the operator's
# billing staff act across all workspaces. A model missing here is seen by superusers only.
ROLE_PERMISSIONS: Mapping[str, Mapping[str, frozenset[Action]]] = {
    "workspaces.workspace": {
        # A workspace admin changes its switches; billing staff change its plan (the admin decides the fields).
        Role.ADMIN: frozenset({"view", "change"}),
        Role.SECURITY: _V,
        Role.BILLING: _V,
        Role.MEMBER: _V,
        BILLING_STAFF: frozenset({"view", "change"}),
    },
    "workspaces.plan": {Role.ADMIN: _V, Role.BILLING: _V, BILLING_STAFF: _ALL},
    "workspaces.planfeature": {Role.ADMIN: _V, Role.BILLING: _V, BILLING_STAFF: _ALL},
    "workspaces.featureoverride": {Role.ADMIN: _V, Role.BILLING: _V, BILLING_STAFF: _ALL},
    "workspaces.membership": {Role.ADMIN: _ALL, Role.SECURITY: _V},
    # Unlinking is deleting the row. Adding is linking, only through GitHub's installation flow
    # (`workspaces.installation_setup`), which proves the person can reach the installation.
    "workspaces.githubinstallation": {
        Role.ADMIN: frozenset({"view", "add", "delete"}),
        Role.SECURITY: _V,
        Role.MEMBER: _V,
    },
    "workspaces.installationrepository": {Role.ADMIN: _V, Role.SECURITY: _V, Role.MEMBER: _V},
    "audit.auditevent": {Role.ADMIN: _V, Role.SECURITY: _V},
    "sts.stssession": {Role.ADMIN: _V, Role.SECURITY: _V},
    "sts.mintedtoken": {Role.ADMIN: _V, Role.SECURITY: _V},
    # The workspace's own say over who may open a session: its admins keep the list.
    "sts.callerrule": {Role.ADMIN: _ALL, Role.SECURITY: _V},
    # The opted-in source repositories with their policies (the policy-name index), read-only.
    "sts.policyindexentry": {Role.ADMIN: _V, Role.SECURITY: _V},
}


@dataclass(frozen=True)
class WorkspaceAccess:
    """What one user may see: every workspace they belong to, with their role there."""

    is_operator: bool = False
    is_billing_staff: bool = False
    roles: Mapping[int, str] = field(default_factory=dict)  # workspace pk -> role
    public_ids: Mapping[int, str] = field(default_factory=dict)  # workspace pk -> public id

    @property
    def may_use_admin(self) -> bool:
        return self.is_operator or self.is_billing_staff or bool(self.roles)

    def role_in(self, workspace_pk: int) -> str | None:
        return self.roles.get(workspace_pk)

    def workspace_pks(self, *, model_label: str, action: Action) -> Collection[int] | None:
        """The workspaces in which this user may do `action` to `model_label` records; None means all."""
        if self.is_operator:
            return None
        table = ROLE_PERMISSIONS.get(model_label, {})
        if self.is_billing_staff and action in table.get(BILLING_STAFF, frozenset()):
            return None
        return frozenset(pk for pk, role in self.roles.items() if action in table.get(role, frozenset()))

    def workspace_public_ids(self, *, model_label: str, action: Action) -> Collection[str] | None:
        pks = self.workspace_pks(model_label=model_label, action=action)
        return None if pks is None else frozenset(self.public_ids[pk] for pk in pks)

    def may(self, *, model_label: str, action: Action) -> bool:
        """Whether this user may do `action` to `model_label` records in at least one workspace."""
        pks = self.workspace_pks(model_label=model_label, action=action)
        return pks is None or bool(pks)


NO_ACCESS = WorkspaceAccess()


def workspace_access(*, user: AbstractBaseUser | AnonymousUser) -> WorkspaceAccess:
    """Which workspaces `user` may see and with which role (one query; two for a non-superuser)."""
    if not user.is_authenticated or not user.is_active:
        return NO_ACCESS
    if getattr(user, "is_superuser", False):
        return WorkspaceAccess(is_operator=True)
    rows = Membership.objects.filter(user_id=user.pk).values_list("workspace_id", "workspace__public_id", "role")
    return WorkspaceAccess(
        is_billing_staff=user.groups.filter(name=BILLING_STAFF_GROUP).exists(),  # type: ignore[attr-defined]
        roles={pk: role for pk, _, role in rows},
        public_ids={pk: public_id for pk, public_id, _ in rows},
    )
