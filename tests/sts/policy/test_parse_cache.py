"""The parse cache: refusals remembered like successes, by content; bounded by memory, not entries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sts.policy.errors import InvalidPolicyName, PolicyInvalid, Problem
from sts.policy.model import TrustPolicy
from sts.policy.parse_cache import (
    ParseCache,
    Refusal,
    parse_cache_clear,
    parse_cache_info,
    parse_policy_bytes,
)
from sts.policy.vocabulary import MAX_POLICY_BYTES
from tests.factories import policy as policy_text

VALID = policy_text('repository_owner: "acme"').encode()
INVALID = VALID.replace(b"repository_owner", b"reff")


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    parse_cache_clear()
    yield
    parse_cache_clear()


def refusal(*messages: str) -> Refusal:
    return Refusal(tuple(Problem("spec", message, 1) for message in messages))


def test_a_valid_file_is_parsed_once() -> None:
    first = parse_policy_bytes(VALID, name="default", allow_write=False)
    second = parse_policy_bytes(VALID, name="default", allow_write=False)

    assert second is first
    assert (parse_cache_info().misses, parse_cache_info().hits) == (1, 1)


def test_an_invalid_files_second_parse_is_a_cache_hit() -> None:
    with pytest.raises(PolicyInvalid) as first:
        parse_policy_bytes(INVALID, name="default", allow_write=False)
    with pytest.raises(PolicyInvalid) as second:
        parse_policy_bytes(INVALID, name="default", allow_write=False)

    assert (parse_cache_info().misses, parse_cache_info().hits) == (1, 1)
    assert second.value.problems == first.value.problems
    assert second.value.problems[0].path == "spec.rules[0].match.reff"
    # A fresh exception each time: a stored one would carry every earlier traceback along.
    assert second.value is not first.value


def test_the_name_and_the_write_switch_are_part_of_what_is_remembered() -> None:
    writer = VALID + b"      permissions: {contents: write}\n"

    assert isinstance(parse_policy_bytes(writer, name="default", allow_write=True), TrustPolicy)
    with pytest.raises(PolicyInvalid):
        parse_policy_bytes(writer, name="default", allow_write=False)
    with pytest.raises(PolicyInvalid):
        parse_policy_bytes(writer, name="other", allow_write=True)

    assert parse_cache_info().misses == 3


def test_an_invalid_name_is_refused_before_the_cache() -> None:
    with pytest.raises(InvalidPolicyName):
        parse_policy_bytes(VALID, name="../default", allow_write=False)

    assert parse_cache_info().entries == 0


def test_an_oversized_file_is_refused_without_being_remembered() -> None:
    with pytest.raises(PolicyInvalid) as invalid:
        parse_policy_bytes(VALID + b"#" * MAX_POLICY_BYTES, name="default", allow_write=False)

    assert str(MAX_POLICY_BYTES) in invalid.value.problems[0].message
    assert parse_cache_info().entries == 0


def test_each_entry_is_charged_its_estimated_memory() -> None:
    policy = parse_policy_bytes(VALID, name="default", allow_write=False)
    with pytest.raises(PolicyInvalid):
        parse_policy_bytes(INVALID, name="default", allow_write=False)

    info = parse_cache_info()
    assert info.entries == 2
    assert info.bytes > policy.retained_bytes > 0


def test_the_cache_evicts_the_least_recently_used_entries_by_memory() -> None:
    cache = ParseCache(max_bytes=1000)
    cache.put((b"a", "a", False), refusal("a"), size=400)
    cache.put((b"b", "b", False), refusal("b"), size=400)
    assert cache.get((b"a", "a", False)) is not None  # now the most recently used

    cache.put((b"c", "c", False), refusal("c"), size=400)

    assert cache.get((b"b", "b", False)) is None
    assert cache.get((b"a", "a", False)) is not None
    assert cache.get((b"c", "c", False)) is not None
    assert (cache.info().entries, cache.info().bytes) == (2, 800)


def test_many_small_entries_fit_where_one_large_one_would_evict_them() -> None:
    cache = ParseCache(max_bytes=10_000)
    for index in range(100):
        cache.put((bytes([index]), "x", False), refusal("x"), size=100)
    assert cache.info().entries == 100

    cache.put((b"large", "x", False), refusal("large"), size=5_000)

    assert cache.info().entries == 51
    assert cache.info().bytes == 10_000


def test_an_entry_larger_than_the_whole_cache_is_not_kept() -> None:
    cache = ParseCache(max_bytes=1000)
    cache.put((b"a", "a", False), refusal("a"), size=400)

    cache.put((b"huge", "huge", False), refusal("huge"), size=1001)

    assert cache.get((b"huge", "huge", False)) is None
    assert cache.get((b"a", "a", False)) is not None


def test_putting_a_key_again_replaces_its_charge() -> None:
    cache = ParseCache(max_bytes=1000)
    cache.put((b"a", "a", False), refusal("a"), size=400)

    cache.put((b"a", "a", False), refusal("a"), size=300)

    assert (cache.info().entries, cache.info().bytes) == (1, 300)


def test_a_refusal_is_charged_by_its_problems() -> None:
    assert refusal("x" * 1000).retained_bytes > refusal("x").retained_bytes
    assert refusal("x", "y").retained_bytes > refusal("x").retained_bytes
