"""Reads of the audit log for the review pages: the events a query selects within some workspaces,
one keyset page of them, their facets and counts over time (`audit_summary`), and whether one event's
chain link holds.

Which workspaces a person may read is decided above this app; these selectors take the answer as
`workspace_public_ids` (None means every workspace, for the operator's own staff).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    CharField,
    Count,
    F,
    Func,
    Lookup,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from audit.chain import GENESIS_HASH, event_hash
from audit.event_types import MINT, event_type
from audit.models import AuditCheckpoint, AuditEvent, AuditSource
from audit.query import AuditQueryError, query_filter

PAGE_SIZE = 50
TOP_FACETS = 5
# What the list shows of an event: the identity and detail JSON and the chain's columns are read only
# by the event's own page and the exports.
LISTED_COLUMNS = ("created_at", "action", "outcome", "error_tag", "repository", "ref", "actor", "workflow")


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
        # The first condition alone bounds the index scan; the second breaks ties within that instant.
        older = Q(created_at__lt=before.created_at) | Q(created_at=before.created_at, id__lt=before.id)
        events = events.filter(Q(created_at__lte=before.created_at) & older)
    newest_first = events.order_by("-created_at", "-id")
    # A `source:` query joins the source rows: an event listing that repository twice (a malformed name
    # requested twice) comes twice, one after the other; it is shown once. Whether there is a next page is
    # known only once `size + 1` distinct events are read, so duplicates make this read on past them.
    kept: dict[int, AuditEvent] = {}
    batch = newest_first
    while True:
        fetched = list(batch[: size + 1])
        for row in fetched:
            kept.setdefault(row.pk, row)
        if len(kept) > size or len(fetched) <= size:
            break
        end = fetched[-1]
        batch = newest_first.filter(Q(created_at__lt=end.created_at) | Q(created_at=end.created_at, id__lt=end.pk))
    rows = list(kept.values())
    last = rows[size - 1] if len(rows) > size else None
    return Page(events=rows[:size], next=Cursor(last.created_at, last.pk) if last is not None else None)


def listed(events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    """`events` as the list shows them: its columns only, each with the number of its source rows
    (`source_count`), counted by the database in the page's own query instead of read row by row."""
    counted = AuditSource.objects.filter(event=OuterRef("pk")).order_by().values("event").annotate(n=Count("*"))
    return events.only(*LISTED_COLUMNS).annotate(source_count=Coalesce(Subquery(counted.values("n")), 0))


@dataclass(frozen=True)
class Facets:
    outcomes: list[tuple[str, int]]
    actions: list[tuple[str, int]]
    callers: list[tuple[str, int]]
    sources: list[tuple[str, int]]


@dataclass(frozen=True)
class Bucket:
    start: datetime
    allowed: int
    refused: int


@dataclass(frozen=True)
class Summary:
    """The facets and the chart of a query, counted exactly over its newest `counted` events: every
    event it selects when `complete`, else its newest `counted`, the oldest of them created at `since`."""

    facets: Facets
    buckets: list[Bucket]
    counted: int
    complete: bool
    since: datetime | None


# Counting every event a query selects costs what the query selects: at a million events a workspace's
# facets took a tenth of a second and grew with the log. The newest events of the query are read from
# the same index as its first page, so the summary costs the same at any size of log, and it says which
# events it counted; a `created:` range narrows it to older events.
SUMMARY_EVENTS = 1000


def audit_summary(
    *, events: QuerySet[AuditEvent], size: int | None = None, top: int = TOP_FACETS, days_at_most: int = 400
) -> Summary:
    size = size or SUMMARY_EVENTS
    newest = events.order_by("-created_at", "-id")[:size]
    read = list(newest.annotate(at=_UtcText("created_at")).values_list("pk", "at", "action", "outcome", "repository"))
    rows = [(_utc(at), action, outcome, caller) for _, at, action, outcome, caller in read]
    allowed = AuditEvent.Outcome.ALLOWED
    # Their source rows found by the ids just read: the query is not run a second time.
    sources = (
        AuditSource.objects.filter(_among("event_id", [pk for pk, *_ in read]))
        .values("repository_key")
        .annotate(n=Count("id"), name=Min("repository"))
        .order_by("-n", "repository_key")[:top]
    )
    facets = Facets(
        outcomes=_top((outcome for _, _, outcome, _ in rows), top),
        # Legacy rows are counted under the `pro.atmos.*` name they mean.
        actions=_top((event_type(action, allowed=outcome == allowed) for _, action, outcome, _ in rows), top),
        callers=_top((caller for *_, caller in rows if caller), top),
        sources=[(row["name"], row["n"]) for row in sources],
    )
    mint_actions = MINT.actions
    mints = [(created_at, outcome) for created_at, action, outcome, _ in rows if action in mint_actions]
    complete = len(rows) < size
    return Summary(
        facets=facets,
        buckets=_mints_over_time(mints, days_at_most=days_at_most),
        counted=len(rows),
        complete=complete,
        since=None if complete else rows[-1][0],
    )


def mints_over_time(*, events: QuerySet[AuditEvent], days_at_most: int = 400) -> list[Bucket]:
    """The chart of `audit_summary`: allowed and refused mints per hour when the counted mints span two
    days or less, else per day (UTC), oldest first, with the empty slices between."""
    return audit_summary(events=events, days_at_most=days_at_most).buckets


def _among(column: str, values: list[int]) -> Q:
    """`column IN (values)`; on PostgreSQL `column = ANY(%s)` with the values as one array: psycopg and
    the server read a thousand placeholders one by one, which took longer than the query itself."""
    if connection.vendor != "postgresql":
        return Q(**{f"{column}__in": values})
    return Q(_AnyOf(F(column), values))


class _AnyOf(Lookup):  # type: ignore[type-arg]
    """`lhs = ANY(%s::bigint[])` on PostgreSQL, the integers written as one array literal (Django's array
    field would prepare and psycopg dump each of them)."""

    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        array = "{" + ",".join(str(int(value)) for value in self.rhs) + "}"
        return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, array]


class _UtcText(Func):
    """A time as ISO 8601 text in UTC, to be read by `_utc`: Django's loader of PostgreSQL's timestamptz
    runs in Python, and took three quarters of the summary's row query for 1,000 rows. PostgreSQL writes
    it with `to_char`, whatever the session's DateStyle; SQLite stores it so (the cast keeps its driver
    from reading it back as a datetime)."""

    template = "CAST(%(expressions)s AS TEXT)"
    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00:00')"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def _utc(text: str) -> datetime:
    """A time written by `_UtcText`: SQLite's text may lack the offset (UTC nonetheless)."""
    when = datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _top(values: Iterable[str], top: int) -> list[tuple[str, int]]:
    return sorted(Counter(values).items(), key=lambda item: (-item[1], item[0]))[:top]


def _mints_over_time(mints: list[tuple[datetime, str]], *, days_at_most: int) -> list[Bucket]:
    if not mints:
        return []
    first, last = min(when for when, _ in mints), max(when for when, _ in mints)
    hourly = last - first <= timedelta(days=2)
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    oldest = last - timedelta(days=days_at_most)
    counts: dict[datetime, list[int]] = {}
    for when, outcome in mints:
        if hourly or when >= oldest:
            start = _slice_start(when, hourly=hourly)
            counts.setdefault(start, [0, 0])[0 if outcome == AuditEvent.Outcome.ALLOWED else 1] += 1
    # Slices without a mint are drawn too, so the chart's width is time, evenly.
    start, end = min(counts), max(counts)
    buckets = []
    while start <= end:
        allowed, refused = counts.get(start, (0, 0))
        buckets.append(Bucket(start=start, allowed=allowed, refused=refused))
        start += step
    return buckets


def _slice_start(when: datetime, *, hourly: bool) -> datetime:
    when = when.astimezone(UTC)
    return when.replace(minute=0, second=0, microsecond=0, hour=when.hour if hourly else 0)


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
