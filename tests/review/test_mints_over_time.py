"""audit.selectors.mints_over_time: the chart's counts, per hour over two days or less, else per day,
with empty slices in between, and only mints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.event_types import MINT
from audit.models import AuditEvent
from audit.selectors import audit_events_for, mints_over_time
from audit.services import audit_record
from tests.review.conftest import redated

pytestmark = pytest.mark.django_db


def _event(when: str, *, outcome: str, action: str = "") -> None:
    action = action or MINT.type_for(allowed=outcome == AuditEvent.Outcome.ALLOWED)
    event = audit_record(action=action, outcome=outcome, request_id=f"req_{when}", workspace_public_id="ws_c")
    redated(event.pk, datetime.fromisoformat(when).replace(tzinfo=UTC))


def _counts() -> list[tuple[str, int, int]]:
    buckets = mints_over_time(events=audit_events_for(workspace_public_ids=["ws_c"]))
    return [(bucket.start.strftime("%m-%d %H"), bucket.allowed, bucket.refused) for bucket in buckets]


def test_it_counts_per_day_with_the_empty_days_between() -> None:
    _event("2026-11-01T10:00:00", outcome="allowed")
    _event("2026-11-01T23:00:00", outcome="denied")
    _event("2026-11-04T01:00:00", outcome="error")
    _event("2026-11-02T01:00:00", outcome="allowed", action=AuditEvent.Action.OIDC_TOKEN_EXCHANGE_SUCCESS)

    assert _counts() == [("11-01 00", 1, 1), ("11-02 00", 0, 0), ("11-03 00", 0, 0), ("11-04 00", 0, 1)]


def test_it_counts_per_hour_within_two_days() -> None:
    _event("2026-11-01T10:15:00", outcome="allowed")
    _event("2026-11-01T10:45:00", outcome="allowed")
    _event("2026-11-01T12:05:00", outcome="denied")

    assert _counts() == [("11-01 10", 2, 0), ("11-01 11", 0, 0), ("11-01 12", 0, 1)]


def test_it_counts_the_mints_stored_under_the_legacy_name_with_the_others() -> None:
    _event("2026-11-01T10:15:00", outcome="allowed", action=AuditEvent.Action.LEGACY_STS_MINT)
    _event("2026-11-01T10:20:00", outcome="denied", action=AuditEvent.Action.LEGACY_STS_MINT)
    _event("2026-11-01T10:45:00", outcome="allowed")
    _event("2026-11-01T10:50:00", outcome="allowed", action=AuditEvent.Action.LEGACY_OIDC_EXCHANGE)

    assert _counts() == [("11-01 10", 2, 1)]


def test_it_draws_nothing_without_mints() -> None:
    assert _counts() == []
