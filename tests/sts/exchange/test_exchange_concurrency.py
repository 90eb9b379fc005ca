"""Single use under a race: 50 copies of one OIDC token arrive at once, exactly one becomes a session.

Real threads, each with its own database connection, against a committed database (``transaction=True``):
the unique constraint on (issuer, jti) is what decides, on SQLite here and PostgreSQL in CI.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from githubsim.simulator import GitHubSimulator
from sts.models import OidcTokenUse, StsSession
from sts.oidc import verify_actions_token
from tests.factories import acme_create
from tests.sts.exchange.conftest import exchange

COPIES = 50


@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_one_of_fifty_concurrent_copies_through(github_sim: GitHubSimulator, settings: object) -> None:
    acme = acme_create(github_sim)
    verify_actions_token(acme.token())  # warm the key cache: the race is about the database, not the fetch
    token = acme.token()
    body = {"token": token, "workspaceId": acme.workspace.public_id}
    start = threading.Barrier(COPIES)
    statuses: list[tuple[int, str]] = []
    lock = threading.Lock()

    def attempt(number: int) -> None:
        try:
            start.wait()
            response = exchange(Client(), body, REMOTE_ADDR=f"10.0.0.{number}")
            with lock:
                statuses.append((response.status_code, response.json().get("errorTag", "")))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(number,)) for number in range(COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(statuses) == Counter({(200, ""): 1, (401, "OidcTokenReplayed"): COPIES - 1})
    assert StsSession.objects.count() == 1
    assert OidcTokenUse.objects.count() == 1
    assert AuditEvent.objects.filter(outcome="allowed").count() == 1
    assert AuditEvent.objects.filter(error_tag="OidcTokenReplayed").count() == COPIES - 1
