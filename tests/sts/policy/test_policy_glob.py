"""Property tests pinning the glob semantics against a straightforward reference matcher.

A glob is matched against the whole value: `*` is any run of characters (including `/`, `:` and
newlines), `?` exactly one character, every other character literal (`[`, `]` and `\\` included),
case-sensitive. The reference below is the textbook dynamic program, slow but obviously right.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sts.policy.matchers import glob_matches
from sts.policy.validator import parse_policy


def reference_glob_matches(glob: str, value: str) -> bool:
    # matched[j]: glob[:i] matches value[:j], for the current i.
    matched = [True] + [False] * len(value)
    for character in glob:
        if character == "*":
            for j in range(1, len(value) + 1):
                matched[j] = matched[j] or matched[j - 1]
        else:
            following = [False] * (len(value) + 1)
            for j in range(1, len(value) + 1):
                following[j] = matched[j - 1] and (character == "?" or character == value[j - 1])
            matched = following
    return matched[len(value)]


# Few characters, so that random globs and values often match; plus the characters that are
# special elsewhere (regex, fnmatch, YAML) and must be literal here.
SMALL = st.sampled_from(list("ab/:*?.[]\\^$|()+{}\n é"))
TEXT = st.characters(exclude_categories=("Cs",))  # any code point but a lone surrogate


@settings(max_examples=1000)
@given(st.text(SMALL, max_size=12), st.text(SMALL, max_size=12))
def test_globs_match_like_the_reference_on_a_small_alphabet(glob: str, value: str) -> None:
    assert glob_matches(glob, value) == reference_glob_matches(glob, value)


@settings(max_examples=300)
@given(st.text(TEXT, max_size=20), st.text(TEXT, max_size=20))
def test_globs_match_like_the_reference_on_any_text(glob: str, value: str) -> None:
    assert glob_matches(glob, value) == reference_glob_matches(glob, value)


@st.composite
def glob_and_matching_value(draw: st.DrawFn) -> tuple[str, str]:
    glob = draw(st.text(SMALL, max_size=12))
    value = "".join(draw(st.text(TEXT, max_size=5)) if c == "*" else draw(TEXT) if c == "?" else c for c in glob)
    return glob, value


@settings(max_examples=500)
@given(glob_and_matching_value())
def test_a_value_built_from_the_glob_always_matches(pair: tuple[str, str]) -> None:
    glob, value = pair

    assert reference_glob_matches(glob, value)
    assert glob_matches(glob, value)


@given(st.text(TEXT.filter(lambda c: c not in "*?"), max_size=20), st.text(TEXT, max_size=20))
def test_a_glob_without_wildcards_matches_only_itself(glob: str, value: str) -> None:
    assert glob_matches(glob, value) == (glob == value)


@given(st.text(TEXT, max_size=20))
def test_a_lone_star_matches_every_value(value: str) -> None:
    assert glob_matches("*", value)


@given(st.text(st.sampled_from("aAbB"), min_size=1, max_size=8))
def test_globs_are_case_sensitive(value: str) -> None:
    assert glob_matches(value.swapcase(), value) == (value.swapcase() == value)


@settings(max_examples=150, deadline=None)
@given(st.text(SMALL, max_size=10), st.text(SMALL, max_size=10))
def test_a_policy_condition_matches_like_the_reference(glob: str, value: str) -> None:
    # Through the whole language: the glob written as a YAML double-quoted string (JSON's escapes are YAML's).
    text = (
        "apiVersion: atmos-pro.com/v1alpha1\nkind: TrustPolicy\nmetadata: {name: default}\n"
        f"spec:\n  rules:\n    - match: {{ref: {json.dumps(glob)}}}\n"
    )

    decision = parse_policy(text, name="default", allow_write=False).evaluate({"ref": value})

    assert decision.allowed == reference_glob_matches(glob, value)
