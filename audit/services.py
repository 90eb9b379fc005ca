"""The single write path of the audit log."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from django.db import models

from audit.models import AuditEvent

logger = logging.getLogger(__name__)

# GitHub token prefixes (https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/)
# and compact JWTs. A value of this shape in an audit row is a bug; it is redacted, and the bug is logged.
_SECRET_SHAPES = re.compile(
    r"(gh[pousr]_[A-Za-z0-9_.]{16,}|github_pat_[A-Za-z0-9_]{16,}|eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*)"
)
REDACTED = "[redacted]"

IDENTITY_COLUMNS = ("repository", "ref", "actor", "workflow", "run_id")


def audit_record(
    *,
    action: str,
    outcome: str,
    request_id: str,
    workspace_public_id: str = "",
    identity: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
    error_tag: str = "",
) -> AuditEvent:
    identity = _scrubbed(dict(identity or {}))
    columns = {name: str(identity.get(name, ""))[: _max_length(name)] for name in IDENTITY_COLUMNS}
    return AuditEvent.objects.create(
        action=action,
        outcome=outcome,
        request_id=request_id,
        workspace_public_id=workspace_public_id[: _max_length("workspace_public_id")],
        error_tag=error_tag[: _max_length("error_tag")],
        identity=identity,
        detail=_scrubbed(dict(detail or {})),
        **columns,
    )


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
