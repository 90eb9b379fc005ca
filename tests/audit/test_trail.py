"""audit.trail: one event per request, written once, of bounded size whatever the services put in it."""

from __future__ import annotations

import json

import pytest

from audit import event_types
from audit.models import AuditEvent
from audit.trail import MAX_DETAIL_BYTES, AuditTrail

pytestmark = pytest.mark.django_db


def test_it_writes_one_event_however_often_it_is_asked() -> None:
    trail = AuditTrail(action=AuditEvent.Action.TOKEN_MINTED, request_id="req_once")

    first = trail.write(status=200)
    second = trail.write(status=500, error_tag="InternalError", message="late")

    assert first.pk == second.pk and AuditEvent.objects.count() == 1
    assert (first.outcome, first.error_tag) == ("allowed", "")


@pytest.mark.parametrize(
    ("status", "error_tag", "decided", "outcome", "action"),
    [
        (200, "", None, "allowed", "pro.atmos.sts.token_minted"),
        (200, "", "denied", "denied", "pro.atmos.sts.mint_denied"),
        (200, "InvalidMintRequest", None, "denied", "pro.atmos.sts.mint_denied"),
        (403, "StsNotEntitled", None, "denied", "pro.atmos.sts.mint_denied"),
        (429, "Throttled", None, "denied", "pro.atmos.sts.mint_denied"),
        (500, "InternalError", None, "error", "pro.atmos.sts.mint_denied"),
        (503, "GitHubUnavailable", None, "error", "pro.atmos.sts.mint_denied"),
    ],
)
def test_the_outcome_follows_the_answer_and_picks_the_mint_s_type(
    status: int, error_tag: str, decided: str | None, outcome: str, action: str
) -> None:
    trail = AuditTrail(action=event_types.MINT, request_id="req_outcome")
    if decided:
        trail.decide(decided)

    event = trail.write(status=status, error_tag=error_tag, message="why")

    assert (event.outcome, event.action) == (outcome, action)
    assert ("reason" in event.detail) == bool(error_tag)


def test_an_unverified_caller_is_never_identified() -> None:
    trail = AuditTrail(action=event_types.EXCHANGE, request_id="req_anon")
    trail.identify(workspace_public_id="ws_asked")

    event = trail.write(status=401, error_tag="InvalidOidcToken", message="bad")

    assert (event.workspace_public_id, event.identity, event.repository) == ("ws_asked", {}, "")


def test_a_detail_beyond_the_cap_keeps_the_small_facts_and_says_what_it_left_out() -> None:
    trail = AuditTrail(action=AuditEvent.Action.TOKEN_MINTED, request_id="req_big")
    trail.note(policy_name="default", requested=["acme/" + "x" * 100] * 1000, decisions=[{"repo": "y" * 300}] * 200)

    event = trail.write(status=200)

    stored = AuditEvent.objects.get(pk=event.pk).detail
    assert len(json.dumps(stored)) <= MAX_DETAIL_BYTES
    assert stored["policy_name"] == "default"
    assert stored["requested"]["omitted"] is True and stored["requested"]["bytes"] > MAX_DETAIL_BYTES


def test_a_detail_within_the_cap_is_kept_whole() -> None:
    trail = AuditTrail(action=AuditEvent.Action.TOKEN_MINTED, request_id="req_small")
    trail.note(requested=["acme/a", "acme/b"], decisions=[{"repo": "acme/a", "decision": "granted"}])

    assert trail.write(status=200).detail == {
        "requested": ["acme/a", "acme/b"],
        "decisions": [{"repo": "acme/a", "decision": "granted"}],
    }


def test_a_token_noted_by_mistake_never_reaches_the_row() -> None:
    token = "ghs_" + "A1b2C3d4" * 6
    trail = AuditTrail(action=AuditEvent.Action.TOKEN_MINTED, request_id="req_leak")
    trail.note(error=f"GitHub said no to {token}")

    event = trail.write(status=200)

    row = AuditEvent.objects.filter(pk=event.pk).values().get()
    assert token not in json.dumps(row, default=str)


def test_a_detail_of_countless_small_entries_is_replaced_by_a_count() -> None:
    trail = AuditTrail(action=AuditEvent.Action.TOKEN_MINTED, request_id="req_many")
    trail.note(**{f"k{n}": n for n in range(5000)})

    event = trail.write(status=200)

    assert event.detail["omitted"] is True and event.detail["entries"] == 5000
