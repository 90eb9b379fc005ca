"""Deliveries in the admin: the operator finds a failed one; workspace members see none; nobody edits one."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from sts.webhooks.models import WebhookDelivery
from workspaces.models import Membership

from .conftest import owned_installation

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:webhooks_webhookdelivery_changelist")


@pytest.fixture
def failed() -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        guid="1f0e-failed", event="installation", action="suspend", status="failed", error_tag="RuntimeError"
    )


def test_the_operator_finds_a_failed_delivery(client: Client, failed: WebhookDelivery) -> None:
    client.force_login(User.objects.create_superuser("root", "root@example.com", password=None))

    listed = client.get(CHANGELIST, {"status__exact": "failed"})
    searched = client.get(CHANGELIST, {"q": "RuntimeError"})
    detail = client.get(reverse("admin:webhooks_webhookdelivery_change", args=[failed.pk]))

    assert listed.status_code == searched.status_code == detail.status_code == 200
    assert "1f0e-failed" in listed.content.decode() and "1f0e-failed" in searched.content.decode()
    assert (
        client.post(reverse("admin:webhooks_webhookdelivery_delete", args=[failed.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert WebhookDelivery.objects.filter(pk=failed.pk).exists()


def test_a_workspace_admin_sees_no_delivery(client: Client, failed: WebhookDelivery) -> None:
    installation = owned_installation(42)
    user = User.objects.create_user("ws-admin", is_staff=True)
    Membership.objects.create(user=user, workspace=installation.workspace, role=Membership.Role.ADMIN)
    client.force_login(user)

    response = client.get(CHANGELIST)

    assert response.status_code in (302, 403)
