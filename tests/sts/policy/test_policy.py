"""The conformance table of the trust-policy language (spec: /work/shared/spec/trust-policy.md).

Each case is a policy, and either the claims of a caller with the expected decision, or the exact
set of problem paths the validator must report. Every case is also run through the JSON Schema:
where the schema can express the rule it must agree with the validator; the cases marked
`validator_only` are those it cannot express (RE2 syntax, metadata.name against the file name,
the write switch, duplicate keys, YAML 1.1 readings of plain scalars), and for them the test pins
that the schema accepts what only the validator refuses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest
import yaml

from sts.claims import KNOWN_CLAIMS
from sts.policy.errors import PolicyInvalid, Problem
from sts.policy.model import Decision, TrustPolicy
from sts.policy.schema import trust_policy_json_schema
from sts.policy.validator import parse_policy
from sts.policy.vocabulary import MAX_EXPLANATION_LINES, MAX_RULES
from tests.factories import SPEC_EXAMPLE_POLICY

HEAD = "apiVersion: atmos-pro.com/v1alpha1\nkind: TrustPolicy\nmetadata:\n  name: {name}\nspec:\n  rules:\n"
READ = {"contents": "read"}

# Claims of a push to main of acme/app, as GitHub issues them (string values, times as numbers).
CALLER: dict[str, Any] = {
    "iss": "https://token.actions.githubusercontent.com",
    "aud": "atmos-pro.com",
    "jti": "5a1e7f3c-0000-4000-8000-000000000001",
    "iat": 1_700_000_000,
    "nbf": 1_699_999_400,
    "exp": 1_700_000_300,
    "sub": "repo:acme/app:ref:refs/heads/main",
    "repository": "acme/app",
    "repository_id": "123",
    "repository_owner": "acme",
    "repository_owner_id": "456",
    "repository_visibility": "private",
    "ref": "refs/heads/main",
    "ref_type": "branch",
    "ref_protected": "true",
    "sha": "0" * 40,
    "actor": "octocat",
    "actor_id": "1",
    "workflow": "ci",
    "workflow_ref": "acme/app/.github/workflows/ci.yml@refs/heads/main",
    "job_workflow_ref": "acme/workflows/.github/workflows/deploy.yml@refs/tags/v1",
    "event_name": "push",
    "runner_environment": "github-hosted",
    "head_ref": "",
    "base_ref": "",
    "repo_property_team": "platform",
}


def caller(**changes: Any) -> dict[str, Any]:
    """The standard caller with some claims changed; a claim set to None is left out of the token."""
    claims = dict(CALLER)
    for claim, value in changes.items():
        if value is None:
            claims.pop(claim, None)
        else:
            claims[claim] = value
    return claims


def rule(match: str, permissions: str | None = None) -> str:
    text = f"- match: {match}\n"
    if permissions is not None:
        text += f"  permissions: {permissions}\n"
    return text


def policy(*rules: str, name: str = "default") -> str:
    body = "".join(rules)
    return HEAD.format(name=name) + "".join(f"    {line}\n" for line in body.splitlines())


@dataclass(frozen=True)
class Case:
    id: str
    policy: str
    claims: Mapping[str, Any] | None = None
    allowed: bool | None = None
    rule_index: int | None = None
    permissions: Mapping[str, str] = field(default_factory=dict)
    errors: frozenset[str] = frozenset()
    allow_write: bool = False
    validator_only: bool = False
    name: str = "default"


def allow(
    id: str,
    text: str,
    claims: Mapping[str, Any],
    *,
    rule_index: int = 0,
    permissions: Mapping[str, str] = READ,
    allow_write: bool = False,
) -> Case:
    return Case(id, text, claims, True, rule_index, permissions, allow_write=allow_write)


def deny(id: str, text: str, claims: Mapping[str, Any]) -> Case:
    return Case(id, text, claims, False, None, {})


def invalid(
    id: str, text: str, *paths: str, validator_only: bool = False, allow_write: bool = False, name: str = "default"
) -> Case:
    return Case(id, text, errors=frozenset(paths), validator_only=validator_only, allow_write=allow_write, name=name)


R0 = "spec.rules[0]"
M0 = "spec.rules[0].match"

DECISIONS = [
    # Globs: whole value, case-sensitive, `*` across `/` and `:`, `?` one character, the rest literal.
    allow("glob_literal_owner", policy(rule('{repository_owner: "acme"}')), caller()),
    deny("glob_owner_case_differs", policy(rule('{repository_owner: "acme"}')), caller(repository_owner="ACME")),
    deny("glob_pattern_case_differs", policy(rule('{repository: "Acme/*"}')), caller()),
    allow("glob_star_crosses_slash", policy(rule('{ref: "refs/*"}')), caller(ref="refs/heads/feature/deep/x")),
    allow("glob_star_crosses_colon", policy(rule('{sub: "repo:acme/*"}')), caller()),
    deny("glob_is_whole_value_not_prefix", policy(rule('{repository: "acme/app"}')), caller(repository="acme/app-x")),
    deny("glob_is_whole_value_not_suffix", policy(rule('{ref: "refs/heads/main"}')), caller(ref="x/refs/heads/main")),
    deny("glob_star_does_not_float", policy(rule('{ref: "refs/heads/*"}')), caller(ref="refs/tags/refs/heads/x")),
    allow("glob_question_is_one_character", policy(rule('{environment: "prod-?"}')), caller(environment="prod-1")),
    deny("glob_question_needs_a_character", policy(rule('{environment: "prod-?"}')), caller(environment="prod-")),
    deny("glob_question_is_only_one", policy(rule('{environment: "prod-?"}')), caller(environment="prod-12")),
    allow("glob_question_counts_code_points", policy(rule('{actor: "zo?"}')), caller(actor="zoë")),
    allow("glob_brackets_are_literal", policy(rule('{environment: "prod[1]"}')), caller(environment="prod[1]")),
    deny("glob_brackets_are_not_a_class", policy(rule('{environment: "prod[1]"}')), caller(environment="prod1")),
    deny("glob_dot_is_literal", policy(rule('{repository: "acme/a.p"}')), caller(repository="acme/axp")),
    allow("glob_backslash_is_literal", policy(rule("{environment: 'a\\*'}")), caller(environment="a\\anything")),
    deny("glob_backslash_does_not_escape", policy(rule("{environment: 'a\\*'}")), caller(environment="a*")),
    allow("glob_star_matches_empty_value", policy(rule('{head_ref: "*"}')), caller()),
    allow("glob_empty_matches_empty_claim", policy(rule('{base_ref: ""}')), caller()),
    deny("glob_empty_only_matches_empty", policy(rule('{base_ref: ""}')), caller(base_ref="main")),
    allow("glob_star_crosses_newline", policy(rule('{ref: "refs/heads/*"}')), caller(ref="refs/heads/a\nb")),
    allow(
        "glob_immutable_id_subject",
        policy(rule('{sub: "repo:acme@456/app@123:*"}')),
        caller(sub="repo:acme@456/app@123:ref:refs/heads/main"),
    ),
    # Regexes: RE2, anchored on both ends, alternation cannot escape the anchors.
    deny(
        "regex_alternation_is_anchored",
        policy(rule('{ref: {regex: "refs/heads/main|refs/heads/develop"}}')),
        caller(ref="refs/heads/main-attacker"),
    ),
    deny(
        "regex_alternation_is_anchored_at_start", policy(rule('{ref: {regex: "main|develop"}}')), caller(ref="xdevelop")
    ),
    allow(
        "regex_second_alternative",
        policy(rule('{ref: {regex: "refs/heads/main|refs/heads/develop"}}')),
        caller(ref="refs/heads/develop"),
    ),
    deny("regex_is_not_a_search", policy(rule('{repository: {regex: "acme"}}')), caller()),
    allow("regex_whole_value", policy(rule('{repository: {regex: "acme/[a-z]+"}}')), caller()),
    allow("regex_may_opt_into_case_folding", policy(rule('{repository_owner: {regex: "(?i)ACME"}}')), caller()),
    allow(
        "regex_on_job_workflow_ref",
        policy(
            rule(
                '{job_workflow_ref: {regex: "acme/workflows/\\\\.github/workflows/[a-z-]+\\\\.yml@refs/tags/v[0-9]+"}}'
            )
        ),
        caller(),
    ),
    deny(
        "regex_escaped_dot_is_literal",
        policy(
            rule(
                '{job_workflow_ref: {regex: "acme/workflows/\\\\.github/workflows/[a-z-]+\\\\.yml@refs/tags/v[0-9]+"}}'
            )
        ),
        caller(job_workflow_ref="acme/workflows/xgithub/workflows/deploy.yml@refs/tags/v1"),
    ),
    # Claims the token lacks make the condition false, even for "*".
    deny("missing_claim_is_false", policy(rule('{environment: "prod"}')), caller()),
    deny("missing_claim_is_false_even_for_star", policy(rule('{environment: "*"}')), caller()),
    deny("claim_that_is_not_a_string_never_matches", policy(rule('{actor: "a"}')), caller(actor=["a", "b"])),
    allow("numeric_claim_compares_as_its_digits", policy(rule('{repository_id: "123"}')), caller(repository_id=123)),
    # `subject` is `sub`; `subject: "*"` is the explicit match-all.
    allow("subject_alias_reads_sub", policy(rule('{subject: "repo:acme/app:*"}')), caller()),
    deny("subject_alias_does_not_read_a_subject_claim", policy(rule('{subject: "*"}')), caller(sub=None, subject="x")),
    allow("sub_by_its_own_name", policy(rule('{sub: "repo:acme/app:ref:refs/heads/main"}')), caller()),
    allow("subject_star_matches_every_caller", policy(rule('{subject: "*"}')), caller(repository_owner="evil")),
    # Lists: any one alternative holds.
    allow(
        "list_any_alternative_holds",
        policy(rule('{ref: ["refs/heads/main", "refs/tags/*"]}')),
        caller(ref="refs/tags/v1"),
    ),
    deny("list_no_alternative_holds", policy(rule('{ref: ["refs/heads/main", "refs/tags/*"]}')), caller(ref="refs/x")),
    allow(
        "list_mixes_globs_and_regexes",
        policy(rule('{ref: ["refs/heads/main", {regex: "refs/tags/v[0-9]+"}]}')),
        caller(ref="refs/tags/v12"),
    ),
    deny(
        "list_regex_alternative_is_anchored",
        policy(rule('{ref: ["refs/heads/main", {regex: "refs/tags/v[0-9]+"}]}')),
        caller(ref="refs/tags/v1x"),
    ),
    # All conditions of a rule; first matching rule wins; no rule: denied.
    deny(
        "all_conditions_must_hold", policy(rule('{repository_owner: "acme", ref: "refs/heads/main"}')), caller(ref="r")
    ),
    allow(
        "first_matching_rule_wins",
        policy(rule('{repository_owner: "acme"}'), rule('{repository_owner: "acme"}', "{issues: read}")),
        caller(),
    ),
    allow(
        "a_later_rule_decides_when_earlier_ones_fail",
        policy(rule('{repository_owner: "other"}'), rule('{repository_owner: "acme"}', "{issues: read}")),
        caller(),
        rule_index=1,
        permissions={"issues": "read"},
    ),
    allow(
        "order_decides_even_when_a_later_rule_grants_less",
        policy(rule('{subject: "*"}', "{contents: read, issues: read}"), rule('{repository_owner: "acme"}')),
        caller(),
        permissions={"contents": "read", "issues": "read"},
    ),
    deny("no_rule_holds_is_denied", policy(rule('{repository_owner: "a"}'), rule('{repository_owner: "b"}')), caller()),
    # Booleans compare as "true" / "false", whether the policy or the token writes them as booleans.
    allow("boolean_policy_true_vs_string_claim", policy(rule("{ref_protected: true}")), caller()),
    allow("boolean_policy_true_vs_bool_claim", policy(rule("{ref_protected: true}")), caller(ref_protected=True)),
    deny("boolean_policy_true_vs_false_string", policy(rule("{ref_protected: true}")), caller(ref_protected="false")),
    deny("boolean_policy_true_vs_false_bool", policy(rule("{ref_protected: true}")), caller(ref_protected=False)),
    allow("boolean_policy_string_vs_bool_claim", policy(rule('{ref_protected: "true"}')), caller(ref_protected=True)),
    allow("boolean_policy_false", policy(rule("{ref_protected: false}")), caller(ref_protected=False)),
    allow("boolean_policy_capitalised_true", policy(rule("{ref_protected: True}")), caller()),
    allow("boolean_in_a_list", policy(rule("{ref_protected: [false, true]}")), caller()),
    # Custom repository properties.
    allow("repo_property_claim", policy(rule('{repo_property_team: "platform"}')), caller()),
    allow(
        "repo_property_boolean",
        policy(rule("{repo_property_sensitive: false}")),
        caller(repo_property_sensitive="false"),
    ),
    deny("repo_property_missing", policy(rule('{repo_property_tier: "gold"}')), caller()),
    # Permissions.
    allow("missing_permissions_grant_contents_read", policy(rule('{repository_owner: "acme"}')), caller()),
    allow(
        "several_permissions",
        policy(rule('{repository_owner: "acme"}', "{contents: read, issues: read, pull_requests: read}")),
        caller(),
        permissions={"contents": "read", "issues": "read", "pull_requests": "read"},
    ),
    allow(
        "write_with_the_workspace_switch",
        policy(rule('{repository_owner: "acme"}', "{contents: write}")),
        caller(),
        permissions={"contents": "write"},
        allow_write=True,
    ),
]

ERRORS = [
    invalid("api_version_wrong", policy(rule('{subject: "*"}')).replace("v1alpha1", "v1"), "apiVersion"),
    invalid("kind_wrong", policy(rule('{subject: "*"}')).replace("kind: TrustPolicy", "kind: Policy"), "kind"),
    invalid(
        "api_version_missing",
        policy(rule('{subject: "*"}')).replace("apiVersion: atmos-pro.com/v1alpha1\n", ""),
        "apiVersion",
    ),
    invalid(
        "metadata_name_mismatch", policy(rule('{subject: "*"}'), name="other"), "metadata.name", validator_only=True
    ),
    invalid("metadata_name_not_a_name", policy(rule('{subject: "*"}'), name='"../x"'), "metadata.name"),
    invalid("metadata_name_not_a_string", policy(rule('{subject: "*"}'), name="5"), "metadata.name"),
    invalid("unknown_top_level_key", policy(rule('{subject: "*"}')) + "status: {}\n", "status"),
    invalid(
        "unknown_metadata_key",
        policy(rule('{subject: "*"}')).replace("  name: default\n", "  name: default\n  labels: {}\n"),
        "metadata.labels",
    ),
    invalid(
        "unknown_spec_key_typo",
        policy(rule('{subject: "*"}')).replace("  rules:\n", "  rule:\n"),
        "spec.rule",
        "spec.rules",
    ),
    invalid(
        "unknown_rule_key", policy('- match: {subject: "*"}\n  permission: {contents: read}\n'), f"{R0}.permission"
    ),
    invalid("unknown_regex_key", policy(rule('{ref: {regex: "x", flags: "i"}}')), f"{M0}.ref.flags"),
    invalid("unknown_claim_refs", policy(rule('{refs: "refs/heads/main"}')), f"{M0}.refs"),
    invalid("unknown_claim_reff", policy(rule('{reff: "refs/heads/main"}')), f"{M0}.reff"),
    invalid("claim_name_case_differs", policy(rule('{Ref: "refs/heads/main"}')), f"{M0}.Ref"),
    invalid("per_token_claim_jti_is_not_matchable", policy(rule('{jti: "*"}')), f"{M0}.jti"),
    invalid("repo_property_without_a_name", policy(rule('{repo_property_: "x"}')), f"{M0}.repo_property_"),
    invalid("empty_match", policy(rule("{}")), f"{M0}"),
    invalid("null_match", policy("- match:\n"), f"{M0}"),
    invalid("match_is_a_string", policy(rule('"*"')), f"{M0}"),
    invalid("match_missing", policy("- permissions: {contents: read}\n"), f"{M0}"),
    invalid("rules_empty", HEAD.format(name="default").replace("  rules:\n", "  rules: []\n"), "spec.rules"),
    invalid(
        "rules_not_a_list", HEAD.format(name="default").replace("  rules:\n", "  rules: {match: {}}\n"), "spec.rules"
    ),
    invalid("too_many_rules", policy(*[rule('{subject: "*"}')] * (MAX_RULES + 1)), "spec.rules"),
    invalid(
        "spec_missing", "apiVersion: atmos-pro.com/v1alpha1\nkind: TrustPolicy\nmetadata: {name: default}\n", "spec"
    ),
    invalid("root_is_a_list", "- apiVersion: atmos-pro.com/v1alpha1\n", "(file)"),
    invalid(
        "write_without_the_switch",
        policy(rule('{subject: "*"}', "{contents: write}")),
        f"{R0}.permissions.contents",
        validator_only=True,
    ),
    invalid("unknown_permission_typo", policy(rule('{subject: "*"}', "{content: read}")), f"{R0}.permissions.content"),
    invalid(
        "orgnization_permission_refused", policy(rule('{subject: "*"}', "{members: read}")), f"{R0}.permissions.members"
    ),
    invalid(
        "permission_level_admin", policy(rule('{subject: "*"}', "{contents: admin}")), f"{R0}.permissions.contents"
    ),
    invalid("permission_level_case", policy(rule('{subject: "*"}', "{contents: Read}")), f"{R0}.permissions.contents"),
    invalid("permissions_empty", policy(rule('{subject: "*"}', "{}")), f"{R0}.permissions"),
    invalid("condition_number", policy(rule("{repository_id: 123}")), f"{M0}.repository_id"),
    invalid("condition_null", policy(rule("{environment: }")), f"{M0}.environment"),
    invalid("condition_boolean_on_a_string_claim", policy(rule("{environment: true}")), f"{M0}.environment"),
    invalid(
        "condition_yaml11_yes_is_not_true",
        policy(rule("{ref_protected: yes}")),
        f"{M0}.ref_protected",
        validator_only=True,
    ),
    invalid("condition_list_empty", policy(rule("{ref: []}")), f"{M0}.ref"),
    invalid("condition_list_nested", policy(rule('{ref: [["refs/heads/main"]]}')), f"{M0}.ref[0]"),
    invalid("condition_list_bad_item", policy(rule('{ref: ["refs/heads/main", 7]}')), f"{M0}.ref[1]"),
    invalid("regex_empty", policy(rule('{ref: {regex: ""}}')), f"{M0}.ref.regex"),
    invalid("regex_not_a_string", policy(rule("{ref: {regex: 5}}")), f"{M0}.ref.regex"),
    invalid("regex_mapping_without_regex", policy(rule("{ref: {}}")), f"{M0}.ref.regex"),
    invalid("regex_backreference", policy(rule('{ref: {regex: "(a)\\\\1"}}')), f"{M0}.ref.regex", validator_only=True),
    invalid("regex_lookahead", policy(rule('{ref: {regex: "(?=main)main"}}')), f"{M0}.ref.regex", validator_only=True),
    invalid(
        "regex_unbalanced_cannot_escape_anchors",
        policy(rule('{ref: {regex: "main)|(.*"}}')),
        f"{M0}.ref.regex",
        validator_only=True,
    ),
    invalid("regex_too_long", policy(rule('{ref: {regex: "' + "a" * 2000 + '"}}')), f"{M0}.ref.regex"),
    invalid("glob_too_long", policy(rule('{ref: "' + "a" * 2000 + '"}')), f"{M0}.ref"),
    invalid("sub_and_subject_together", policy(rule('{sub: "*", subject: "*"}')), M0),
    invalid(
        "duplicate_claim",
        policy('- match:\n    ref: "refs/heads/main"\n    ref: "*"\n'),
        f"{M0}.ref",
        validator_only=True,
    ),
    invalid(
        "unknown_key_in_a_later_rule",
        policy(
            rule('{subject: "*"}'), rule('{subject: "*"}'), rule('{subject: "*"}', "{contents: read, issuess: read}")
        ),
        "spec.rules[2].permissions.issuess",
    ),
    invalid(
        "every_problem_at_once",
        policy(
            rule('{reff: "main", environment: 3}', "{contents: write, bogus: read}"),
            "- match: {}\n  extra: 1\n",
            name="other",
        )
        + "status: x\n",
        "metadata.name",
        f"{M0}.reff",
        f"{M0}.environment",
        f"{R0}.permissions.contents",
        f"{R0}.permissions.bogus",
        "spec.rules[1].match",
        "spec.rules[1].extra",
        "status",
    ),
]

CASES = DECISIONS + ERRORS


def test_the_table_covers_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", DECISIONS, ids=lambda case: case.id)
def test_each_valid_policy_decides_as_the_table_says(case: Case) -> None:
    decision = parse_policy(case.policy, name=case.name, allow_write=case.allow_write).evaluate(case.claims or {})

    assert decision.allowed is case.allowed
    assert decision.rule_index == case.rule_index
    assert decision.permissions == dict(case.permissions)


@pytest.mark.parametrize("case", ERRORS, ids=lambda case: case.id)
def test_each_invalid_policy_reports_every_problem_with_its_place(case: Case) -> None:
    with pytest.raises(PolicyInvalid) as raised:
        parse_policy(case.policy, name=case.name, allow_write=case.allow_write)

    assert {problem.path for problem in raised.value.problems} == case.errors
    assert all(problem.line is not None for problem in raised.value.problems)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_the_json_schema_agrees_with_the_validator(case: Case) -> None:
    schema_accepts = jsonschema.Draft202012Validator(trust_policy_json_schema()).is_valid(yaml.safe_load(case.policy))
    validator_accepts = not case.errors

    if case.validator_only:
        # The schema cannot express this rule: it accepts what only the validator refuses.
        assert schema_accepts and not validator_accepts
    else:
        assert schema_accepts == validator_accepts


def test_the_spec_example_parses_and_admits_its_callers() -> None:
    text = SPEC_EXAMPLE_POLICY
    trust_policy = parse_policy(text.encode(), name="default", allow_write=False)

    assert isinstance(trust_policy, TrustPolicy)
    assert trust_policy.name == "default"
    assert len(trust_policy.rules) == 2
    assert trust_policy.evaluate(caller()).rule_index == 0
    assert trust_policy.evaluate(caller(repository_owner="other")).rule_index == 1
    assert not trust_policy.evaluate(caller(repository_owner="other", job_workflow_ref="x@refs/tags/v1")).allowed


def test_a_denial_explains_the_first_failed_condition_of_each_rule() -> None:
    text = policy(
        rule('{repository_owner: "acme", ref: "refs/heads/release"}'),
        rule('{environment: "prod"}'),
        rule('{ref: {regex: "refs/tags/.*"}}'),
    )

    decision = parse_policy(text, name="default", allow_write=False).evaluate(caller())

    assert decision.explanation == [
        'rules[0] did not match: ref: "refs/heads/main" does not match "refs/heads/release"',
        "rules[1] did not match: environment: the token has no 'environment' claim",
        'rules[2] did not match: ref: "refs/heads/main" does not match regex "refs/tags/.*"',
    ]
    assert decision.reason == "trust_policy_denied"


def test_an_allowed_decision_names_the_rule_that_matched() -> None:
    text = policy(rule('{repository_owner: "other"}'), rule('{subject: "*"}', "{contents: read, issues: read}"))

    decision = parse_policy(text, name="default", allow_write=False).evaluate(caller())

    assert decision.as_dict() == {
        "allowed": True,
        "rule_index": 1,
        "permissions": {"contents": "read", "issues": "read"},
        "explanation": ['rules[0] did not match: repository_owner: "acme" does not match "other"', "rules[1] matched"],
    }
    assert decision.reason is None


def test_the_explanation_is_short_and_never_echoes_the_token() -> None:
    long_value = "refs/heads/" + "x" * 5000
    text = policy(*[rule('{ref: "refs/tags/*"}')] * 50)

    decision = parse_policy(text, name="default", allow_write=False).evaluate(caller(ref=long_value))
    logged = json.dumps(decision.as_dict())

    assert len(decision.explanation) == MAX_EXPLANATION_LINES + 1
    assert len(logged) < 5000
    assert CALLER["jti"] not in logged
    assert CALLER["sha"] not in logged


def test_a_decision_is_json_for_the_audit_log() -> None:
    decision = parse_policy(policy(rule('{subject: "*"}')), name="default", allow_write=False).evaluate(caller())

    assert isinstance(decision, Decision)
    assert json.loads(json.dumps(decision.as_dict()))["rule_index"] == 0


def test_problems_are_json_for_the_audit_log() -> None:
    with pytest.raises(PolicyInvalid) as raised:
        parse_policy(policy(rule('{reff: "x"}')), name="default", allow_write=False)

    problem = raised.value.problems[0]
    assert isinstance(problem, Problem)
    assert problem.as_dict() == {"path": f"{M0}.reff", "message": problem.message, "line": 7}
    assert "did you mean 'ref'?" in problem.message
    assert json.loads(json.dumps(raised.value.as_dict()))["tag"] == "trust_policy_invalid"


def test_the_summary_names_the_count_and_the_first_problem() -> None:
    with pytest.raises(PolicyInvalid) as raised:
        parse_policy(policy(rule('{reff: "x", refs: "y"}')), name="default", allow_write=False)

    assert str(raised.value).startswith(
        "The trust policy is invalid (2 problems); first: line 7: spec.rules[0].match.reff"
    )


def test_a_policy_given_as_text_or_bytes_is_the_same() -> None:
    text = policy(rule('{repository_owner: "acme"}'))

    from_text = parse_policy(text, name="default", allow_write=False).evaluate(caller())
    from_bytes = parse_policy(text.encode(), name="default", allow_write=False).evaluate(caller())

    assert from_text == from_bytes


def test_every_known_claim_can_be_matched() -> None:
    lines = "".join(f'    {claim}: "*"\n' for claim in sorted(KNOWN_CLAIMS - {"subject"}))

    trust_policy = parse_policy(policy(f"- match:\n{lines}"), name="default", allow_write=False)

    assert {condition.claim for condition in trust_policy.rules[0].conditions} == KNOWN_CLAIMS - {"subject"}


def test_the_session_carries_every_claim_a_policy_may_name() -> None:
    # A claim the validator accepts but the session never carries would be a rule that silently never holds.
    from sts.oidc import IDENTITY_CLAIMS

    assert set(KNOWN_CLAIMS) - {"subject"} == set(IDENTITY_CLAIMS)


def test_the_audience_is_not_a_claim_to_match_on() -> None:
    with pytest.raises(PolicyInvalid) as invalid:
        parse_policy(policy(rule('{aud: "atmos-pro.com"}')), name="default", allow_write=False)
    assert "aud" in str([problem.as_dict() for problem in invalid.value.problems])
