"""The daily retention task: each workspace keeps its plan's audit_retention_days, and says so in its log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditCheckpoint, AuditEvent
from audit.services import audit_record
from tests.factories import workspace_create
from workspaces.tasks import audit_retention_apply_all

pytestmark = pytest.mark.django_db


def event_at(workspace: str, when: Any, monkeypatch: pytest.MonkeyPatch) -> AuditEvent:
    with monkeypatch.context() as past:
        past.setattr("audit.services.timezone.now", lambda: when)
        return audit_record(
            action=AuditEvent.Action.TOKEN_MINTED,
            outcome=AuditEvent.Outcome.ALLOWED,
            request_id="req_old",
            workspace_public_id=workspace,
        )


def test_each_workspace_keeps_what_its_plan_says(monkeypatch: pytest.MonkeyPatch) -> None:
    free = workspace_create(name="Free", plan="free")  # 7 days
    pro = workspace_create(name="Pro", plan="pro")  # 365 days
    month_ago = timezone.now() - timedelta(days=30)
    old_free, old_pro = (
        event_at(free.public_id, month_ago, monkeypatch),
        event_at(pro.public_id, month_ago, monkeypatch),
    )
    recent_free = event_at(free.public_id, timezone.now(), monkeypatch)

    removed = audit_retention_apply_all()

    assert removed == {free.public_id: old_free.sequence}
    assert not AuditEvent.objects.filter(pk=old_free.pk).exists()
    assert AuditEvent.objects.filter(pk__in=[old_pro.pk, recent_free.pk]).count() == 2
    note = AuditEvent.objects.get(action=AuditEvent.Action.AUDIT_RETENTION_APPLIED)
    assert (note.workspace_public_id, note.detail["retention_days"], note.detail["removed_through"]) == (
        free.public_id,
        7,
        old_free.sequence,
    )
    call_command("audit_verify")  # raises on a broken chain


def test_a_second_run_removes_nothing_more(monkeypatch: pytest.MonkeyPatch) -> None:
    free = workspace_create(name="Free", plan="free")
    event_at(free.public_id, timezone.now() - timedelta(days=30), monkeypatch)

    audit_retention_apply_all()
    again = audit_retention_apply_all()

    assert again == {}
    assert AuditCheckpoint.objects.count() == 1


def test_chains_of_workspaces_that_are_gone_follow_the_unscoped_retention(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.AUDIT_UNSCOPED_RETENTION_DAYS = 10
    gone = event_at("ws_deleted_or_never_was", timezone.now() - timedelta(days=30), monkeypatch)

    removed = audit_retention_apply_all()

    assert removed == {"ws_deleted_or_never_was": gone.sequence}
    assert not AuditEvent.objects.filter(pk=gone.pk).exists()
    call_command("audit_verify")
