"""The `installation_sync` task, run in-process (no broker: settings make tasks eager)."""

from __future__ import annotations

from typing import Any

import pytest

from github_app.errors import GitHubUnavailable
from tests.factories import installation_record, workspace_create
from workspaces.models import GitHubInstallation
from workspaces.services import installation_link
from workspaces.tasks import SYNC_MAX_RETRIES, installation_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(github_sim: Any) -> tuple[GitHubInstallation, int]:
    workspace = workspace_create()
    installation_id = github_sim.add_installation("acme")
    github_sim.add_repository("acme/mods", installation_id=installation_id)
    return installation_link(workspace=workspace, installation_github_id=installation_id), installation_id


def _names(installation: GitHubInstallation) -> set[str]:
    return set(installation.repositories.values_list("full_name", flat=True))


def test_it_refreshes_the_installation_from_github(github_sim: Any, linked: tuple[GitHubInstallation, int]) -> None:
    installation, installation_id = linked
    github_sim.add_repository("acme/new", installation_id=installation_id)
    github_sim.suspend_installation(installation_id)
    github_sim.unsuspend_installation(installation_id)

    installation_sync.delay(installation.pk)

    assert _names(installation) == {"acme/mods", "acme/new"}


def test_it_retries_while_github_is_unavailable(github_sim: Any, linked: tuple[GitHubInstallation, int]) -> None:
    installation, installation_id = linked
    github_sim.add_repository("acme/new", installation_id=installation_id)
    github_sim.reset_calls()
    # The client tries 3 times per call; 3 failures make the first run of the task fail, the retry succeeds.
    github_sim.fault("installation", kind="status", status=502, times=3)

    # throw=False: an eager task that propagates would hand the Retry to its caller instead of retrying.
    result = installation_sync.apply(args=[installation.pk], throw=False)

    assert result.successful()
    assert github_sim.calls["installation"] == 4
    assert _names(installation) == {"acme/mods", "acme/new"}


def test_it_gives_up_after_its_retries(github_sim: Any, linked: tuple[GitHubInstallation, int]) -> None:
    installation, _ = linked
    github_sim.fault("installation", kind="status", status=502, times=1000)
    github_sim.reset_calls()
    # Started as its last retry, so one run shows what happens when the retries are spent.
    result = installation_sync.apply(args=[installation.pk], retries=SYNC_MAX_RETRIES, throw=False)
    assert result.failed()
    assert isinstance(result.result, GitHubUnavailable)
    assert github_sim.calls["installation"] == 3


def test_it_does_nothing_for_an_installation_row_that_is_gone(github_sim: Any) -> None:
    github_sim.reset_calls()
    installation_sync.delay(123456789)
    assert sum(github_sim.calls.values()) == 0


def test_it_leaves_an_installation_github_no_longer_knows(github_sim: Any) -> None:
    workspace = workspace_create()
    installation = installation_record(
        workspace=workspace,
        github_id=1,
        account="gone",
        account_id=1,
        account_type="User",
        repository_selection="all",
        permissions={},
    )
    installation_sync.delay(installation.pk)
    assert GitHubInstallation.objects.filter(pk=installation.pk).exists()
    assert github_sim.calls["installation"] == 1
