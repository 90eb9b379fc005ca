"""Log lines: one JSON object per line in production, a readable line in development (`LOG_FORMAT`).

Both shapes carry the request's context (`log_context`). A JSON line holds a fixed set of fields and
nothing else: whatever a caller passes in `extra=` or as a dict message is not written, so nothing
reaches the logs by accident. gunicorn's access log has the same shape; of its atoms (which include
every request header, the session's `Authorization` among them) only a listed few are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from observability.log_context import FIELDS, NONE

LOG_FORMATS = ("json", "plain")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# gunicorn's access line (the message of a JSON line too): the path without its query string, and the
# request id that the response's X-Request-Id (the envelope's traceId) carries.
ACCESS_LOG_FORMAT = "%(h)s %(m)s %(U)s %(s)s %(B)s %(M)sms %({x-request-id}o)s"
# JSON field -> gunicorn atom (https://docs.gunicorn.org/en/stable/settings.html#access-log-format).
_ACCESS_ATOMS = {
    "method": "m",
    "path": "U",
    "status": "s",
    "bytes": "B",
    "duration_ms": "M",
    "remote_addr": "h",
    "user_agent": "a",
}
_RESPONSE_REQUEST_ID = "{x-request-id}o"


class JsonLineFormatter(JsonFormatter):
    def add_fields(self, log_data: dict[str, Any], record: Any, message_dict: dict[str, Any]) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data["pid"] = record.process
        for name in FIELDS:
            log_data[name] = getattr(record, name, NONE)
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            log_data.update(_access_fields(record.args))
        for name in ("exc_info", "stack_info"):
            if message_dict.get(name):
                log_data[name] = message_dict[name]


def _access_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    fields = {name: _number(atoms[atom]) for name, atom in _ACCESS_ATOMS.items()}
    fields["request_id"] = atoms[_RESPONSE_REQUEST_ID]
    return fields


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, str) and value.isdigit() else value


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING: every record through one handler on stderr, with the request's context."""
    line: dict[str, Any] = {"()": JsonLineFormatter} if log_format == "json" else {"format": PLAIN_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"log_context": {"()": "observability.log_context.LogContextFilter"}},
        "formatters": {"line": line},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "filters": ["log_context"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # Django's own defaults print its records a second time, unformatted, while DEBUG is on.
        "loggers": {"django": {"handlers": [], "level": level, "propagate": True}},
    }


def gunicorn_logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its error and access logs in the shape of the application's lines."""
    config = logging_config(log_format=log_format, level=level)
    access: dict[str, Any] = (
        {"()": JsonLineFormatter} if log_format == "json" else {"format": "%(asctime)s %(name)s %(message)s"}
    )
    config["formatters"]["access"] = access
    config["handlers"]["access"] = {**config["handlers"]["console"], "formatter": "access"}
    config["loggers"] |= {
        "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    }
    return config
