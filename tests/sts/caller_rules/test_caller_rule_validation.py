"""Caller rules are validated by the trust-policy validator itself: the same claims, the same
matchers, the same messages, and the hostile inputs are refused the same way."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from sts.caller_rule_language import (
    MAX_CALLER_RULES,
    MAX_CALLER_RULES_BYTES,
    CallerRulesInvalid,
    caller_rule_problems,
    caller_rules_compile,
)
from sts.models import CallerRule
from sts.policy import PolicyInvalid, parse_policy
from tests.sts.caller_rules.conftest import caller
from workspaces.models import Workspace


def policy_problems(match: Any) -> list[str]:
    """What the trust-policy validator says of a policy file holding this one rule (YAML, written by hand)."""
    text = (
        "apiVersion: atmos-pro.com/v1alpha1\nkind: TrustPolicy\nmetadata:\n  name: default\n"
        f"spec:\n  rules:\n    - match: {json.dumps(match)}\n"
    )
    with pytest.raises(PolicyInvalid) as invalid:
        parse_policy(text, name="default", allow_write=False)
    return [f"{problem.path.removeprefix('spec.rules[0].')}: {problem.message}" for problem in invalid.value.problems]


@pytest.mark.parametrize(
    "match",
    [
        {"reff": "refs/heads/main"},  # an unknown claim, with a suggestion
        {"jti": "*"},  # a claim that changes with every token
        {"ref": {"regex": "refs/heads/(main"}},  # a regex RE2 cannot compile
        {"ref": {"regex": ""}},  # an empty regex
        {"ref": {"regex": "x" * 1025}},  # a regex longer than the language allows
        {"ref": "*" * 1025},  # a glob longer than the language allows
        {},  # an empty match
        {"ref": []},  # an empty list of alternatives
        {"ref": ["a"] * 51},  # more alternatives than the language allows
        {"ref": {"glob": "x"}},  # a mapping that is not a regex
        {"ref": {"regex": "a", "flags": "i"}},  # a regex with an unknown key
        {"sub": "*", "subject": "*"},  # one claim named twice
        {"ref": 7},  # a number where a string belongs
        {"ref": True},  # a boolean for a claim that is not a boolean
        {"ref": None},
        "acme/*",  # not a mapping at all
        ["acme/*"],
    ],
)
def test_it_refuses_what_a_trust_policy_refuses_with_the_same_message(match: Any) -> None:
    problems = caller_rule_problems(match)
    assert problems
    assert problems == policy_problems(match)


def test_an_unknown_claim_is_named_with_the_claim_it_resembles() -> None:
    [problem] = caller_rule_problems({"reff": "refs/heads/main"})
    assert problem.startswith("match.reff: unknown claim name \"reff\"; did you mean 'ref'?")


@pytest.mark.parametrize(
    "match",
    [
        {"repository": "acme/*", "ref": "refs/heads/main"},
        {"environment": ["production", {"regex": "prod-[0-9]+"}]},
        {"ref_protected": True},
        {"repo_property_tier": "gold"},
        {"subject": "repo:acme/*"},
        {"job_workflow_ref": "acme/platform/.github/workflows/*@refs/heads/main"},
    ],
)
def test_it_accepts_the_rules_a_trust_policy_accepts(match: Any) -> None:
    assert caller_rule_problems(match) == []


def test_a_list_reports_each_problem_at_its_rule() -> None:
    with pytest.raises(CallerRulesInvalid) as invalid:
        caller_rules_compile([{"repository": "acme/*"}, {"reff": "x"}, {"ref": {"regex": "("}}])
    assert [problem.path for problem in invalid.value.problems] == ["rules[1].match.reff", "rules[2].match.ref.regex"]
    assert str(invalid.value).startswith("The caller rules are invalid (2 problems); first: rules[1].match.reff:")


def test_an_empty_list_is_no_rules_at_all() -> None:
    assert caller_rules_compile([]) is None


@pytest.mark.parametrize("count", [MAX_CALLER_RULES + 1, 10_000])
def test_a_huge_list_is_refused_before_any_rule_is_read(count: int) -> None:
    with pytest.raises(CallerRulesInvalid) as invalid:
        caller_rules_compile([{"ref": "refs/heads/main"}] * count)
    assert [str(problem) for problem in invalid.value.problems] == [
        f"rules: holds {count} rules; at most {MAX_CALLER_RULES} are allowed"
    ]


def test_the_largest_list_allowed_is_accepted() -> None:
    rules = caller_rules_compile([{"ref": f"refs/heads/{index}"} for index in range(MAX_CALLER_RULES)])
    assert rules is not None and rules.evaluate(caller(ref="refs/heads/99")).allowed


def test_a_list_too_heavy_to_read_is_refused_with_its_size() -> None:
    heavy = [{"ref": ["x" * 1000] * 50}] * 2
    with pytest.raises(CallerRulesInvalid) as invalid:
        caller_rules_compile(heavy)
    [problem] = invalid.value.problems
    assert problem.path == "rules"
    assert problem.message == f"the rules are 100566 bytes as JSON; at most {MAX_CALLER_RULES_BYTES} are allowed"


@pytest.mark.parametrize("rules", ["acme/*", b"acme/*", {"repository": "acme/*"}])
def test_a_list_that_is_not_a_list_is_refused(rules: Any) -> None:
    with pytest.raises(CallerRulesInvalid, match="must be a list of rules"):
        caller_rules_compile(rules)


def test_a_value_json_cannot_hold_is_refused() -> None:
    with pytest.raises(CallerRulesInvalid, match="must be JSON"):
        caller_rules_compile([{"ref": float("nan")}])


@pytest.mark.parametrize("match", [{"ref": "refs/heads/\udc80"}, {"\ud800": "x"}])
def test_a_lone_surrogate_is_refused_in_the_policy_validators_words(match: Any) -> None:
    assert caller_rule_problems(match) == ["rules: must be valid text (a lone surrogate escape is not)"]


@pytest.mark.parametrize("character", ["\u2028", "\u2029", "\x85", "\x7f", "\x9b", "\ufffe", "\t", "\n", "\x00"])
def test_characters_yaml_reads_differently_still_match_exactly(character: str) -> None:
    # JSON escapes some, the rest would be refused or folded by a YAML reader: each reaches the
    # matcher as written, and matches itself and nothing else.
    value = f"refs/heads/a{character}b"
    rules = caller_rules_compile([{"ref": value}])
    assert rules is not None
    assert rules.evaluate(caller(ref=value)).allowed
    assert not rules.evaluate(caller(ref="refs/heads/a b")).allowed
    assert not rules.evaluate(caller(ref="refs/heads/ab")).allowed


def test_a_yaml_special_value_in_a_rule_is_a_plain_string() -> None:
    # In the list, "*" and "yes" are strings, as JSON says: no alias, no boolean.
    rules = caller_rules_compile([{"environment": "yes"}, {"ref": "*"}])
    assert rules is not None and rules.evaluate(caller(ref="anything")).allowed


def test_a_rule_row_refuses_an_invalid_match_in_its_form(workspace: Workspace) -> None:
    rule = CallerRule(workspace=workspace, match={"reff": "x", "ref": {"regex": "("}})
    with pytest.raises(ValidationError) as refused:
        rule.full_clean()
    [messages] = refused.value.message_dict.values()
    assert set(refused.value.message_dict) == {"match"}
    assert messages[0].startswith("match.reff: unknown claim name")
    assert messages[1].startswith("match.ref.regex: is not a valid RE2 regular expression")


def test_a_rule_row_accepts_a_valid_match_in_its_form(workspace: Workspace) -> None:
    CallerRule(workspace=workspace, match={"repository": "acme/*"}).full_clean()
