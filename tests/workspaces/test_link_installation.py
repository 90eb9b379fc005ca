"""`manage.py link_installation --workspace WS_ID INSTALLATION_ID`, against the GitHub simulator."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.factories import workspace_create
from workspaces.models import GitHubInstallation, Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspace() -> Workspace:
    return workspace_create()


def _link(workspace: Workspace, installation_id: int | str) -> str:
    out = io.StringIO()
    call_command("link_installation", "--workspace", workspace.public_id, str(installation_id), stdout=out)
    return out.getvalue()


def _repositories(installation: GitHubInstallation) -> dict[str, int]:
    return {row.full_name: row.github_id for row in installation.repositories.all()}


def test_it_links_the_installation_and_its_repositories(github_sim: Any, workspace: Workspace) -> None:
    installation_id = github_sim.add_installation("acme", repository_selection="selected")
    mods = github_sim.add_repository("acme/mods", installation_id=installation_id, files={"main.tf": ""})
    infra = github_sim.add_repository("acme/infra", installation_id=installation_id)
    github_sim.add_repository("acme/not-selected")

    output = _link(workspace, installation_id)

    installation = GitHubInstallation.objects.get(github_id=installation_id)
    assert installation.workspace == workspace
    assert installation.account_login == "acme"
    assert installation.account_type == "Organization"
    assert installation.account_id > 0
    assert installation.repository_selection == "selected"
    assert installation.permissions == {"contents": "read", "metadata": "read"}
    assert installation.suspended_at is None
    assert _repositories(installation) == {"acme/mods": mods, "acme/infra": infra}
    assert (
        f"Linked installation {installation_id} (acme, Organization, active) to workspace {workspace.public_id}"
        in output
    )
    assert "acme/mods" in output
    assert github_sim.calls["installation"] == 1


def test_running_it_again_refreshes_the_repositories(github_sim: Any, workspace: Workspace) -> None:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/mods", installation_id=installation_id)
    github_sim.add_repository("acme/old", installation_id=installation_id)
    _link(workspace, installation_id)

    github_sim.remove_repository_from_installation("acme/old", installation_id)
    new = github_sim.add_repository("acme/new", installation_id=installation_id)
    _link(workspace, installation_id)

    installation = GitHubInstallation.objects.get()
    assert set(_repositories(installation)) == {"acme/mods", "acme/new"}
    assert _repositories(installation)["acme/new"] == new


def test_it_records_a_suspended_installation_with_its_suspension_time(github_sim: Any, workspace: Workspace) -> None:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/mods", installation_id=installation_id)
    _link(workspace, installation_id)
    github_sim.suspend_installation(installation_id)

    output = _link(workspace, installation_id)

    installation = GitHubInstallation.objects.get()
    assert installation.suspended_at is not None
    assert installation.is_suspended
    assert "suspended since" in output
    # GitHub lists no repositories of a suspended installation: the last known ones stay.
    assert set(_repositories(installation)) == {"acme/mods"}

    github_sim.unsuspend_installation(installation_id)
    _link(workspace, installation_id)
    installation.refresh_from_db()
    assert installation.suspended_at is None


def test_it_links_an_installation_that_is_suspended_from_the_start(github_sim: Any, workspace: Workspace) -> None:
    installation_id = github_sim.add_installation("acme", suspended=True)
    _link(workspace, installation_id)
    installation = GitHubInstallation.objects.get()
    assert installation.suspended_at is not None
    assert _repositories(installation) == {}


def test_it_refuses_an_installation_github_does_not_know(github_sim: Any, workspace: Workspace) -> None:
    with pytest.raises(CommandError, match="GitHub does not know installation 99999 of this App"):
        _link(workspace, 99999)
    assert not GitHubInstallation.objects.exists()


def test_it_refuses_an_unknown_workspace(github_sim: Any) -> None:
    installation_id = github_sim.add_installation("acme")
    with pytest.raises(CommandError, match="There is no workspace 'ws_nope'"):
        call_command("link_installation", "--workspace", "ws_nope", str(installation_id), stdout=io.StringIO())
    assert github_sim.calls["installation"] == 0


def test_it_says_github_is_unavailable_when_github_answers_502(github_sim: Any, workspace: Workspace) -> None:
    installation_id = github_sim.add_installation("acme")
    github_sim.fault("installation", kind="status", status=502, times=10)
    with pytest.raises(CommandError, match="GitHub is unavailable") as raised:
        _link(workspace, installation_id)
    assert "eyJ" not in str(raised.value)  # no App JWT in the message
    assert not GitHubInstallation.objects.exists()


def test_a_failure_listing_repositories_changes_nothing(github_sim: Any, workspace: Workspace) -> None:
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/mods", installation_id=installation_id)
    _link(workspace, installation_id)
    github_sim.remove_repository_from_installation("acme/mods", installation_id)
    github_sim.fault("installation_repositories", kind="status", status=503, times=10)
    with pytest.raises(CommandError, match="GitHub is unavailable"):
        _link(workspace, installation_id)
    assert set(_repositories(GitHubInstallation.objects.get())) == {"acme/mods"}


def test_it_refuses_to_move_an_installation_linked_to_another_workspace(github_sim: Any, workspace: Workspace) -> None:
    other = workspace_create(name="Other", plan="free")
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/mods", installation_id=installation_id)
    _link(workspace, installation_id)

    with pytest.raises(CommandError, match=f"already linked to workspace {workspace.public_id}"):
        _link(other, installation_id)

    assert GitHubInstallation.objects.get().workspace == workspace


def test_it_rejects_an_installation_id_that_is_not_a_number(workspace: Workspace) -> None:
    with pytest.raises(CommandError, match="invalid int value"):
        _link(workspace, "50000001; rm -rf /")
