"""What a hostile workspace admin tried in review, refused through the real admin views."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from sts.models import CallerRule
from tests.workspaces.admin.tenants import Tenants, admin_url, logged_in
from workspaces.models import Membership

ADMIN = Membership.Role.ADMIN


@pytest.mark.parametrize("username", ["nobody-by-that-name", "acme-member"])
def test_an_unknown_and_an_existing_username_get_the_same_sentence(
    client: Client, tenants: Tenants, username: str
) -> None:
    logged_in(client, tenants.a.users[ADMIN])
    response = client.post(
        admin_url(Membership, "add"),
        {"workspace": tenants.a.workspace.pk, "username": username, "role": ADMIN, "_save": "Save"},
    )

    assert response.context["adminform"].form.errors["username"] == ["This username cannot be added to this workspace."]


def test_a_caller_rule_cannot_be_moved_into_another_workspace(client: Client, tenants: Tenants) -> None:
    both = tenants.a.users[ADMIN]
    Membership.objects.create(user=both, workspace=tenants.b.workspace, role=ADMIN)
    rule = tenants.a.caller_rule
    logged_in(client, both)

    client.post(
        admin_url(CallerRule, "change", rule.pk),
        {
            "workspace": tenants.b.workspace.pk,
            "position": 0,
            "match": '{"repository": "*"}',
            "note": "",
            "_save": "Save",
        },
    )

    rule.refresh_from_db()
    assert rule.workspace_id == tenants.a.workspace.pk
    assert not AuditEvent.objects.filter(
        action=AuditEvent.Action.WORKSPACE_CALLER_RULES_CHANGED, workspace_public_id=tenants.b.workspace.public_id
    ).exists()
