"""Audit rows never change: the model refuses, and so does the database underneath it (triggers)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def event() -> AuditEvent:
    return audit_record(
        action=AuditEvent.Action.TOKEN_MINTED,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id="req_immutable",
        workspace_public_id="ws_test",
        identity={"repository": "acme/app", "ref": "refs/heads/main"},
    )


def _unchanged(event: AuditEvent) -> None:
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.outcome, stored.repository, stored.request_id) == ("allowed", "acme/app", "req_immutable")


def test_the_model_refuses_to_save_an_existing_event(event: AuditEvent) -> None:
    event.outcome = AuditEvent.Outcome.DENIED
    with pytest.raises(ValueError, match="immutable"):
        event.save()
    _unchanged(event)


def test_the_model_refuses_to_delete_an_event(event: AuditEvent) -> None:
    with pytest.raises(ValueError, match="immutable"):
        event.delete()
    _unchanged(event)


def test_the_database_refuses_a_queryset_update(event: AuditEvent) -> None:
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(outcome=AuditEvent.Outcome.DENIED)
    _unchanged(event)


def test_the_database_refuses_a_queryset_delete(event: AuditEvent) -> None:
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    _unchanged(event)


def test_the_database_refuses_a_raw_sql_update(event: AuditEvent) -> None:
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET outcome = 'denied' WHERE id = %s", [event.pk])
    _unchanged(event)


def test_the_database_refuses_a_raw_sql_delete(event: AuditEvent) -> None:
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent")
    _unchanged(event)


def test_the_database_still_accepts_new_events(event: AuditEvent) -> None:
    audit_record(action=AuditEvent.Action.TOKEN_REVOKED, outcome=AuditEvent.Outcome.ALLOWED, request_id="req_second")
    assert AuditEvent.objects.count() == 2
