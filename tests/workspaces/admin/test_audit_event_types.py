"""Rows stored under the legacy names (`oidc.exchange`, `sts.mint`) count, filter and export in the admin
under the `pro.atmos.*` names they mean, with the events written under those names."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from audit.models import AuditEvent
from audit.services import audit_record
from tests.workspaces.admin.tenants import Tenants, admin_url, logged_in
from workspaces.models import Membership, Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def legacy(tenants: Tenants) -> dict[str, AuditEvent]:
    """A legacy allowed mint, refused mint and refused exchange in workspace a, beside the new-named rows."""
    rows = {
        "mint": (AuditEvent.Action.LEGACY_STS_MINT, AuditEvent.Outcome.ALLOWED),
        "refused": (AuditEvent.Action.LEGACY_STS_MINT, AuditEvent.Outcome.DENIED),
        "exchange_refused": (AuditEvent.Action.LEGACY_OIDC_EXCHANGE, AuditEvent.Outcome.DENIED),
    }
    return {
        name: audit_record(
            action=action,
            outcome=outcome,
            request_id=f"req_legacy_{name}",
            workspace_public_id=tenants.a.workspace.public_id,
            identity={"repository": "acme/legacy-caller"},
        )
        for name, (action, outcome) in rows.items()
    }


def test_the_landing_page_counts_legacy_rows_with_the_new_ones(
    client: Client, tenants: Tenants, legacy: dict[str, AuditEvent]
) -> None:
    response = logged_in(client, tenants.a.users[Membership.Role.ADMIN]).get(
        admin_url(Workspace, "change", tenants.a.workspace.pk)
    )

    recent = response.context["landing_recent"]
    assert (recent.mints_allowed, recent.mints_refused, recent.exchanges_refused) == (2, 2, 1)
    assert [mints for _, mints in response.context["landing_usage"]] == [2]
    assert {event.pk for event in recent.refusals} >= {legacy["refused"].pk, legacy["exchange_refused"].pk}


def test_the_type_filter_finds_legacy_rows_and_the_list_shows_their_new_name(
    client: Client, tenants: Tenants, legacy: dict[str, AuditEvent]
) -> None:
    logged_in(client, tenants.a.users[Membership.Role.SECURITY])

    response = client.get(admin_url(AuditEvent, "changelist"), {"type": "pro.atmos.sts.token_minted"})

    shown = {event.pk for event in response.context["cl"].result_list}
    assert shown == {legacy["mint"].pk, tenants.a.mint_event.pk}
    page = response.content.decode()
    assert "pro.atmos.sts.token_minted" in page and ">sts.mint<" not in page


def test_the_csv_export_writes_the_new_names(client: Client, tenants: Tenants, legacy: dict[str, AuditEvent]) -> None:
    logged_in(client, tenants.a.users[Membership.Role.SECURITY])
    selected = [str(event.pk) for event in legacy.values()]

    response = client.post(admin_url(AuditEvent, "changelist"), {"action": "export_csv", "_selected_action": selected})

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted(row["action"] for row in rows) == [
        "pro.atmos.auth.oidc_token_exchange_failure",
        "pro.atmos.sts.mint_denied",
        "pro.atmos.sts.token_minted",
    ]
