"""`/metrics` is closed unless configuration opens it, and then only to the bearer of its token or to a
client whose socket address is in an allowed network; every refusal is the same 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

TOKEN = "metrics-" + "Zq4Lm8Rt2Vw6Nb0x"


@pytest.fixture(params=[None, ""], ids=["unset", "empty"])
def closed(settings: Any, request: pytest.FixtureRequest) -> None:
    settings.METRICS_TOKEN = request.param
    settings.METRICS_ALLOWED_NETWORKS = []


@pytest.fixture
def with_token(settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


@pytest.fixture
def with_network(settings: Any) -> None:
    settings.METRICS_TOKEN = None
    settings.METRICS_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd00::/8"]


def scrape(client: Client, *, remote: str = "127.0.0.1", **headers: str) -> Any:
    return client.get("/metrics", REMOTE_ADDR=remote, headers=headers)


def test_it_is_closed_to_everyone_when_nothing_is_configured(client: Client, closed: None) -> None:
    assert scrape(client).status_code == 404
    assert scrape(client, Authorization="Bearer ").status_code == 404
    assert scrape(client, Authorization="Bearer None").status_code == 404
    assert scrape(client, Authorization='Bearer ""').status_code == 404
    assert scrape(client, remote="10.20.1.1").status_code == 404


def test_it_answers_the_bearer_of_the_token(client: Client, with_token: None) -> None:
    response = scrape(client, Authorization=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert "# TYPE atmospro_api_requests_total counter" in body
    assert "# TYPE atmospro_github_request_duration_seconds histogram" in body
    assert TOKEN not in body


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN.upper()}",
        f"Basic {TOKEN}",
        f"Token {TOKEN}",
        TOKEN,
        f"Bearer {TOKEN[:8]}",
        "Bearer \x00",
        "Bearer \u00e9\u00e9\u00e9",
    ],
)
def test_it_refuses_every_other_credential_with_a_404(client: Client, with_token: None, header: str) -> None:
    response = scrape(client, Authorization=header)
    assert response.status_code == 404
    assert TOKEN.encode() not in response.content


def test_the_token_does_not_open_it_as_a_query_parameter_or_cookie(client: Client, with_token: None) -> None:
    assert client.get(f"/metrics?token={TOKEN}").status_code == 404
    client.cookies["token"] = TOKEN
    assert scrape(client).status_code == 404


@pytest.mark.parametrize("remote", ["10.20.0.1", "10.20.255.254", "fd12::1", "::ffff:10.20.3.4"])
def test_it_answers_a_client_inside_an_allowed_network(client: Client, with_network: None, remote: str) -> None:
    assert scrape(client, remote=remote).status_code == 200


@pytest.mark.parametrize("remote", ["10.21.0.1", "127.0.0.1", "192.168.0.1", "fe80::1", "", "not-an-address"])
def test_it_refuses_a_client_outside_the_allowed_networks(client: Client, with_network: None, remote: str) -> None:
    assert scrape(client, remote=remote).status_code == 404


def test_a_forwarded_header_never_stands_for_the_socket_address(client: Client, with_network: None) -> None:
    spoofed = {"X-Forwarded-For": "10.20.0.7", "X-Real-Ip": "10.20.0.7", "Forwarded": "for=10.20.0.7"}
    assert scrape(client, remote="203.0.113.9", **spoofed).status_code == 404


def test_a_token_does_not_open_it_when_only_networks_are_configured(client: Client, with_network: None) -> None:
    assert scrape(client, remote="203.0.113.9", Authorization=f"Bearer {TOKEN}").status_code == 404


def test_it_answers_get_only_and_says_so_only_to_whom_may_scrape(client: Client, with_token: None) -> None:
    assert client.post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 405
    assert client.post("/metrics").status_code == 404
