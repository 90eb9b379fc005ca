"""The filtered audit view as CSV or JSON Lines, one line at a time: the rows are read from the
database a keyset page at a time and written as they come, so memory stays constant however many
events the query selects. Each JSON line is the event's CloudEvents 1.0 envelope (`audit.cloudevents`)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from audit.cloudevents import cloudevent
from audit.models import AuditEvent
from audit.selectors import audit_page

FIRST_CHUNK_SIZE = 20
CHUNK_SIZE = 1000
COLUMNS = (
    "id",
    "created_at",
    "action",
    "outcome",
    "error_tag",
    "workspace",
    "repository",
    "ref",
    "sha",
    "actor",
    "workflow",
    "run_id",
    "environment",
    "sources",
    "request_id",
    "hash",
)
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection"):
# such a cell is written with a leading apostrophe, which spreadsheets show as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    for event in _chunked(events):
        yield writer.writerow([_neutral(str(value)) for value in _flat(event).values()])


def jsonl_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    for event in _chunked(events):
        yield json.dumps(cloudevent(event), ensure_ascii=False, sort_keys=True) + "\n"


def _chunked(events: QuerySet[AuditEvent]) -> Iterator[AuditEvent]:
    """The events page by page, as the list reads them (keyset, each page its own indexed query, no
    cursor held open for the whole download); a small first page, so the first line leaves at once."""
    before, size = None, FIRST_CHUNK_SIZE
    while True:
        page = audit_page(events=events.prefetch_related("sources"), before=before, size=size)
        yield from page.events
        if page.next is None:
            return
        before, size = page.next, CHUNK_SIZE


def _flat(event: AuditEvent) -> dict[str, Any]:
    sources = "; ".join(
        f"{source.repository} {source.decision}" + (f" {source.reason}" if source.reason else "")
        for source in _sources(event)
    )
    identity = event.identity if isinstance(event.identity, dict) else {}
    return {
        "id": event.pk,
        "created_at": event.created_at.isoformat(),
        "action": event.event_type,
        "outcome": event.outcome,
        "error_tag": event.error_tag,
        "workspace": event.workspace_public_id,
        "repository": event.repository,
        "ref": event.ref,
        "sha": identity.get("sha", ""),
        "actor": event.actor,
        "workflow": event.workflow,
        "run_id": event.run_id,
        "environment": identity.get("environment", ""),
        "sources": sources,
        "request_id": event.request_id,
        "hash": event.hash,
    }


def _sources(event: AuditEvent) -> list[Any]:
    return sorted(event.sources.all(), key=lambda source: source.pk)


def _neutral(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


class _Line:
    """A file for csv.writer that hands back each row instead of storing it."""

    def write(self, value: str) -> str:
        return value
