"""POST /api/v1/sts: who gets a token for what, and why the rest is excluded."""

from __future__ import annotations

import base64
import hashlib

import pytest

from audit.models import AuditEvent
from sts.models import MintedToken
from sts.policy_store import policy_files_invalidate
from tests.factories import installation_record, policy, repository_record
from workspaces.models import GitHubInstallation, InstallationRepository, Plan, Workspace

from .conftest import ADMITS_ACME_APP, ADMITS_OTHER, mint

pytestmark = pytest.mark.django_db


def data(response):
    body = response.json()
    assert response.status_code == 200, body
    assert body["success"] is True, body
    return body["data"]


def test_it_mints_a_read_only_token_scoped_to_the_source(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/modules", acme, ADMITS_ACME_APP)
    world.source("acme/unrelated", acme, ADMITS_ACME_APP)

    result = data(mint(client, session_for(), {"sources": ["acme/modules"]}))

    assert result["excluded"] == []
    [token] = result["tokens"]
    assert token["host"] == world.sim.git_host
    assert token["owner"] == "acme"
    assert token["repositories"] == ["acme/modules"]
    assert token["permissions"] == {"contents": "read", "metadata": "read"}
    assert token["token"].startswith("ghs_")
    [issued] = world.sim.tokens_issued[-1:]
    assert issued["repositories"] == ["acme/modules"]
    assert issued["expires_at"] == token["expiresAt"]


def test_the_envelope_carries_the_request_id_as_trace_id(client, world, session_for):
    world.installation("acme")
    response = mint(client, session_for(), {"sources": []})
    body = response.json()
    assert body["request"] == body["traceId"] == response["X-Request-Id"]
    assert body["status"] == 200


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("other_org", "not_installed_in_workspace"),
        ("suspended", "installation_suspended"),
        ("no_policy", "no_trust_policy"),
        ("invalid_policy", "trust_policy_invalid"),
        ("denied", "trust_policy_denied"),
        ("malformed", "invalid_source_name"),
    ],
)
def test_each_exclusion_reason(client, world, session_for, setup, reason):
    acme = world.installation("acme")
    source = "acme/modules"
    if setup == "other_org":
        other = world.sim.add_installation("globex")
        world.sim.add_repository(
            "globex/modules", installation_id=other, files={".atmos/pro/sts/default.yaml": ADMITS_ACME_APP}
        )
        source = "globex/modules"
    elif setup == "suspended":
        # Another account's installation: the caller's own must stay live for it to mint at all.
        initech = world.installation("initech")
        source = "initech/modules"
        world.source(source, initech, ADMITS_ACME_APP)
        GitHubInstallation.objects.filter(pk=initech.pk).update(suspended_at="2030-01-01T00:00:00Z")
    elif setup == "no_policy":
        world.source(source, acme, None)
    elif setup == "invalid_policy":
        world.source(source, acme, ADMITS_ACME_APP.replace("repository:", "reposittory:"))
    elif setup == "denied":
        world.source(source, acme, ADMITS_OTHER)
    elif setup == "malformed":
        source = "acme/../etc"

    result = data(mint(client, session_for(), {"sources": [source]}))

    assert result == {"tokens": [], "excluded": [{"repo": source, "reason": reason}]}
    assert world.sim.calls["access_tokens"] <= 1  # at most the reader token: nothing minted for the caller
    event = AuditEvent.objects.get(action="pro.atmos.sts.mint_denied")
    assert event.outcome == "denied"
    assert event.detail["decisions"][0]["reason"] == reason


def test_another_organization_is_never_asked_about(client, world, session_for):
    world.installation("acme")
    other = world.sim.add_installation("globex")
    world.sim.add_repository(
        "globex/secrets", installation_id=other, files={".atmos/pro/sts/default.yaml": ADMITS_ACME_APP}
    )

    result = data(mint(client, session_for(), {"sources": ["globex/secrets"]}))

    assert result["excluded"] == [{"repo": "globex/secrets", "reason": "not_installed_in_workspace"}]
    assert world.sim.calls["repo_installation"] == 0
    assert world.sim.calls["contents"] == 0


def test_mixed_outcomes_put_each_source_in_exactly_one_place(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    world.source("acme/b", acme, ADMITS_ACME_APP)
    world.source("acme/c", acme, None)
    world.source("acme/d", acme, ADMITS_OTHER)
    requested = ["acme/a", "acme/b", "acme/c", "acme/d", "nowhere/x", "bad name"]

    result = data(mint(client, session_for(), {"sources": requested}))

    granted = [repo for token in result["tokens"] for repo in token["repositories"]]
    excluded = {item["repo"]: item["reason"] for item in result["excluded"]}
    assert sorted(granted) == ["acme/a", "acme/b"]
    assert excluded == {
        "acme/c": "no_trust_policy",
        "acme/d": "trust_policy_denied",
        "nowhere/x": "not_installed_in_workspace",
        "bad name": "invalid_source_name",
    }
    assert len(result["tokens"]) == 1


def test_several_owners_get_one_token_each(client, world, session_for):
    acme = world.installation("acme")
    initech = world.installation("initech")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    world.source("initech/b", initech, ADMITS_ACME_APP)

    result = data(mint(client, session_for(), {"sources": ["acme/a", "initech/b"]}))

    assert {(t["owner"], tuple(t["repositories"])) for t in result["tokens"]} == {
        ("acme", ("acme/a",)),
        ("initech", ("initech/b",)),
    }


def test_duplicates_collapse_and_names_compare_without_case(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/Modules", acme, ADMITS_ACME_APP)

    result = data(mint(client, session_for(), {"sources": ["ACME/modules", "acme/Modules", "Acme/MODULES"]}))

    assert result["excluded"] == []
    [token] = result["tokens"]
    assert token["repositories"] == ["acme/Modules"]


def test_without_sources_every_admitting_repository_is_minted(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    world.source("acme/b", acme, ADMITS_ACME_APP)
    world.source("acme/quiet", acme, None)
    world.source("acme/denies", acme, ADMITS_OTHER)

    result = data(mint(client, session_for(), {}))

    assert [t["repositories"] for t in result["tokens"]] == [["acme/a", "acme/b"]]
    # Repositories that never opted in are not listed back; a policy that refused the caller is.
    assert result["excluded"] == [{"repo": "acme/denies", "reason": "trust_policy_denied"}]


def test_a_policy_change_applies_to_the_next_mint(client, world, session_for, settings):
    settings.STS_POLICY_CACHE_SECONDS = 0
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    assert data(mint(client, session_for(), {"sources": ["acme/a"]}))["tokens"]

    world.sim.put_file("acme/a", ".atmos/pro/sts/default.yaml", ADMITS_OTHER)

    result = data(mint(client, session_for(), {"sources": ["acme/a"]}))
    assert result["excluded"] == [{"repo": "acme/a", "reason": "trust_policy_denied"}]


def test_an_invalidated_policy_is_read_again_before_its_cache_time_is_up(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    assert data(mint(client, session_for(), {"sources": ["acme/a"]}))["tokens"]
    world.sim.put_file("acme/a", ".atmos/pro/sts/default.yaml", ADMITS_OTHER)
    cached = data(mint(client, session_for(), {"sources": ["acme/a"]}))

    policy_files_invalidate(full_name="ACME/a")  # what a push touching .atmos/pro/sts/ does

    fresh = data(mint(client, session_for(), {"sources": ["acme/a"]}))
    assert cached["tokens"]  # within the cache time, the old policy still decided
    assert fresh["excluded"] == [{"repo": "acme/a", "reason": "trust_policy_denied"}]


def test_an_unchanged_policy_is_revalidated_with_its_etag(client, world, session_for, settings):
    settings.STS_POLICY_CACHE_SECONDS = 0
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    data(mint(client, session_for(), {"sources": ["acme/a"]}))
    remaining_before = world.sim.calls["contents"]

    result = data(mint(client, session_for(), {"sources": ["acme/a"]}))

    assert result["tokens"]
    assert world.sim.calls["contents"] == remaining_before + 1


def test_a_warm_mint_makes_one_github_call_per_token(client, world, session_for):
    acme = world.installation("acme")
    initech = world.installation("initech")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    world.source("initech/b", initech, ADMITS_ACME_APP)
    data(mint(client, session_for(), {"sources": ["acme/a", "initech/b"]}))
    world.sim.reset_calls()

    result = data(mint(client, session_for(), {"sources": ["acme/a", "initech/b"]}))

    assert len(result["tokens"]) == 2
    assert sum(world.sim.calls.values()) == 2
    assert world.sim.calls["access_tokens"] == 2


def test_among_warm_policies_only_the_invalidated_one_is_read_again(client, world, session_for):
    acme, initech, globex = (world.installation(owner) for owner in ("acme", "initech", "globex"))
    world.source("acme/a", acme, ADMITS_ACME_APP)
    world.source("initech/b", initech, ADMITS_ACME_APP)
    world.source("globex/c", globex, ADMITS_ACME_APP)
    sources = {"sources": ["acme/a", "initech/b", "globex/c"]}
    assert len(data(mint(client, session_for(), sources))["tokens"]) == 3
    world.sim.put_file("initech/b", ".atmos/pro/sts/default.yaml", ADMITS_OTHER)
    policy_files_invalidate(full_name="initech/b")
    world.sim.reset_calls()

    result = data(mint(client, session_for(), sources))

    assert [token["owner"] for token in result["tokens"]] == ["acme", "globex"]
    assert result["excluded"] == [{"repo": "initech/b", "reason": "trust_policy_denied"}]
    assert world.sim.calls["contents"] == 1  # the other two came from the cache
    assert world.sim.calls["access_tokens"] == 2


def test_a_repository_our_records_lack_is_looked_up_at_github_and_then_recorded(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/new", acme, ADMITS_ACME_APP, recorded=False)

    result = data(mint(client, session_for(), {"sources": ["acme/new"]}))

    assert [t["repositories"] for t in result["tokens"]] == [["acme/new"]]
    assert world.sim.calls["repo_installation"] == 1
    assert InstallationRepository.objects.filter(full_name="acme/new", installation=acme).exists()


def test_github_is_asked_about_an_unknown_name_once_a_minute(client, world, session_for):
    world.installation("acme")

    for _ in range(3):
        result = data(mint(client, session_for(), {"sources": ["acme/made-up"]}))
        assert result["excluded"] == [{"repo": "acme/made-up", "reason": "not_installed_in_workspace"}]

    assert world.sim.calls["repo_installation"] == 1


def test_one_request_cannot_spend_the_apps_rate_limit_on_made_up_names(client, world, session_for):
    world.installation("acme")
    names = [f"acme/made-up-{index}" for index in range(50)]

    result = data(mint(client, session_for(), {"sources": names}))

    assert {item["reason"] for item in result["excluded"]} == {"not_installed_in_workspace"}
    assert len(result["excluded"]) == 50
    assert world.sim.calls["repo_installation"] == 10


def test_a_repository_github_places_in_an_installation_of_no_workspace_of_ours_is_refused(client, world, session_for):
    # The account was installed again (a new installation id) and our records still hold the old one.
    reinstalled = world.sim.add_installation("acme")
    world.sim.add_repository("acme/elsewhere", installation_id=reinstalled)
    unknown_at_github = installation_record(
        workspace=world.workspace, github_id=reinstalled + 1000, account_id=1, permissions={"contents": "read"}
    )
    world.caller(unknown_at_github, at_github=False)

    result = data(mint(client, session_for(), {"sources": ["acme/elsewhere"]}))

    assert result["excluded"] == [{"repo": "acme/elsewhere", "reason": "not_installed_in_workspace"}]


def test_an_installation_github_reports_suspended_is_excluded_and_recorded(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    data(mint(client, session_for(), {"sources": ["acme/a"]}))  # warm: policy cached, reader token made
    world.sim.suspend_installation(acme.github_id)

    result = data(mint(client, session_for(), {"sources": ["acme/a"]}))

    assert result == {"tokens": [], "excluded": [{"repo": "acme/a", "reason": "installation_suspended"}]}
    acme.refresh_from_db()
    assert acme.suspended_at is not None


def test_write_is_invalid_without_the_workspace_switch(client, world, session_for):
    acme = world.installation("acme", permissions={"contents": "write", "metadata": "read"})
    world.source("acme/a", acme, policy('repository: "acme/app"', permissions="        contents: write\n"))

    result = data(mint(client, session_for(), {"sources": ["acme/a"]}))

    assert result["excluded"] == [{"repo": "acme/a", "reason": "trust_policy_invalid"}]


def test_write_is_granted_with_the_switch_when_the_installation_has_it(client, world, session_for):
    Workspace.objects.filter(pk=world.workspace.pk).update(allow_write_tokens=True)
    acme = world.installation("acme", permissions={"contents": "write", "metadata": "read"})
    world.source("acme/a", acme, policy('repository: "acme/app"', permissions="        contents: write\n"))

    [token] = data(mint(client, session_for(), {"sources": ["acme/a"]}))["tokens"]

    assert token["permissions"]["contents"] == "write"


def test_a_token_never_carries_more_than_the_installation_has(client, world, session_for):
    Workspace.objects.filter(pk=world.workspace.pk).update(allow_write_tokens=True)
    acme = world.installation("acme")
    world.source("acme/a", acme, policy('repository: "acme/app"', permissions="        contents: write\n"))

    result = data(mint(client, session_for(), {"sources": ["acme/a"]}))

    assert result["tokens"] == []
    assert result["excluded"] == [{"repo": "acme/a", "reason": "permissions_not_granted_to_installation"}]


def test_different_permission_sets_get_different_tokens(client, world, session_for):
    Workspace.objects.filter(pk=world.workspace.pk).update(allow_write_tokens=True)
    acme = world.installation("acme", permissions={"contents": "write", "metadata": "read", "issues": "read"})
    world.source("acme/a", acme, ADMITS_ACME_APP)
    world.source("acme/b", acme, policy('repository: "acme/app"', permissions="        issues: read\n"))

    tokens = data(mint(client, session_for(), {"sources": ["acme/a", "acme/b"]}))["tokens"]

    assert sorted((t["repositories"][0], "issues" in t["permissions"]) for t in tokens) == [
        ("acme/a", False),
        ("acme/b", True),
    ]


def test_the_policy_decides_on_the_verified_identity_only(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/a", acme, policy('ref: "refs/heads/main"'))

    feature = data(mint(client, session_for(ref="refs/heads/feature"), {"sources": ["acme/a"]}))
    main = data(mint(client, session_for(), {"sources": ["acme/a"]}))

    assert feature["excluded"] == [{"repo": "acme/a", "reason": "trust_policy_denied"}]
    assert main["tokens"]


def test_a_named_policy_reads_its_own_file(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/a", acme, None)
    world.sim.put_file("acme/a", ".atmos/pro/sts/deploy.yaml", policy('repository: "acme/app"', name="deploy"))

    default = data(mint(client, session_for(), {"sources": ["acme/a"]}))
    deploy = data(mint(client, session_for(), {"sources": ["acme/a"], "policyName": "deploy"}))

    assert default["excluded"] == [{"repo": "acme/a", "reason": "no_trust_policy"}]
    assert deploy["tokens"]


def test_an_empty_policy_name_means_the_default_one(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)

    result = data(mint(client, session_for(), {"sources": ["acme/a"], "policyName": ""}))

    assert [t["repositories"] for t in result["tokens"]] == [["acme/a"]]


def test_a_repository_renamed_since_our_records_is_read_and_minted_by_its_id(client, world, session_for):
    acme = world.installation("acme")
    github_id = world.source("acme/new-name", acme, ADMITS_ACME_APP, recorded=False)
    repository_record(installation=acme, github_id=github_id, full_name="acme/old-name")

    result = data(mint(client, session_for(), {"sources": ["acme/old-name"]}))

    assert [t["repositories"] for t in result["tokens"]] == [["acme/old-name"]]
    assert world.sim.tokens_issued[-1]["repositories"] == ["acme/new-name"]


def test_a_repository_github_no_longer_grants_does_not_deny_the_others_of_its_token(client, world, session_for):
    acme = world.installation("acme")
    for name in ("acme/a", "acme/b", "acme/gone", "acme/c"):
        world.source(name, acme, ADMITS_ACME_APP)
    data(mint(client, session_for(), {"sources": ["acme/a", "acme/b", "acme/gone", "acme/c"]}))  # policies cached
    world.sim.remove_repository_from_installation("acme/gone", acme.github_id)

    result = data(mint(client, session_for(), {"sources": ["acme/a", "acme/b", "acme/gone", "acme/c"]}))

    assert sorted(repo for token in result["tokens"] for repo in token["repositories"]) == [
        "acme/a",
        "acme/b",
        "acme/c",
    ]
    assert result["excluded"] == [{"repo": "acme/gone", "reason": "not_installed_in_workspace"}]


def test_the_audit_event_holds_the_run_identity_and_token_fingerprints_never_tokens(client, world, session_for):
    acme = world.installation("acme")
    world.source("acme/a", acme, ADMITS_ACME_APP)
    world.source("acme/d", acme, ADMITS_OTHER)
    response = mint(client, session_for(), {"sources": ["acme/a", "acme/d"]})
    [token] = data(response)["tokens"]

    event = AuditEvent.objects.get(action="pro.atmos.sts.token_minted")
    assert event.request_id == response.json()["traceId"]
    assert (event.repository, event.ref, event.actor, event.workflow, event.run_id) == (
        "acme/app",
        "refs/heads/main",
        "octocat",
        "deploy",
        "777",
    )
    assert event.identity["job_workflow_ref"] == "acme/app/.github/workflows/deploy.yml@refs/heads/main"
    expected_fingerprint = base64.b64encode(hashlib.sha256(token["token"].encode()).digest()).decode()
    assert event.detail["tokens"][0]["fingerprint"] == expected_fingerprint
    assert event.detail["tokens"][0]["repositories"] == ["acme/a"]
    denial = next(d for d in event.detail["decisions"] if d["repo"] == "acme/d")
    assert denial["reason"] == "trust_policy_denied" and denial["explanation"]
    assert MintedToken.objects.get().fingerprint == expected_fingerprint
    assert token["token"] not in str(event.detail) + str(event.identity)


def test_a_plan_without_sts_is_refused_with_403(client, world, session_for):
    Workspace.objects.filter(pk=world.workspace.pk).update(plan=Plan.objects.get(slug="free"))
    response = mint(client, session_for(), {"sources": ["acme/a"]})
    body = response.json()
    assert response.status_code == 403
    assert body["errorTag"] == "StsNotEntitled"
    assert "plan" in body["errorMessage"]
    assert AuditEvent.objects.get(action="pro.atmos.sts.mint_denied").error_tag == "StsNotEntitled"


def test_sts_switched_off_is_refused_with_403(client, world, session_for):
    Workspace.objects.filter(pk=world.workspace.pk).update(sts_enabled=False)
    response = mint(client, session_for(), {"sources": ["acme/a"]})
    assert response.status_code == 403
    assert "switched off" in response.json()["errorMessage"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"policyName": "../../etc/passwd"}, "policyName"),
        ({"policyName": "a/b"}, "policyName"),
        ({"policyName": "x" * 65}, "policyName"),
        ({"policyName": "default.yaml"}, "policyName"),
        ({"policyName": 7}, "policyName"),
        ({"sources": "acme/a"}, "sources"),
        ({"sources": [1, 2]}, "sources"),
        ({"sources": [{"repo": "acme/a"}]}, "sources"),
        ({"sources": ["acme/a"] * 101}, "sources"),
    ],
)
def test_a_request_the_caller_can_fix_answers_200_with_success_false(client, world, session_for, body, field):
    response = mint(client, session_for(), body)
    payload = response.json()
    assert response.status_code == 200
    assert payload["success"] is False
    assert payload["errorTag"] == "InvalidMintRequest"
    assert field in payload["errorMessage"] or payload["context"]["field"] == field
    assert "data" not in payload
    assert MintedToken.objects.count() == 0
    assert AuditEvent.objects.get(action="pro.atmos.sts.mint_denied").error_tag == "InvalidMintRequest"


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"sources"', "{"])
def test_a_body_that_is_not_a_json_object_is_a_fixable_request(client, world, session_for, raw):
    response = client.post(
        "/api/v1/sts", data=raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {session_for()}"
    )
    assert response.status_code == 200
    assert response.json()["errorTag"] == "InvalidMintRequest"


def test_a_form_body_is_refused_with_415(client, world, session_for):
    response = client.post("/api/v1/sts", data={"sources": "acme/a"}, HTTP_AUTHORIZATION=f"Bearer {session_for()}")
    assert response.status_code == 415
    assert response.json()["errorTag"] == "UnsupportedMediaType"


def test_a_get_is_refused_with_405_in_the_envelope(client, world, session_for):
    response = client.get("/api/v1/sts", HTTP_AUTHORIZATION=f"Bearer {session_for()}")
    assert response.status_code == 405
    assert response.json()["errorTag"] == "MethodNotAllowed"
