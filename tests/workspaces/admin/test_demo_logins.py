"""`make run` prints a demo login per role, in development only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from demo.seed import DEMO_LOGINS, demo_logins_create
from tests.factories import workspace_create
from workspaces.models import Membership
from workspaces.services import BILLING_STAFF_GROUP

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_each_role_gets_a_login_that_opens_the_admin(client: Client, settings: Any) -> None:
    settings.DEBUG = True
    workspace = workspace_create(name="Acme (demo)", plan="pro")
    logins = demo_logins_create(workspace.public_id)
    assert [login[0] for login in logins] == [login[0] for login in DEMO_LOGINS]
    for username, password, role, _ in logins:
        assert client.login(username=username, password=password)
        assert client.get("/admin/").status_code == 200
        user = User.objects.get(username=username)
        if role == BILLING_STAFF_GROUP:
            assert user.groups.filter(name=BILLING_STAFF_GROUP).exists()
            assert not user.memberships.exists()
        else:
            assert Membership.objects.get(user=user).role == role
        assert not user.is_superuser


def test_seeding_again_changes_every_password(settings: Any) -> None:
    settings.DEBUG = True
    workspace = workspace_create(name="Acme (demo)", plan="pro")
    first = {login[0]: login[1] for login in demo_logins_create(workspace.public_id)}
    second = {login[0]: login[1] for login in demo_logins_create(workspace.public_id)}
    assert all(first[name] != second[name] for name in first)
    assert User.objects.filter(username__startswith="demo-").count() == len(DEMO_LOGINS)


def test_with_debug_off_no_demo_login_is_created(settings: Any) -> None:
    settings.DEBUG = False
    workspace = workspace_create(name="Acme (demo)", plan="pro")
    with pytest.raises(SystemExit):
        demo_logins_create(workspace.public_id)
    assert not User.objects.filter(username__startswith="demo-").exists()
