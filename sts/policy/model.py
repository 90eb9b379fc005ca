"""A parsed policy and how it decides: TrustPolicy > Rule > Condition > Matcher, and the Decision.

Objects here are immutable once parsed (the parse cache shares them between requests) and use
slots, so that a cached policy holds little beyond its programs.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sts.claims import token_claim
from sts.policy.errors import excerpt
from sts.policy.matchers import Matcher
from sts.policy.vocabulary import MAX_EXPLANATION_LINES
from sts.reasons import Reason


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a condition does not hold: `missing` claim, claim `not_text`, or `no_match`; formatted only when read."""

    claim: str
    reason: Literal["missing", "not_text", "no_match"]
    condition: Condition
    value: str = ""

    def __str__(self) -> str:
        if self.reason == "missing":
            return f"{self.claim}: the token has no {self.condition.token_claim!r} claim"
        if self.reason == "not_text":
            return f"{self.claim}: the claim value is not a string"
        return f"{self.claim}: {excerpt(self.value, 64)} does not match {self.condition.describe()}"


@dataclass(frozen=True, slots=True)
class Condition:
    """`claim` must match at least one of `alternatives`."""

    claim: str
    alternatives: tuple[Matcher, ...]
    line: int | None = None
    token_claim: str = field(init=False, repr=False, compare=False)
    _needs_bytes: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "token_claim", token_claim(self.claim))
        object.__setattr__(self, "_needs_bytes", any(matcher.needs_program for matcher in self.alternatives))

    def describe(self) -> str:
        if len(self.alternatives) == 1:
            return self.alternatives[0].describe()
        return f"any of {len(self.alternatives)} conditions"

    def describe_all(self, shown: int = 3) -> str:
        """The condition in words, its first `shown` alternatives in full."""
        if len(self.alternatives) == 1:
            return self.alternatives[0].describe()
        words = " or ".join(matcher.describe() for matcher in self.alternatives[:shown])
        more = len(self.alternatives) - shown
        return f"one of {words}" + (f" (and {more} more)" if more > 0 else "")

    def failure(self, claims: Mapping[str, object]) -> Failure | None:
        """None when the condition holds, else why not."""
        claim = self.token_claim
        if claim not in claims:
            return Failure(self.claim, "missing", self)
        value = _claim_text(claims[claim])
        if value is None:
            return Failure(self.claim, "not_text", self)
        encoded = b""
        if self._needs_bytes:
            try:
                encoded = value.encode("utf-8")
            except UnicodeEncodeError:
                # A lone surrogate (possible in JSON) is not text RE2 can read: it matches nothing.
                return Failure(self.claim, "not_text", self)
        for matcher in self.alternatives:
            if matcher.matches(value, encoded):
                return None
        return Failure(self.claim, "no_match", self, value)


def _claim_text(value: object) -> str | None:
    # Booleans compare as "true" / "false" (spec); GitHub sends every claim but the times as a string.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class Rule:
    index: int
    conditions: tuple[Condition, ...]
    permissions: Mapping[str, str]
    line: int | None = None

    def in_words(self) -> str:
        """What the rule admits, in a sentence: `rules[0]: when repository "acme/app" → contents: read`."""
        conditions = " and ".join(f"{condition.claim} {condition.describe_all()}" for condition in self.conditions)
        granted = ", ".join(f"{name}: {level}" for name, level in sorted(self.permissions.items()))
        return f"rules[{self.index}]: when {conditions} → {granted}"

    def failure(self, claims: Mapping[str, object]) -> Failure | None:
        """None when every condition holds, else why the first one that fails does not."""
        for condition in self.conditions:
            failure = condition.failure(claims)
            if failure is not None:
                return failure
        return None


@dataclass(frozen=True)
class Decision:
    """The outcome of a policy for one caller; `as_dict()` is what the audit log records.

    `trace` holds, for each rule tried, its index and why it failed (None for the rule that
    matched); `explanation` renders it as short sentences, capped at MAX_EXPLANATION_LINES, only
    when someone reads it, so that evaluation stays cheap.
    """

    allowed: bool
    rule_index: int | None
    permissions: dict[str, str]
    trace: tuple[tuple[int, Failure | None], ...] = field(default=(), repr=False, compare=False)

    @property
    def reason(self) -> str | None:
        """The mint's `excluded[].reason` when denied."""
        return None if self.allowed else Reason.POLICY_DENIED

    @functools.cached_property
    def explanation(self) -> list[str]:
        lines = []
        for index, failure in self.trace[:MAX_EXPLANATION_LINES]:
            lines.append(f"rules[{index}] matched" if failure is None else f"rules[{index}] did not match: {failure}")
        if len(self.trace) > MAX_EXPLANATION_LINES:
            lines.append(f"… {len(self.trace) - MAX_EXPLANATION_LINES} more rules were tried")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "rule_index": self.rule_index,
            "permissions": dict(self.permissions),
            "explanation": list(self.explanation),
        }


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    name: str
    rules: tuple[Rule, ...]
    # About how many bytes the policy holds in memory (its programs' RE2 grants and the objects built
    # from the file): what the parse cache charges for keeping it.
    retained_bytes: int = field(default=0, compare=False)

    def in_words(self, *, rules_shown: int = 20) -> list[str]:
        """What the policy admits, one sentence per rule (the first `rules_shown`), for people who review it."""
        lines = [rule.in_words() for rule in self.rules[:rules_shown]]
        if len(self.rules) > rules_shown:
            lines.append(f"… and {len(self.rules) - rules_shown} more rules")
        return lines

    @property
    def grants_write(self) -> bool:
        return any(level == "write" for rule in self.rules for level in rule.permissions.values())

    def evaluate(self, claims: Mapping[str, object]) -> Decision:
        """The first rule whose conditions all hold decides; no rule holds: denied."""
        trace: list[tuple[int, Failure | None]] = []
        for rule in self.rules:
            failure = rule.failure(claims)
            trace.append((rule.index, failure))
            if failure is None:
                return Decision(True, rule.index, dict(rule.permissions), tuple(trace))
        return Decision(False, None, {}, tuple(trace))
