"""The "Install on GitHub" button on a workspace's page, and the POST behind it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from githubsim import GitHubSimulator
from workspaces.installation_setup import STATE_SALT
from workspaces.models import InstallationSetupState, Membership

from .conftest import People, start_url, state_for

pytestmark = pytest.mark.django_db
BUTTON = 'id="install-on-github"'


def page(people: People, who: str) -> str:
    response = people.client(who).get(reverse("admin:workspaces_workspace_change", args=[people.workspace.pk]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("who", [Membership.Role.ADMIN, "superuser"])
def test_a_workspace_admin_and_the_operator_see_the_button(
    github_sim: GitHubSimulator, people: People, who: str
) -> None:
    shown = page(people, who)

    assert BUTTON in shown and "Install on GitHub" in shown
    assert f'action="{start_url(people.workspace)}"' in shown
    form = shown.split(BUTTON, 1)[1].split("</form>", 1)[0]
    assert 'name="csrfmiddlewaretoken"' in form


@pytest.mark.parametrize("who", [Membership.Role.SECURITY, Membership.Role.BILLING, Membership.Role.MEMBER])
def test_other_roles_do_not_see_the_button(github_sim: GitHubSimulator, people: People, who: str) -> None:
    assert BUTTON not in page(people, who)


def test_without_the_apps_oauth_settings_nobody_sees_the_button(
    github_sim: GitHubSimulator, people: People, settings: Any
) -> None:
    settings.GITHUB_APP_CLIENT_SECRET = ""
    assert BUTTON not in page(people, Membership.Role.ADMIN)


def test_pressing_it_sends_the_admin_to_the_apps_installation_page_with_a_fresh_state(
    github_sim: GitHubSimulator, people: People
) -> None:
    response = people.client(Membership.Role.ADMIN).post(start_url(people.workspace))

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}" == github_sim.web_url
    assert target.path == f"/apps/{github_sim.app_slug}/installations/new"
    state = parse_qs(target.query)["state"][0]
    claims = signing.loads(state, salt=STATE_SALT)
    assert (claims["w"], claims["u"]) == (people.workspace.public_id, people.users[Membership.Role.ADMIN].pk)
    row = InstallationSetupState.objects.get()
    assert row.user == people.users[Membership.Role.ADMIN] and row.workspace == people.workspace
    assert row.used_at is None
    assert timedelta(minutes=9) < row.expires_at - timezone.now() <= timedelta(minutes=10)
    assert claims["n"] not in row.nonce_digest  # only a digest of the random part is kept


def test_each_press_gives_a_different_state(github_sim: GitHubSimulator, people: People) -> None:
    client = people.client(Membership.Role.ADMIN)
    assert state_for(client, people.workspace) != state_for(client, people.workspace)


def test_it_is_a_post_with_a_csrf_token(github_sim: GitHubSimulator, people: People) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.users[Membership.Role.ADMIN])

    assert client.get(start_url(people.workspace)).status_code == 405
    assert client.post(start_url(people.workspace)).status_code == 403
    assert not InstallationSetupState.objects.exists()


@pytest.mark.parametrize("who", [Membership.Role.SECURITY, Membership.Role.BILLING, Membership.Role.MEMBER, "outsider"])
def test_anyone_but_an_admin_of_the_workspace_gets_a_404(github_sim: GitHubSimulator, people: People, who: str) -> None:
    assert people.client(who).post(start_url(people.workspace)).status_code == 404
    assert not InstallationSetupState.objects.exists()


@pytest.mark.parametrize("public_id", ["ws_doesnotexist", "%3Cscript%3E", "ws_" + "a" * 300])
def test_an_unknown_workspace_is_a_404(github_sim: GitHubSimulator, people: People, public_id: str) -> None:
    response = people.client("superuser").post(f"/workspaces/{public_id}/install-on-github")
    assert response.status_code == 404


def test_a_person_not_signed_in_is_sent_to_the_login(github_sim: GitHubSimulator, people: People) -> None:
    response = Client().post(start_url(people.workspace))

    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert not InstallationSetupState.objects.exists()


def test_unconfigured_it_says_so_instead_of_failing(github_sim: GitHubSimulator, people: People, settings: Any) -> None:
    settings.GITHUB_APP_SLUG = ""
    response = people.client(Membership.Role.ADMIN).post(start_url(people.workspace))

    assert response.status_code == 503
    assert "not set up on this service" in response.content.decode()
