"""The periodic reconciliation repairs what lost webhooks missed, from GitHub's own answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from sts.webhooks.models import WebhookDelivery
from sts.webhooks.tasks import STALE_DELIVERY_SECONDS, installations_reconcile
from workspaces.models import GitHubInstallation, InstallationRepository, Plan, Workspace
from workspaces.services import installation_link

from .conftest import installation_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(github_sim: Any) -> GitHubInstallation:
    """An installation linked while the simulator sends no webhook: every later change is a lost one."""
    github_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/app", installation_id=github_id)
    workspace = Workspace.objects.create(name="Acme", plan=Plan.objects.get(slug="pro"))
    return installation_link(workspace=workspace, installation_github_id=github_id)


def test_a_lost_suspension_is_repaired_and_audited(github_sim: Any, linked) -> None:
    github_sim.suspend_installation(linked.github_id)

    assert installations_reconcile() == {"installations": 1, "deliveries_requeued": 0}

    assert GitHubInstallation.objects.get(pk=linked.pk).is_suspended
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.INSTALLATION_RECONCILED)
    assert (event.detail["old"]["suspended"], event.detail["new"]["suspended"]) == (False, True)


def test_a_lost_repository_change_is_repaired(github_sim: Any, linked) -> None:
    github_sim.add_repository("acme/modules", installation_id=linked.github_id)

    installations_reconcile()

    assert set(InstallationRepository.objects.values_list("full_name", flat=True)) == {"acme/app", "acme/modules"}
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.INSTALLATION_RECONCILED)
    assert (event.detail["added"], event.detail["removed"]) == (["acme/modules"], [])


def test_nothing_lost_means_nothing_changed_and_nothing_audited(github_sim: Any, linked) -> None:
    installations_reconcile()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.INSTALLATION_RECONCILED).exists()


def test_an_installation_github_no_longer_knows_is_left_as_it_is(github_sim: Any, linked) -> None:
    github_sim.delete_installation(linked.github_id)
    installations_reconcile()
    assert GitHubInstallation.objects.filter(pk=linked.pk).exists()


def test_a_delivery_whose_task_was_lost_is_queued_again(github_sim: Any, linked) -> None:
    lost = WebhookDelivery.objects.create(
        guid="lost-1",
        event="installation",
        action="suspend",
        installation_github_id=linked.github_id,
        payload=installation_payload("suspend", linked.github_id, account="acme"),
    )
    fresh = WebhookDelivery.objects.create(guid="fresh-1", event="installation", action="suspend", payload={})
    WebhookDelivery.objects.filter(pk=lost.pk).update(
        received_at=timezone.now() - timedelta(seconds=STALE_DELIVERY_SECONDS + 60)
    )

    result = installations_reconcile()

    assert result["deliveries_requeued"] == 1
    assert WebhookDelivery.objects.get(pk=lost.pk).status == "done"
    assert WebhookDelivery.objects.get(pk=fresh.pk).status == "queued"
