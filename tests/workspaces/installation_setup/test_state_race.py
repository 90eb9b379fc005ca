"""Two arrivals of one state at once (two server processes, a double-submitted redirect): one links, the
others are told the link was used, whatever the timing; the database decides, not the Python."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from githubsim import GitHubSimulator
from workspaces.installation_setup import SetupAnswer, SetupRefused, StateUsed, installation_setup_complete
from workspaces.models import GitHubInstallation, Membership

from .conftest import Acme, People, code_for, state_for

ATTEMPTS = 4


@pytest.mark.django_db(transaction=True)
def test_one_state_used_by_several_requests_at_once_links_once(
    github_sim: GitHubSimulator, people: People, acme: Acme
) -> None:
    admin = people.users[Membership.Role.ADMIN]
    state = state_for(people.client(Membership.Role.ADMIN), people.workspace)
    codes = [code_for(github_sim, "mona") for _ in range(ATTEMPTS)]
    start = threading.Barrier(ATTEMPTS)
    outcomes: list[str] = []

    def arrive(code: str) -> None:
        answer = SetupAnswer(state=state, code=code, installation_id=str(acme.installation_id), setup_action="install")
        start.wait()
        try:
            installation_setup_complete(user=admin, answer=answer, request_id="req_race")
            outcomes.append("linked")
        except SetupRefused as refusal:
            outcomes.append(refusal.tag)
        finally:
            connection.close()

    threads = [threading.Thread(target=arrive, args=(code,)) for code in codes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == sorted(["linked"] + [StateUsed.tag] * (ATTEMPTS - 1))
    assert GitHubInstallation.objects.get().workspace == people.workspace
    assert github_sim.calls["oauth_access_token"] == 1
