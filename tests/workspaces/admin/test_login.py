"""Who may log in to the admin: membership decides, not Django's `is_staff`."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.workspaces.admin.tenants import ROLES, Tenants

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _log_in(client: Client, user: User) -> Any:
    user.set_password(PASSWORD)
    user.save()
    return client.post("/admin/login/?next=/admin/", {"username": user.username, "password": PASSWORD})


@pytest.mark.parametrize("role", ROLES)
def test_a_workspace_member_who_is_not_staff_logs_in(client: Client, tenants: Tenants, role: str) -> None:
    user = tenants.a.users[role]
    assert not user.is_staff
    response = _log_in(client, user)
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_billing_staff_log_in(client: Client, tenants: Tenants) -> None:
    assert _log_in(client, tenants.billing_staff).status_code == 302


def test_an_account_with_no_workspace_is_told_the_same_as_a_wrong_password(client: Client, tenants: Tenants) -> None:
    refused = _log_in(client, tenants.outsider)
    wrong = client.post("/admin/login/", {"username": "acme-member", "password": "wrong"})
    assert refused.status_code == wrong.status_code == 200
    assert refused.context["form"].errors == wrong.context["form"].errors
    assert client.get("/admin/").status_code == 302


def test_a_deactivated_member_cannot_log_in(client: Client, tenants: Tenants) -> None:
    user = tenants.a.users["member"]
    user.is_active = False
    user.save()
    assert _log_in(client, user).status_code == 200


def test_a_staff_flag_without_a_membership_does_not_open_the_admin(client: Client, tenants: Tenants) -> None:
    tenants.outsider.is_staff = True
    tenants.outsider.save()
    assert _log_in(client, tenants.outsider).status_code == 200
    client.force_login(tenants.outsider)
    assert client.get("/admin/").status_code == 302
