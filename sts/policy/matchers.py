"""The two kinds of condition a policy may write, a glob and a `{regex: ...}`, both matched in linear time.

Globs become RE2 programs (or a plain string comparison when they hold no `?` and one run of `*`
at most), and regexes are compiled by RE2 (google-re2), which has no backtracking. Every program is
compiled through the file's `Budget`, which bounds what it may cost.
"""

from __future__ import annotations

import re
from typing import Any

import re2

from sts.policy.budget import Budget
from sts.policy.errors import excerpt

_STARS = re.compile(r"\*+")


def _glob_to_re2(glob: str) -> str:
    """`*` is any run of characters (including `/`, `:` and newlines), `?` exactly one; the rest is literal."""
    parts: list[str] = ["(?s)"]
    previous = ""
    for character in glob:
        if character == "*":
            if previous != "*":
                parts.append(".*")
        elif character == "?":
            parts.append(".")
        else:
            parts.append(re2.escape(character))
        previous = character
    return "".join(parts)


def glob_needs_program(glob: str) -> bool:
    """Whether a glob is matched by an RE2 program, rather than by comparing strings."""
    return "?" in glob or len(_STARS.split(glob)) > 2


class Glob:
    """A glob condition, matched against the whole claim value, case-sensitive."""

    __slots__ = ("_prefix", "_program", "_shape", "_suffix", "needs_program", "source")
    kind = "glob"

    def __init__(self, source: str, *, budget: Budget | None = None) -> None:
        self.source = source
        # The common shapes (`main`, `refs/heads/*`, `*/app`, `repo:acme/*:ref:*`...) with no `?`
        # and one run of `*` are string comparisons; RE2 only runs for the others.
        pieces = _STARS.split(source)
        self.needs_program = glob_needs_program(source)
        self._shape = "program" if self.needs_program else "literal" if len(pieces) == 1 else "star"
        # Only the star shape reads these: the others keep no second copy of their text.
        self._prefix = pieces[0] if self._shape == "star" else ""
        self._suffix = pieces[-1] if self._shape == "star" else ""
        self._program: Any = None
        if self.needs_program:
            self._program = (budget or Budget()).compile(_glob_to_re2(source).encode("utf-8"))

    def matches(self, value: str, encoded: bytes) -> bool:
        """`encoded` is `value` in UTF-8: RE2's Python wrapper is several times faster on bytes than on str."""
        if self._shape == "literal":
            return value == self.source
        if self._shape == "star":
            return (
                len(value) >= len(self._prefix) + len(self._suffix)
                and value.startswith(self._prefix)
                and value.endswith(self._suffix)
            )
        return self._program.fullmatch(encoded) is not None

    def describe(self) -> str:
        return excerpt(self.source)

    def __repr__(self) -> str:
        return f"Glob({self.source!r})"


class Regex:
    """A `{regex: ...}` condition in RE2 syntax, matched against the whole value.

    The pattern is compiled on its own and run with RE2's full-match anchoring, rather than
    pasted into `^(?:...)$`: so an unbalanced `a)|(b` is a syntax error instead of a way out of
    the anchors, and `main|develop` never matches `main-attacker`.
    """

    __slots__ = ("_program", "source")
    kind = "regex"
    needs_program = True

    def __init__(self, source: str, *, budget: Budget | None = None) -> None:
        self.source = source
        # A bytes pattern still runs in UTF-8 mode (the Options default): `.` is one code point.
        self._program: Any = (budget or Budget()).compile(source.encode("utf-8"))

    def matches(self, value: str, encoded: bytes) -> bool:
        return self._program.fullmatch(encoded) is not None

    def describe(self) -> str:
        return f"regex {excerpt(self.source)}"

    def __repr__(self) -> str:
        return f"Regex({self.source!r})"


Matcher = Glob | Regex


def glob_matches(glob: str, value: str) -> bool:
    """Whether `value` matches the glob as a policy condition would (for tests and tools)."""
    return Glob(glob).matches(value, value.encode("utf-8"))
