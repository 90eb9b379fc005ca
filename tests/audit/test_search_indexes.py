"""The search's queries are served by the indexes made for them (`audit.models`): the plan of each names
its index, on SQLite and on PostgreSQL, and `repo:`/`actor:` match names whatever their case."""

from __future__ import annotations

import pytest
from django.db import connection

from audit.models import AuditEvent
from audit.selectors import audit_events_for, audit_page
from audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def events() -> None:
    for number, (caller, actor, source) in enumerate(
        [("acme/infra", "OctoCat", "acme/Modules"), ("acme/app", "mallory", "acme/other"), ("Acme/Infra", "x", "y/z")]
    ):
        audit_record(
            action=AuditEvent.Action.TOKEN_MINTED,
            outcome=AuditEvent.Outcome.ALLOWED,
            request_id=f"req_{number}",
            workspace_public_id="ws_i",
            identity={"repository": caller, "actor": actor},
            sources=[{"repository": source, "decision": "granted"}],
        )


def _plan(query: str) -> str:
    first_page = audit_events_for(workspace_public_ids=["ws_i"], query=query)[:51]
    if connection.vendor == "postgresql":
        # A table this small is cheaper to read whole; forbid that to see which index could serve it.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
    return first_page.explain()


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("", "audit_event_keyset"),
        ("repo:ACME/Infra", "audit_event_by_caller"),
        ("actor:octocat created:>=2026-11-01", "audit_event_by_actor"),
        ("source:ACME/modules", "audit_source_by_key"),
    ],
)
def test_a_first_page_reads_its_index(events: None, query: str, index: str) -> None:
    assert index in _plan(query)


@pytest.mark.parametrize(
    ("query", "callers"),
    [
        ("repo:ACME/Infra", ["Acme/Infra", "acme/infra"]),
        ("repo:acme/infra", ["Acme/Infra", "acme/infra"]),
        ("-repo:ACME/INFRA", ["acme/app"]),
        ("actor:OCTOCAT", ["acme/infra"]),
        ("source:ACME/modules", ["acme/infra"]),
    ],
)
def test_names_match_without_case(events: None, query: str, callers: list[str]) -> None:
    selected = audit_events_for(workspace_public_ids=["ws_i"], query=query).values_list("repository", flat=True)

    assert list(selected) == callers


def test_two_source_terms_each_hold(events: None) -> None:
    audit_record(
        action=AuditEvent.Action.TOKEN_MINTED,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id="req_both",
        workspace_public_id="ws_i",
        identity={"repository": "acme/both"},
        sources=[{"repository": "acme/modules", "decision": "granted"}, {"repository": "y/z", "decision": "granted"}],
    )
    selected = audit_events_for(workspace_public_ids=["ws_i"], query="source:y/z source:ACME/modules")

    assert list(selected.values_list("repository", flat=True)) == ["acme/both"]


def test_an_event_naming_a_source_twice_is_listed_once(events: None) -> None:
    twice = [{"repository": "acme/bad name", "decision": "excluded", "reason": "invalid_source_name"}] * 2
    audit_record(
        action=AuditEvent.Action.TOKEN_MINTED,
        outcome=AuditEvent.Outcome.DENIED,
        request_id="req_twice",
        workspace_public_id="ws_i",
        identity={"repository": "acme/twice"},
        sources=twice,
    )
    events = audit_events_for(workspace_public_ids=["ws_i"], query='source:"acme/bad name"')

    assert [event.repository for event in audit_page(events=events).events] == ["acme/twice"]


def test_duplicate_source_rows_never_end_the_pages_early(events: None) -> None:
    # Two pages of one event each, the newer listing the source three times: its duplicates must not take
    # the place of the look-ahead row that says a next page exists.
    for number, times in enumerate((1, 3)):
        audit_record(
            action=AuditEvent.Action.MINT_DENIED,
            outcome=AuditEvent.Outcome.DENIED,
            request_id=f"req_dup_{number}",
            workspace_public_id="ws_i",
            identity={"repository": f"acme/dup-{number}"},
            sources=[{"repository": "acme/bad name", "decision": "excluded", "reason": "invalid_source_name"}] * times,
        )
    events = audit_events_for(workspace_public_ids=["ws_i"], query='source:"acme/bad name"')

    first = audit_page(events=events, size=1)
    assert [event.repository for event in first.events] == ["acme/dup-1"]
    assert first.next is not None
    second = audit_page(events=events, before=first.next, size=1)
    assert [event.repository for event in second.events] == ["acme/dup-0"]
    assert second.next is None
