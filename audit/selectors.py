"""Reads of the audit log for the review pages: the events a query selects within some workspaces,
one keyset page of them, their facets, their counts over time, and whether one event's chain link holds.

Which workspaces a person may read is decided above this app; these selectors take the answer as
`workspace_public_ids` (None means every workspace, for the operator's own staff).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncDay, TruncHour

from audit.chain import GENESIS_HASH, event_hash
from audit.event_types import MINT, event_type
from audit.models import AuditCheckpoint, AuditEvent, AuditSource
from audit.query import AuditQueryError, query_filter

PAGE_SIZE = 50
TOP_FACETS = 5


def audit_events_for(*, workspace_public_ids: Collection[str] | None, query: str = "") -> QuerySet[AuditEvent]:
    """The events of these workspaces that `query` selects, newest first; raises AuditQueryError."""
    events = AuditEvent.objects.filter(query_filter(query))
    if workspace_public_ids is not None:
        events = events.filter(workspace_public_id__in=list(workspace_public_ids))
    return events.order_by("-created_at", "-id")


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: before this event in the newest-first order (keyset pagination, no OFFSET,
    so the tenth thousand page costs what the first does)."""

    created_at: datetime
    id: int

    def __str__(self) -> str:
        return f"{self.created_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')},{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        when, _, pk = text.partition(",")
        try:
            created_at = datetime.fromisoformat(when)
            if created_at.tzinfo is None or not pk.isascii() or not pk.isdigit() or len(pk) > 19:
                raise ValueError
        except ValueError:
            raise AuditQueryError("The page link is not valid: start again from the first page.") from None
        return cls(created_at=created_at, id=int(pk))


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    next: Cursor | None


def audit_page(*, events: QuerySet[AuditEvent], before: Cursor | None = None, size: int = PAGE_SIZE) -> Page:
    if before is not None:
        events = events.filter(Q(created_at__lt=before.created_at) | Q(created_at=before.created_at, id__lt=before.id))
    rows = list(events.order_by("-created_at", "-id").prefetch_related("sources")[: size + 1])
    last = rows[size - 1] if len(rows) > size else None
    return Page(events=rows[:size], next=Cursor(last.created_at, last.pk) if last is not None else None)


@dataclass(frozen=True)
class Facets:
    outcomes: list[tuple[str, int]]
    actions: list[tuple[str, int]]
    callers: list[tuple[str, int]]
    sources: list[tuple[str, int]]


def audit_facets(*, events: QuerySet[AuditEvent], top: int = TOP_FACETS) -> Facets:
    def counted(column: str, rows: QuerySet[AuditEvent]) -> list[tuple[str, int]]:
        grouped = rows.order_by().values(column).annotate(n=Count("id")).order_by("-n", column)[:top]
        return [(row[column], row["n"]) for row in grouped]

    sources = (
        AuditSource.objects.filter(event__in=events.order_by().values("pk"))
        .values("repository_key")
        .annotate(n=Count("id"), name=Min("repository"))
        .order_by("-n", "repository_key")[:top]
    )
    return Facets(
        outcomes=counted("outcome", events),
        actions=_types_counted(events, top=top),
        callers=counted("repository", events.exclude(repository="")),
        sources=[(row["name"], row["n"]) for row in sources],
    )


def _types_counted(events: QuerySet[AuditEvent], *, top: int) -> list[tuple[str, int]]:
    """Events per `pro.atmos.*` type, legacy rows counted under the name they mean."""
    rows = events.order_by().values("action", "outcome").annotate(n=Count("id"))
    counts: dict[str, int] = {}
    for row in rows:
        name = event_type(row["action"], allowed=row["outcome"] == AuditEvent.Outcome.ALLOWED)
        counts[name] = counts.get(name, 0) + row["n"]
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


@dataclass(frozen=True)
class Bucket:
    start: datetime
    allowed: int
    refused: int


def mints_over_time(*, events: QuerySet[AuditEvent], days_at_most: int = 400) -> list[Bucket]:
    """Allowed and refused mints per hour when the selected mints span two days or less, else per day
    (UTC), oldest first; the database counts, so the page reads one row per slice and outcome."""
    mints = events.order_by().filter(action__in=MINT.actions)
    span = mints.aggregate(first=Min("created_at"), last=Max("created_at"))
    if span["first"] is None:
        return []
    hourly = span["last"] - span["first"] <= timedelta(days=2)
    if not hourly:
        mints = mints.filter(created_at__gte=span["last"] - timedelta(days=days_at_most))
    slice_of = TruncHour("created_at", tzinfo=UTC) if hourly else TruncDay("created_at", tzinfo=UTC)
    rows = mints.annotate(start=slice_of).values("start", "outcome").annotate(n=Count("id")).order_by("start")
    counts: dict[datetime, list[int]] = {}
    for row in rows:
        counts.setdefault(row["start"], [0, 0])[0 if row["outcome"] == AuditEvent.Outcome.ALLOWED else 1] += row["n"]
    # Slices without a mint are drawn too, so the chart's width is time, evenly.
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    start, last = min(counts), max(counts)
    buckets = []
    while start <= last:
        allowed, refused = counts.get(start, (0, 0))
        buckets.append(Bucket(start=start, allowed=allowed, refused=refused))
        start += step
    return buckets


def event_link_problem(event: AuditEvent) -> str | None:
    """None when the event's content matches its hash and it links to the event (or checkpoint) before it
    in its workspace's chain; otherwise what is wrong, in a sentence."""
    sources = [source.as_hashed() for source in event.sources.order_by("pk")]
    if event_hash(event, sources) != event.hash:
        return "Its content does not match its hash."
    if event.sequence == 1:
        anchor: str | None = GENESIS_HASH
    else:
        scope = {"workspace_public_id": event.workspace_public_id, "sequence": event.sequence - 1}
        anchor = AuditEvent.objects.filter(**scope).values_list("hash", flat=True).first()
        if anchor is None:
            anchor = AuditCheckpoint.objects.filter(**scope).values_list("hash", flat=True).first()
    if anchor is None:
        return "The event before it is missing and no retention checkpoint covers it."
    if anchor != event.previous_hash:
        return "It does not link to the event before it."
    return None
