"""An unauthenticated caller cannot open audit chains under names it makes up, nor write into a real
workspace's chain before its token verified: the workspace asked for is only a fact of the event."""

from __future__ import annotations

from django.test import Client

from audit.models import AuditChainHead, AuditEvent
from tests.factories import Acme
from tests.sts.exchange.conftest import exchange


def test_a_junk_token_for_a_made_up_workspace_opens_no_chain(acme: Acme, client: Client) -> None:
    response = exchange(client, {"token": "junk", "workspaceId": "ws_made_up_by_the_caller"})

    assert response.status_code == 401
    event = AuditEvent.objects.get()
    assert (event.workspace_public_id, event.detail["workspace_requested"]) == ("", "ws_made_up_by_the_caller")
    assert not AuditChainHead.objects.filter(workspace_public_id="ws_made_up_by_the_caller").exists()


def test_a_junk_token_for_a_real_workspace_stays_out_of_its_chain(acme: Acme, client: Client) -> None:
    exchange(client, {"token": "junk", "workspaceId": acme.workspace.public_id})

    assert not AuditEvent.objects.filter(workspace_public_id=acme.workspace.public_id).exists()


def test_a_verified_token_for_an_unknown_workspace_names_none(acme: Acme, client: Client) -> None:
    response = exchange(client, {"token": acme.token(), "workspaceId": "ws_unknown"})

    assert response.status_code == 404
    event = AuditEvent.objects.get()
    assert (event.workspace_public_id, event.repository) == ("", "acme/app")


def test_a_verified_token_for_its_workspace_is_recorded_in_that_workspace(acme: Acme, client: Client) -> None:
    response = exchange(client, {"token": acme.token(), "workspaceId": acme.workspace.public_id})

    assert response.status_code == 200
    assert AuditEvent.objects.get().workspace_public_id == acme.workspace.public_id
