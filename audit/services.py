"""The single write path of the audit log, and the single way out of it (retention)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, checkpoint_signature, event_hash
from audit.models import AuditChainHead, AuditCheckpoint, AuditEvent, AuditSource
from audit.written_sql import written_insert

logger = logging.getLogger(__name__)

# GitHub token prefixes (https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/)
# and compact JWTs. A value of this shape in an audit row is a bug; it is redacted, and the bug is logged.
_SECRET_SHAPES = re.compile(
    r"(gh[pousr]_[A-Za-z0-9_.]{16,}|github_pat_[A-Za-z0-9_]{16,}|eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*)"
)
REDACTED = "[redacted]"

IDENTITY_COLUMNS = ("repository", "ref", "actor", "workflow", "run_id")

_quote = connection.ops.quote_name
_HEAD_TABLE = _quote(AuditChainHead._meta.db_table)
# FOR UPDATE where the database has it (PostgreSQL); SQLite takes its one write lock at the first write.
_HEAD_LOCK = (
    f"SELECT {_quote('id')}, {_quote('sequence')}, {_quote('hash')} FROM {_HEAD_TABLE} "  # noqa: S608
    f"WHERE {_quote('workspace_public_id')} = %s{' FOR UPDATE' if connection.features.has_select_for_update else ''}"
)
_HEAD_MOVE = f"UPDATE {_HEAD_TABLE} SET {_quote('sequence')} = %s, {_quote('hash')} = %s WHERE {_quote('id')} = %s"  # noqa: S608


def audit_record(
    *,
    action: str,
    outcome: str,
    request_id: str,
    workspace_public_id: str = "",
    identity: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
    error_tag: str = "",
    sources: Sequence[Mapping[str, Any]] = (),
    alongside: Callable[[], None] | None = None,
) -> AuditEvent:
    """Appends one event to its workspace's chain. `sources` are the source repositories a mint
    decided (`repository`, `github_id`, `decision`, `reason`, `rule`, `fingerprint`), one row each.
    `alongside` is the request's own database work, done in the event's transaction (before the
    chain's head is locked, so the lock is held no longer for it): both commit, or neither."""
    identity = _scrubbed(dict(identity or {}))
    columns = {name: str(identity.get(name, ""))[: _max_length(name)] for name in IDENTITY_COLUMNS}
    event = AuditEvent(
        action=action,
        outcome=outcome,
        request_id=request_id,
        workspace_public_id=workspace_public_id[: _max_length("workspace_public_id")],
        error_tag=error_tag[: _max_length("error_tag")],
        identity=identity,
        detail=_scrubbed(dict(detail or {})),
        **columns,
    )
    # JSON as the database gives it back, so the hash computed now is the one a verifier recomputes.
    event.identity, event.detail = json.loads(json.dumps(event.identity)), json.loads(json.dumps(event.detail))
    rows = [_source_row(source) for source in sources]
    hashed_rows = [row.as_hashed() for row in rows]
    with transaction.atomic():
        if alongside is not None:
            alongside()
        # From here to the commit the chain's head is locked: every writer of this workspace waits, so
        # this part is written out in four statements, not composed with the ORM (which cost several
        # times the statements themselves, all of it while the others wait).
        head_pk, sequence, previous_hash = _locked_head_row(event.workspace_public_id)
        event.sequence, event.previous_hash = sequence + 1, previous_hash
        event.created_at = timezone.now()
        event.hash = event_hash(event, hashed_rows)
        written_insert([event], returning_pk=True)
        for row in rows:
            row.event, row.workspace_public_id, row.created_at = event, event.workspace_public_id, event.created_at
            row.repository_key = row.repository.lower()
        written_insert(rows)
        with connection.cursor() as cursor:
            cursor.execute(_HEAD_MOVE, [event.sequence, event.hash, head_pk])
    return event


def _source_row(source: Mapping[str, Any]) -> AuditSource:
    github_id = source.get("github_id")
    rule = source.get("rule")
    return AuditSource(
        repository=str(source.get("repository", ""))[:200],
        github_id=int(github_id) if github_id is not None else None,
        decision=str(source.get("decision", "")),
        reason=str(source.get("reason") or "")[:64],
        rule=int(rule) if rule is not None else None,
        fingerprint=str(source.get("fingerprint") or "")[:64],
    )


def _locked_head_row(workspace_public_id: str) -> tuple[int, int, str]:
    """`_locked_head`'s key, sequence and hash, read with one written-out statement once the head exists."""
    with connection.cursor() as cursor:
        cursor.execute(_HEAD_LOCK, [workspace_public_id])
        found = cursor.fetchone()
    if found is not None:
        return int(found[0]), int(found[1]), str(found[2])
    head = _locked_head(workspace_public_id)
    return int(head.pk), head.sequence, head.hash


def _locked_head(workspace_public_id: str) -> AuditChainHead:
    """The chain's head, locked until the transaction ends: concurrent writers of one workspace take turns.
    Created on a chain's first event only (every later event finds it with one statement)."""
    heads = AuditChainHead.objects.select_for_update()
    try:
        return heads.get(workspace_public_id=workspace_public_id)
    except AuditChainHead.DoesNotExist:
        pass
    AuditChainHead.objects.bulk_create(
        [AuditChainHead(workspace_public_id=workspace_public_id, sequence=0, hash=GENESIS_HASH)],
        ignore_conflicts=True,
    )
    return heads.get(workspace_public_id=workspace_public_id)


def audit_retention_apply(*, workspace_public_id: str, before: datetime) -> AuditCheckpoint | None:
    """Removes a workspace's events created before `before`, through the one path the database allows:
    a signed checkpoint at the last removed event, then the removal of the events it covers. None when
    nothing is old enough."""
    with transaction.atomic():
        _locked_head(workspace_public_id)  # no event is added to this chain meanwhile
        last = (
            AuditEvent.objects.filter(workspace_public_id=workspace_public_id, created_at__lt=before)
            .order_by("-sequence")
            .first()
        )
        if last is None:
            return None
        checkpoint, _ = AuditCheckpoint.objects.get_or_create(
            workspace_public_id=workspace_public_id,
            sequence=last.sequence,
            defaults={
                "hash": last.hash,
                "signature": checkpoint_signature(
                    workspace_public_id=workspace_public_id, sequence=last.sequence, hash=last.hash
                ),
            },
        )
        AuditEvent.objects.filter(workspace_public_id=workspace_public_id, sequence__lte=last.sequence).delete()
    return checkpoint


def _max_length(column: str) -> int:
    field = AuditEvent._meta.get_field(column)
    assert isinstance(field, models.CharField)
    return int(field.max_length or 0)


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        if _SECRET_SHAPES.search(value):
            logger.error("A secret-shaped value reached the audit writer; it was redacted.")
            return _SECRET_SHAPES.sub(REDACTED, value)
        return value
    if isinstance(value, Mapping):
        return {str(key): _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(item) for item in value]
    return value
