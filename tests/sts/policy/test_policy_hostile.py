"""Hostile policy files: each is refused as PolicyInvalid with a place, never another exception.

Speed is not asserted here (no timed assertions); bench/bench_policy.py prints how fast these are
refused. What these tests pin is that the parser stops early rather than expanding or recursing:
a billion-laughs file or 10 000 nested brackets would otherwise crash or hang the test itself.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sts.policy.errors import PolicyInvalid
from sts.policy.model import TrustPolicy
from sts.policy.validator import parse_policy
from sts.policy.vocabulary import FILE_PATH, MAX_NESTING_DEPTH, MAX_POLICY_BYTES, MAX_PROBLEMS
from tests.factories import policy

VALID = policy('repository_owner: "acme"')

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def refused(source: bytes | str, *, allow_write: bool = False) -> PolicyInvalid:
    with pytest.raises(PolicyInvalid) as raised:
        parse_policy(source, name="default", allow_write=allow_write)
    assert raised.value.problems
    return raised.value


def with_rule_match(match: str) -> str:
    return VALID.replace('repository_owner: "acme"', match)


def test_the_valid_base_policy_parses() -> None:
    assert isinstance(parse_policy(VALID, name="default", allow_write=False), TrustPolicy)


def test_it_refuses_a_billion_laughs_at_the_first_anchor() -> None:
    invalid = refused(BILLION_LAUGHS)

    assert invalid.problems[0].path == "a"
    assert invalid.problems[0].line == 1
    assert "anchors" in invalid.problems[0].message


def test_it_refuses_a_ten_megabyte_file_before_parsing() -> None:
    invalid = refused(VALID.encode() + b"#" * 10_000_000)

    assert [problem.path for problem in invalid.problems] == [FILE_PATH]
    assert str(MAX_POLICY_BYTES) in invalid.problems[0].message


def test_it_refuses_a_ten_megabyte_text_before_encoding() -> None:
    invalid = refused("x" * 10_000_000)

    assert [problem.path for problem in invalid.problems] == [FILE_PATH]


def test_it_accepts_a_file_of_exactly_the_size_limit() -> None:
    padded = VALID.encode() + b"#" * (MAX_POLICY_BYTES - len(VALID.encode()))

    assert len(padded) == MAX_POLICY_BYTES
    assert isinstance(parse_policy(padded, name="default", allow_write=False), TrustPolicy)


def test_it_refuses_binary() -> None:
    invalid = refused(bytes(range(256)) * 16)

    assert invalid.problems[0].path == FILE_PATH


def test_it_refuses_a_nul_byte_and_says_on_which_line() -> None:
    invalid = refused(VALID.encode().replace(b"acme", b"ac\x00me"))

    assert invalid.problems[0].line == 8
    assert "NUL" in invalid.problems[0].message


def test_it_refuses_invalid_utf8_and_says_on_which_line() -> None:
    invalid = refused(VALID.encode().replace(b"TrustPolicy", b"Trust\xffPolicy"))

    assert invalid.problems[0].line == 2
    assert "UTF-8" in invalid.problems[0].message


def test_it_refuses_utf16_with_a_byte_order_mark() -> None:
    invalid = refused(VALID.encode("utf-16"))

    assert "UTF-16" in invalid.problems[0].message


def test_it_refuses_utf16_without_a_byte_order_mark() -> None:
    refused(VALID.encode("utf-16-le"))


def test_it_tolerates_a_utf8_byte_order_mark() -> None:
    assert isinstance(parse_policy(b"\xef\xbb\xbf" + VALID.encode(), name="default", allow_write=False), TrustPolicy)


def test_it_refuses_text_with_a_lone_surrogate() -> None:
    refused(VALID.replace("acme", "ac\ud800me"))


def test_it_refuses_a_lone_surrogate_written_as_a_yaml_escape() -> None:
    invalid = refused(with_rule_match('repository_owner: "ac\\ud800me"'))

    assert invalid.problems[0].path == "spec.rules[0].match.repository_owner"


def test_it_refuses_control_characters() -> None:
    invalid = refused(VALID.replace("acme", "ac\x07me"))

    assert invalid.problems[0].line == 8


@pytest.mark.parametrize(
    "text",
    [
        "[" * 10_000 + "x",
        "{a: " * 10_000 + "x",
        "- " * 10_000 + "x",
        # Indented block mappings grow quadratically: 300 levels is what fits under the size limit.
        "".join(" " * depth + "a:\n" for depth in range(300)),
    ],
    ids=["flow-sequences", "flow-mappings", "block-sequences", "block-mappings"],
)
def test_it_refuses_deep_nesting(text: str) -> None:
    invalid = refused(text)

    assert f"nested more than {MAX_NESTING_DEPTH} levels deep" in invalid.problems[-1].message
    assert invalid.problems[-1].line is not None


def test_it_refuses_a_second_document() -> None:
    invalid = refused(VALID + "---\n" + VALID)

    assert invalid.problems[0].line == 9
    assert "exactly one YAML document" in invalid.problems[0].message


def test_it_refuses_a_second_document_after_an_end_marker() -> None:
    refused(VALID + "...\n" + VALID)


@pytest.mark.parametrize(
    "match",
    [
        'repository_owner: !!str "acme"',
        "repository_owner: !custom acme",
        'repository_owner: !!python/object/apply:os.system ["true"]',
        'repository_owner: ! "acme"',
    ],
    ids=["standard-tag", "local-tag", "python-tag", "non-specific-tag"],
)
def test_it_refuses_tags(match: str) -> None:
    invalid = refused(with_rule_match(match))

    assert invalid.problems[0].path == "spec.rules[0].match.repository_owner"
    assert "tags" in invalid.problems[0].message


def test_it_refuses_an_anchored_rule_and_its_alias() -> None:
    text = VALID.replace("    - match:", "    - &rule\n      match:") + "    - *rule\n"

    invalid = refused(text)

    assert [problem.path for problem in invalid.problems] == ["spec.rules[0]", "spec.rules[1]"]
    assert [problem.line for problem in invalid.problems] == [7, 10]


def test_it_refuses_merge_keys() -> None:
    invalid = refused(with_rule_match('<<: {ref: "refs/heads/main"}\n        repository_owner: "acme"'))

    assert invalid.problems[0].path == "spec.rules[0].match"
    assert "merge keys" in invalid.problems[0].message


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"], ids=["empty", "blank", "comment"])
def test_it_refuses_an_empty_file(text: str) -> None:
    invalid = refused(text)

    assert invalid.problems[0].path == FILE_PATH


def test_it_refuses_a_bare_star_and_suggests_quoting() -> None:
    invalid = refused(with_rule_match("subject: *"))

    assert invalid.problems[0].line == 8
    assert 'must be quoted, like "*"' in invalid.problems[0].message


def test_it_refuses_broken_yaml_with_the_line() -> None:
    invalid = refused(with_rule_match('repository_owner: "acme'))

    assert invalid.problems[0].line is not None
    assert invalid.problems[0].message.startswith("not valid YAML")


def test_it_refuses_a_huge_regex() -> None:
    invalid = refused(with_rule_match('ref: {regex: "' + "(a|b)" * 10_000 + '"}'))

    assert invalid.problems[0].path == "spec.rules[0].match.ref.regex"


@pytest.mark.parametrize(
    "pattern",
    ["a{1000}{1000}", "((a{100}){100}){100}", "(a)\\\\1", "(?=a)a", "(?<=a)b", "(?P<x>a)(?P=x)", "a++", "[z-a]"],
)
def test_it_refuses_a_regex_that_re2_rejects(pattern: str) -> None:
    invalid = refused(with_rule_match('ref: {regex: "' + pattern + '"}'))

    assert invalid.problems[0].path == "spec.rules[0].match.ref.regex"
    assert "RE2" in invalid.problems[0].message


def test_a_pathological_regex_runs_in_linear_time() -> None:
    trust_policy = parse_policy(with_rule_match('ref: {regex: "(a+)+$"}'), name="default", allow_write=False)

    assert not trust_policy.evaluate({"ref": "a" * 100_000 + "b"}).allowed
    assert trust_policy.evaluate({"ref": "a" * 100_000}).allowed


def test_it_caps_the_number_of_problems_it_lists() -> None:
    keys = "".join(f"        unknown_{index}: x\n" for index in range(500))

    invalid = refused(with_rule_match('repository_owner: "acme"\n' + keys))

    assert len(invalid.problems) == MAX_PROBLEMS + 1
    assert invalid.problems[-1].message == f"{500 - MAX_PROBLEMS} more problems were not listed"


def test_problems_never_echo_more_than_an_excerpt_of_the_file() -> None:
    secret = "ghs_" + "S3cr3t" * 100
    text = VALID.replace("TrustPolicy", secret).replace('repository_owner: "acme"', f"{secret}: x")

    invalid = refused(text)
    logged = json.dumps(invalid.as_dict()) + str(invalid)

    assert secret not in logged
    assert secret[:40] in logged


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_are_refused_as_policy_invalid(data: bytes) -> None:
    try:
        parse_policy(data, name="default", allow_write=False)
    except PolicyInvalid as invalid:
        assert invalid.problems


YAML_PIECES = st.sampled_from(
    [
        "apiVersion: atmos-pro.com/v1alpha1\n",
        "kind: TrustPolicy\n",
        "metadata: {name: default}\n",
        "spec:\n",
        "  rules:\n",
        "    - match:\n",
        '        ref: "refs/*"\n',
        "        ref_protected: true\n",
        "        sub: {regex: 'a|b'}\n",
        "      permissions: {contents: read}\n",
        "&a ",
        "*a ",
        "!!str ",
        "<<: ",
        "[",
        "]",
        "{",
        "}",
        "- ",
        ": ",
        "? ",
        "---\n",
        "...\n",
        '"',
        "'",
        "\t",
        "\n",
        "%YAML 1.1\n",
        "|\n",
        "x",
        "7",
        "null",
        "yes",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(YAML_PIECES, max_size=40).map("".join))
def test_any_yaml_shaped_text_parses_or_is_refused_as_policy_invalid(text: str) -> None:
    try:
        trust_policy = parse_policy(text, name="default", allow_write=False)
    except PolicyInvalid as invalid:
        assert invalid.problems
    else:
        assert trust_policy.rules


def test_a_huge_unquoted_number_is_not_echoed_in_full() -> None:
    digits = "9" * 5000

    invalid = refused(with_rule_match(f"repository_id: {digits}"))

    assert invalid.problems[0].path == "spec.rules[0].match.repository_id"
    assert len(invalid.problems[0].message) < 200
