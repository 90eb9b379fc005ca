"""The budget of one policy file (issue 8): each limit refuses the file at the value that crosses it,
with a message that names the limit and the line of that value; reasonable policies stay within all.

No time is asserted here; bench/bench_policy.py prints what the worst files cost.
"""

from __future__ import annotations

import pytest

from sts.policy.budget import Budget
from sts.policy.errors import PolicyInvalid, Problem
from sts.policy.matchers import Regex
from sts.policy.model import TrustPolicy
from sts.policy.validator import CONDITION_BYTES, POLICY_OVERHEAD_BYTES, SOURCE_BYTES_FACTOR, parse_policy
from sts.policy.vocabulary import (
    MAX_CONDITIONS,
    MAX_MEMORY_PER_PROGRAM,
    MAX_PATTERN_CHARACTERS,
    MAX_POLICY_BYTES,
    MAX_PROGRAM_MEMORY,
    MAX_PROGRAMS,
    MAX_RETAINED_BYTES,
    MAX_RULES,
    MAX_YAML_VALUES,
)

HEAD = "apiVersion: atmos-pro.com/v1alpha1\nkind: TrustPolicy\nmetadata:\n  name: default\nspec:\n  rules:\n"
FIRST_RULE_LINE = HEAD.count("\n") + 1


def one_regex_per_rule(patterns: list[str]) -> str:
    """One rule per pattern, each on its own line: rule i is on line FIRST_RULE_LINE + i."""
    return HEAD + "".join(f'    - match: {{ref: {{regex: "{pattern}"}}}}\n' for pattern in patterns)


def refused(text: str) -> list[Problem]:
    with pytest.raises(PolicyInvalid) as raised:
        parse_policy(text, name="default", allow_write=False)
    return raised.value.problems


def test_it_refuses_more_yaml_values_than_a_policy_needs_at_the_first_one_over() -> None:
    # The list is the first value and each item one more: item MAX_YAML_VALUES - 1 (on the line of
    # that number + 1) is value MAX_YAML_VALUES + 1.
    text = "".join(f"- a{index}\n" for index in range(MAX_YAML_VALUES + 100))

    problems = refused(text)

    assert [problem.line for problem in problems] == [MAX_YAML_VALUES]
    assert problems[0].path == f"[{MAX_YAML_VALUES - 1}]"
    assert f"more than {MAX_YAML_VALUES} YAML values" in problems[0].message
    assert "limit: values per policy" in problems[0].message


def test_it_refuses_more_conditions_than_the_limit_at_the_first_one_over() -> None:
    # 50 alternatives per rule, one per line: condition number MAX_CONDITIONS + 1 opens rule 20.
    rules = []
    for rule in range(MAX_CONDITIONS // 50 + 1):
        rules.append("    - match:\n        ref:\n" + "".join(f"          - g{rule}-{index}\n" for index in range(50)))
    text = HEAD + "".join(rules)

    problems = refused(text)

    crossing_line = FIRST_RULE_LINE + (MAX_CONDITIONS // 50) * 52 + 2
    assert [problem.line for problem in problems] == [crossing_line]
    assert problems[0].path == f"spec.rules[{MAX_CONDITIONS // 50}].match.ref[0]"
    assert f"at most {MAX_CONDITIONS}" in problems[0].message
    assert "limit: conditions per policy" in problems[0].message


def test_it_refuses_more_regexes_than_the_program_limit_at_the_first_one_over() -> None:
    problems = refused(one_regex_per_rule([f"r{index}-[a-z]+" for index in range(MAX_PROGRAMS + 1)]))

    assert [problem.line for problem in problems] == [FIRST_RULE_LINE + MAX_PROGRAMS]
    assert problems[0].path == f"spec.rules[{MAX_PROGRAMS}].match.ref.regex"
    assert f"at most {MAX_PROGRAMS}" in problems[0].message
    assert "limit: RE2 programs per policy" in problems[0].message


def test_wildcard_globs_count_as_programs_and_plain_globs_do_not() -> None:
    plain = HEAD + "".join(f'    - match: {{ref: "refs/heads/{index}-*"}}\n' for index in range(MAX_PROGRAMS + 1))
    wildcard = plain.replace("-*", "-?")

    assert isinstance(parse_policy(plain, name="default", allow_write=False), TrustPolicy)
    problems = refused(wildcard)
    assert [problem.line for problem in problems] == [FIRST_RULE_LINE + MAX_PROGRAMS]
    assert "limit: RE2 programs per policy" in problems[0].message


def test_it_refuses_more_pattern_characters_than_the_limit_before_compiling() -> None:
    # A class of 1 000 letters is a tiny program: only the length limit can stop these.
    long_pattern = "[" + "a" * 1000 + "]{index}"
    count = MAX_PATTERN_CHARACTERS // len(long_pattern.format(index=10)) + 1

    problems = refused(one_regex_per_rule([long_pattern.format(index=10 + index) for index in range(count)]))

    assert [problem.line for problem in problems] == [FIRST_RULE_LINE + count - 1]
    assert f"at most {MAX_PATTERN_CHARACTERS} are allowed" in problems[0].message
    assert "limit: pattern characters per policy" in problems[0].message


def test_it_stops_compiling_once_the_file_is_over_its_re2_memory() -> None:
    # Each `[a-z]{900}` needs a 16 KiB grant after 4 and 8 KiB were tried: 28 KiB charged apiece.
    large = [f"[a-z]{{900}}x{index}" for index in range(MAX_PROGRAM_MEMORY // (28 * 1024) + 1)]
    # After the crossing regex, one RE2 cannot read: it is never compiled, so never reported.
    problems = refused(one_regex_per_rule([*large, "(unbalanced"]))

    assert [problem.line for problem in problems] == [FIRST_RULE_LINE + len(large) - 1]
    assert f"at most {MAX_PROGRAM_MEMORY // 1024} KiB together" in problems[0].message
    assert "limit: RE2 memory per policy" in problems[0].message
    assert "compiling stopped here" in problems[0].message


def test_a_regex_too_large_for_re2_names_the_per_program_limit() -> None:
    problems = refused(one_regex_per_rule(["ok", "(?s).{1000}.{1000}"]))

    assert [problem.line for problem in problems] == [FIRST_RULE_LINE + 1]
    assert problems[0].path == "spec.rules[1].match.ref.regex"
    assert "too large for RE2" in problems[0].message
    assert f"more than {MAX_MEMORY_PER_PROGRAM // 1024} KiB" in problems[0].message


def test_regexes_refused_as_too_large_spend_the_file_budget_so_few_are_tried() -> None:
    hostile = [f"(?s).{{1000}}.{{1000}}x{index}" for index in range(50)]

    problems = refused(one_regex_per_rule(hostile))

    # The first exhausts most of the memory on its attempts; the second finds too little left.
    assert [problem.line for problem in problems] == [FIRST_RULE_LINE, FIRST_RULE_LINE + 1]
    assert "too large for RE2" in problems[0].message
    assert "limit: RE2 memory per policy" in problems[1].message


def test_the_same_pattern_written_many_times_compiles_once() -> None:
    text = one_regex_per_rule(["refs/heads/[a-z]+"] * MAX_RULES)

    trust_policy = parse_policy(text, name="default", allow_write=False)

    matchers = {id(rule.conditions[0].alternatives[0]) for rule in trust_policy.rules}
    assert len(matchers) == 1


def test_a_large_reasonable_policy_is_within_every_budget() -> None:
    rule = (
        "    - match:\n"
        '        repository_owner: "acme"\n'
        '        repository: ["acme/app-{index}", "acme/lib-{index}", "acme/tool-*"]\n'
        '        ref: ["refs/heads/main", "refs/tags/v*", {{regex: "refs/heads/release/{index}\\\\.[0-9]+"}}]\n'
        '        job_workflow_ref: "acme/workflows/.github/workflows/*.yml@refs/heads/main"\n'
        "      permissions:\n"
        "        contents: read\n"
        "        packages: read\n"
    )
    text = HEAD + "".join(rule.format(index=index) for index in range(90))
    assert len(text.encode()) <= MAX_POLICY_BYTES

    trust_policy = parse_policy(text, name="default", allow_write=False)

    assert len(trust_policy.rules) == 90
    assert (
        trust_policy.evaluate(
            {
                "repository_owner": "acme",
                "repository": "acme/lib-89",
                "ref": "refs/heads/release/89.3",
                "job_workflow_ref": "acme/workflows/.github/workflows/deploy.yml@refs/heads/main",
            }
        ).rule_index
        == 89
    )


def test_the_limits_keep_every_valid_policy_under_the_memory_a_cached_policy_may_hold() -> None:
    # The parse cache's estimate of a policy at every limit at once: no valid file can exceed it.
    worst = POLICY_OVERHEAD_BYTES + MAX_PROGRAM_MEMORY + CONDITION_BYTES * MAX_CONDITIONS
    worst += SOURCE_BYTES_FACTOR * MAX_POLICY_BYTES

    assert worst <= MAX_RETAINED_BYTES


def test_a_policy_estimates_what_it_holds_from_its_source_and_its_programs() -> None:
    globs = parse_policy(one_regex_per_rule([]) + '    - match: {ref: "main"}\n', name="default", allow_write=False)
    regexes = parse_policy(one_regex_per_rule(["[a-z]{900}"]), name="default", allow_write=False)

    assert globs.retained_bytes > 0
    # The regex needed a 16 KiB RE2 grant, which the estimate counts in full.
    assert regexes.retained_bytes - globs.retained_bytes >= 16 * 1024


def test_a_matcher_built_alone_has_a_budget_of_its_own() -> None:
    budget = Budget()

    Regex("[a-z]{900}", budget=budget)
    Regex("a", budget=budget)

    assert budget.programs == 0  # counting is the validator's; compiling charges memory
    assert budget.memory_held == 16 * 1024 + 4 * 1024
    assert budget.memory_charged == (4 + 8 + 16) * 1024 + 4 * 1024
