"""The hole a review found: `GET /user/installations` lists an installation for anyone with explicit
permission of any level on it, and the `installation_id` comes from the query string, bound by nothing.
So an admin of workspace A who can merely read one repository of organization B must not link B's
installation to A: GitHub has to confirm the person administers the installation's account (an active
admin of the organization, or the personal account itself). Every refusal is audited, never a 500."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from audit.models import AuditEvent
from github_app import user_authorization
from githubsim import GitHubSimulator
from workspaces.models import GitHubInstallation, Membership

from .conftest import Acme, People, code_for, setup, state_for
from .test_setup_url import refused

pytestmark = pytest.mark.django_db
ADMIN = Membership.Role.ADMIN


@pytest.fixture
def globex(github_sim: GitHubSimulator, acme: Acme) -> int:
    """Organization B: installed, not linked to any workspace, with one repository and some people."""
    installation_id = github_sim.add_installation("globex")
    github_sim.add_repository("globex/app", installation_id=installation_id)
    github_sim.add_user("pat", member_of=["globex"])
    github_sim.add_user("reader")
    github_sim.add_collaborator("globex/app", "reader", permission="read")
    github_sim.add_user("owner", admin_of=["globex"])
    return installation_id


def link(client: Any, people: People, sim: GitHubSimulator, login: str, installation_id: int) -> Any:
    return setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(sim, login),
        installation_id=installation_id,
        setup_action="install",
    )


def nothing_secret_in(event: AuditEvent, sim: GitHubSimulator, page: str) -> None:
    assert sim.oauth.user_tokens_issued  # the exchange did happen
    stored = json.dumps({"detail": event.detail, "identity": event.identity})
    for token in sim.oauth.user_tokens_issued:
        assert token not in stored and token not in page


@pytest.mark.parametrize("login", ["pat", "reader"])
def test_a_member_or_read_only_collaborator_of_another_organization_cannot_link_its_installation(
    github_sim: GitHubSimulator, people: People, globex: int, login: str
) -> None:
    client = people.client(ADMIN)

    response = link(client, people, github_sim, login, globex)

    event = refused(response, "InstallationNotAdministered", 403, chain=people.workspace.public_id)
    assert "does not confirm that you administer" in response.content.decode()
    assert event.detail["installation_id"] == str(globex) and event.outcome == AuditEvent.Outcome.DENIED
    assert github_sim.calls["user_installations"] == 1  # GitHub did list it for them: that is the hole
    assert github_sim.calls["user_membership"] == 1 and github_sim.calls["installation"] == 0
    nothing_secret_in(event, github_sim, response.content.decode())


def test_an_admin_of_the_organization_links_it(github_sim: GitHubSimulator, people: People, globex: int) -> None:
    client = people.client(ADMIN)

    response = link(client, people, github_sim, "owner", globex)

    assert response.status_code == 200, response.content.decode()
    assert GitHubInstallation.objects.get().github_id == globex
    assert github_sim.calls["user_membership"] == 1


def test_a_member_promoted_to_admin_links_it(github_sim: GitHubSimulator, people: People, globex: int) -> None:
    client = people.client(ADMIN)
    refused(link(client, people, github_sim, "pat", globex), "InstallationNotAdministered", 403)

    github_sim.add_membership("globex", "pat", role="admin")

    assert link(client, people, github_sim, "pat", globex).status_code == 200
    assert GitHubInstallation.objects.get().github_id == globex


def test_a_pending_admin_is_not_an_admin(github_sim: GitHubSimulator, people: People, globex: int) -> None:
    github_sim.add_user("invited")
    github_sim.add_membership("globex", "invited", role="admin", state="pending")
    client = people.client(ADMIN)

    refused(link(client, people, github_sim, "invited", globex), "InstallationNotAccessible", 403)


def test_a_personal_account_is_linked_by_its_owner_only(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    own = github_sim.add_installation("hubot", account_type="User")
    github_sim.add_repository("hubot/dotfiles", installation_id=own)
    github_sim.add_collaborator("hubot/dotfiles", "mona", permission="write")
    client = people.client(ADMIN)

    refused(link(client, people, github_sim, "mona", own), "InstallationNotAdministered", 403)
    assert github_sim.calls["user"] == 1 and github_sim.calls["user_membership"] == 0

    response = link(client, people, github_sim, "hubot", own)
    assert response.status_code == 200, response.content.decode()
    assert GitHubInstallation.objects.get().github_id == own


def membership_answer(monkeypatch: pytest.MonkeyPatch, body: Any) -> None:
    """GitHub's API answers `body` to `GET /user/memberships/orgs/{org}`; everything else is the simulator."""
    real = user_authorization.http_request

    def fake(method: str, url: str, **kwargs: Any) -> requests.Response:
        if "/user/memberships/orgs/" not in urlsplit(url).path:
            return real(method, url, **kwargs)
        response = requests.Response()
        response.status_code, response.url = 200, url
        response._content = json.dumps(body).encode()
        return response

    monkeypatch.setattr(user_authorization, "http_request", fake)


@pytest.mark.parametrize(
    "hostile",
    [
        {},
        {"state": "active", "role": "admin"},
        {"state": "pending", "role": "admin", "organization": {"login": "globex", "id": "GLOBEX"}},
        {"state": "active", "role": "admin", "organization": {"login": "acme", "id": "GLOBEX"}},
        {"state": "active", "role": "admin", "organization": {"login": "globex", "id": 1}},
        {"state": "active", "role": "admin", "organization": {"login": "globex"}},
        {"state": "active", "role": "member", "organization": {"login": "globex", "id": "GLOBEX"}},
        {"role": "admin", "organization": {"login": "globex", "id": "GLOBEX"}},
    ],
)
def test_a_membership_answer_short_of_an_active_admin_of_that_organization_is_refused(
    github_sim: GitHubSimulator, people: People, globex: int, monkeypatch: pytest.MonkeyPatch, hostile: Any
) -> None:
    """ "GLOBEX" stands for the organization's real id; every answer here lacks or gets wrong one thing."""
    globex_id = github_sim.installations[globex].account.id
    assert globex_id != 1
    body = json.loads(json.dumps(hostile).replace('"GLOBEX"', str(globex_id)))
    membership_answer(monkeypatch, body)
    client = people.client(ADMIN)

    refused(link(client, people, github_sim, "pat", globex), "InstallationNotAdministered", 403)


def test_the_stubbed_answer_of_an_active_admin_does_link(
    github_sim: GitHubSimulator, people: People, globex: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stub of the test above says yes when the answer is complete (so its refusals are the answers')."""
    globex_id = github_sim.installations[globex].account.id
    membership_answer(
        monkeypatch, {"state": "active", "role": "admin", "organization": {"login": "Globex", "id": globex_id}}
    )
    client = people.client(ADMIN)

    assert link(client, people, github_sim, "pat", globex).status_code == 200


@pytest.mark.parametrize(("endpoint", "owner"), [("user_membership", "globex"), ("user", "hubot")])
@pytest.mark.parametrize("kind", ["status", "malformed", "rate_limit", "reset"])
def test_github_failing_to_say_who_administers_is_a_sentence_not_a_500(
    github_sim: GitHubSimulator, people: People, globex: int, endpoint: str, owner: str, kind: str
) -> None:
    installation_id = globex if owner == "globex" else github_sim.add_installation("hubot", account_type="User")
    login = "owner" if owner == "globex" else "hubot"
    github_sim.fault(endpoint, kind=kind, status=502 if kind == "status" else None)
    client = people.client(ADMIN)

    response = link(client, people, github_sim, login, installation_id)

    event = refused(response, "GitHubUnavailable", 502, chain=people.workspace.public_id)
    assert event.outcome == AuditEvent.Outcome.ERROR
    nothing_secret_in(event, github_sim, response.content.decode())
