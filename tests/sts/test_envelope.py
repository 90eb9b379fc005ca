"""Every response under /api/ is the wire contract's envelope, whichever layer produced it."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client

from tests.sts.envelope_urls import SECRET_IN_EXCEPTION

pytestmark = pytest.mark.django_db


def _envelope(response: Any) -> dict[str, Any]:
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body["status"] == response.status_code
    assert body["success"] is False
    assert body["traceId"] == body["request"] == response["X-Request-Id"]
    assert body["errorTag"]
    assert body["errorMessage"]
    return body


def test_an_unknown_api_route_is_a_404_envelope(client: Client) -> None:
    body = _envelope(client.get("/api/v1/no-such-route"))
    assert body["errorTag"] == "NotFound"


def test_a_wrong_method_on_a_real_route_is_a_405_envelope(client: Client) -> None:
    body = _envelope(client.get("/api/v1/auth/github-oidc"))
    assert body["status"] == 405


@pytest.mark.urls("tests.sts.envelope_urls")
def test_a_body_over_djangos_upload_limit_is_a_400_envelope(client: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client.post("/api/v1/test/reads-body", data="x" * 4096, content_type="application/octet-stream")
    assert _envelope(response)["errorTag"] == "MalformedRequest"
    assert response.status_code == 400


@pytest.mark.urls("tests.sts.envelope_urls")
def test_an_unexpected_exception_is_a_500_envelope_without_a_trace(client: Client, caplog: Any) -> None:
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/v1/test/explodes")
    body = _envelope(response)
    assert response.status_code == 500
    assert body["errorTag"] == "InternalError"
    assert body["traceId"] in body["errorMessage"]
    content = response.content.decode()
    assert "Traceback" not in content
    assert "RuntimeError" not in content
    assert SECRET_IN_EXCEPTION not in content


@pytest.mark.urls("tests.sts.envelope_urls")
def test_an_exception_outside_the_api_is_not_an_envelope(client: Client) -> None:
    client.raise_request_exception = False
    response = client.get("/test/explodes")
    assert response.status_code == 500
    assert b"traceId" not in response.content


def test_a_page_outside_the_api_keeps_djangos_404(client: Client) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b"traceId" not in response.content


def test_a_host_that_django_refuses_is_a_400_envelope_too(client: Client) -> None:
    response = client.post("/api/v1/sts", data={}, content_type="application/json", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert _envelope(response)["errorTag"] == "MalformedRequest"
