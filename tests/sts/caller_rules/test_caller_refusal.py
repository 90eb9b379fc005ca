"""`caller_refusal` / `caller_admit`: whether the workspace's caller rules admit a run, read afresh on
every call; an empty list admits everyone, a list nobody can read admits nobody."""

from __future__ import annotations

from typing import Any

import pytest

from sts.caller_rules import caller_admit, caller_refusal
from sts.errors import CallerNotAdmitted
from sts.models import CallerRule
from tests.factories import workspace_create
from tests.sts.caller_rules.conftest import caller
from workspaces.models import Workspace


def rules(workspace: Workspace, *matches: Any) -> None:
    for position, match in enumerate(matches):
        CallerRule.objects.create(workspace=workspace, position=position, match=match)


def test_an_empty_list_admits_every_caller(workspace: Workspace) -> None:
    assert caller_refusal(workspace=workspace, identity=caller(repository="anyone/anything")) is None


def test_a_caller_that_a_rule_matches_is_admitted(workspace: Workspace) -> None:
    rules(workspace, {"repository": "acme/*", "ref": "refs/heads/main"})
    assert caller_refusal(workspace=workspace, identity=caller()) is None


def test_a_caller_that_no_rule_matches_is_refused_with_the_setting_named(workspace: Workspace) -> None:
    rules(workspace, {"repository": "acme/*", "ref": "refs/heads/main"})
    refusal = caller_refusal(workspace=workspace, identity=caller(ref="refs/heads/feature"))
    assert refusal == (
        f"No caller rule of workspace {workspace.public_id} admits repository 'acme/app' on 'refs/heads/feature';"
        " a workspace admin can change the workspace setting 'Caller rules'."
    )


def test_any_rule_of_the_list_admits(workspace: Workspace) -> None:
    # "only acme/* on refs/heads/main, or from environment production"
    rules(workspace, {"repository": "acme/*", "ref": "refs/heads/main"}, {"environment": "production"})
    assert caller_refusal(workspace=workspace, identity=caller(ref="refs/tags/v1", environment="production")) is None
    assert caller_refusal(workspace=workspace, identity=caller(ref="refs/tags/v1", environment="staging"))


def test_every_condition_of_a_rule_must_hold(workspace: Workspace) -> None:
    rules(workspace, {"repository": "acme/*", "ref": "refs/heads/main"})
    assert caller_refusal(workspace=workspace, identity=caller(repository="evil/app"))


def test_a_rule_on_a_claim_the_token_lacks_does_not_admit(workspace: Workspace) -> None:
    rules(workspace, {"environment": "production"})
    identity = caller()
    del identity["environment"]
    assert caller_refusal(workspace=workspace, identity=identity)


def test_regex_and_boolean_conditions_match_as_in_a_trust_policy(workspace: Workspace) -> None:
    rules(workspace, {"ref": {"regex": "refs/heads/(main|release-[0-9]+)"}, "ref_protected": True})
    assert caller_refusal(workspace=workspace, identity=caller(ref="refs/heads/release-7")) is None
    assert caller_refusal(workspace=workspace, identity=caller(ref="refs/heads/release-7x"))
    assert caller_refusal(workspace=workspace, identity=caller(ref_protected="false"))


def test_a_glob_does_not_let_a_namesake_organization_through(workspace: Workspace) -> None:
    rules(workspace, {"repository": "acme/*"})
    assert caller_refusal(workspace=workspace, identity=caller(repository="acme-evil/app"))


def test_another_workspaces_rules_do_not_count(workspace: Workspace) -> None:
    other = workspace_create(name="Other", plan="pro")
    rules(other, {"repository": "nobody/*"})
    assert caller_refusal(workspace=workspace, identity=caller()) is None


def test_a_change_of_the_list_counts_at_the_next_question(workspace: Workspace) -> None:
    rules(workspace, {"repository": "acme/*"})
    assert caller_refusal(workspace=workspace, identity=caller()) is None
    CallerRule.objects.filter(workspace=workspace).update(match={"repository": "acme/other"})
    assert caller_refusal(workspace=workspace, identity=caller())


def test_rules_stored_past_the_validation_admit_nobody(workspace: Workspace) -> None:
    rules(workspace, {"repository": "acme/*"}, {"reff": "x"})
    assert caller_refusal(workspace=workspace, identity=caller()) == (
        f"The caller rules of workspace {workspace.public_id} are not valid, so they admit no caller;"
        " a workspace admin can correct them in the workspace setting 'Caller rules'."
    )


def test_a_refusal_quotes_a_hostile_claim_briefly(workspace: Workspace) -> None:
    rules(workspace, {"repository": "acme/*"})
    refusal = caller_refusal(workspace=workspace, identity=caller(repository="x" * 5000, ref="r\n" * 5000))
    assert refusal is not None and len(refusal) < 800


def test_caller_admit_raises_a_403_with_the_sentence(workspace: Workspace) -> None:
    rules(workspace, {"repository": "acme/other"})
    with pytest.raises(CallerNotAdmitted) as refused:
        caller_admit(workspace=workspace, identity=caller())
    assert (refused.value.tag, refused.value.status) == ("CallerNotAdmitted", 403)
    assert refused.value.message == caller_refusal(workspace=workspace, identity=caller())


def test_caller_admit_lets_an_admitted_caller_pass(workspace: Workspace) -> None:
    rules(workspace, {"repository": "acme/app"})
    caller_admit(workspace=workspace, identity=caller())
    assert caller_refusal(workspace=workspace, identity=caller()) is None
