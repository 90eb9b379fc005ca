"""POST /api/v1/sts/revoke: a client hands back a token we minted; we revoke it at GitHub and record it."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from sts.models import MintedToken
from tests.factories import workspace_create

from .conftest import revoke

pytestmark = pytest.mark.django_db


def test_it_revokes_at_github_and_records_when(client, world, session_for, minted):
    response = revoke(client, session_for(), minted)

    assert response.status_code == 200
    assert response.json()["data"]["revoked"] is True
    assert world.sim.token_is_live(minted) is False
    assert MintedToken.objects.get().revoked_at is not None
    event = AuditEvent.objects.get(action="pro.atmos.sts.token_revoked")
    assert event.outcome == "allowed"
    assert minted not in str(event.detail)


def test_revoking_twice_is_fine_and_keeps_the_first_time(client, world, session_for, minted):
    revoke(client, session_for(), minted)
    first = MintedToken.objects.get().revoked_at
    assert revoke(client, session_for(), minted).status_code == 200
    assert MintedToken.objects.get().revoked_at == first


@pytest.mark.parametrize("token", ["ghs_notours", "", "x" * 5000, 42])
def test_a_token_we_did_not_mint_is_not_found_or_refused(client, world, session_for, minted, token):
    response = revoke(client, session_for(), token)
    assert response.status_code in (200, 404)
    assert response.json()["success"] is False
    assert world.sim.token_is_live(minted) is True


def test_another_workspace_cannot_revoke_our_token(client, world, session_for, minted):
    other = workspace_create(name="Other", plan="pro")
    response = revoke(client, session_for(workspace=other), minted)
    assert response.status_code == 404
    assert world.sim.token_is_live(minted) is True
