"""A warm mint costs a fixed number of database statements, whatever the number of its sources and
owners (no query inside a loop; counts, not times), and one transaction: its records commit with its
audit event, or neither does and every token is revoked."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, connections
from django.test.utils import CaptureQueriesContext

from audit import event_types
from audit.models import AuditEvent
from github_app.client import GitHubApp
from sts.models import MintedToken, token_fingerprint
from tests.factories import World

from .conftest import ADMITS_ACME_APP, mint

pytestmark = pytest.mark.django_db

OWNERS = ["acme", "initech", "globex", "umbrella", "hooli"]
# Session, features, the records of the sources and of the caller (still installed?), caller rules;
# the tokens' rows; the audit event (chain head locked, event, source rows, head moved on): 4 + 1 + 4.
WARM_MINT_STATEMENTS = 9


def statements(client: Any, session: str, sources: list[str]) -> list[str]:
    mint(client, session, {"sources": sources})  # warm: policies cached, reader tokens made
    with CaptureQueriesContext(connection) as captured:
        body = mint(client, session, {"sources": sources}).json()
    assert len(body["data"]["tokens"]) == len({name.split("/")[0] for name in sources}), body
    return [query["sql"] for query in captured.captured_queries if "SAVEPOINT" not in query["sql"]]


@pytest.fixture
def sources(world: World) -> list[str]:
    names = []
    for owner in OWNERS:
        installation = world.installation(owner)
        for index in range(3):
            world.source(f"{owner}/modules-{index}", installation, ADMITS_ACME_APP)
            names.append(f"{owner}/modules-{index}")
    return names


def test_a_warm_mint_of_one_source_costs_a_fixed_number_of_statements(client, sources, session_for):
    assert len(statements(client, session_for(), sources[:1])) == WARM_MINT_STATEMENTS


def test_a_warm_mint_of_fifteen_sources_over_five_owners_costs_no_more(client, sources, session_for):
    assert len(statements(client, session_for(), sources)) == WARM_MINT_STATEMENTS


def test_write_tokens_switched_on_cost_no_query_per_source(client, world, sources, session_for):
    world.workspace.allow_write_tokens = True
    world.workspace.save()

    assert len(statements(client, session_for(), sources)) == WARM_MINT_STATEMENTS


def test_a_repository_github_lists_beyond_our_records_is_remembered_in_one_statement(
    client, world, sources, session_for, settings
):
    session = session_for()
    statements(client, session, sources[:1])
    from workspaces.models import InstallationRepository

    InstallationRepository.objects.filter(full_name="acme/modules-0").delete()
    settings.STS_POLICY_CACHE_SECONDS = 3600
    body = mint(client, session, {"sources": ["acme/modules-0"]}).json()  # found at GitHub again

    assert body["data"]["tokens"][0]["repositories"] == ["acme/modules-0"]
    assert InstallationRepository.objects.filter(full_name_key="acme/modules-0").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_warm_mint_commits_one_transaction_its_records_with_its_audit_event(
    client, sources, session_for, monkeypatch
):
    session = session_for()
    mint(client, session, {"sources": sources})
    commits = []
    wrapper = type(connections["default"])
    original = wrapper.commit
    monkeypatch.setattr(wrapper, "commit", lambda self: commits.append(1) or original(self))

    body = mint(client, session, {"sources": sources}).json()

    assert len(body["data"]["tokens"]) == 5
    assert len(commits) == 1
    event = AuditEvent.objects.filter(action__in=event_types.MINT.actions).latest("sequence")
    assert MintedToken.objects.filter(request_id=event.request_id).count() == 5


def test_when_the_records_cannot_be_written_every_token_is_revoked_and_the_one_event_says_so(
    client, world, sources, session_for, monkeypatch
):
    session = session_for()
    mint(client, session, {"sources": sources[:6]})  # warm
    handed_out: list[str] = []
    original = GitHubApp.create_installation_token

    def recording(self, installation_id, **kwargs):
        token = original(self, installation_id, **kwargs)
        handed_out.append(token.token)
        return token

    def broken(*args, **kwargs):
        raise DatabaseError("the database refused the tokens' rows")

    monkeypatch.setattr(GitHubApp, "create_installation_token", recording)
    monkeypatch.setattr("sts.mint.written_insert", broken)  # how the mint writes its tokens' rows
    client.raise_request_exception = False
    events_before = AuditEvent.objects.count()
    minted_before = MintedToken.objects.count()

    response = mint(client, session, {"sources": sources[:6]})

    assert response.status_code == 500
    assert response.json()["errorTag"] == "InternalError"
    assert len(handed_out) == 2
    assert not any(world.sim.token_is_live(token) for token in handed_out)
    assert AuditEvent.objects.count() == events_before + 1
    event = AuditEvent.objects.latest("sequence")
    assert event.outcome == "error"
    revoked = event.detail["revoked_after_failure"]
    assert sorted(item["fingerprint"] for item in revoked) == sorted(token_fingerprint(t) for t in handed_out)
    assert all(item["confirmed"] is True for item in revoked)
    assert not any(token in str(event.detail) for token in handed_out)
    assert MintedToken.objects.count() == minted_before
