"""Two customers' workspaces with mints, refusals and tokens, and standing users: in each workspace one
per role, plus an outsider, the operator's billing staff and a superuser."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from sts.models import MintedToken, StsSession, token_fingerprint
from workspaces.models import Membership, Plan, Workspace
from workspaces.services import BILLING_STAFF_GROUP


@dataclass
class Tenant:
    key: str
    workspace: Workspace
    users: dict[str, User]
    minted: MintedToken
    mint: AuditEvent
    refusal: AuditEvent

    @property
    def caller(self) -> str:
        return f"{self.key}/{self.key}-infrastructure"

    @property
    def source(self) -> str:
        return f"{self.key}/{self.key}-secret-modules"


@dataclass
class People:
    a: Tenant
    b: Tenant
    outsider: User
    billing_staff: User
    superuser: User


def make_tenant(key: str) -> Tenant:
    workspace = Workspace.objects.create(name=f"{key.title()} Corp", plan=Plan.objects.get(slug="pro"))
    users = {}
    for role in Membership.Role:
        users[role] = User.objects.create_user(f"{key}-{role}")
        Membership.objects.create(user=users[role], workspace=workspace, role=role)
    expires = timezone.now() + timedelta(hours=1)
    caller, source = f"{key}/{key}-infrastructure", f"{key}/{key}-secret-modules"
    identity = {
        "repository": caller,
        "ref": "refs/heads/main",
        "sha": "a" * 40,
        "actor": f"{key}-bot",
        "workflow": "deploy",
        "run_id": "4242",
        "environment": "production",
    }
    session = StsSession.objects.create(
        jti=f"jti-{key}", workspace=workspace, identity=identity, request_id=f"req_{key}_1", expires_at=expires
    )
    fingerprint = token_fingerprint(f"ghs_{key}" + "x" * 36)
    minted = MintedToken.objects.create(
        fingerprint=fingerprint,
        session=session,
        workspace=workspace,
        installation_github_id=1,
        repositories=[source],
        permissions={"contents": "read"},
        request_id=f"req_{key}_1",
        expires_at=expires,
    )
    mint = audit_record(
        action=AuditEvent.Action.TOKEN_MINTED,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id=f"req_{key}_1",
        workspace_public_id=workspace.public_id,
        identity=identity,
        detail={
            "policy_name": "deploy",
            "requested": {"count": 1, "first": [source]},
            "decisions": [{"repo": source, "decision": "granted", "permissions": {"contents": "read"}, "rule": 0}],
            "tokens": [{"fingerprint": fingerprint, "repositories": [source], "permissions": {"contents": "read"}}],
        },
        sources=[{"repository": source, "github_id": 7, "decision": "granted", "rule": 0, "fingerprint": fingerprint}],
    )
    refusal = audit_record(
        action=AuditEvent.Action.MINT_DENIED,
        outcome=AuditEvent.Outcome.DENIED,
        request_id=f"req_{key}_2",
        workspace_public_id=workspace.public_id,
        identity={**identity, "actor": f"{key}-intruder", "ref": "refs/heads/evil"},
        detail={
            "policy_name": "deploy",
            "decisions": [
                {
                    "repo": source,
                    "decision": "excluded",
                    "reason": "trust_policy_denied",
                    "explanation": [f"rule 0: ref is refs/heads/evil, not refs/heads/main ({key})"],
                }
            ],
        },
        sources=[{"repository": source, "github_id": 7, "decision": "excluded", "reason": "trust_policy_denied"}],
    )
    return Tenant(key=key, workspace=workspace, users=users, minted=minted, mint=mint, refusal=refusal)


@pytest.fixture
def people(db: None) -> People:
    billing_staff = User.objects.create_user("billing-staff")
    billing_staff.groups.add(Group.objects.get_or_create(name=BILLING_STAFF_GROUP)[0])
    return People(
        a=make_tenant("acme"),
        b=make_tenant("globex"),
        outsider=User.objects.create_user("outsider"),
        billing_staff=billing_staff,
        superuser=User.objects.create_superuser("operator", "operator@example.com", password=None),
    )


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def redated(pk: int, when: datetime) -> None:
    """Moves one event in time, with its source rows (which repeat its time), behind the immutability
    triggers' back (breaking its chain link), for tests that need events at known times."""
    with connection.cursor() as cursor:
        for table, trigger in (
            ("audit_auditevent", "audit_event_no_change"),
            ("audit_auditsource", "audit_source_no_change"),
        ):
            column = "id" if table == "audit_auditevent" else "event_id"
            if connection.vendor == "postgresql":
                # A table with deferred foreign-key checks pending cannot be altered: run them now.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
                cursor.execute(f"UPDATE {table} SET created_at = %s WHERE {column} = %s", [when, pk])
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are deferred
                continue
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name=%s", [table])
            triggers = cursor.fetchall()
            for name, _ in triggers:
                cursor.execute(f"DROP TRIGGER {name}")
            cursor.execute(f"UPDATE {table} SET created_at = %s WHERE {column} = %s", [when, pk])
            for _, sql in triggers:
                cursor.execute(sql)
