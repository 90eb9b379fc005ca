"""One audit event per request: the trail is opened when a request reaches an audited endpoint,
filled by the services as they decide, and written exactly once when the response is final.

Whatever way a request ends (success, refusal, exception, throttle, wrong method or media type), the
API's base view writes its trail after the response is settled, outside every transaction a service
may have opened and rolled back, so no event disappears with a rollback and none is written twice.
Services never call the audit writer for a request themselves; they tell the trail what they know.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from audit.event_types import Operation
from audit.models import AuditEvent
from audit.services import audit_record
from observability.log_context import log_context_bind

# The largest `detail` an event may hold, as JSON. Services keep their facts bounded themselves
# (counts, the first few names); this cap is the guarantee behind them, whatever a caller sends.
MAX_DETAIL_BYTES = 16 * 1024


class AuditTrail:
    def __init__(self, *, action: str | Operation, request_id: str) -> None:
        """`action` is the event's type, or for an API request the operation whose type its outcome picks."""
        self.action = action
        self.request_id = request_id
        self.workspace_public_id = ""
        self.identity: dict[str, Any] = {}
        self.detail: dict[str, Any] = {}
        self.outcome: str | None = None
        self.sources: list[dict[str, Any]] = []
        self._event: AuditEvent | None = None
        self._alongside: tuple[Callable[[], None], Callable[[], None]] | None = None

    def identify(self, *, workspace_public_id: str, identity: Mapping[str, Any] | None = None) -> None:
        """Who is asking, once it is verified: never before, so an unverified claim is never recorded."""
        self.workspace_public_id = workspace_public_id
        if identity is not None:
            self.identity = dict(identity)
        log_context_bind(workspace=workspace_public_id, **_caller(self.identity))

    def note(self, **facts: Any) -> None:
        self.detail.update(facts)

    def source(
        self,
        *,
        repository: str,
        decision: str,
        github_id: int | None = None,
        reason: str = "",
        rule: int | None = None,
        fingerprint: str = "",
    ) -> None:
        """One source repository's decision: a row of its own, so audits can find it by repository."""
        self.sources.append(
            {
                "repository": repository,
                "github_id": github_id,
                "decision": decision,
                "reason": reason,
                "rule": rule,
                "fingerprint": fingerprint,
            }
        )

    def alongside(self, work: Callable[[], None], *, if_not_committed: Callable[[], None]) -> None:
        """The request's own database writes, done in the event's transaction when it is written: one
        transaction per request, and the records and their event commit together or not at all. When
        that transaction fails, `if_not_committed` runs (after the rollback: it may call GitHub, and may
        `note` what it did) and the exception goes on; the request's error path then writes the event
        alone (the work is tried once)."""
        self._alongside = (work, if_not_committed)

    def decide(self, outcome: str) -> None:
        """The outcome of a request that succeeded at the HTTP level: a mint that granted nothing is denied."""
        self.outcome = outcome

    @property
    def written(self) -> bool:
        return self._event is not None

    def write(self, *, status: int, error_tag: str = "", message: str = "") -> AuditEvent:
        """Records the event once; a second call returns the first event unchanged."""
        if self._event is not None:
            return self._event
        detail = dict(self.detail)
        if error_tag:
            detail.update(status=status, reason=message[:500])
        alongside, self._alongside = self._alongside, None
        try:
            self._event = self._record(status=status, error_tag=error_tag, detail=detail, alongside=alongside)
        except BaseException:
            if alongside is not None:
                alongside[1]()
            raise
        return self._event

    def _record(
        self,
        *,
        status: int,
        error_tag: str,
        detail: dict[str, Any],
        alongside: tuple[Callable[[], None], Callable[[], None]] | None,
    ) -> AuditEvent:
        outcome = outcome_of(status=status, error_tag=error_tag, decided=self.outcome)
        action = self.action
        if isinstance(action, Operation):
            action = action.type_for(allowed=outcome == AuditEvent.Outcome.ALLOWED)
        return audit_record(
            action=action,
            outcome=outcome,
            request_id=self.request_id,
            workspace_public_id=self.workspace_public_id,
            identity=self.identity,
            detail=bounded(detail),
            error_tag=error_tag,
            sources=self.sources,
            alongside=alongside[0] if alongside is not None else None,
        )


def _caller(identity: Mapping[str, Any]) -> dict[str, str]:
    """What the logs of the request say of its verified caller."""
    return {"repository": str(identity.get("repository", "")), "run_id": str(identity.get("run_id", ""))}


def outcome_of(*, status: int, error_tag: str, decided: str | None) -> str:
    """The event's outcome for a request that ended with `status` and `error_tag`."""
    if status >= 500:
        return AuditEvent.Outcome.ERROR
    if error_tag:
        return AuditEvent.Outcome.DENIED
    return decided or AuditEvent.Outcome.ALLOWED


def bounded(detail: dict[str, Any]) -> dict[str, Any]:
    """`detail` itself when it fits the cap; otherwise its largest entries are replaced by a note
    saying how large they were, until it fits. Nothing is silently cut in the middle of a value."""
    sizes = {key: len(json.dumps(value, default=str)) for key, value in detail.items()}
    if sum(sizes.values()) <= MAX_DETAIL_BYTES:
        return detail
    kept = dict(detail)
    for key in sorted(sizes, key=sizes.__getitem__, reverse=True):
        kept[key] = {"omitted": True, "bytes": sizes[key]}
        if len(json.dumps(kept, default=str)) <= MAX_DETAIL_BYTES:
            return kept
    return {"omitted": True, "bytes": sum(sizes.values()), "entries": len(sizes)}
