"""Sessions follow the world they were issued in: every mint re-checks, from our records and without
asking GitHub, that the caller's repository is still covered by a live installation of the workspace."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from sts.models import MintedToken
from tests.factories import workspace_create
from workspaces.models import GitHubInstallation, InstallationRepository

from .conftest import ADMITS_ACME_APP, mint

pytestmark = pytest.mark.django_db


@pytest.fixture
def installed(world):
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    return acme


def refused(response):
    body = response.json()
    assert response.status_code == 403, body
    assert body["errorTag"] == "CallerNoLongerInstalled"
    assert "installation" in body["errorMessage"]
    assert "data" not in body
    return body


def test_a_session_whose_caller_is_still_installed_mints(client, world, session_for, installed):
    assert mint(client, session_for(), {"sources": ["acme/a"]}).json()["data"]["tokens"]


def test_a_session_is_refused_once_its_installation_is_unlinked(client, world, session_for, installed):
    session = session_for()
    GitHubInstallation.objects.filter(pk=installed.pk).delete()
    world.sim.reset_calls()

    refused(mint(client, session, {"sources": ["acme/a"]}))

    assert sum(world.sim.calls.values()) == 0  # decided from our records alone
    assert MintedToken.objects.count() == 0
    assert AuditEvent.objects.get(action="pro.atmos.sts.mint_denied").error_tag == "CallerNoLongerInstalled"


def test_a_session_is_refused_once_its_installation_moved_to_another_workspace(client, world, session_for, installed):
    session = session_for()
    other = workspace_create(name="Other", plan="pro")
    GitHubInstallation.objects.filter(pk=installed.pk).update(workspace=other)

    refused(mint(client, session, {"sources": ["acme/a"]}))


def test_a_session_is_refused_while_its_installation_is_suspended(client, world, session_for, installed):
    session = session_for()
    GitHubInstallation.objects.filter(pk=installed.pk).update(suspended_at="2030-01-01T00:00:00Z")
    world.sim.reset_calls()

    refused(mint(client, session, {}))

    assert sum(world.sim.calls.values()) == 0


def test_a_session_is_refused_once_its_repository_left_the_installation(client, world, session_for, installed):
    session = session_for()
    InstallationRepository.objects.filter(github_id=world.caller_repository_id).delete()

    refused(mint(client, session, {"sources": ["acme/a"]}))


def test_the_check_goes_by_repository_id_so_a_namesake_does_not_pass(client, world, session_for, installed):
    # The repository was deleted and created again under the same name: a new id, someone else.
    InstallationRepository.objects.filter(github_id=world.caller_repository_id).update(github_id=424242)

    refused(mint(client, session_for(), {"sources": ["acme/a"]}))


@pytest.mark.parametrize("repository_id", ["", "abc", "-1", "1 OR 1=1"])
def test_a_session_without_a_usable_repository_id_is_refused(client, world, session_for, installed, repository_id):
    refused(mint(client, session_for(repository_id=repository_id), {"sources": ["acme/a"]}))
