"""No token (GitHub's OIDC token or our session) in a log line, an audit row or an error response."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.cache import cache
from django.test import Client

from audit.models import AuditEvent
from sts.models import OidcTokenUse, StsSession
from tests.factories import Acme
from tests.sts.exchange.conftest import exchange
from tests.sts.exchange.tokens import flipped_signature


def every_stored_row() -> str:
    rows = [*AuditEvent.objects.values(), *StsSession.objects.values(), *OidcTokenUse.objects.values()]
    return json.dumps(rows, default=str)


def secret_parts(token: str) -> list[str]:
    """The token, and its signature alone (a log of a truncated token would still leak it)."""
    return [token, token.rsplit(".", 1)[-1]]


def test_no_token_reaches_the_logs_the_audit_or_a_response(
    acme: Acme, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    accepted, tampered, unknown_workspace, unavailable = (acme.token() for _ in range(4))
    responses = [
        exchange(client, {"token": accepted, "workspaceId": acme.workspace.public_id}),
        exchange(client, {"token": accepted, "workspaceId": acme.workspace.public_id}),  # replay
        exchange(client, {"token": flipped_signature(tampered), "workspaceId": acme.workspace.public_id}),
        exchange(client, {"token": unknown_workspace, "workspaceId": "ws_000000000000000000000000"}),
    ]
    session_token = responses[0].json()["data"]["token"]
    acme.sim.fault("oidc_jwks", kind="status", status=500)
    cache.clear()  # the key set must be fetched again, from the failing issuer
    responses.append(exchange(client, {"token": unavailable, "workspaceId": acme.workspace.public_id}))

    assert [response.status_code for response in responses] == [200, 401, 401, 404, 503]
    stored = every_stored_row()
    error_bodies = " ".join(response.content.decode() for response in responses[1:])
    assert AuditEvent.objects.count() == 5
    for token in (accepted, tampered, unknown_workspace, unavailable, session_token):
        for part in secret_parts(token):
            assert part not in caplog.text
            assert part not in stored
            assert part not in error_bodies
    assert "[redacted]" not in stored  # nothing secret-shaped even reached the audit writer
