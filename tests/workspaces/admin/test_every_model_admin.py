"""The admin shows every model to a superuser, the audit log read-only, and never a token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from sts.models import MintedToken, OidcTokenUse, StsSession, token_fingerprint
from tests.factories import installation_record, workspace_create
from workspaces.models import GitHubInstallation, InstallationRepository, Membership, Plan, Workspace

pytestmark = pytest.mark.django_db

TOKEN = "ghs_" + "Z9y8X7w6V5u4T3s2R1q0" * 3


@pytest.fixture
def superuser_client(client: Client) -> Client:
    # No password: hashing one costs a second per test, and force_login does not need it.
    user = User.objects.create_superuser("root", "root@example.com", password=None)
    client.force_login(user)
    return client


@pytest.fixture
def records() -> dict[str, Any]:
    workspace = workspace_create()
    member = User.objects.create_user("member")
    Membership.objects.create(user=member, workspace=workspace, role=Membership.Role.SECURITY)
    installation = installation_record(workspace=workspace, github_id=50000001, account_id=1001)
    InstallationRepository(installation=installation, github_id=690000001, full_name="acme/mods").save()
    expires = timezone.now() + timedelta(hours=1)
    session = StsSession.objects.create(
        jti="sess-1",
        workspace=workspace,
        identity={"repository": "acme/infra", "ref": "refs/heads/main", "run_id": "1"},
        request_id="req_1",
        expires_at=expires,
    )
    minted = MintedToken.objects.create(
        fingerprint=token_fingerprint(TOKEN),
        session=session,
        workspace=workspace,
        installation_github_id=installation.github_id,
        repositories=["acme/mods"],
        permissions={"contents": "read"},
        request_id="req_1",
        expires_at=expires,
    )
    OidcTokenUse.objects.create(issuer="https://token.actions.githubusercontent.com", jti="jti-1", expires_at=expires)
    event = audit_record(
        action="pro.atmos.sts.token_minted",
        outcome="allowed",
        request_id="req_1",
        identity={"repository": "acme/infra"},
    )
    return {"workspace": workspace, "session": session, "minted": minted, "event": event}


MODELS = [
    Plan,
    Workspace,
    Membership,
    GitHubInstallation,
    InstallationRepository,
    AuditEvent,
    StsSession,
    MintedToken,
    OidcTokenUse,
]


def _url(model: Any, view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_model_is_registered() -> None:
    assert all(model in admin.site._registry for model in MODELS)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_a_superuser_loads_every_changelist_with_rows(
    superuser_client: Client, records: dict[str, Any], model: Any
) -> None:
    response = superuser_client.get(_url(model, "changelist"))
    assert response.status_code == 200
    assert "0 " + str(model._meta.verbose_name_plural) not in response.content.decode()


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_a_superuser_can_search_every_changelist(superuser_client: Client, records: dict[str, Any], model: Any) -> None:
    response = superuser_client.get(_url(model, "changelist"), {"q": "acme"})
    assert response.status_code == 200


def test_the_audit_log_cannot_be_added_changed_or_deleted(superuser_client: Client, records: dict[str, Any]) -> None:
    event = records["event"]
    model_admin = admin.site._registry[AuditEvent]
    request = superuser_client.get(_url(AuditEvent, "changelist")).wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    assert superuser_client.get(_url(AuditEvent, "add")).status_code == 403
    assert superuser_client.post(_url(AuditEvent, "delete", event.pk), {"post": "yes"}).status_code == 403
    response = superuser_client.post(_url(AuditEvent, "change", event.pk), {"outcome": "denied"})
    assert response.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).outcome == "allowed"
    # Viewing stays possible: the row page answers, read-only.
    assert superuser_client.get(_url(AuditEvent, "change", event.pk)).status_code == 200


@pytest.mark.parametrize("model", [StsSession, MintedToken, OidcTokenUse], ids=lambda model: model.__name__)
def test_sts_records_are_read_only(superuser_client: Client, records: dict[str, Any], model: Any) -> None:
    row = model.objects.get()
    assert superuser_client.get(_url(model, "add")).status_code == 403
    assert superuser_client.post(_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert superuser_client.get(_url(model, "change", row.pk)).status_code == 200
    assert model.objects.filter(pk=row.pk).exists()


def test_a_minted_token_shows_its_fingerprint_and_never_the_token(
    superuser_client: Client, records: dict[str, Any]
) -> None:
    minted = records["minted"]
    pages = [
        superuser_client.get(_url(MintedToken, "changelist")),
        superuser_client.get(_url(MintedToken, "changelist"), {"q": minted.fingerprint}),
        superuser_client.get(_url(MintedToken, "changelist"), {"q": TOKEN}, follow=True),
        superuser_client.get(_url(MintedToken, "change", minted.pk)),
    ]
    for page in pages:
        assert page.status_code == 200
        assert TOKEN not in page.content.decode()
        assert TOKEN[4:20] not in page.content.decode()
    assert minted.fingerprint in pages[0].content.decode()


def test_searching_for_a_pasted_token_finds_its_row_by_fingerprint(
    superuser_client: Client, records: dict[str, Any]
) -> None:
    response = superuser_client.get(_url(MintedToken, "changelist"), {"q": TOKEN})
    assert response.status_code == 302
    assert TOKEN not in response["Location"]
    page = superuser_client.get(response["Location"])
    assert page.context["cl"].result_count == 1
    assert TOKEN not in page.content.decode()


def test_an_account_in_no_workspace_cannot_open_the_admin(client: Client, records: dict[str, Any]) -> None:
    # Membership, not `is_staff`, opens the admin (tests/workspaces/admin/ covers what each role sees there).
    client.force_login(User.objects.create_user("nobody", is_staff=True))
    response = client.get(_url(AuditEvent, "changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_member_who_is_not_staff_opens_the_admin_and_sees_only_their_workspace(
    client: Client, records: dict[str, Any]
) -> None:
    client.force_login(User.objects.get(username="member"))
    response = client.get(_url(AuditEvent, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0  # the one event has no workspace: the operator's alone
    assert client.get(_url(AuditEvent, "change", records["event"].pk)).status_code == 404
    assert client.get(_url(MintedToken, "change", records["minted"].pk)).status_code == 200
