"""A workspace's page is its landing page, each part shown only to the roles that may see it."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.workspaces.admin.tenants import Tenants, admin_url, logged_in
from workspaces.models import Membership, Workspace

pytestmark = pytest.mark.django_db

PARTS = {
    "recent": 'id="landing-recent"',
    "installations": 'id="landing-installations"',
    "opted_in": 'id="landing-opted-in"',
    "usage": 'id="landing-usage"',
}
SHOWN = {
    Membership.Role.ADMIN: {"recent", "installations", "opted_in", "usage"},
    Membership.Role.SECURITY: {"recent", "installations", "opted_in"},
    Membership.Role.BILLING: {"recent", "usage"},
    Membership.Role.MEMBER: {"recent", "installations", "opted_in"},
}


def _landing(client: Client, tenants: Tenants) -> str:
    response = client.get(admin_url(Workspace, "change", tenants.a.workspace.pk))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("role", list(SHOWN))
def test_each_role_sees_its_parts_of_the_landing_page(client: Client, tenants: Tenants, role: str) -> None:
    page = _landing(logged_in(client, tenants.a.users[role]), tenants)
    assert {part for part, marker in PARTS.items() if marker in page} == SHOWN[role]
    assert "Atmos Pro STS" in page
    assert "globex" not in page.lower()


@pytest.mark.parametrize("role", [Membership.Role.ADMIN, Membership.Role.MEMBER])
def test_opted_in_repositories_come_from_the_minted_tokens(client: Client, tenants: Tenants, role: str) -> None:
    page = _landing(logged_in(client, tenants.a.users[role]), tenants)
    assert tenants.a.repository_name in page
    assert "read from the tokens this workspace was minted" in page


def test_the_last_day_counts_mints_and_refusals(client: Client, tenants: Tenants) -> None:
    response = logged_in(client, tenants.a.users[Membership.Role.SECURITY]).get(
        admin_url(Workspace, "change", tenants.a.workspace.pk)
    )
    recent = response.context["landing_recent"]
    assert (recent.mints_allowed, recent.mints_refused, recent.exchanges_refused) == (1, 1, 0)
    assert [event.pk for event in recent.refusals] == [tenants.a.refusal_event.pk]
    assert admin_url(type(tenants.a.refusal_event), "change", tenants.a.refusal_event.pk) in response.content.decode()


@pytest.mark.parametrize("role", [Membership.Role.BILLING, Membership.Role.MEMBER])
def test_roles_without_the_audit_log_see_counts_but_no_refusal_detail(
    client: Client, tenants: Tenants, role: str
) -> None:
    page = _landing(logged_in(client, tenants.a.users[role]), tenants)
    assert "/admin/audit/auditevent/" not in page
    assert "StsNotEntitled" not in page


def test_billing_sees_mints_per_month(client: Client, tenants: Tenants) -> None:
    response = logged_in(client, tenants.a.users[Membership.Role.BILLING]).get(
        admin_url(Workspace, "change", tenants.a.workspace.pk)
    )
    assert [mints for _, mints in response.context["landing_usage"]] == [1]
    assert tenants.a.repository_name not in response.content.decode()


def test_the_index_lists_the_users_workspaces_with_their_role(client: Client, tenants: Tenants) -> None:
    page = logged_in(client, tenants.a.users[Membership.Role.SECURITY]).get("/admin/").content.decode()
    assert tenants.a.workspace.name in page
    assert admin_url(Workspace, "change", tenants.a.workspace.pk) in page
    assert "security" in page


def test_apps_and_models_are_named_as_people_say_them(client: Client, tenants: Tenants) -> None:
    page = logged_in(client, tenants.superuser).get("/admin/").content.decode()
    for name in ("GitHub installations", "STS sessions", "Audit events", "Minted tokens", "Audit log"):
        assert name in page
    assert "<title>Your workspaces | Atmos Pro STS</title>" in page
