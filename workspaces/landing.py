"""Reads for a workspace's landing page in the admin: usage, opted-in source repositories, recent outcomes.

The audit log lies below this app and is read directly. The tokens the mint recorded are read through
the relation the mint's model declares on Workspace (`minted_tokens`), never by importing `sts`,
which lies above this app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from audit.event_types import EXCHANGE, MINT, Operation
from audit.models import AuditEvent
from workspaces.models import Workspace

# How many recent minted tokens the opted-in list reads: enough for any real workspace's month, and a
# bound on the page's cost for a busy one.
OPTED_IN_TOKENS_READ = 5000
REFUSALS_SHOWN = 20
_DECISIONS = (*EXCHANGE.actions, *MINT.actions)


@dataclass(frozen=True)
class RecentOutcomes:
    since: datetime
    mints_allowed: int
    mints_refused: int
    exchanges_refused: int
    refusals: list[AuditEvent]


def mints_per_month(*, workspace: Workspace, months: int = 12) -> list[tuple[datetime, int]]:
    """Allowed mint requests per calendar month (UTC), newest first, from the audit log."""
    since = (timezone.now() - timedelta(days=31 * (months - 1))).replace(day=1, hour=0, minute=0, second=0)
    rows = (
        AuditEvent.objects.filter(
            workspace_public_id=workspace.public_id,
            action__in=MINT.actions,
            outcome=AuditEvent.Outcome.ALLOWED,
            created_at__gte=since,
        )
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(mints=Count("id"))
        .order_by("-month")
    )
    return [(row["month"], row["mints"]) for row in rows]


def opted_in_repositories(*, workspace: Workspace) -> list[str]:
    """Source repositories whose trust policy has admitted a caller of this workspace: those that
    appear in the tokens it minted (the only record of a policy's consent we keep)."""
    names: set[str] = set()
    recent = workspace.minted_tokens.order_by("-created_at")  # type: ignore[attr-defined]
    for repositories in recent.values_list("repositories", flat=True)[:OPTED_IN_TOKENS_READ]:
        names.update(str(name) for name in repositories or [])
    return sorted(names, key=str.lower)


def recent_outcomes(*, workspace: Workspace, hours: int = 24) -> RecentOutcomes:
    since = timezone.now() - timedelta(hours=hours)
    events = AuditEvent.objects.filter(
        workspace_public_id=workspace.public_id, action__in=_DECISIONS, created_at__gte=since
    )
    # Per operation and outcome: a legacy row counts with the events that carry its new name.
    counts: dict[tuple[Operation, bool], int] = {}
    for row in events.values("action", "outcome").annotate(n=Count("id")).order_by():
        operation = MINT if row["action"] in MINT.actions else EXCHANGE
        key = (operation, row["outcome"] == AuditEvent.Outcome.ALLOWED)
        counts[key] = counts.get(key, 0) + row["n"]
    return RecentOutcomes(
        since=since,
        mints_allowed=counts.get((MINT, True), 0),
        mints_refused=counts.get((MINT, False), 0),
        exchanges_refused=counts.get((EXCHANGE, False), 0),
        refusals=list(events.exclude(outcome=AuditEvent.Outcome.ALLOWED).order_by("-created_at")[:REFUSALS_SHOWN]),
    )
