"""audit.cloudevents: every event one to one onto a CloudEvents 1.0 envelope, typed as the spec says,
and a real mint's envelope carries enough to recompute the event's hash, and never a token."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from audit.chain import event_hash
from audit.cloudevents import NO_WORKSPACE_SOURCE, cloudevent
from audit.event_types import is_legacy
from audit.models import AuditEvent
from audit.services import audit_record
from tests.factories import World, caller_claims, session_create, workspace_create
from tests.sts.mint.conftest import ADMITS_ACME_APP, mint

pytestmark = pytest.mark.django_db

REQUIRED = {"specversion", "id", "source", "type"}
# CloudEvents 1.0 "Attribute Naming Convention": lower-case ASCII letters and digits.
_ATTRIBUTE_NAME = re.compile(r"[a-z0-9]{1,20}")
# RFC 3339 as the envelope writes it: UTC with a `Z`.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


def assert_valid_envelope(envelope: dict[str, Any]) -> None:
    assert set(envelope) >= REQUIRED
    assert all(_ATTRIBUTE_NAME.fullmatch(name) for name in envelope if name != "data")
    assert envelope["specversion"] == "1.0"
    for name in ("id", "source", "type"):
        assert isinstance(envelope[name], str) and envelope[name], name  # non-empty strings
    source = urlsplit(envelope["source"])  # a URI reference: here an absolute path
    assert source.path.startswith("/") and not source.scheme and not source.netloc
    assert _RFC3339.fullmatch(envelope["time"]) and datetime.fromisoformat(envelope["time"])
    assert "subject" not in envelope or (isinstance(envelope["subject"], str) and envelope["subject"])
    assert envelope["datacontenttype"] == "application/json"
    assert set(envelope["data"]) == {"actor", "targets", "metadata", "outcome", "reason", "chain"}
    json.dumps(envelope)  # the JSON format's data is a JSON value


@pytest.mark.parametrize("action", AuditEvent.Action.values)
@pytest.mark.parametrize("outcome", AuditEvent.Outcome.values)
def test_every_action_maps_onto_a_valid_envelope_of_a_pro_atmos_type(action: str, outcome: str) -> None:
    event = audit_record(action=action, outcome=outcome, request_id="req_ce", workspace_public_id="ws_ce")

    envelope = cloudevent(event)

    assert_valid_envelope(envelope)
    assert envelope["type"].startswith("pro.atmos.") and not is_legacy(envelope["type"])
    assert envelope["type"] in AuditEvent.Action.values
    assert (envelope["id"], envelope["source"]) == (str(event.pk), "/workspaces/ws_ce")
    assert envelope["data"]["metadata"]["stored_action"] == action


@pytest.mark.parametrize(
    ("action", "outcome", "expected"),
    [
        ("oidc.exchange", "allowed", "pro.atmos.auth.oidc_token_exchange_success"),
        ("oidc.exchange", "denied", "pro.atmos.auth.oidc_token_exchange_failure"),
        ("oidc.exchange", "error", "pro.atmos.auth.oidc_token_exchange_failure"),
        ("sts.mint", "allowed", "pro.atmos.sts.token_minted"),
        ("sts.mint", "denied", "pro.atmos.sts.mint_denied"),
        ("sts.mint", "error", "pro.atmos.sts.mint_denied"),
        ("sts.revoke", "allowed", "pro.atmos.sts.token_revoked"),
        ("sts.revoke", "denied", "pro.atmos.sts.token_revoked"),
    ],
)
def test_a_legacy_row_is_typed_by_the_name_its_outcome_gives_it(action: str, outcome: str, expected: str) -> None:
    event = audit_record(action=action, outcome=outcome, request_id="req_legacy")

    assert cloudevent(event)["type"] == expected


def test_an_event_of_no_workspace_has_the_service_as_source_and_no_empty_subject() -> None:
    event = audit_record(action=AuditEvent.Action.OIDC_TOKEN_EXCHANGE_FAILURE, outcome="denied", request_id="req_x")

    envelope = cloudevent(event)

    assert_valid_envelope(envelope)
    assert envelope["source"] == NO_WORKSPACE_SOURCE and "subject" not in envelope
    assert envelope["data"]["targets"] == []


def test_a_configuration_change_names_its_target_as_subject_and_its_person_as_actor() -> None:
    event = audit_record(
        action=AuditEvent.Action.WORKSPACE_SETTING_CHANGED,
        outcome="allowed",
        request_id="chg_1",
        workspace_public_id="ws_cfg",
        identity={"actor": "alice", "actor_kind": "member"},
        detail={"setting": "allow_write_tokens", "old": False, "new": True},
    )

    envelope = cloudevent(event)

    assert envelope["subject"] == "settings/allow_write_tokens"
    assert envelope["data"]["actor"] == {"actor": "alice", "actor_kind": "member"}
    assert envelope["data"]["targets"] == [{"type": "configuration", "name": "settings/allow_write_tokens"}]


def test_a_real_mint_round_trips_through_its_envelope(client: Client, github_sim: Any) -> None:
    world = World(sim=github_sim, workspace=workspace_create())
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    world.source("acme/no-policy", acme, None)
    session = session_create(
        workspace=world.workspace, identity=caller_claims(repository_id=str(world.caller_repository_id))
    )
    response = mint(client, session, {"sources": ["acme/a", "acme/no-policy"]})
    [token] = response.json()["data"]["tokens"]
    event = AuditEvent.objects.get(request_id=response.json()["traceId"])

    text = json.dumps(cloudevent(event))
    envelope = json.loads(text)

    assert_valid_envelope(envelope)
    assert token["token"] not in text and "ghs_" not in text
    assert envelope["type"] == "pro.atmos.sts.token_minted" and envelope["subject"] == "acme/app"
    assert envelope["source"] == f"/workspaces/{world.workspace.public_id}"
    assert datetime.fromisoformat(envelope["time"]) == event.created_at
    data = envelope["data"]
    assert [(t["repository"], t["decision"], t["reason"]) for t in data["targets"]] == [
        ("acme/a", "granted", ""),
        ("acme/no-policy", "excluded", "no_trust_policy"),
    ]
    assert data["actor"]["repository"] == "acme/app" and data["outcome"] == "allowed"
    # Back from the envelope alone: the same event, so the same hash.
    rebuilt = AuditEvent(
        created_at=datetime.fromisoformat(envelope["time"]),
        request_id=data["metadata"]["request_id"],
        action=data["metadata"]["stored_action"],
        outcome=data["outcome"],
        error_tag=data["reason"] or "",
        workspace_public_id=data["metadata"]["workspace"],
        identity=data["actor"],
        detail=data["metadata"]["detail"],
        sequence=data["chain"]["sequence"],
        previous_hash=data["chain"]["previous_hash"],
        **{column: event.identity.get(column, "") for column in ("repository", "ref", "actor", "workflow", "run_id")},
    )
    sources = [{key: value for key, value in target.items() if key != "type"} for target in data["targets"]]
    assert event_hash(rebuilt, sources) == data["chain"]["hash"] == event.hash
