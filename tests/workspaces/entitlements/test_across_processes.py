"""A change applies to the very next request in every server process: another process that already
answered once, sharing only the database, sees each change at its next question."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import workspace_create
from tests.workspaces.entitlements.conftest import ADMIN, STAFF, in_days
from workspaces.models import Plan, Workspace
from workspaces.services import override_grant, plan_feature_set, workspace_plan_change, workspace_switch_set

ROOT = Path(__file__).resolve().parents[3]

# A long-lived process, as a server worker is: for each workspace id on its input it answers with
# what the mint asks (may it mint, and the sentence) and one number feature.
SERVER = """
import sys
from workspaces.entitlements import feature_value
from workspaces.models import Workspace
for line in sys.stdin:
    workspace = Workspace.objects.select_related("plan").get(public_id=line.strip())
    value = feature_value(workspace=workspace, feature="max_sources_per_mint")
    print("ANSWER", value, workspace.sts_refusal(), flush=True)
"""


def _database_url() -> str:
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"  # the test database is a file (tests/conftest.py)
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    return f"postgres://{database['USER']}{password}@{host}:{port}/{database['NAME']}"


class OtherProcess:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def ask(self, workspace: Workspace) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(workspace.public_id + "\n")
        self.process.stdin.flush()
        for line in self.process.stdout:
            if line.startswith("ANSWER "):
                return line.removeprefix("ANSWER ").rstrip("\n")
        raise AssertionError(f"the other process ended without an answer: {self.process.wait()}")


@pytest.fixture
def other_process(tmp_path: Path) -> Iterator[OtherProcess]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("DATABASE_")}
    env.update(DEBUG="True", DATABASE_URL=_database_url(), VAR_DIR=str(tmp_path / "var"), PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", SERVER],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield OtherProcess(process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait()


@pytest.mark.django_db(transaction=True)
def test_every_change_reaches_a_process_that_already_answered(other_process: OtherProcess) -> None:
    workspace = workspace_create(name="Acme", plan="free")
    refused = f"The plan 'Free' of workspace {workspace.public_id} does not include STS; upgrade the plan."
    assert other_process.ask(workspace) == f"100 {refused}"

    override_grant(workspace=workspace, feature="sts", value=True, expires_at=in_days(7), actor=STAFF)
    assert other_process.ask(workspace) == "100 None"

    workspace_switch_set(workspace=workspace, switch="sts_enabled", on=False, actor=ADMIN)
    switched_off = f"STS is switched off for workspace {workspace.public_id}; a workspace admin can switch it on."
    assert other_process.ask(workspace) == f"100 {switched_off}"

    workspace_plan_change(workspace=workspace, plan=Plan.objects.get(slug="pro"), actor=STAFF)
    plan_feature_set(plan=Plan.objects.get(slug="pro"), feature="max_sources_per_mint", value=20, actor=STAFF)
    assert other_process.ask(workspace) == f"20 {switched_off}"
