"""`written_insert` writes what the ORM's bulk_create writes: every column prepared by its field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection, models
from django.utils import timezone

from audit.written_sql import Columns, written_insert
from tests.factories import installation_record, repository_record, workspace_create
from workspaces.models import FeatureOverride, GitHubInstallation, InstallationRepository

pytestmark = pytest.mark.django_db

HOSTILE = "x'); DROP TABLE workspaces_featureoverride; --\u0000\u202e"


def test_rows_read_back_as_the_orm_wrote_them_json_times_defaults_and_hostile_text() -> None:
    workspace = workspace_create()
    until = datetime(2031, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
    before = timezone.now()
    rows = [
        FeatureOverride(workspace=workspace, key="sts", value=True, expires_at=until, note=HOSTILE.replace("\0", "")),
        FeatureOverride(workspace=workspace, key="max_sources_per_mint", value=7, expires_at=until),
    ]

    assert written_insert(rows) == []

    stored = {row.key: row for row in FeatureOverride.objects.filter(workspace=workspace)}
    assert stored["sts"].value is True and stored["max_sources_per_mint"].value == 7
    assert stored["sts"].expires_at == until
    assert stored["sts"].note == HOSTILE.replace("\0", "")  # a parameter, never part of the statement
    assert stored["max_sources_per_mint"].note == ""  # the field's default
    assert all(row.created_at >= before for row in stored.values())  # auto_now_add, as the ORM sets it
    assert all(not row._state.adding for row in rows)


def test_one_row_comes_back_with_its_new_key() -> None:
    workspace = workspace_create()
    row = FeatureOverride(workspace=workspace, key="sts", value=False, expires_at=timezone.now())

    (key,) = written_insert([row], returning_pk=True)

    assert row.pk == key
    assert FeatureOverride.objects.get(pk=key).value is False


def test_keys_of_several_rows_are_refused_since_no_order_is_promised() -> None:
    workspace = workspace_create()
    rows = [
        FeatureOverride(workspace=workspace, key=key, value=True, expires_at=timezone.now())
        for key in ("sts", "write_tokens")
    ]
    with pytest.raises(ValueError, match="one at a time"):
        written_insert(rows, returning_pk=True)
    assert not FeatureOverride.objects.filter(workspace=workspace).exists()


def test_nothing_to_write_asks_nothing(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        assert written_insert([]) == []


def _field_values(row: models.Model) -> dict[str, Any]:
    return {field.attname: getattr(row, field.attname) for field in type(row)._meta.concrete_fields}


def test_columns_read_back_what_the_orm_reads_json_times_nulls_and_hostile_text() -> None:
    workspace = workspace_create()
    installation = installation_record(workspace=workspace, github_id=77, account="acme")
    installation.permissions = {"contents": "read", "note": HOSTILE.replace("\0", "")}
    installation.suspended_at = datetime(2031, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
    installation.save()
    repository_record(installation=installation, github_id=5, full_name="Acme/Modules")
    never_suspended = installation_record(workspace=workspace, github_id=78, account="initech")  # suspended_at NULL
    record, held = Columns(InstallationRepository, "record"), Columns(GitHubInstallation, "held")

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {record.select}, {held.select} FROM {held.table} "
            f"LEFT JOIN {record.table} ON {record.column('installation')} = {held.column('id')} "
            f"WHERE {held.column('workspace')} = %s ORDER BY {held.column('github_id')}",
            [workspace.pk],
        )
        rows = cursor.fetchall()
    read = [(record.instance(row[: len(record)]), held.instance(row[len(record) :])) for row in rows]

    assert _field_values(read[0][1]) == _field_values(GitHubInstallation.objects.get(pk=installation.pk))
    assert _field_values(read[0][0]) == _field_values(InstallationRepository.objects.get(github_id=5))
    assert _field_values(read[1][1]) == _field_values(GitHubInstallation.objects.get(pk=never_suspended.pk))
    assert read[1][1].suspended_at is None and read[0][1].suspended_at == installation.suspended_at
    assert read[0][1].permissions["note"] == HOSTILE.replace("\0", "")
    assert not read[0][1]._state.adding and read[0][1]._state.db == connection.alias  # as from a queryset
