"""A workspace's own say over which GitHub Actions runs may open a session: its caller rules.

Trust policies are the source repositories' consent; caller rules are the workspace's. A rule is one
`match` of the trust-policy language (claim names to globs or `{regex: ...}`, all of which must hold),
and the list admits a caller when any of its rules matches. An empty list admits every caller whose
repository the workspace's installations cover.

There is no second matcher or validator here: the list is read by `sts.policy` itself, as the rules
of a policy document, so caller rules know the same claims, match the same way, and are refused with
the same messages as a trust policy (with the paths `rules[i].match...` of the list).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from audit.models import AuditEvent
from sts.errors import CallerNotAdmitted
from sts.models import CallerRule
from sts.policy import API_VERSION, KIND, MAX_RULES, PolicyInvalid, Problem, TrustPolicy, parse_policy_bytes
from workspaces.models import Workspace
from workspaces.services import Actor, configuration_change_record

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


def caller_refusal(*, workspace: Workspace, identity: Mapping[str, Any]) -> str | None:
    """Whether the workspace's caller rules admit a run with these verified claims (a session's
    `identity`): None when they do, else a sentence for the caller naming the workspace setting.
    Read from the database on every call, so a changed list applies to the very next request."""
    matches = list(
        CallerRule.objects.filter(workspace=workspace).order_by("position", "id").values_list("match", flat=True)
    )
    try:
        rules = caller_rules_compile(matches)
    except CallerRulesInvalid:
        # Stored past the validation (by hand in the database): a list nobody can read admits nobody.
        return (
            f"The {SETTING.lower()} of workspace {workspace.public_id} are not valid, so they admit no caller;"
            f" a workspace admin can correct them in the workspace setting {SETTING!r}."
        )
    if rules is None or rules.evaluate(identity).allowed:
        return None
    repository = str(identity.get("repository", "?"))[:200]
    ref = str(identity.get("ref", "?"))[:255]
    return (
        f"No caller rule of workspace {workspace.public_id} admits repository {repository!r} on {ref!r};"
        f" a workspace admin can change the workspace setting {SETTING!r}."
    )


def caller_admit(*, workspace: Workspace, identity: Mapping[str, Any]) -> None:
    """Raises CallerNotAdmitted (403) with caller_refusal's sentence when the caller rules refuse the run."""
    refusal = caller_refusal(workspace=workspace, identity=identity)
    if refusal is not None:
        raise CallerNotAdmitted(refusal)


# --- changes, each one audit event in the change's own transaction ---


def caller_rules_set(
    *, workspace: Workspace, rules: Sequence[Mapping[str, Any]], actor: Actor, request_id: str = ""
) -> list[CallerRule]:
    """Replaces the workspace's list with `rules`, in order: each `{"match": {...}, "note": "..."}`.
    Raises CallerRulesInvalid (nothing is changed) when a rule does not validate."""
    if isinstance(rules, str | bytes | Mapping) or not all(isinstance(rule, Mapping) for rule in rules):
        raise CallerRulesInvalid([Problem("rules", 'must be a list of {"match": ..., "note": ...} mappings')])
    caller_rules_compile([rule.get("match") for rule in rules])
    notes = [str(rule.get("note", "")) for rule in rules]
    longest = CallerRule._meta.get_field("note").max_length or 0
    for index, note in enumerate(notes):
        if len(note) > longest:
            raise CallerRulesInvalid([Problem(f"rules[{index}].note", f"may be at most {longest} characters")])
    with transaction.atomic():
        locked = _locked(workspace)
        old = _listed(locked)
        CallerRule.objects.filter(workspace=locked).delete()
        rows = CallerRule.objects.bulk_create(
            CallerRule(workspace=locked, position=index, match=rule["match"], note=note)
            for index, (rule, note) in enumerate(zip(rules, notes, strict=True))
        )
        _changed(workspace=locked, old=old, actor=actor, request_id=request_id)
    return rows


def caller_rule_save(*, rule: CallerRule, actor: Actor, request_id: str = "") -> CallerRule:
    """Adds or changes one rule of its workspace's list (as the admin edits a row)."""
    problems = caller_rule_problems(rule.match)
    if problems:
        raise CallerRulesInvalid([Problem("match", problem) for problem in problems])
    with transaction.atomic():
        locked = _locked(rule.workspace)
        old = _listed(locked)
        if rule.pk is None and len(old) >= MAX_CALLER_RULES:
            raise CallerRulesInvalid([Problem("rules", f"at most {MAX_CALLER_RULES} rules are allowed")])
        rule.save()
        _changed(workspace=locked, old=old, actor=actor, request_id=request_id)
    return rule


def caller_rule_delete(*, rule: CallerRule, actor: Actor, request_id: str = "") -> None:
    with transaction.atomic():
        locked = _locked(rule.workspace)
        old = _listed(locked)
        rule.delete()
        _changed(workspace=locked, old=old, actor=actor, request_id=request_id)


def _locked(workspace: Workspace) -> Workspace:
    # One change of a list at a time, so that each event's old list is the true one.
    return Workspace.objects.select_for_update().get(pk=workspace.pk)


def _listed(workspace: Workspace) -> list[dict[str, Any]]:
    rows = CallerRule.objects.filter(workspace=workspace).order_by("position", "id")
    return [{"match": row.match, "note": row.note} for row in rows]


def _changed(*, workspace: Workspace, old: list[dict[str, Any]], actor: Actor, request_id: str) -> None:
    new = _listed(workspace)
    if new != old:
        configuration_change_record(
            action=AuditEvent.Action.WORKSPACE_CALLER_RULES_CHANGED,
            actor=actor,
            request_id=request_id,
            workspace=workspace,
            detail={"old": old, "new": new},
        )


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
