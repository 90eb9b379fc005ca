"""The request's identity for every log line: its id (the envelope's `traceId`), then the workspace,
the caller's repository and run id once they are verified.

One context variable, set by the request middleware for exactly the span of a request and cleared
after it; the trail adds the caller when the identity is verified. Each value is replaced, never
mutated, so a copied context (a thread started inside the request) cannot change the request's own.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator, Mapping
from types import MappingProxyType

NONE = "-"
FIELDS = ("request_id", "workspace", "repository", "run_id")
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def request_log_context(request_id: str) -> Iterator[None]:
    """The span of one request: the context holds its id, and nothing of it is left afterwards."""
    token = _context.set({"request_id": request_id})
    try:
        yield
    finally:
        _context.reset(token)


def log_context_bind(*, workspace: str = "", repository: str = "", run_id: str = "") -> None:
    """Adds the verified caller to the current request's context (empty values are left out). Outside
    a request (a Celery task writing an audit event) it does nothing: with no span to end it, the
    caller would stay on every later line of the thread."""
    current = _context.get()
    if "request_id" not in current:
        return
    given = {"workspace": workspace, "repository": repository, "run_id": run_id}
    _context.set({**current, **{name: value[:200] for name, value in given.items() if value}})


def log_context() -> Mapping[str, str]:
    """Every field, `-` for what is not known (yet, or outside a request)."""
    current = _context.get()
    return {name: current.get(name, NONE) for name in FIELDS}


def current_request_id() -> str:
    return _context.get().get("request_id", NONE)


class LogContextFilter(logging.Filter):
    """Puts the request's context on every record, as attributes a format string or the JSON formatter reads."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in log_context().items():
            setattr(record, name, value)
        return True
