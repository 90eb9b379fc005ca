from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection

from github_app.credentials import github_memory_clear

pytest_plugins = ["githubsim.pytest_plugin", "tests.celery_worker"]


def pytest_configure(config: pytest.Config) -> None:
    """A test database in a file, not Django's default in-memory SQLite for tests.

    The concurrency test needs many connections writing at once. In-memory SQLite shares one cache
    between them and answers SQLITE_LOCKED ("database table is locked") at once, without waiting for
    the busy timeout, where a file database (as in production) waits for the write lock.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3" and not database.get("TEST", {}).get("NAME"):
        directory = tempfile.mkdtemp(prefix="atmospro-test-db-")
        config.add_cleanup(lambda: shutil.rmtree(directory, ignore_errors=True))
        database.setdefault("TEST", {})["NAME"] = f"{directory}/test.sqlite3"


@pytest.fixture(autouse=True)
def _fresh_process_state(settings: Any) -> None:
    # A memory cache of this process: the file cache of var/ is shared with any other run on the machine.
    # It keeps the deployment's key prefix, as every configured cache does.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tests",
            "KEY_PREFIX": settings.DEPLOYMENT_CACHE_PREFIX,
        }
    }
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

    triggers = importlib.import_module("audit.migrations.0004_hash_chain_and_retention_checkpoints")
    source_triggers = importlib.import_module("audit.migrations.0005_source_rows")
    tables = ("audit_auditsource", "audit_auditevent", "audit_auditcheckpoint", "audit_auditchainhead")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditsource DISABLE TRIGGER audit_source_no_change")
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_change")
            cursor.execute("ALTER TABLE audit_auditcheckpoint DISABLE TRIGGER audit_checkpoint_no_change")
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_change")
            cursor.execute("ALTER TABLE audit_auditcheckpoint ENABLE TRIGGER audit_checkpoint_no_change")
            cursor.execute("ALTER TABLE audit_auditsource ENABLE TRIGGER audit_source_no_change")
        else:
            for statement in triggers.SQLITE_REVERSE + source_triggers.SQLITE_REVERSE:
                cursor.execute(statement)
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
            for statement in triggers.SQLITE + source_triggers.SQLITE:
                cursor.execute(statement)
