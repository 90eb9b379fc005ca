"""`manage.py create_workspace NAME --plan SLUG`: scripts read the new workspace id from the last line."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


def test_it_creates_a_workspace_and_prints_its_id_last() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_workspace", "Acme Platform", "--plan", "pro", stdout=out, stderr=err)
    last_line = out.getvalue().strip().splitlines()[-1]
    workspace = Workspace.objects.get(public_id=last_line)
    assert last_line.startswith("ws_")
    assert workspace.name == "Acme Platform"
    assert workspace.plan.slug == "pro"
    assert workspace.sts_enabled is True
    assert workspace.allow_write_tokens is False


def test_each_workspace_gets_its_own_id() -> None:
    ids = set()
    for _ in range(3):
        out = io.StringIO()
        call_command("create_workspace", "Same Name", "--plan", "free", stdout=out, stderr=io.StringIO())
        ids.add(out.getvalue().strip().splitlines()[-1])
    assert len(ids) == 3


def test_it_refuses_an_unknown_plan_and_lists_the_known_ones() -> None:
    with pytest.raises(CommandError, match=r"There is no plan 'gold'; known plans: free, pro\."):
        call_command("create_workspace", "Acme", "--plan", "gold", stdout=io.StringIO())
    assert not Workspace.objects.exists()


def test_it_refuses_a_blank_name() -> None:
    with pytest.raises(CommandError, match="needs a name"):
        call_command("create_workspace", "   ", "--plan", "pro", stdout=io.StringIO())


def test_it_refuses_a_name_longer_than_the_column() -> None:
    with pytest.raises(CommandError, match="at most 200 characters"):
        call_command("create_workspace", "x" * 201, "--plan", "pro", stdout=io.StringIO())
    assert not Workspace.objects.exists()


def test_it_requires_a_plan() -> None:
    with pytest.raises(CommandError, match="--plan"):
        call_command("create_workspace", "Acme", stdout=io.StringIO())
