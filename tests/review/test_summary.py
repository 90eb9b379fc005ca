"""audit.selectors.audit_summary: the facets and the chart count the newest events a query selects (all
of them when there are fewer), and the page says which events they counted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from audit import selectors
from audit.models import AuditEvent
from audit.selectors import audit_events_for, audit_summary
from audit.services import audit_record
from tests.review.conftest import People, redated, signed_in

pytestmark = pytest.mark.django_db
MINT = AuditEvent.Action.LEGACY_STS_MINT  # both outcomes under one name; the summary maps it


def _mint(number: int, *, caller: str, outcome: str, source: str, day: str) -> AuditEvent:
    event = audit_record(
        action=MINT,
        outcome=outcome,
        request_id=f"req_{number}",
        workspace_public_id="ws_s",
        identity={"repository": caller},
        sources=[{"repository": source, "decision": "granted" if outcome == "allowed" else "excluded"}],
    )
    redated(event.pk, datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=UTC))
    return event


@pytest.fixture
def log() -> list[AuditEvent]:
    """Two old refusals of one caller, then three newer mints of another."""
    return [
        _mint(1, caller="acme/old", outcome="denied", source="acme/old-modules", day="2026-10-01"),
        _mint(2, caller="acme/old", outcome="denied", source="acme/old-modules", day="2026-10-02"),
        _mint(3, caller="acme/new", outcome="allowed", source="acme/new-modules", day="2026-11-01"),
        _mint(4, caller="acme/new", outcome="allowed", source="acme/new-modules", day="2026-11-02"),
        _mint(5, caller="acme/new", outcome="allowed", source="acme/new-modules", day="2026-11-04"),
    ]


def _summary(query: str = "", size: int = 3) -> selectors.Summary:
    return audit_summary(events=audit_events_for(workspace_public_ids=["ws_s"], query=query), size=size)


def test_the_facets_count_only_the_newest_events_of_the_query(log: list[AuditEvent]) -> None:
    summary = _summary()

    assert summary.facets.outcomes == [("allowed", 3)]
    assert summary.facets.callers == [("acme/new", 3)]
    assert summary.facets.sources == [("acme/new-modules", 3)]
    assert (summary.counted, summary.complete) == (3, False)
    assert summary.since == datetime(2026, 11, 1, 12, tzinfo=UTC)


def test_the_chart_counts_the_same_events_as_the_facets(log: list[AuditEvent]) -> None:
    buckets = _summary().buckets

    assert [(b.start.strftime("%m-%d"), b.allowed, b.refused) for b in buckets] == [
        ("11-01", 1, 0),
        ("11-02", 1, 0),
        ("11-03", 0, 0),
        ("11-04", 1, 0),
    ]


def test_a_created_range_moves_what_is_counted_to_older_events(log: list[AuditEvent]) -> None:
    summary = _summary("created:2026-10-01..2026-10-31")

    assert summary.facets.outcomes == [("denied", 2)] and summary.facets.sources == [("acme/old-modules", 2)]
    assert (summary.counted, summary.complete, summary.since) == (2, True, None)


def test_every_event_is_counted_when_the_query_selects_fewer(log: list[AuditEvent]) -> None:
    summary = _summary(size=10)

    assert summary.facets.outcomes == [("allowed", 3), ("denied", 2)]
    assert summary.facets.callers == [("acme/new", 3), ("acme/old", 2)]
    assert (summary.counted, summary.complete) == (5, True)


def test_the_page_says_that_it_counted_every_event(people: People, client: Client) -> None:
    body = signed_in(client, people.a.users["security"]).get(reverse("audit:list")).content.decode()

    assert "Facets and chart count all 2 events of this query." in body


def test_the_page_says_which_newest_events_it_counted(
    people: People, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "SUMMARY_EVENTS", 1)
    body = signed_in(client, people.a.users["security"]).get(reverse("audit:list")).content.decode()

    since = people.a.refusal.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert f"Facets and chart count the newest 1 event of this query, since {since} UTC" in body
    assert '>denied</a> <span class="count">1</span>' in body and ">allowed</a>" not in body
