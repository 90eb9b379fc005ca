"""GitHub's redirect to our setup URL: the installation is linked only for the person who pressed the
button, with a state that is good, and when GitHub lists the installation for them; every refusal is a
sentence, never a 500, and an audit event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from audit.models import AuditEvent
from githubsim import GitHubSimulator
from tests.factories import installation_record
from workspaces.installation_setup import STATE_SALT
from workspaces.models import GitHubInstallation, InstallationSetupState, Membership

from .conftest import SETUP_PATH, Acme, People, code_for, setup, state_for

pytestmark = pytest.mark.django_db
ADMIN = Membership.Role.ADMIN


def last_event() -> AuditEvent:
    return AuditEvent.objects.filter(action=AuditEvent.Action.WORKSPACE_INSTALLATION_CHANGED).latest("id")


def refused(response: Any, tag: str, status: int, *, chain: str | None = None) -> AuditEvent:
    """The page says why, with the refusal's status; one event in `chain` records it; nothing is linked."""
    assert response.status_code == status, response.content.decode()
    assert 'id="installation-refused"' in response.content.decode()
    event = last_event()
    assert (event.outcome != AuditEvent.Outcome.ALLOWED, event.error_tag) == (True, tag)
    if chain is not None:
        assert event.workspace_public_id == chain
    assert event.detail["linked"] is False and escape(event.detail["reason"]) in response.content.decode()
    assert not GitHubInstallation.objects.exists()
    return event


def linked(people: People, acme: Acme) -> GitHubInstallation:
    installation = GitHubInstallation.objects.get(github_id=acme.installation_id)
    assert installation.workspace == people.workspace
    return installation


# --- the way it should go ---


def test_the_admin_who_pressed_the_button_links_the_installation_github_lists_for_them(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    client = people.client(ADMIN)
    state = state_for(client, people.workspace)

    response = setup(
        client,
        state=state,
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert f"Installation {acme.installation_id} (acme) is now linked to" in page and "2 repositories" in page
    installation = linked(people, acme)
    assert {row.full_name: row.github_id for row in installation.repositories.all()} == acme.repositories
    event = last_event()
    assert (event.outcome, event.workspace_public_id, event.error_tag) == ("allowed", people.workspace.public_id, "")
    assert event.identity["actor"] == "acme-admin" and event.identity["actor_kind"] == "member"
    assert event.detail == {
        "installation_id": acme.installation_id,
        "setup_action": "install",
        "account": "acme",
        "repositories": 2,
        "relinked": False,
        "linked": True,
    }
    assert (github_sim.calls["oauth_access_token"], github_sim.calls["user_installations"]) == (1, 1)


def test_the_operator_links_for_any_workspace_as_staff(github_sim: GitHubSimulator, people: People, acme: Acme) -> None:
    client = people.client("superuser")
    state = state_for(client, people.workspace)

    response = setup(
        client,
        state=state,
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    assert response.status_code == 200 and linked(people, acme)
    assert last_event().identity["actor_kind"] == "staff"


def test_linking_an_installation_the_workspace_already_has_is_a_harmless_success(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    installation_record(workspace=people.workspace, github_id=acme.installation_id)
    client = people.client(ADMIN)

    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="update",
    )

    assert response.status_code == 200 and "was already linked" in response.content.decode()
    assert linked(people, acme).repositories.count() == 2
    assert last_event().detail["relinked"] is True


def test_a_person_not_signed_in_is_sent_to_the_login_and_back(github_sim: GitHubSimulator, people: People) -> None:
    response = Client().get(SETUP_PATH, {"state": "s", "code": "c", "installation_id": "1", "setup_action": "install"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login") + "?next=/github/setup%3Fstate%3Ds")
    assert github_sim.calls["oauth_access_token"] == 0


def test_the_setup_url_answers_only_get(github_sim: GitHubSimulator, people: People) -> None:
    assert people.client(ADMIN).post(SETUP_PATH).status_code == 405


# --- the state ---


@pytest.mark.parametrize(
    "state",
    [
        "",
        "not-a-state",
        "x" * 5000,
        "<script>alert(1)</script>",
        "eyJuIjoiYSJ9:1tX:forged",
        signing.dumps({"n": "a", "w": "ws_x", "u": 1}, salt="another.purpose"),
        signing.dumps(["not", "a", "mapping"], salt=STATE_SALT),
        signing.dumps({"n": "a", "w": "ws_x", "u": "not-a-number"}, salt=STATE_SALT),
    ],
)
def test_a_state_we_did_not_sign_links_nothing(
    github_sim: GitHubSimulator, people: People, acme: Acme, state: str
) -> None:
    client = people.client(ADMIN)
    response = setup(client, state=state, code="0" * 20, installation_id=acme.installation_id, setup_action="install")

    refused(response, "StateInvalid", 400, chain="")
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert github_sim.calls["oauth_access_token"] == 0


def test_bytes_that_are_not_utf8_link_nothing(github_sim: GitHubSimulator, people: People, acme: Acme) -> None:
    client = people.client(ADMIN)
    response = client.get(f"{SETUP_PATH}?state=%00%ED%A0%80%FF&code=%FF&installation_id=%EF%BC%91&setup_action=install")

    refused(response, "StateInvalid", 400, chain="")


def test_a_state_whose_row_is_gone_links_nothing(github_sim: GitHubSimulator, people: People, acme: Acme) -> None:
    client = people.client(ADMIN)
    state = state_for(client, people.workspace)
    InstallationSetupState.objects.all().delete()

    response = setup(
        client,
        state=state,
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(response, "StateInvalid", 400, chain=people.workspace.public_id)


def test_a_state_older_than_ten_minutes_links_nothing(github_sim: GitHubSimulator, people: People, acme: Acme) -> None:
    client = people.client(ADMIN)
    state = state_for(client, people.workspace)
    InstallationSetupState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = setup(
        client,
        state=state,
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(response, "StateExpired", 400, chain=people.workspace.public_id)
    assert "more than ten minutes old" in response.content.decode()
    assert github_sim.calls["oauth_access_token"] == 0


def test_a_state_works_once(github_sim: GitHubSimulator, people: People, acme: Acme) -> None:
    client = people.client(ADMIN)
    state = state_for(client, people.workspace)
    first = setup(
        client,
        state=state,
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )
    assert first.status_code == 200
    GitHubInstallation.objects.all().delete()

    again = setup(
        client,
        state=state,
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(again, "StateUsed", 400, chain=people.workspace.public_id)
    assert github_sim.calls["oauth_access_token"] == 1


def test_another_persons_state_links_nothing_and_stays_theirs(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    owner = people.client(ADMIN)
    state = state_for(owner, people.workspace)

    for who in ("second-admin", "outsider", "superuser"):
        response = setup(
            people.client(who),
            state=state,
            code=code_for(github_sim, "mona"),
            installation_id=acme.installation_id,
            setup_action="install",
        )
        refused(response, "StateForeign", 403, chain=people.workspace.public_id)

    finished = setup(
        owner,
        state=state,
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )
    assert finished.status_code == 200 and linked(people, acme)
    assert github_sim.calls["oauth_access_token"] == 1


def test_an_admin_who_lost_the_role_meanwhile_links_nothing(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    client = people.client(ADMIN)
    state = state_for(client, people.workspace)
    Membership.objects.filter(user=people.users[ADMIN]).update(role=Membership.Role.SECURITY)

    response = setup(
        client,
        state=state,
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(response, "NotWorkspaceAdmin", 403, chain=people.workspace.public_id)


# --- what GitHub sent ---


def test_without_a_code_nothing_is_linked(github_sim: GitHubSimulator, people: People, acme: Acme) -> None:
    client = people.client(ADMIN)
    response = setup(
        client, state=state_for(client, people.workspace), installation_id=acme.installation_id, setup_action="install"
    )

    refused(response, "CodeMissing", 400, chain=people.workspace.public_id)


@pytest.mark.parametrize("code", ["0" * 20, "a" * 101, "abc def", "../../x", "ghu_" + "x" * 36 + "\n"])
def test_a_made_up_or_malformed_code_links_nothing(
    github_sim: GitHubSimulator, people: People, acme: Acme, code: str
) -> None:
    client = people.client(ADMIN)
    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code,
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(response, "CodeRefused", 400, chain=people.workspace.public_id)


def test_a_code_used_already_links_nothing(github_sim: GitHubSimulator, people: People, acme: Acme) -> None:
    client = people.client(ADMIN)
    code = code_for(github_sim, "mona")
    assert (
        setup(
            client,
            state=state_for(client, people.workspace),
            code=code,
            installation_id=acme.installation_id,
            setup_action="install",
        ).status_code
        == 200
    )
    GitHubInstallation.objects.all().delete()

    again = setup(
        client,
        state=state_for(client, people.workspace),
        code=code,
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(again, "CodeRefused", 400)
    assert "used already, or expired" in again.content.decode()


def test_an_expired_code_links_nothing(github_sim: GitHubSimulator, people: People, acme: Acme) -> None:
    github_sim.oauth.code_lifetime_seconds = 0
    client = people.client(ADMIN)
    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(response, "CodeRefused", 400)


def test_an_installation_the_person_cannot_reach_is_not_linked(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    client = people.client(ADMIN)
    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(github_sim, "hubot"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(response, "InstallationNotAccessible", 403, chain=people.workspace.public_id)
    assert github_sim.calls["user_installations"] == 1 and github_sim.calls["installation"] == 0


def test_an_installation_id_github_never_gave_is_not_linked(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    globex = github_sim.add_installation("globex")
    client = people.client(ADMIN)
    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(github_sim, "mona"),
        installation_id=globex,
        setup_action="install",
    )

    refused(response, "InstallationNotAccessible", 403)


def test_an_installation_found_among_many_pages_is_linked(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    organizations = [f"org{n:03}" for n in range(105)]
    for name in organizations:
        github_sim.add_installation(name)
    github_sim.add_user("busy", admin_of=organizations)
    last = github_sim.add_installation("zz-last")
    github_sim.add_membership("zz-last", "busy", role="admin")
    client = people.client(ADMIN)

    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(github_sim, "busy"),
        installation_id=last,
        setup_action="install",
    )

    assert response.status_code == 200
    assert GitHubInstallation.objects.get().github_id == last
    assert github_sim.calls["user_installations"] == 2


def test_an_installation_linked_to_another_workspace_is_refused_without_naming_it(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    installation_record(workspace=people.other, github_id=acme.installation_id)
    client = people.client(ADMIN)

    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    assert response.status_code == 409
    assert people.other.public_id not in response.content.decode() and "another workspace" in response.content.decode()
    event = last_event()
    assert (event.error_tag, event.workspace_public_id) == ("InstallationLinkedElsewhere", people.workspace.public_id)
    assert people.other.public_id not in str(event.detail)
    assert GitHubInstallation.objects.get().workspace == people.other


@pytest.mark.parametrize(
    "installation_id",
    ["", "abc", "-1", "0", "1e3", "0x10", "١٢٣", "1_000", " 1", "1;DROP TABLE x", "9" * 19, "9" * 5000, "<b>1</b>"],
)
def test_an_installation_id_that_is_not_a_whole_number_links_nothing(
    github_sim: GitHubSimulator, people: People, acme: Acme, installation_id: str
) -> None:
    client = people.client(ADMIN)
    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(github_sim, "mona"),
        installation_id=installation_id,
        setup_action="install",
    )

    event = refused(response, "InstallationIdInvalid", 400, chain=people.workspace.public_id)
    assert len(event.detail["installation_id"]) <= 40
    assert github_sim.calls["oauth_access_token"] == 0


@pytest.mark.parametrize("setup_action", ["", "delete", "INSTALL", "<x>"])
def test_an_unknown_setup_action_links_nothing(
    github_sim: GitHubSimulator, people: People, acme: Acme, setup_action: str
) -> None:
    client = people.client(ADMIN)
    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action=setup_action,
    )

    refused(response, "InstallationIdInvalid", 400)


def test_an_installation_waiting_for_an_owners_approval_is_explained(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    client = people.client(ADMIN)
    response = setup(
        client, state=state_for(client, people.workspace), code=code_for(github_sim, "mona"), setup_action="request"
    )

    refused(response, "InstallationRequested", 400)
    assert "for approval" in response.content.decode()


def test_a_person_who_declined_authorization_links_nothing(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    client = people.client(ADMIN)
    response = setup(
        client,
        state=state_for(client, people.workspace),
        error="access_denied",
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(response, "AuthorizationDeclined", 400)


def test_repeated_parameters_take_one_value_and_never_fail(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    client = people.client(ADMIN)
    state = state_for(client, people.workspace)
    query = f"state={state}&installation_id=abc&installation_id=1%00&setup_action=install&code=a&code=b"

    response = client.get(f"{SETUP_PATH}?{query}")

    event = refused(response, "InstallationIdInvalid", 400)
    assert event.detail["installation_id"] == "1\ufffd"  # the last value, its NUL replaced


@pytest.mark.parametrize("value", ["\x00", "\x1b[31mred", "1\r\nSet-Cookie: x=1"])
def test_control_characters_are_audited_replaced(github_sim: GitHubSimulator, people: People, value: str) -> None:
    client = people.client(ADMIN)
    response = setup(
        client, state=state_for(client, people.workspace), code="c", installation_id=value, setup_action=value
    )

    event = refused(response, "InstallationIdInvalid", 400)
    assert event.detail["installation_id"].isprintable() and event.detail["setup_action"].isprintable()


# --- GitHub failing ---


@pytest.mark.parametrize("kind", ["status", "malformed", "reset"])
def test_github_failing_the_code_exchange_is_a_sentence_not_a_500(
    github_sim: GitHubSimulator, people: People, acme: Acme, kind: str
) -> None:
    github_sim.fault("oauth_access_token", kind=kind, status=502 if kind == "status" else None)
    client = people.client(ADMIN)
    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    event = refused(response, "GitHubUnavailable", 502, chain=people.workspace.public_id)
    assert event.outcome == AuditEvent.Outcome.ERROR


@pytest.mark.parametrize("kind", ["status", "malformed", "rate_limit"])
def test_github_failing_the_installation_list_is_a_sentence_not_a_500(
    github_sim: GitHubSimulator, people: People, acme: Acme, kind: str
) -> None:
    github_sim.fault("user_installations", kind=kind, status=503 if kind == "status" else None)
    client = people.client(ADMIN)
    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(response, "GitHubUnavailable", 502)


def test_github_failing_to_describe_the_installation_is_a_sentence_not_a_500(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    github_sim.fault("installation", status=500, times=5)
    client = people.client(ADMIN)
    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(response, "GitHubUnavailable", 502)


def test_github_not_answering_at_all_is_a_sentence_not_a_500(
    github_sim: GitHubSimulator, people: People, acme: Acme, settings: Any
) -> None:
    client = people.client(ADMIN)
    state = state_for(client, people.workspace)
    settings.GITHUB_WEB_URL = "http://127.0.0.1:9"  # the discard port: nothing listens there

    response = setup(
        client,
        state=state,
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(response, "GitHubUnavailable", 502)


def test_a_wrong_client_secret_is_the_operators_problem_said_plainly(
    github_sim: GitHubSimulator, people: People, acme: Acme, settings: Any
) -> None:
    settings.GITHUB_APP_CLIENT_SECRET = "not-the-secret"
    client = people.client(ADMIN)
    response = setup(
        client,
        state=state_for(client, people.workspace),
        code=code_for(github_sim, "mona"),
        installation_id=acme.installation_id,
        setup_action="install",
    )

    refused(response, "AppNotConfigured", 503)
    assert "not-the-secret" not in response.content.decode() and "not-the-secret" not in str(last_event().detail)
