"""What each role may see and do, through the real admin views with a logged-in user."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from audit.models import AuditEvent
from sts.models import CallerRule, MintedToken, OidcTokenUse, StsSession
from tests.workspaces.admin.tenants import ROLES, Tenants, admin_url, logged_in
from workspaces.models import (
    FeatureOverride,
    GitHubInstallation,
    InstallationRepository,
    Membership,
    Plan,
    PlanFeature,
    Workspace,
)

pytestmark = pytest.mark.django_db

ADMIN, SECURITY, BILLING, MEMBER = (
    Membership.Role.ADMIN,
    Membership.Role.SECURITY,
    Membership.Role.BILLING,
    Membership.Role.MEMBER,
)
EVERY_MODEL = [
    Workspace,
    Plan,
    Membership,
    GitHubInstallation,
    InstallationRepository,
    StsSession,
    MintedToken,
    AuditEvent,
    OidcTokenUse,
    User,
    Group,
    PlanFeature,
    FeatureOverride,
    CallerRule,
]
SEES = {
    ADMIN: {
        Workspace,
        Plan,
        Membership,
        GitHubInstallation,
        InstallationRepository,
        StsSession,
        MintedToken,
        AuditEvent,
        PlanFeature,
        FeatureOverride,
        CallerRule,
    },
    SECURITY: {
        Workspace,
        Membership,
        GitHubInstallation,
        InstallationRepository,
        StsSession,
        MintedToken,
        AuditEvent,
        CallerRule,
    },
    BILLING: {Workspace, Plan, PlanFeature, FeatureOverride},
    MEMBER: {Workspace, GitHubInstallation, InstallationRepository},
    "billing-staff": {Workspace, Plan, PlanFeature, FeatureOverride},
}


def _user(tenants: Tenants, who: str) -> User:
    return tenants.billing_staff if who == "billing-staff" else tenants.a.users[who]


@pytest.mark.parametrize("who", [*ROLES, "billing-staff"])
@pytest.mark.parametrize("model", EVERY_MODEL, ids=lambda model: model.__name__)
def test_each_role_opens_exactly_the_lists_it_may_see(client: Client, tenants: Tenants, who: str, model: Any) -> None:
    logged_in(client, _user(tenants, who))
    response = client.get(admin_url(model, "changelist"))
    assert response.status_code == (200 if model in SEES[who] else 403)
    if model in SEES[who] and who != "billing-staff":
        assert response.context["cl"].result_count >= 1
        own = tenants.a.rows()[model]
        assert client.get(admin_url(model, "change", own.pk)).status_code == 200


@pytest.mark.parametrize("who", [*ROLES, "billing-staff"])
def test_an_app_page_a_role_has_nothing_in_is_a_404(client: Client, tenants: Tenants, who: str) -> None:
    logged_in(client, _user(tenants, who))
    sees_audit = AuditEvent in SEES[who]
    assert client.get("/admin/audit/").status_code == (200 if sees_audit else 404)


@pytest.mark.parametrize("role", [SECURITY, BILLING, MEMBER])
def test_only_the_workspace_admin_may_change_the_workspace(client: Client, tenants: Tenants, role: str) -> None:
    logged_in(client, tenants.a.users[role])
    workspace = tenants.a.workspace
    response = client.post(admin_url(Workspace, "change", workspace.pk), {"_save": "Save"})
    assert response.status_code == 403
    workspace.refresh_from_db()
    assert workspace.sts_enabled is True
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.WORKSPACE_SETTING_CHANGED).exists()


@pytest.mark.parametrize("role", [SECURITY, BILLING, MEMBER])
def test_nobody_but_the_workspace_admin_adds_removes_or_changes_members(
    client: Client, tenants: Tenants, role: str
) -> None:
    logged_in(client, tenants.a.users[role])
    membership = tenants.a.memberships[MEMBER]
    added = client.post(
        admin_url(Membership, "add"),
        {"workspace": tenants.a.workspace.pk, "username": "outsider", "role": ADMIN},
    )
    assert added.status_code == 403
    changed = client.post(admin_url(Membership, "change", membership.pk), {"role": ADMIN})
    assert changed.status_code in (403, 404)
    deleted = client.post(admin_url(Membership, "delete", membership.pk), {"post": "yes"})
    assert deleted.status_code in (403, 404)
    membership.refresh_from_db()
    assert membership.role == MEMBER
    assert not Membership.objects.filter(user=tenants.outsider).exists()


def test_the_workspace_admin_switches_sts_off_and_it_is_audited(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.a.users[ADMIN])
    workspace = tenants.a.workspace
    # An unchecked checkbox is absent from the form; `plan` is read-only for a workspace admin.
    response = client.post(
        admin_url(Workspace, "change", workspace.pk), {"plan": tenants.b.workspace.plan_id, "_save": "Save"}
    )
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert (workspace.sts_enabled, workspace.plan.slug) == (False, "pro")
    event = AuditEvent.objects.get(action=AuditEvent.Action.WORKSPACE_SETTING_CHANGED)
    assert event.workspace_public_id == workspace.public_id
    assert event.actor == "acme-admin"
    assert event.identity["actor_kind"] == "member"
    assert event.detail == {"setting": "sts_enabled", "old": True, "new": False}


def test_write_tokens_stay_off_while_the_plan_does_not_include_them(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.b.users[ADMIN])
    workspace = tenants.b.workspace  # on the free plan
    response = client.post(
        admin_url(Workspace, "change", workspace.pk),
        {"sts_enabled": "on", "allow_write_tokens": "on", "_save": "Save"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    workspace.refresh_from_db()
    assert workspace.allow_write_tokens is False
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.WORKSPACE_SETTING_CHANGED).exists()


def test_the_workspace_admin_adds_a_member_by_username_and_it_is_audited(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.a.users[ADMIN])
    response = client.post(
        admin_url(Membership, "add"),
        {"workspace": tenants.a.workspace.pk, "username": "outsider", "role": SECURITY, "_save": "Save"},
    )
    assert response.status_code == 302
    assert Membership.objects.get(user=tenants.outsider).role == SECURITY
    event = AuditEvent.objects.get(action=AuditEvent.Action.WORKSPACE_MEMBERSHIP_CHANGED)
    assert event.actor == "acme-admin"
    assert "outsider" in event.detail["record"]
    assert event.detail["new"]["role"] == SECURITY


def test_the_workspace_admin_cannot_add_a_member_to_another_workspace(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.a.users[ADMIN])
    response = client.post(
        admin_url(Membership, "add"),
        {"workspace": tenants.b.workspace.pk, "username": "outsider", "role": ADMIN, "_save": "Save"},
    )
    assert response.status_code == 200
    assert "workspace" in response.context["adminform"].form.errors
    assert not Membership.objects.filter(user=tenants.outsider).exists()


@pytest.mark.parametrize("username", ["nobody-by-that-name", "acme-member"])
def test_adding_an_unknown_or_existing_member_is_a_form_error(client: Client, tenants: Tenants, username: str) -> None:
    logged_in(client, tenants.a.users[ADMIN])
    response = client.post(
        admin_url(Membership, "add"),
        {"workspace": tenants.a.workspace.pk, "username": username, "role": ADMIN, "_save": "Save"},
    )
    assert response.status_code == 200
    assert "username" in response.context["adminform"].form.errors
    assert Membership.objects.filter(workspace=tenants.a.workspace).count() == 4


def test_the_member_form_never_lists_the_operators_accounts(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.a.users[ADMIN])
    page = client.get(admin_url(Membership, "add")).content.decode()
    assert "outsider" not in page
    assert "operator" not in page
    assert "globex" not in page


def test_the_last_admin_can_be_neither_demoted_nor_removed(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.a.users[ADMIN])
    own = tenants.a.memberships[ADMIN]
    demoted = client.post(admin_url(Membership, "change", own.pk), {"role": MEMBER, "_save": "Save"})
    assert demoted.status_code == 200
    assert "last admin" in str(demoted.context["adminform"].form.errors)
    assert client.post(admin_url(Membership, "delete", own.pk), {"post": "yes"}).status_code == 403
    bulk = client.post(
        admin_url(Membership, "changelist"),
        {"action": "delete_selected", "_selected_action": [own.pk], "post": "yes"},
    )
    assert bulk.status_code == 403
    own.refresh_from_db()
    assert own.role == ADMIN


def test_with_a_second_admin_the_first_steps_down(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.a.users[ADMIN])
    security = tenants.a.memberships[SECURITY]
    assert client.post(admin_url(Membership, "change", security.pk), {"role": ADMIN}).status_code == 302
    own = tenants.a.memberships[ADMIN]
    assert client.post(admin_url(Membership, "change", own.pk), {"role": MEMBER}).status_code == 302
    own.refresh_from_db()
    assert own.role == MEMBER
    assert AuditEvent.objects.filter(action=AuditEvent.Action.WORKSPACE_MEMBERSHIP_CHANGED).count() == 2


def test_the_workspace_admin_removes_a_member_and_it_is_audited(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.a.users[ADMIN])
    member = tenants.a.memberships[MEMBER]
    assert client.post(admin_url(Membership, "delete", member.pk), {"post": "yes"}).status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.WORKSPACE_MEMBERSHIP_CHANGED)
    assert event.detail["deleted"] is True
    assert "acme-member" in event.detail["record"]


def test_the_workspace_admin_unlinks_an_installation_and_it_is_audited(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.a.users[ADMIN])
    installation = tenants.a.installation
    assert client.get(admin_url(GitHubInstallation, "delete", installation.pk)).status_code == 200
    response = client.post(admin_url(GitHubInstallation, "delete", installation.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not GitHubInstallation.objects.filter(pk=installation.pk).exists()
    assert not InstallationRepository.objects.filter(pk=tenants.a.repository.pk).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.WORKSPACE_INSTALLATION_CHANGED)
    assert (event.actor, event.workspace_public_id) == ("acme-admin", tenants.a.workspace.public_id)


@pytest.mark.parametrize("role", [SECURITY, MEMBER])
def test_a_reader_cannot_unlink_an_installation(client: Client, tenants: Tenants, role: str) -> None:
    logged_in(client, tenants.a.users[role])
    installation = tenants.a.installation
    assert client.post(admin_url(GitHubInstallation, "delete", installation.pk), {"post": "yes"}).status_code == 403
    assert GitHubInstallation.objects.filter(pk=installation.pk).exists()


@pytest.mark.parametrize("role", ROLES)
def test_nobody_links_an_installation_by_typing_its_id(client: Client, tenants: Tenants, role: str) -> None:
    logged_in(client, tenants.a.users[role])
    assert client.get(admin_url(GitHubInstallation, "add")).status_code == 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", [AuditEvent, StsSession, MintedToken], ids=lambda model: model.__name__)
def test_records_of_what_happened_are_read_only_for_every_role(
    client: Client, tenants: Tenants, role: str, model: Any
) -> None:
    logged_in(client, tenants.a.users[role])
    row = tenants.a.rows()[model]
    refused = 403 if model in SEES[role] else 404  # a role that may not read them does not learn they exist
    assert client.get(admin_url(model, "add")).status_code == 403
    assert client.post(admin_url(model, "delete", row.pk), {"post": "yes"}).status_code == refused
    assert client.post(admin_url(model, "change", row.pk), {}).status_code == refused
    assert model.objects.filter(pk=row.pk).exists()


def test_the_billing_staff_move_a_workspace_to_another_plan_and_nothing_else(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.billing_staff)
    workspace = tenants.b.workspace
    pro = Plan.objects.get(slug="pro")
    response = client.post(admin_url(Workspace, "change", workspace.pk), {"plan": pro.pk, "_save": "Save"})
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert workspace.plan == pro
    assert workspace.sts_enabled is True  # the switch is not theirs: absent from the form, unchanged
    event = AuditEvent.objects.get(action=AuditEvent.Action.ENTITLEMENT_PLAN_CHANGED)
    assert event.actor == "billing-staff"
    assert event.identity["actor_kind"] == "staff"
    assert (event.detail["old"], event.detail["new"]) == ("free", "pro")


def test_the_billing_staff_edit_plans_and_their_features(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.billing_staff)
    free = Plan.objects.get(slug="free")
    assert client.post(admin_url(Plan, "change", free.pk), {"slug": "free", "name": "Free tier"}).status_code == 302
    free.refresh_from_db()
    assert free.name == "Free tier"
    added = client.post(admin_url(PlanFeature, "add"), {"plan": free.pk, "key": "audit_streaming", "value": "true"})
    assert added.status_code == 302
    assert PlanFeature.objects.get(plan=free, key="audit_streaming").value is True
    events = AuditEvent.objects.filter(action=AuditEvent.Action.ENTITLEMENT_FEATURE_CHANGED, actor="billing-staff")
    assert events.count() == 2


@pytest.mark.parametrize("role", [ADMIN, BILLING])
def test_a_workspace_reads_its_plan_but_never_edits_it(client: Client, tenants: Tenants, role: str) -> None:
    logged_in(client, tenants.a.users[role])
    pro = tenants.a.workspace.plan
    assert client.get(admin_url(Plan, "change", pro.pk)).status_code == 200
    assert client.post(admin_url(Plan, "change", pro.pk), {"slug": "pro", "name": "Mine"}).status_code == 403
    pro.refresh_from_db()
    assert pro.name == "Pro"


def test_a_superusers_change_to_a_customers_workspace_is_audited_as_staff(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.superuser)
    workspace = tenants.b.workspace
    response = client.post(
        admin_url(Workspace, "change", workspace.pk),
        {"name": workspace.name, "plan": workspace.plan_id, "_save": "Save"},
    )
    assert response.status_code == 302
    member = tenants.b.memberships[MEMBER]
    assert client.post(admin_url(Membership, "change", member.pk), {"role": SECURITY}).status_code == 302
    switched = AuditEvent.objects.get(action=AuditEvent.Action.WORKSPACE_SETTING_CHANGED)
    changed = AuditEvent.objects.get(action=AuditEvent.Action.WORKSPACE_STAFF_CHANGE)
    for event in (switched, changed):
        assert event.workspace_public_id == workspace.public_id
        assert event.actor == "operator"
        assert event.identity["actor_kind"] == "staff"
    assert switched.detail == {"setting": "sts_enabled", "old": True, "new": False}
    assert changed.detail["old"] == {"role": MEMBER}


def test_a_workspace_admin_in_one_workspace_is_only_a_reader_in_another(client: Client, tenants: Tenants) -> None:
    user = tenants.a.users[ADMIN]
    Membership.objects.create(user=user, workspace=tenants.b.workspace, role=MEMBER)
    logged_in(client, user)
    b = tenants.b.workspace
    assert client.get(admin_url(Workspace, "change", b.pk)).status_code == 200
    assert client.post(admin_url(Workspace, "change", b.pk), {"_save": "Save"}).status_code == 403
    b.refresh_from_db()
    assert b.sts_enabled is True
    assert client.get(admin_url(AuditEvent, "change", tenants.b.mint_event.pk)).status_code == 404
    listed = client.get(admin_url(AuditEvent, "changelist")).context["cl"]
    assert {event.workspace_public_id for event in listed.result_list} == {tenants.a.workspace.public_id}
