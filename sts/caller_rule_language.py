"""The language of a workspace's caller rules: a list of `match` mappings of the trust-policy
language, read by `sts.policy` itself as the rules of a policy document, so caller rules know the same
claims, match the same way, and are refused with the same messages as a trust policy (with the paths
`rules[i].match...` of the list). No second matcher or validator lives here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from sts.policy import PolicyInvalid, Problem, TrustPolicy, parse_policy_bytes
from sts.policy.vocabulary import API_VERSION, KIND, MAX_RULES

# The name of the policy document the list is read as; it never appears in a message.
_DOCUMENT_NAME = "caller-rules"
MAX_CALLER_RULES = MAX_RULES
# What a list may weigh as JSON: the trust-policy reader's own limit on a file, less the envelope.
MAX_CALLER_RULES_BYTES = 60 * 1024
SETTING = "Caller rules"

# The list is handed to the policy reader as JSON, which is YAML. These characters would not survive
# that: YAML refuses some as unprintable and reads the others as line breaks inside a string, so they
# go as escapes. A lone surrogate has no escape YAML takes; it is not text, and is refused first.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_PATH_IN_DOCUMENT = re.compile(r"^spec\.rules(?=\[|$)")


class CallerRulesInvalid(PolicyInvalid):
    """The caller rules do not validate; `.problems` lists each with its place (`rules[1].match.reff`)."""

    tag = "caller_rules_invalid"

    def summary(self) -> str:
        count = len(self.problems)
        plural = "" if count == 1 else "s"
        first = f"; first: {self.problems[0]}" if count else ""
        return f"The caller rules are invalid ({count} problem{plural}){first}"


def caller_rules_compile(matches: Sequence[object]) -> TrustPolicy | None:
    """The list of `match` mappings as a policy to evaluate; None for an empty list (it admits every
    caller). Raises CallerRulesInvalid with every problem, as the trust-policy validator words it."""
    if isinstance(matches, str | bytes | Mapping):
        raise CallerRulesInvalid([Problem("rules", "must be a list of rules")])
    if not matches:
        return None
    if len(matches) > MAX_CALLER_RULES:
        raise CallerRulesInvalid(
            [Problem("rules", f"holds {len(matches)} rules; at most {MAX_CALLER_RULES} are allowed")]
        )
    document = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": _DOCUMENT_NAME},
        "spec": {"rules": [{"match": match} for match in matches]},
    }
    try:
        text = json.dumps(document, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise CallerRulesInvalid(
            [Problem("rules", "must be JSON: strings, lists, mappings and true or false")]
        ) from None
    if _LONE_SURROGATE.search(text):
        raise CallerRulesInvalid([Problem("rules", "must be valid text (a lone surrogate escape is not)")])
    source = _YAML_UNSAFE.sub(lambda found: f"\\u{ord(found.group()):04x}", text).encode("utf-8")
    if len(source) > MAX_CALLER_RULES_BYTES:
        raise CallerRulesInvalid(
            [
                Problem(
                    "rules", f"the rules are {len(source)} bytes as JSON; at most {MAX_CALLER_RULES_BYTES} are allowed"
                )
            ]
        )
    try:
        # Remembered by content (a compiled list never changes); the rows are read on every request.
        return parse_policy_bytes(source, name=_DOCUMENT_NAME, allow_write=False)
    except PolicyInvalid as invalid:
        raise CallerRulesInvalid([_in_list(problem) for problem in invalid.problems]) from None


def caller_rule_problems(match: object) -> list[str]:
    """What is wrong with one rule's `match`, as sentences with their place (`match.reff: ...`); []
    when it is valid."""
    try:
        caller_rules_compile([match])
    except CallerRulesInvalid as invalid:
        return [str(_in_rule(problem)) for problem in invalid.problems]
    return []


def _in_list(problem: Problem) -> Problem:
    """A problem of the document as a problem of the list: `spec.rules[1].match.reff` is `rules[1].match.reff`."""
    path = _PATH_IN_DOCUMENT.sub("rules", problem.path)
    if not path.startswith("rules"):
        path = "rules"  # the document as a whole (its size, YAML itself): the list is what was given
    return Problem(path, problem.message)


def _in_rule(problem: Problem) -> Problem:
    """A problem of a one-rule list as a problem of that rule: `rules[0].match.reff` is `match.reff`."""
    path = problem.path.removeprefix("rules[0].") if problem.path.startswith("rules[0].") else problem.path
    return Problem(path, problem.message)
