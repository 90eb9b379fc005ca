"""A member of workspace A, in each role, probing workspace B through every admin URL finds nothing of B."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from audit.models import AuditEvent
from sts.models import CallerRule, MintedToken, StsSession
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

SCOPED_MODELS = [
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
]
B_MARK = "globex"  # in B's workspace name, account, repositories and usernames


def _model_id(model: Any) -> str:
    return str(model.__name__)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", SCOPED_MODELS, ids=_model_id)
def test_another_workspaces_row_is_a_404_on_every_object_page(
    client: Client, tenants: Tenants, role: str, model: Any
) -> None:
    logged_in(client, tenants.a.users[role])
    row = tenants.b.rows()[model]
    for view in ("change", "history", "delete"):
        assert client.get(admin_url(model, view, row.pk)).status_code == 404, view
    assert client.post(admin_url(model, "change", row.pk), {"_save": "Save"}).status_code == 404
    assert client.post(admin_url(model, "delete", row.pk), {"post": "yes"}).status_code == 404
    assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", SCOPED_MODELS, ids=_model_id)
def test_lists_searches_filters_and_popups_show_nothing_of_another_workspace(
    client: Client, tenants: Tenants, role: str, model: Any
) -> None:
    logged_in(client, tenants.a.users[role])
    changelist = admin_url(model, "changelist")
    plain = client.get(changelist)
    if plain.status_code == 403:
        return  # this role does not see this kind of record at all (tests/workspaces/admin/test_roles.py)
    assert plain.status_code == 200
    assert B_MARK not in plain.content.decode().lower()
    own = plain.context["cl"]
    assert own.result_count == own.full_result_count  # the "N total" count is of A's rows only
    own_rows = set(own.queryset.values_list("pk", flat=True))
    searched = client.get(changelist, {"q": B_MARK})
    assert {row.pk for row in searched.context["cl"].result_list} <= own_rows
    if searched.context["cl"].search_fields:  # without search fields the admin ignores the query
        assert searched.context["cl"].result_count == 0
    assert searched.context["cl"].full_result_count == own.full_result_count
    popup = client.get(changelist, {"_to_field": "id", "_popup": "1"})
    assert popup.status_code == 200
    assert B_MARK not in popup.content.decode().lower()


@pytest.mark.parametrize("role", ROLES)
def test_a_filter_on_another_workspace_selects_nothing(client: Client, tenants: Tenants, role: str) -> None:
    logged_in(client, tenants.a.users[role])
    response = client.get(admin_url(Workspace, "changelist"), {"plan__id__exact": tenants.b.workspace.plan_id})
    assert response.status_code == 200
    assert B_MARK not in response.content.decode().lower()
    assert tenants.b.workspace.plan.name not in [str(choice) for choice in _filter_choices(response, "plan")]


def _filter_choices(response: Any, title: str) -> list[str]:
    for spec in response.context["cl"].filter_specs:
        if spec.title == title:
            return [str(choice["display"]) for choice in spec.choices(response.context["cl"])]
    return []  # a filter with a single choice is not shown


@pytest.mark.parametrize("role", ROLES)
def test_the_workspace_filter_lists_only_their_workspaces(client: Client, tenants: Tenants, role: str) -> None:
    logged_in(client, tenants.a.users[role])
    response = client.get(admin_url(GitHubInstallation, "changelist"))
    if response.status_code == 403:
        return
    assert str(tenants.b.workspace) not in _filter_choices(response, "workspace")


def test_the_workspace_filter_lists_both_workspaces_of_someone_in_both(client: Client, tenants: Tenants) -> None:
    user = tenants.a.users[Membership.Role.MEMBER]
    Membership.objects.create(user=user, workspace=tenants.b.workspace, role=Membership.Role.MEMBER)
    logged_in(client, user)
    choices = _filter_choices(client.get(admin_url(GitHubInstallation, "changelist")), "workspace")
    assert str(tenants.a.workspace) in choices
    assert str(tenants.b.workspace) in choices


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("app_label", "model_name", "field_name"),
    [("workspaces", "githubinstallation", "workspace"), ("workspaces", "membership", "workspace")],
)
def test_autocomplete_offers_only_their_workspaces(
    client: Client, tenants: Tenants, role: str, app_label: str, model_name: str, field_name: str
) -> None:
    logged_in(client, tenants.a.users[role])
    for term in ("", B_MARK, tenants.b.workspace.public_id):
        response = client.get(
            "/admin/autocomplete/",
            {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term},
        )
        assert response.status_code in (200, 403)
        assert B_MARK not in response.content.decode().lower()
        if response.status_code == 200 and term == "":
            assert [row["id"] for row in response.json()["results"]] == [str(tenants.a.workspace.pk)]


@pytest.mark.parametrize("role", ROLES)
def test_index_and_app_pages_show_nothing_of_another_workspace(client: Client, tenants: Tenants, role: str) -> None:
    logged_in(client, tenants.a.users[role])
    for url in ("/admin/", "/admin/workspaces/"):
        response = client.get(url)
        assert response.status_code == 200
        assert B_MARK not in response.content.decode().lower()
    assert tenants.a.workspace.name in client.get("/admin/").content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_the_view_on_site_shortcut_reveals_nothing(client: Client, tenants: Tenants, role: str) -> None:
    logged_in(client, tenants.a.users[role])
    content_type = ContentType.objects.get_for_model(Workspace)
    response = client.get(f"/admin/r/{content_type.pk}/{tenants.b.workspace.pk}/")
    assert response.status_code == 404


@pytest.mark.parametrize("role", [Membership.Role.ADMIN, Membership.Role.SECURITY])
def test_an_export_holds_only_their_workspaces_events_even_with_the_other_ids_posted(
    client: Client, tenants: Tenants, role: str
) -> None:
    logged_in(client, tenants.a.users[role])
    changelist = admin_url(AuditEvent, "changelist")
    every_id = [str(pk) for pk in AuditEvent.objects.values_list("pk", flat=True)]
    chosen = client.post(changelist, {"action": "export_csv", "_selected_action": every_id, "index": "0"})
    across = client.post(
        changelist, {"action": "export_csv", "_selected_action": every_id[:1], "select_across": "1", "index": "0"}
    )
    for response in (chosen, across):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        body = response.content.decode()
        assert tenants.a.workspace.public_id in body
        assert tenants.b.workspace.public_id not in body
        assert B_MARK not in body.lower()


def test_an_outsider_with_no_membership_cannot_open_the_admin(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.outsider)
    for url in ("/admin/", admin_url(Workspace, "changelist"), admin_url(Workspace, "change", tenants.a.workspace.pk)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_the_billing_staff_see_every_workspace_but_none_of_their_records(client: Client, tenants: Tenants) -> None:
    logged_in(client, tenants.billing_staff)
    listed = client.get(admin_url(Workspace, "changelist"))
    assert listed.context["cl"].result_count == 2
    for model in (Membership, GitHubInstallation, InstallationRepository, StsSession, MintedToken, AuditEvent):
        assert client.get(admin_url(model, "changelist")).status_code == 403
        assert client.get(admin_url(model, "change", tenants.b.rows()[model].pk)).status_code == 404
