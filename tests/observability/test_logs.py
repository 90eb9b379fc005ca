"""Log lines: one JSON object each with the request's context, the same shape for gunicorn's access
log, nothing beyond the listed fields, and the context gone once the request is over."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from django.test import Client
from gunicorn.glogging import SafeAtoms

from observability.log_context import LogContextFilter, log_context, log_context_bind, request_log_context
from observability.logs import ACCESS_LOG_FORMAT, PLAIN_FORMAT, JsonLineFormatter
from tests.factories import Acme

EXCHANGE = "/api/v1/auth/github-oidc"
FIELDS = {"time", "level", "logger", "message", "pid", "request_id", "workspace", "repository", "run_id"}


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Every record of every logger, at DEBUG, formatted as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(LogContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_the_request_s_context(json_lines: io.StringIO) -> None:
    logger = logging.getLogger("tests.observability")
    with request_log_context("req_0123"):
        log_context_bind(workspace="ws_abc", repository="acme/app", run_id="777")
        logger.warning("two\nlines and a %s", "value")
    logger.info("outside")
    inside, outside = parsed(json_lines)
    assert set(inside) == FIELDS
    assert inside["message"] == "two\nlines and a value"
    assert (inside["level"], inside["logger"]) == ("WARNING", "tests.observability")
    assert (inside["request_id"], inside["workspace"], inside["repository"], inside["run_id"]) == (
        "req_0123",
        "ws_abc",
        "acme/app",
        "777",
    )
    assert inside["time"].endswith("+00:00")
    assert {outside[name] for name in ("request_id", "workspace", "repository", "run_id")} == {"-"}


def test_fields_passed_as_extra_or_a_dict_message_are_not_written(json_lines: io.StringIO) -> None:
    logger = logging.getLogger("tests.observability")
    logger.info("minted", extra={"token": "ghs_extra_secret"})
    logger.info({"token": "ghs_dict_secret"})
    assert "secret" not in json_lines.getvalue()
    assert all(set(line) == FIELDS for line in parsed(json_lines))


def test_an_exception_is_written_with_its_traceback(json_lines: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("tests.observability").exception("failed")
    [line] = parsed(json_lines)
    assert "ValueError: boom" in line["exc_info"]


def test_the_request_id_is_the_envelope_s_trace_id_and_the_caller_joins_once_verified(
    client: Client, acme: Acme, json_lines: io.StringIO
) -> None:
    refused = client.post(EXCHANGE, {"token": "forged", "workspaceId": "ws_x"}, content_type="application/json")
    oidc = acme.token()
    run_id = jwt.decode(oidc, options={"verify_signature": False})["run_id"]
    session = client.post(
        EXCHANGE, {"token": oidc, "workspaceId": acme.workspace.public_id}, content_type="application/json"
    ).json()["data"]["token"]
    json_lines.truncate(0)
    json_lines.seek(0)
    # Two policies, read side by side by the policy readers' threads.
    minted = client.post(
        "/api/v1/sts",
        {"sources": ["acme/modules", "acme/no-policy"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {session}",
    )
    trace_id = minted.json()["traceId"]
    assert minted["X-Request-Id"] == trace_id
    lines = [line for line in parsed(json_lines) if line["request_id"] == trace_id]
    # urllib3's DEBUG lines of the calls to GitHub the mint made, once the session was verified.
    github_calls = [line for line in lines if line["logger"].startswith("urllib3")]
    read = {line["message"].split("/contents/")[0] for line in github_calls if "/contents/" in line["message"]}
    assert len(read) == 2, read
    for line in github_calls:
        assert (line["workspace"], line["repository"], line["run_id"]) == (acme.workspace.public_id, "acme/app", run_id)
    assert log_context()["request_id"] == "-"  # nothing of the request is left once it is over
    assert refused.status_code == 401


def test_a_refusal_s_log_line_carries_its_request_id(client: Client, db: None, json_lines: io.StringIO) -> None:
    response = client.post(EXCHANGE, {"token": "forged", "workspaceId": "ws_x"}, content_type="application/json")
    [line] = [line for line in parsed(json_lines) if line["logger"] == "django.request"]
    assert line["request_id"] == response.json()["traceId"]
    assert line["workspace"] == "-"  # an unverified workspace id is never the log's workspace
    assert line["message"] == "Unauthorized: /api/v1/auth/github-oidc"


def gunicorn_access_record(atoms: dict[str, Any]) -> logging.LogRecord:
    """A record as gunicorn's access log makes it: the format as message, its atoms as arguments."""
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, ACCESS_LOG_FORMAT, (), None)
    record.args = SafeAtoms(atoms)  # type: ignore[assignment]  # gunicorn passes a mapping
    return record


def test_gunicorn_s_access_line_has_the_same_shape_and_only_listed_atoms() -> None:
    atoms = {
        "h": "10.0.0.9",
        "m": "POST",
        "U": "/api/v1/sts",
        "q": "code=oauth-code-secret",
        "r": "POST /api/v1/sts?code=oauth-code-secret HTTP/1.1",
        "s": "200",
        "B": 512,
        "M": 12,
        "a": "atmos/1.0",
        "{authorization}i": "Bearer session-secret",
        "{x-request-id}o": "req_abc",
        "{github_app_private_key}e": "-----BEGIN RSA PRIVATE KEY-----",
    }
    record = gunicorn_access_record(atoms)
    LogContextFilter().filter(record)
    line = JsonLineFormatter().format(record)
    body = json.loads(line)
    assert body["request_id"] == "req_abc"
    assert (body["method"], body["path"], body["status"], body["bytes"], body["duration_ms"]) == (
        "POST",
        "/api/v1/sts",
        200,
        512,
        12,
    )
    assert body["message"] == "10.0.0.9 POST /api/v1/sts 200 512 12ms req_abc"
    assert set(body) == FIELDS | {"method", "path", "status", "bytes", "duration_ms", "remote_addr", "user_agent"}
    for secret in ("secret", "PRIVATE KEY"):
        assert secret not in line


def test_the_plain_format_is_one_readable_line_with_the_request_id() -> None:
    formatter = logging.Formatter(PLAIN_FORMAT)
    record = logging.LogRecord("sts.mint", logging.INFO, __file__, 1, "minted %s", ("2",), None)
    with request_log_context("req_plain"):
        LogContextFilter().filter(record)
    assert formatter.format(record).endswith("INFO sts.mint [req_plain] minted 2")


def test_a_caller_bound_outside_a_request_is_not_kept(json_lines: io.StringIO) -> None:
    log_context_bind(workspace="ws_task", repository="acme/app", run_id="1")  # as a Celery task's trail does
    logging.getLogger("tests.observability").info("later")
    [line] = parsed(json_lines)
    assert {line[name] for name in ("request_id", "workspace", "repository", "run_id")} == {"-"}
