"""What is wrong with a policy file: each problem with its place, all of them in one PolicyInvalid.

A problem quotes at most an excerpt of what the file holds (`excerpt`), so that a hostile or secret
value never reaches an audit record or a log in full.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sts.policy.vocabulary import FILE_PATH, MAX_PROBLEMS
from sts.reasons import Reason


def excerpt(text: str, limit: int = 40) -> str:
    """A short, quoted and escaped excerpt: never more than `limit` characters of a value."""
    if len(text) > limit:
        return json.dumps(text[:limit], ensure_ascii=False) + "…"
    return json.dumps(text, ensure_ascii=False)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy file, with its place: a path like `spec.rules[1].match.reff` and a line."""

    path: str
    message: str
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message, "line": self.line}

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.path}: {self.message}"


class PolicyInvalid(Exception):
    """The policy file does not parse or validate; `.problems` lists every problem with its place."""

    tag: str = Reason.POLICY_INVALID

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(self.summary())

    def summary(self) -> str:
        count = len(self.problems)
        if not count:
            return "The trust policy is invalid."
        plural = "" if count == 1 else "s"
        return f"The trust policy is invalid ({count} problem{plural}); first: {self.problems[0]}"

    def as_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "problems": [problem.as_dict() for problem in self.problems]}


class InvalidPolicyName(PolicyInvalid):
    """A policy name that is not one safe path segment; raised before any file is read."""

    tag = "invalid_policy_name"

    def __init__(self, name: object) -> None:
        shown = excerpt(name) if isinstance(name, str) else type(name).__name__
        super().__init__(
            [
                Problem(
                    "policyName",
                    f"{shown} is not a policy name: use 1 to 64 letters, digits, '-' or '_'",
                )
            ]
        )


class Problems:
    """Collects problems up to MAX_PROBLEMS, then one last line saying that more were left out."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.left_out = 0

    def add(self, path: str, message: str, line: int | None) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(path or FILE_PATH, message, line))
        else:
            self.left_out += 1

    @property
    def full(self) -> bool:
        """No further problem would be listed: a caller may skip composing its message."""
        return len(self.items) >= MAX_PROBLEMS

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        problems = list(self.items)
        if self.left_out:
            problems.append(Problem(FILE_PATH, f"{self.left_out} more problems were not listed", None))
        raise PolicyInvalid(problems)
