"""The mint follows the workspace's own settings: its caller rules, its plan's source cap, and the
audit rows it leaves per source."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from audit.models import AuditEvent, AuditSource
from sts.caller_rules import caller_rules_set
from sts.models import MintedToken
from tests.sts.mint.conftest import ADMITS_ACME_APP, mint
from tests.sts.mint.test_mint import data
from workspaces.services import Actor, override_grant

ADMIN = Actor(username="ada", kind="member")


def test_a_session_issued_before_the_caller_rules_changed_is_refused_at_its_next_mint(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/modules", acme, ADMITS_ACME_APP)
    session = session_for()
    assert data(mint(client, session, {"sources": ["acme/modules"]}))["tokens"]

    caller_rules_set(workspace=world.workspace, rules=[{"match": {"ref": "refs/tags/*"}}], actor=ADMIN)
    response = mint(client, session, {"sources": ["acme/modules"]})

    body = response.json()
    assert (response.status_code, body["errorTag"]) == (403, "CallerNotAdmitted")
    assert "Caller rules" in body["errorMessage"]
    assert MintedToken.objects.count() == 1
    refused = AuditEvent.objects.filter(action="pro.atmos.sts.mint_denied").order_by("-id").first()
    assert refused is not None and (refused.outcome, refused.error_tag) == ("denied", "CallerNotAdmitted")


def test_a_plan_that_allows_fewer_sources_refuses_a_longer_list_with_a_sentence(client, world, session_for):
    world.installation("acme")
    override_grant(
        workspace=world.workspace,
        feature="max_sources_per_mint",
        value=2,
        expires_at=timezone.now() + timedelta(days=1),
        actor=ADMIN,
    )

    response = mint(client, session_for(), {"sources": ["acme/a", "acme/b", "acme/c"]})

    body = response.json()
    assert (response.status_code, body["success"], body["errorTag"]) == (200, False, "InvalidMintRequest")
    assert "at most 2 sources" in body["errorMessage"]


def test_each_decided_source_leaves_an_audit_row_with_the_token_that_covers_it(client, world, session_for):
    acme = world.installation("acme")
    granted_id = world.source("acme/modules", acme, ADMITS_ACME_APP)
    world.source("acme/legacy", acme, None)

    result = data(mint(client, session_for(), {"sources": ["acme/modules", "acme/legacy", "acme/../x"]}))

    event = AuditEvent.objects.get(action="pro.atmos.sts.token_minted")
    rows = {row.repository: row for row in AuditSource.objects.filter(event=event)}
    assert set(rows) == {"acme/modules", "acme/legacy", "acme/../x"}
    granted = rows["acme/modules"]
    assert (granted.decision, granted.github_id, granted.rule) == ("granted", granted_id, 0)
    assert granted.fingerprint == MintedToken.objects.get().fingerprint
    assert (rows["acme/legacy"].decision, rows["acme/legacy"].reason) == ("excluded", "no_trust_policy")
    assert rows["acme/../x"].reason == "invalid_source_name" and rows["acme/../x"].fingerprint == ""
    assert result["tokens"][0]["token"] not in str(AuditSource.objects.values_list())
