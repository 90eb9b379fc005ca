"""GitHub's rate limit is shared by every customer: the calls a request causes beyond minting its own
tokens (lookups of names our records lack, policy reads of a mint without sources) are rationed per
workspace and per caller repository, in the shared cache; one workspace spending its ration leaves
every other workspace's mints as they were."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from tests.factories import POLICY_PATH, installation_record, policy, repository_create, workspace_create

from .conftest import ADMITS_ACME_APP, mint

pytestmark = pytest.mark.django_db

ADMITS_ANY_CALLER = policy('ref: "refs/heads/*"')


def body_of(response):
    body = response.json()
    assert response.status_code == 200 and body["success"] is True, body
    return body["data"]


def excluded(result):
    return {item["repo"]: item["reason"] for item in result["excluded"]}


@pytest.fixture
def other_workspace(world, session_for):
    """A second customer, Globex, with its own installation and caller repository."""
    workspace = workspace_create(name="Globex", plan="pro")
    installation_id = world.sim.add_installation("globex")
    installation = installation_record(workspace=workspace, github_id=installation_id, account="globex", account_id=7)
    caller_id = repository_create(sim=world.sim, installation=installation, full_name="globex/app")
    repository_create(
        sim=world.sim,
        installation=installation,
        full_name="globex/new",
        files={POLICY_PATH: ADMITS_ANY_CALLER},
        recorded=False,
    )

    def session():
        return session_for(
            workspace=workspace,
            repository="globex/app",
            repository_id=str(caller_id),
            repository_owner="globex",
            sub="repo:globex/app:ref:refs/heads/main",
        )

    return session


def test_a_workspace_that_spent_its_ration_gets_github_rate_limited_with_a_sentence(
    client, world, session_for, settings
):
    settings.STS_GITHUB_BUDGET_PER_WORKSPACE = 4
    world.installation("acme")
    names = [f"acme/made-up-{index}" for index in range(10)]

    result = body_of(mint(client, session_for(), {"sources": names}))

    assert world.sim.calls["repo_installation"] == 4
    reasons = excluded(result)
    assert [reasons[name] for name in names[:4]] == ["not_installed_in_workspace"] * 4
    assert [reasons[name] for name in names[4:]] == ["github_rate_limited"] * 6
    event = AuditEvent.objects.get(action="pro.atmos.sts.mint_denied")
    limited = [d for d in event.detail["decisions"] if d["reason"] == "github_rate_limited"]
    assert limited and all("hourly share of GitHub calls" in d["why"] for d in limited)
    assert event.detail["outcomes"] == {"not_installed_in_workspace": 4, "github_rate_limited": 6}


def test_one_workspace_exhausting_its_ration_never_limits_another(
    client, world, session_for, settings, other_workspace
):
    settings.STS_GITHUB_BUDGET_PER_WORKSPACE = 3
    world.installation("acme")
    for round_ in range(3):  # a workspace sending made-up names, again and again
        names = [f"acme/made-up-{round_}-{index}" for index in range(10)]
        body_of(mint(client, session_for(), {"sources": names}))
    assert world.sim.calls["repo_installation"] == 3
    world.sim.reset_calls()

    result = body_of(mint(client, other_workspace(), {"sources": ["globex/new"]}))

    assert world.sim.calls["repo_installation"] == 1
    assert [t["repositories"] for t in result["tokens"]] == [["globex/new"]]
    assert result["excluded"] == []


def test_one_caller_exhausting_its_ration_leaves_the_workspaces_other_callers_theirs(
    client, world, session_for, settings
):
    settings.STS_GITHUB_BUDGET_PER_CALLER = 2
    acme = world.installation("acme")
    other_caller = world.repository("acme/other-app", acme)
    world.source("acme/new", acme, ADMITS_ACME_APP.replace('"acme/app"', '"acme/*"'), recorded=False)

    first = body_of(mint(client, session_for(), {"sources": ["acme/x1", "acme/x2", "acme/new"]}))
    second = body_of(
        mint(
            client,
            session_for(repository="acme/other-app", repository_id=str(other_caller)),
            {"sources": ["acme/new"]},
        )
    )

    assert excluded(first)["acme/new"] == "github_rate_limited"
    assert [t["repositories"] for t in second["tokens"]] == [["acme/new"]]


def test_a_remembered_answer_spends_nothing(client, world, session_for, settings):
    settings.STS_GITHUB_BUDGET_PER_WORKSPACE = 1
    world.installation("acme")

    results = [body_of(mint(client, session_for(), {"sources": ["acme/made-up"]})) for _ in range(3)]

    assert [excluded(result) for result in results] == [{"acme/made-up": "not_installed_in_workspace"}] * 3
    assert world.sim.calls["repo_installation"] == 1


def test_the_ration_is_counted_in_the_shared_cache_not_in_a_request(client, world, session_for, settings):
    # What another process spent is in the same counter: the cache holds the only state.
    from sts.github_budget import GitHubBudget, GitHubBudgetExhausted

    settings.STS_GITHUB_BUDGET_PER_WORKSPACE = 2
    world.installation("acme")
    spent_elsewhere = GitHubBudget(workspace_public_id=world.workspace.public_id, caller_repository_id="99")
    spent_elsewhere.spend()
    spent_elsewhere.spend()
    with pytest.raises(GitHubBudgetExhausted):
        spent_elsewhere.spend()

    result = body_of(mint(client, session_for(), {"sources": ["acme/made-up"]}))

    assert excluded(result) == {"acme/made-up": "github_rate_limited"}
    assert world.sim.calls["repo_installation"] == 0


def test_a_mint_without_sources_reads_at_most_as_many_policies_as_a_mint_may_name(client, world, session_for, settings):
    settings.STS_MAX_SOURCES = 3
    acme = world.installation("acme")
    for index in range(6):
        world.source(f"acme/m{index}", acme, ADMITS_ACME_APP)
    # These count policy reads, not the retries of a fresh reader token while GitHub propagates it.
    world.sim.set_consistency(propagation_seconds=0.0)
    world.sim.reset_calls()

    result = body_of(mint(client, session_for(), {}))

    assert world.sim.calls["contents"] == 3
    assert [t["repositories"] for t in result["tokens"]] == [["acme/m0", "acme/m1"]]  # acme/app is third by name
    assert AuditEvent.objects.get(action="pro.atmos.sts.token_minted").detail["decided"] == 3


def test_the_policy_reads_of_a_mint_without_sources_are_rationed(client, world, session_for, settings):
    settings.STS_GITHUB_BUDGET_PER_WORKSPACE = 2
    acme = world.installation("acme")
    for index in range(4):
        world.source(f"acme/m{index}", acme, ADMITS_ACME_APP)
    # These count policy reads, not the retries of a fresh reader token while GitHub propagates it.
    world.sim.set_consistency(propagation_seconds=0.0)
    world.sim.reset_calls()

    result = body_of(mint(client, session_for(), {}))

    assert world.sim.calls["contents"] == 2
    assert sum(len(t["repositories"]) for t in result["tokens"]) + len(result["excluded"]) <= 5
    assert set(excluded(result).values()) == {"github_rate_limited"}
    assert len(excluded(result)) == 3


def test_a_mint_naming_its_sources_is_not_rationed_for_its_policy_reads(client, world, session_for, settings):
    settings.STS_GITHUB_BUDGET_PER_WORKSPACE = 1
    acme = world.installation("acme")
    names = [f"acme/m{index}" for index in range(4)]
    for name in names:
        world.source(name, acme, ADMITS_ACME_APP)

    result = body_of(mint(client, session_for(), {"sources": names}))

    assert sorted(repo for t in result["tokens"] for repo in t["repositories"]) == names
