from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection

from sts.github import github_memory_clear

pytest_plugins = ["githubsim.pytest_plugin"]


@pytest.fixture(autouse=True)
def _fresh_process_state(settings: Any) -> None:
    # A memory cache of this process: the file cache of var/ is shared with any other run on the machine.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
    cache.clear()
    github_memory_clear()


@pytest.fixture(autouse=True)
def _audit_rows_purged_after_transactional_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """Transactional tests end with a flush, which the audit log's triggers refuse (as they should).
    Set up after the database fixture, this tears down before its flush: it empties the audit table
    with its triggers briefly lifted, so the flush finds no audit row to delete."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(
        {"transactional_db", "live_server"} & set(request.fixturenames) or (marker and marker.kwargs.get("transaction"))
    )
    if not transactional:
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    _purge_audit_rows()


def _purge_audit_rows() -> None:
    import importlib

    triggers = importlib.import_module("audit.migrations.0002_immutable_audit_events")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_change")
            cursor.execute("DELETE FROM audit_auditevent")
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_change")
        else:
            for statement in triggers.SQLITE_REVERSE:
                cursor.execute(statement)
            cursor.execute("DELETE FROM audit_auditevent")
            for statement in triggers.SQLITE:
                cursor.execute(statement)
