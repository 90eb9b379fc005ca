"""Policy names: one path segment of letters, digits, `-` and `_`, at most 64.

Anything else is refused before any file is read.
"""

from __future__ import annotations

import pytest

from sts.policy.errors import InvalidPolicyName, PolicyInvalid
from sts.policy.names import is_valid_policy_name, policy_path
from sts.policy.validator import parse_policy
from sts.policy.vocabulary import POLICY_DIRECTORY

VALID_NAMES = ["default", "a", "A", "9", "-", "_", "ci-readers", "Team_2", "x" * 64]
HOSTILE_NAMES = [
    "",
    "../x",
    "..",
    ".",
    "a/b",
    "a\\b",
    "/etc/passwd",
    "default.yaml",
    "x" * 65,
    "défault",
    "\uff44\uff45\uff46\uff41\uff55\uff4c\uff54",  # fullwidth "default"
    "a\x00b",
    "a b",
    " default",
    "default\n",
    "%2e%2e",
    "a:b",
    "*",
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_it_accepts_a_valid_policy_name(name: str) -> None:
    assert is_valid_policy_name(name)
    assert policy_path(name) == f"{POLICY_DIRECTORY}/{name}.yaml"


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
def test_it_refuses_a_hostile_policy_name(name: str) -> None:
    assert not is_valid_policy_name(name)
    with pytest.raises(InvalidPolicyName):
        policy_path(name)


def test_the_default_policy_lives_in_the_sts_directory() -> None:
    assert policy_path("default") == ".atmos/pro/sts/default.yaml"


def test_a_name_that_is_not_a_string_is_refused() -> None:
    assert not is_valid_policy_name(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidPolicyName):
        policy_path(7)  # type: ignore[arg-type]


def test_an_invalid_name_is_a_policy_invalid_with_its_own_tag() -> None:
    with pytest.raises(PolicyInvalid) as raised:
        policy_path("../x")

    assert isinstance(raised.value, InvalidPolicyName)
    assert raised.value.tag == "invalid_policy_name"
    assert raised.value.problems[0].path == "policyName"


def test_parse_refuses_an_invalid_name_before_reading_the_file() -> None:
    with pytest.raises(InvalidPolicyName):
        parse_policy(b"\x00 not even yaml", name="../default", allow_write=False)


def test_an_invalid_name_is_not_echoed_in_full() -> None:
    hostile = "x/" + "A" * 500

    with pytest.raises(InvalidPolicyName) as raised:
        policy_path(hostile)

    assert hostile not in str(raised.value)
    assert len(str(raised.value)) < 200
