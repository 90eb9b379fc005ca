"""/healthz says the process answers; /readyz says it can serve, which needs the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client


def test_healthz_answers_without_the_database(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_answers_200_when_the_database_answers(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.fixture
def unreachable_database() -> Iterator[BaseDatabaseWrapper]:
    """A real connection to a database that is not there: a closed port, or a file in no directory."""
    wrapper = connections.create_connection("default")
    wrapper.settings_dict = {**wrapper.settings_dict, "HOST": "127.0.0.1", "PORT": "1", "CONNECT_TIMEOUT": 2}
    if wrapper.vendor == "sqlite":
        wrapper.settings_dict["NAME"] = "/nonexistent-directory/for-readyz/db.sqlite3"
    yield wrapper
    wrapper.close()


@pytest.mark.django_db
def test_readyz_answers_503_when_the_database_is_unreachable(
    client: Client, monkeypatch: Any, unreachable_database: BaseDatabaseWrapper
) -> None:
    monkeypatch.setattr("sts.health.connection", unreachable_database)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


def test_health_checks_refuse_other_methods(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
