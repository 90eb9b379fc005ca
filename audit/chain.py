"""The hash chain of the audit log: what an event's hash covers, and how a chain is checked.

Each event's `hash` is the SHA-256 of its canonical content (every column that says what happened,
as sorted JSON) together with the previous event's hash in the same workspace's chain. Changing any
stored value, removing an event, or inserting one breaks a link that `chain_verify` names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.crypto import salted_hmac

from audit.models import AuditChainHead, AuditCheckpoint, AuditEvent, AuditSource

GENESIS_HASH = "0" * 64
_CHECKPOINT_SALT = "atmospro.audit.checkpoint"


def event_hash(event: AuditEvent, sources: Sequence[Mapping[str, Any]] = ()) -> str:
    """`sources` are the event's `AuditSource` rows as `as_hashed()` gives them, in the order written."""
    content: dict[str, Any] = {
        "created_at": event.created_at.isoformat(timespec="microseconds"),
        "request_id": event.request_id,
        "action": event.action,
        "outcome": event.outcome,
        "error_tag": event.error_tag,
        "workspace": event.workspace_public_id,
        "repository": event.repository,
        "ref": event.ref,
        "actor": event.actor,
        "workflow": event.workflow,
        "run_id": event.run_id,
        "identity": event.identity,
        "detail": event.detail,
        "sequence": event.sequence,
        "previous_hash": event.previous_hash,
        "sources": list(sources),
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def checkpoint_signature(*, workspace_public_id: str, sequence: int, hash: str) -> str:
    """Signed with the server's secret: write access to the database alone cannot forge a checkpoint."""
    return salted_hmac(_CHECKPOINT_SALT, f"{workspace_public_id}\n{sequence}\n{hash}", algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    workspace_public_id: str
    sequence: int
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"event {self.event_id} " if self.event_id is not None else ""
        return f"workspace {self.workspace_public_id or '(none)'}: {where}at #{self.sequence}: {self.problem}"


def chain_verify(workspace_public_id: str) -> BrokenLink | None:
    """The first broken link of one workspace's chain, or None when the whole kept chain holds."""
    checkpoints = {
        checkpoint.sequence: checkpoint
        for checkpoint in AuditCheckpoint.objects.filter(workspace_public_id=workspace_public_id)
    }
    for sequence, signed in checkpoints.items():
        expected = checkpoint_signature(workspace_public_id=workspace_public_id, sequence=sequence, hash=signed.hash)
        if not hmac.compare_digest(expected, signed.signature):
            return BrokenLink(workspace_public_id, sequence, None, "the checkpoint's signature is wrong")
    previous: AuditEvent | None = None
    for event in _events(workspace_public_id):
        if previous is None:
            start = event.sequence - 1
            anchor = GENESIS_HASH if start == 0 else getattr(checkpoints.get(start), "hash", None)
            if anchor is None:
                return BrokenLink(
                    workspace_public_id, event.sequence, event.pk, f"events before #{event.sequence} are missing"
                )
        else:
            if event.sequence != previous.sequence + 1:
                return BrokenLink(
                    workspace_public_id, previous.sequence + 1, None, f"event #{previous.sequence + 1} is missing"
                )
            anchor = previous.hash
        if event.previous_hash != anchor:
            return BrokenLink(workspace_public_id, event.sequence, event.pk, "it does not link to the event before it")
        if event_hash(event, [source.as_hashed() for source in sorted(event.sources.all(), key=_pk)]) != event.hash:
            return BrokenLink(workspace_public_id, event.sequence, event.pk, "its content does not match its hash")
        covering = checkpoints.get(event.sequence)
        if covering is not None and covering.hash != event.hash:
            return BrokenLink(workspace_public_id, event.sequence, event.pk, "it differs from the checkpoint")
        previous = event
    head = AuditChainHead.objects.filter(workspace_public_id=workspace_public_id).first()
    last = previous.sequence if previous is not None else max(checkpoints, default=0)
    if head is not None and head.sequence != last:
        return BrokenLink(
            workspace_public_id, head.sequence, None, f"the chain ends at #{last}, its head says #{head.sequence}"
        )
    return None


def _events(workspace_public_id: str) -> Iterator[AuditEvent]:
    events = AuditEvent.objects.filter(workspace_public_id=workspace_public_id).order_by("sequence")
    return events.prefetch_related("sources").iterator(chunk_size=2000)


def chained_workspaces() -> list[str]:
    return sorted(
        set(AuditEvent.objects.values_list("workspace_public_id", flat=True).distinct())
        | set(AuditCheckpoint.objects.values_list("workspace_public_id", flat=True).distinct())
    )


def _pk(row: AuditSource) -> int:
    return int(row.pk)
