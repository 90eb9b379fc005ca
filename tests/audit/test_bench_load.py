"""bench/bench_audit.py's loader writes chains that `audit_verify` proves (on PostgreSQL by COPY, on
SQLite by bulk inserts), with 1-5 source rows per mint and most events in the large workspace."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditChainHead, AuditEvent, AuditSource
from bench.bench_audit import MINT_DENIED, MINTED, load
from tests.review.conftest import redated

pytestmark = pytest.mark.django_db
WORKSPACES = [f"ws_bench{n}" for n in range(6)]


def test_the_loaded_log_verifies() -> None:
    load(300, WORKSPACES, end=datetime(2026, 11, 29, tzinfo=UTC), batch=120)
    output = StringIO()

    call_command("audit_verify", stdout=output)

    assert "6 audit chain(s) verified." in output.getvalue()
    assert AuditEvent.objects.count() == 300
    assert sum(head.sequence for head in AuditChainHead.objects.filter(workspace_public_id__in=WORKSPACES)) == 300


def test_the_loaded_log_has_the_shape_of_a_real_one() -> None:
    load(300, WORKSPACES, end=datetime(2026, 11, 29, tzinfo=UTC))

    per_workspace = Counter(AuditEvent.objects.values_list("workspace_public_id", flat=True))
    assert per_workspace.most_common(1)[0][0] == WORKSPACES[0] and per_workspace[WORKSPACES[0]] > 150
    mints = AuditEvent.objects.filter(action__in=[MINTED, MINT_DENIED])
    rows = Counter(AuditSource.objects.values_list("event_id", flat=True))
    assert {rows[pk] for pk in mints.values_list("pk", flat=True)} <= {1, 2, 3, 4, 5}
    assert not AuditSource.objects.exclude(event__in=mints).exists()


def test_a_row_changed_after_loading_is_found() -> None:
    load(50, WORKSPACES, end=datetime(2026, 11, 29, tzinfo=UTC))

    redated(AuditEvent.objects.order_by("pk")[10].pk, datetime(2026, 1, 1, tzinfo=UTC))

    with pytest.raises(CommandError, match="Broken audit chain"):
        call_command("audit_verify", stdout=StringIO())
