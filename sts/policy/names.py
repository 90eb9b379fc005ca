"""Policy names: one safe path segment, checked before any file is read."""

from __future__ import annotations

import re

from sts.policy.errors import InvalidPolicyName
from sts.policy.vocabulary import POLICY_DIRECTORY, POLICY_SUFFIX

POLICY_NAME_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_POLICY_NAME = re.compile(POLICY_NAME_PATTERN)


def is_valid_policy_name(name: str) -> bool:
    """One path segment of ASCII letters, digits, `-` and `_`, 1 to 64 characters."""
    return isinstance(name, str) and _POLICY_NAME.fullmatch(name) is not None


def policy_path(name: str) -> str:
    """The path of a policy file inside the source repository; refuses a name before any file is read."""
    if not is_valid_policy_name(name):
        raise InvalidPolicyName(name)
    return f"{POLICY_DIRECTORY}/{name}{POLICY_SUFFIX}"


def policy_name_of_path(path: str) -> str | None:
    """The policy name a repository path holds (`.atmos/pro/sts/<name>.yaml`), or None for any other path:
    a nested folder, another suffix, `..`, or a name that is not a policy name."""
    folder, _, base = path.rpartition("/")
    if folder != POLICY_DIRECTORY or not base.endswith(POLICY_SUFFIX):
        return None
    name = base.removesuffix(POLICY_SUFFIX)
    return name if is_valid_policy_name(name) else None
