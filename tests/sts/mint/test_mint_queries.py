"""A warm mint costs a fixed number of database statements, whatever the number of its sources and
owners: no query inside a loop (counts, not times)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import World

from .conftest import ADMITS_ACME_APP, mint

pytestmark = pytest.mark.django_db

OWNERS = ["acme", "initech", "globex", "umbrella", "hooli"]
# Session, features (2), caller still installed, caller rules, sources' records; the tokens' rows;
# the audit event (chain head locked, event, source rows, head moved on): 6 + 1 + 4.
WARM_MINT_STATEMENTS = 11


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
