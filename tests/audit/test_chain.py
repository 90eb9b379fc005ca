"""The audit log's hash chains: every event linked to the one before it in its workspace, checked by audit_verify."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, chain_verify, event_hash
from audit.models import AuditCheckpoint, AuditEvent, AuditSource
from audit.services import audit_record, audit_retention_apply

pytestmark = pytest.mark.django_db


def record(workspace: str = "ws_a", **detail: Any) -> AuditEvent:
    return audit_record(
        action=AuditEvent.Action.TOKEN_MINTED,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id="req_chain",
        workspace_public_id=workspace,
        identity={"repository": "acme/app", "ref": "refs/heads/main", "run_id": "7"},
        detail=detail,
    )


def behind_the_triggers(sql: str, params: list[Any]) -> None:
    """What someone with write access to the database could do: the triggers lifted, a row changed."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Source rows' foreign keys are checked at commit; ALTER TABLE needs none pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_change")
            cursor.execute(sql, params)
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_change")
        else:
            cursor.execute("DROP TRIGGER audit_event_no_update")
            cursor.execute("DROP TRIGGER audit_event_no_delete")
            cursor.execute(sql, params)
            import importlib

            triggers = importlib.import_module("audit.migrations.0004_hash_chain_and_retention_checkpoints")
            cursor.execute(triggers.SQLITE[0])
            cursor.execute(triggers.SQLITE[1])


def verify(workspace: str | None = None) -> str:
    options = {"workspace": workspace} if workspace else {}
    try:
        call_command("audit_verify", **options)
    except CommandError as error:
        return str(error)
    return "ok"


def test_each_workspace_has_its_own_chain_from_the_genesis_link() -> None:
    a1, b1, a2 = record("ws_a"), record("ws_b"), record("ws_a")

    assert (a1.sequence, a1.previous_hash) == (1, GENESIS_HASH)
    assert (b1.sequence, b1.previous_hash) == (1, GENESIS_HASH)
    assert (a2.sequence, a2.previous_hash) == (2, a1.hash)
    assert all(event_hash(AuditEvent.objects.get(pk=e.pk)) == e.hash for e in (a1, b1, a2))


def test_an_untouched_log_verifies() -> None:
    for n in range(5):
        record("ws_a", n=n)
        record("", n=n)

    assert verify() == "ok"
    assert chain_verify("ws_a") is None


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("outcome", "denied"),
        ("repository", "evil/repo"),
        ("detail", '{"n": 99}'),
        ("created_at", "2020-01-01 00:00:00"),
    ],
)
def test_a_row_altered_behind_the_triggers_back_is_found(column: str, value: str) -> None:
    record(n=0)
    altered = record(n=1)
    record(n=2)

    behind_the_triggers(f"UPDATE audit_auditevent SET {column} = %s WHERE id = %s", [value, altered.pk])

    message = verify("ws_a")
    assert f"event {altered.pk} at #2" in message and "does not match its hash" in message


def test_a_row_removed_behind_the_triggers_back_is_found() -> None:
    record(n=0)
    removed = record(n=1)
    record(n=2)

    behind_the_triggers("DELETE FROM audit_auditevent WHERE id = %s", [removed.pk])

    assert "event #2 is missing" in verify("ws_a")


def test_the_newest_row_removed_is_found_through_the_chain_head() -> None:
    record(n=0)
    newest = record(n=1)

    behind_the_triggers("DELETE FROM audit_auditevent WHERE id = %s", [newest.pk])

    assert "the chain ends at #1, its head says #2" in verify("ws_a")


def test_a_row_rehashed_after_its_change_still_breaks_the_next_link() -> None:
    record(n=0)
    altered = record(n=1)
    record(n=2)
    altered.outcome = "denied"
    rehashed = event_hash(altered)

    behind_the_triggers(
        "UPDATE audit_auditevent SET outcome = 'denied', hash = %s WHERE id = %s", [rehashed, altered.pk]
    )

    assert "at #3: it does not link to the event before it" in verify("ws_a")


def test_retention_leaves_a_signed_checkpoint_and_the_kept_chain_still_verifies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    month_ago = timezone.now() - timedelta(days=30)
    with monkeypatch.context() as past:
        past.setattr("audit.services.timezone.now", lambda: month_ago)
        old = [record(n=n) for n in range(3)]
    kept = [record(n=n) for n in range(3, 5)]

    checkpoint = audit_retention_apply(workspace_public_id="ws_a", before=timezone.now() - timedelta(days=7))

    assert checkpoint is not None and (checkpoint.sequence, checkpoint.hash) == (3, old[2].hash)
    remaining = AuditEvent.objects.filter(workspace_public_id="ws_a").order_by("pk").values_list("pk", flat=True)
    assert list(remaining) == [e.pk for e in kept]
    assert verify("ws_a") == "ok"


def test_retention_with_nothing_old_enough_removes_nothing() -> None:
    record()

    assert audit_retention_apply(workspace_public_id="ws_a", before=timezone.now() - timedelta(days=7)) is None
    assert AuditEvent.objects.count() == 1 and AuditCheckpoint.objects.count() == 0


def test_the_database_refuses_to_delete_an_event_no_checkpoint_covers() -> None:
    event = record()

    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_the_database_refuses_to_change_or_delete_a_checkpoint() -> None:
    record()
    checkpoint = audit_retention_apply(workspace_public_id="ws_a", before=timezone.now() + timedelta(seconds=1))
    assert checkpoint is not None

    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(sequence=100)
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).delete()


def test_a_forged_checkpoint_does_not_verify() -> None:
    record(n=0)
    record(n=1)
    # A checkpoint written straight into the database, without the server's key, to hide event #1.
    AuditCheckpoint.objects.create(workspace_public_id="ws_a", sequence=1, hash="f" * 64, signature="0" * 64)

    assert "the checkpoint's signature is wrong" in verify("ws_a")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_one_workspace_leave_no_fork_and_no_gap() -> None:
    writers, per_writer = 8, 10
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write() -> None:
        try:
            start.wait()
            for n in range(per_writer):
                record("ws_busy", n=n)
        except BaseException as error:  # reported below: a thread's exception would vanish otherwise
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    sequences = sorted(AuditEvent.objects.filter(workspace_public_id="ws_busy").values_list("sequence", flat=True))
    assert sequences == list(range(1, writers * per_writer + 1))
    assert verify("ws_busy") == "ok"


def record_mint_with_sources() -> AuditEvent:
    return audit_record(
        action=AuditEvent.Action.TOKEN_MINTED,
        outcome=AuditEvent.Outcome.ALLOWED,
        request_id="req_sources",
        workspace_public_id="ws_a",
        sources=[
            {"repository": "Acme/Modules", "github_id": 11, "decision": "granted", "rule": 0, "fingerprint": "f" * 44},
            {"repository": "acme/legacy", "github_id": 12, "decision": "excluded", "reason": "no_trust_policy"},
        ],
    )


def test_each_decided_source_is_a_row_found_by_repository_without_regard_to_case() -> None:
    event = record_mint_with_sources()

    found = AuditSource.objects.filter(workspace_public_id="ws_a", repository_key="acme/modules").get()
    assert (found.event_id, found.decision, found.rule, found.github_id) == (event.pk, "granted", 0, 11)
    assert found.created_at == event.created_at
    assert AuditSource.objects.get(reason="no_trust_policy").repository == "acme/legacy"


def test_a_source_row_altered_behind_the_triggers_back_breaks_its_event() -> None:
    event = record_mint_with_sources()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditsource DISABLE TRIGGER audit_source_no_change")
            cursor.execute("UPDATE audit_auditsource SET decision = 'granted' WHERE reason = 'no_trust_policy'")
            cursor.execute("ALTER TABLE audit_auditsource ENABLE TRIGGER audit_source_no_change")
        else:
            cursor.execute("DROP TRIGGER audit_source_no_update")
            cursor.execute("UPDATE audit_auditsource SET decision = 'granted' WHERE reason = 'no_trust_policy'")

    assert f"event {event.pk} at #1" in verify("ws_a")


def test_the_database_refuses_to_change_or_delete_a_source_row() -> None:
    record_mint_with_sources()

    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        AuditSource.objects.update(decision="granted")
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        AuditSource.objects.all().delete()


def test_retention_removes_the_source_rows_with_their_events(monkeypatch: pytest.MonkeyPatch) -> None:
    month_ago = timezone.now() - timedelta(days=30)
    with monkeypatch.context() as past:
        past.setattr("audit.services.timezone.now", lambda: month_ago)
        record_mint_with_sources()

    audit_retention_apply(workspace_public_id="ws_a", before=timezone.now() - timedelta(days=7))

    assert (AuditEvent.objects.count(), AuditSource.objects.count()) == (0, 0)
    assert verify("ws_a") == "ok"
