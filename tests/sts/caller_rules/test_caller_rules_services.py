"""Changing the caller rules: validated first, and each change is one audit event with the old and the new list."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from sts.caller_rule_language import MAX_CALLER_RULES, CallerRulesInvalid
from sts.caller_rules import (
    caller_refusal,
    caller_rule_delete,
    caller_rule_save,
    caller_rules_set,
)
from sts.models import CallerRule
from tests.sts.caller_rules.conftest import ADMIN, caller
from workspaces.models import Workspace

CHANGED = AuditEvent.Action.WORKSPACE_CALLER_RULES_CHANGED


def events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=CHANGED).order_by("id"))


def listed(workspace: Workspace) -> list[tuple[int, Any, str]]:
    return list(CallerRule.objects.filter(workspace=workspace).values_list("position", "match", "note"))


def test_setting_the_list_stores_it_in_order_and_records_one_event(workspace: Workspace) -> None:
    new = [{"match": {"repository": "acme/*"}, "note": "our org"}, {"match": {"environment": "production"}}]
    caller_rules_set(workspace=workspace, rules=new, actor=ADMIN)
    assert listed(workspace) == [(0, {"repository": "acme/*"}, "our org"), (1, {"environment": "production"}, "")]
    [event] = events()
    assert (event.outcome, event.workspace_public_id, event.actor) == ("allowed", workspace.public_id, "ada")
    assert event.identity == {"actor": "ada", "actor_kind": "member"}
    assert event.detail == {
        "old": [],
        "new": [
            {"match": {"repository": "acme/*"}, "note": "our org"},
            {"match": {"environment": "production"}, "note": ""},
        ],
    }


def test_replacing_the_list_records_the_old_one(workspace: Workspace) -> None:
    caller_rules_set(workspace=workspace, rules=[{"match": {"repository": "acme/*"}}], actor=ADMIN)
    caller_rules_set(workspace=workspace, rules=[], actor=ADMIN)
    assert listed(workspace) == []
    assert events()[-1].detail == {"old": [{"match": {"repository": "acme/*"}, "note": ""}], "new": []}
    assert caller_refusal(workspace=workspace, identity=caller(repository="other/app")) is None


def test_setting_the_same_list_again_records_nothing(workspace: Workspace) -> None:
    same = [{"match": {"repository": "acme/*"}}]
    caller_rules_set(workspace=workspace, rules=same, actor=ADMIN)
    caller_rules_set(workspace=workspace, rules=same, actor=ADMIN)
    assert len(events()) == 1


@pytest.mark.parametrize(
    "rules",
    [
        [{"match": {"repository": "acme/*"}}, {"match": {"reff": "x"}}],
        [{"match": {"ref": {"regex": "(("}}}],
        [{"match": {}}],
        [{"note": "no match at all"}],
        [{"match": {"ref": "main"}}] * (MAX_CALLER_RULES + 1),
        [{"match": {"ref": "main"}, "note": "x" * 201}],
        ["acme/*"],
        {"match": {"ref": "main"}},
    ],
)
def test_an_invalid_list_changes_nothing_and_records_nothing(workspace: Workspace, rules: Any) -> None:
    caller_rules_set(workspace=workspace, rules=[{"match": {"repository": "acme/*"}}], actor=ADMIN)
    with pytest.raises(CallerRulesInvalid):
        caller_rules_set(workspace=workspace, rules=rules, actor=ADMIN)
    assert listed(workspace) == [(0, {"repository": "acme/*"}, "")]
    assert len(events()) == 1


def test_saving_one_rule_records_the_list_before_and_after(workspace: Workspace) -> None:
    first = caller_rule_save(rule=CallerRule(workspace=workspace, match={"repository": "acme/*"}), actor=ADMIN)
    first.match = {"repository": "acme/app"}
    caller_rule_save(rule=first, actor=ADMIN)
    assert [event.detail for event in events()] == [
        {"old": [], "new": [{"match": {"repository": "acme/*"}, "note": ""}]},
        {
            "old": [{"match": {"repository": "acme/*"}, "note": ""}],
            "new": [{"match": {"repository": "acme/app"}, "note": ""}],
        },
    ]


def test_saving_an_invalid_rule_is_refused(workspace: Workspace) -> None:
    with pytest.raises(CallerRulesInvalid, match=r"match\.reff: unknown claim name"):
        caller_rule_save(rule=CallerRule(workspace=workspace, match={"reff": "x"}), actor=ADMIN)
    assert listed(workspace) == [] and events() == []


def test_a_rule_beyond_the_limit_is_refused(workspace: Workspace) -> None:
    CallerRule.objects.bulk_create(
        CallerRule(workspace=workspace, position=index, match={"ref": "main"}) for index in range(MAX_CALLER_RULES)
    )
    with pytest.raises(CallerRulesInvalid, match=f"at most {MAX_CALLER_RULES} rules"):
        caller_rule_save(rule=CallerRule(workspace=workspace, match={"ref": "x"}), actor=ADMIN)
    assert CallerRule.objects.filter(workspace=workspace).count() == MAX_CALLER_RULES


def test_deleting_a_rule_records_the_list_before_and_after(workspace: Workspace) -> None:
    rule = caller_rule_save(rule=CallerRule(workspace=workspace, match={"repository": "acme/*"}), actor=ADMIN)
    caller_rule_delete(rule=rule, actor=ADMIN)
    assert listed(workspace) == []
    assert events()[-1].detail == {"old": [{"match": {"repository": "acme/*"}, "note": ""}], "new": []}
