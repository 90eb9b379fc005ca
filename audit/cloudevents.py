"""An audit event as a CloudEvents 1.0 envelope (JSON format), one to one: the form the JSON Lines export
writes, so a SIEM that reads CloudEvents takes the log as it is.

Spec: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md and its JSON format
(https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md).

- `id`: the event's primary key as a string, the id of `/audit/<id>/`; stable, and unique within its source.
- `source`: `/workspaces/<public id>`, a URI reference naming the workspace whose chain holds the event;
  `/service` for the chain of events that name no workspace (an exchange refused before any was known).
- `type`: the `pro.atmos.*` name (`audit.event_types`), legacy rows under the name their outcome gives them.
- `subject`: the caller repository of a request, or what a configuration change changed; absent when
  neither is known (the spec allows no empty subject).
- `time`: when the event was written, RFC 3339 in UTC with microseconds.
- `data`: `actor` (the verified run identity, or the person or system that made a change), `targets`
  (each source repository a mint decided, or the configuration target), `metadata` (trace id, the
  stored action, the event's bounded detail), `outcome`, `reason` (the error tag; each source keeps its
  own reason) and `chain` (`sequence`, `previous_hash`, `hash`): with these, the event's hash can be
  recomputed from the envelope alone (`audit.chain.event_hash`).

Nothing here reads more than the event holds, and the writer keeps tokens out of events, so no
envelope can carry one.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from audit.models import AuditEvent

SPEC_VERSION = "1.0"
NO_WORKSPACE_SOURCE = "/service"


def cloudevent(event: AuditEvent) -> dict[str, Any]:
    """The envelope of one event; its sources are read from `event.sources` (prefetch them for many)."""
    envelope: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": str(event.pk),
        "source": event_source(event.workspace_public_id),
        "type": event.event_type,
        "time": event.created_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": _data(event),
    }
    subject = event_subject(event)
    if subject:
        envelope["subject"] = subject
    return envelope


def event_source(workspace_public_id: str) -> str:
    return f"/workspaces/{workspace_public_id}" if workspace_public_id else NO_WORKSPACE_SOURCE


def event_subject(event: AuditEvent) -> str:
    """The caller repository, else the configuration target the detail names, else ""."""
    if event.repository:
        return event.repository
    detail = event.detail if isinstance(event.detail, dict) else {}
    if isinstance(detail.get("record"), str):
        return str(detail["record"])
    for key, prefix in (("setting", "settings"), ("feature", "features"), ("installation_id", "installations")):
        if detail.get(key) not in (None, ""):
            return f"{prefix}/{detail[key]}"
    return ""


def _data(event: AuditEvent) -> dict[str, Any]:
    detail = event.detail if isinstance(event.detail, dict) else {}
    sources = [source.as_hashed() for source in sorted(event.sources.all(), key=lambda source: source.pk)]
    subject = event_subject(event)
    if sources:
        targets: list[dict[str, Any]] = [{"type": "source_repository", **source} for source in sources]
    elif subject and not event.repository:
        targets = [{"type": "configuration", "name": subject}]
    else:
        targets = []
    return {
        "actor": event.identity if isinstance(event.identity, dict) else {},
        "targets": targets,
        "metadata": {
            "request_id": event.request_id,
            "workspace": event.workspace_public_id,
            "stored_action": event.action,
            "detail": detail,
        },
        "outcome": event.outcome,
        "reason": event.error_tag or None,
        "chain": {"sequence": event.sequence, "previous_hash": event.previous_hash, "hash": event.hash},
    }
