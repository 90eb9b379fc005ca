"""Two customers' workspaces with every kind of record, and standing users: in each workspace one per role
(admin, security, billing, member), plus an outsider, the operator's billing staff and a superuser."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from sts.models import CallerRule, MintedToken, PolicyIndexEntry, StsSession, token_fingerprint
from tests.factories import installation_record, repository_record, workspace_create
from workspaces.models import (
    FeatureOverride,
    GitHubInstallation,
    InstallationRepository,
    Membership,
    Plan,
    PlanFeature,
    Workspace,
)
from workspaces.services import BILLING_STAFF_GROUP

ROLES = tuple(Membership.Role)


@dataclass
class Tenant:
    """One customer: its workspace, its people by role, and one row of each kind of record."""

    key: str
    workspace: Workspace
    users: dict[str, User]
    installation: GitHubInstallation
    repository: InstallationRepository
    session: StsSession
    minted: MintedToken
    mint_event: AuditEvent
    refusal_event: AuditEvent
    override: FeatureOverride
    caller_rule: CallerRule
    policy: PolicyIndexEntry
    memberships: dict[str, Membership] = field(default_factory=dict)

    @property
    def repository_name(self) -> str:
        return self.repository.full_name

    def rows(self) -> dict[type[models.Model], models.Model]:
        """One row of every workspace-scoped model, keyed by model."""
        return {
            Workspace: self.workspace,
            Plan: self.workspace.plan,
            Membership: self.memberships[Membership.Role.MEMBER],
            GitHubInstallation: self.installation,
            InstallationRepository: self.repository,
            StsSession: self.session,
            MintedToken: self.minted,
            AuditEvent: self.mint_event,
            PlanFeature: PlanFeature.objects.filter(plan=self.workspace.plan).order_by("key").first(),
            FeatureOverride: self.override,
            CallerRule: self.caller_rule,
            PolicyIndexEntry: self.policy,
        }


def make_tenant(key: str, *, plan_slug: str, account: str, github_id: int) -> Tenant:
    workspace = workspace_create(name=f"{key.title()} Corp", plan=plan_slug)
    users = {role: User.objects.create_user(f"{key}-{role}", f"{role}@{key}.example") for role in ROLES}
    memberships = {
        role: Membership.objects.create(user=user, workspace=workspace, role=role) for role, user in users.items()
    }
    installation = installation_record(
        workspace=workspace, github_id=github_id, account=account, account_id=github_id + 1
    )
    repository = repository_record(
        installation=installation, github_id=github_id + 2, full_name=f"{account}/{key}-secret-modules"
    )
    expires = timezone.now() + timedelta(hours=1)
    caller = f"{account}/{key}-infrastructure"
    session = StsSession.objects.create(
        jti=f"jti-{key}",
        workspace=workspace,
        identity={"repository": caller, "ref": "refs/heads/main", "run_id": "1"},
        request_id=f"req_{key}_1",
        expires_at=expires,
    )
    minted = MintedToken.objects.create(
        fingerprint=token_fingerprint(f"ghs_{key}" + "x" * 36),
        session=session,
        workspace=workspace,
        installation_github_id=github_id,
        repositories=[repository.full_name],
        permissions={"contents": "read"},
        request_id=f"req_{key}_1",
        expires_at=expires,
    )
    identity = {"repository": caller, "ref": "refs/heads/main", "actor": f"{key}-bot", "run_id": "1"}
    mint_event = audit_record(
        action=AuditEvent.Action.TOKEN_MINTED,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id=f"req_{key}_1",
        workspace_public_id=workspace.public_id,
        identity=identity,
        detail={"repositories": [repository.full_name]},
    )
    refusal_event = audit_record(
        action=AuditEvent.Action.MINT_DENIED,
        outcome=AuditEvent.Outcome.DENIED,
        request_id=f"req_{key}_2",
        workspace_public_id=workspace.public_id,
        identity=identity,
        detail={"excluded": [{"repo": repository.full_name, "reason": "trust_policy_denied"}]},
        error_tag="StsNotEntitled",
    )
    override = FeatureOverride.objects.create(
        workspace=workspace, key="audit_streaming", value=True, expires_at=expires, granted_by="billing-staff"
    )
    caller_rule = CallerRule.objects.create(workspace=workspace, match={"repository": f"{account}/*"})
    policy = PolicyIndexEntry.objects.create(
        installation=installation,
        repository_github_id=repository.github_id,
        full_name=repository.full_name,
        policy_name="default",
        valid=True,
        rules=[f'rules[0]: when repository "{caller}" → contents: read'],
        changed_at=expires - timedelta(hours=2),
    )
    return Tenant(
        policy=policy,
        key=key,
        override=override,
        caller_rule=caller_rule,
        workspace=workspace,
        users=users,
        installation=installation,
        repository=repository,
        session=session,
        minted=minted,
        mint_event=mint_event,
        refusal_event=refusal_event,
        memberships=memberships,
    )


@dataclass
class Tenants:
    a: Tenant
    b: Tenant
    outsider: User
    billing_staff: User
    superuser: User


def make_tenants() -> Tenants:
    billing_staff = User.objects.create_user("billing-staff")
    billing_staff.groups.add(Group.objects.get_or_create(name=BILLING_STAFF_GROUP)[0])
    return Tenants(
        a=make_tenant("acme", plan_slug="pro", account="acme", github_id=61_000_000),
        b=make_tenant("globex", plan_slug="free", account="globex", github_id=62_000_000),
        outsider=User.objects.create_user("outsider"),
        billing_staff=billing_staff,
        superuser=User.objects.create_superuser("operator", "operator@example.com", password=None),
    )


def admin_url(model: type[models.Model] | Any, view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client
