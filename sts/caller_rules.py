"""A workspace's own say over which GitHub Actions runs may open a session: its caller rules.

Trust policies are the source repositories' consent; caller rules are the workspace's. A rule is one
`match` of the trust-policy language (claim names to globs or `{regex: ...}`, all of which must hold),
and the list admits a caller when any of its rules matches. An empty list admits every caller whose
repository the workspace's installations cover.

The language of the list (`sts.caller_rule_language`) is the trust policy's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, transaction

from audit.models import AuditEvent
from sts.caller_rule_language import (
    MAX_CALLER_RULES,
    SETTING,
    CallerRulesInvalid,
    caller_rule_problems,
    caller_rules_compile,
)
from sts.errors import CallerNotAdmitted
from sts.models import CallerRule
from sts.policy import Problem
from workspaces.models import Workspace
from workspaces.services import Actor, configuration_change_record


def caller_refusal(*, workspace: Workspace, identity: Mapping[str, Any]) -> str | None:
    """Whether the workspace's caller rules admit a run with these verified claims (a session's
    `identity`): None when they do, else a sentence for the caller naming the workspace setting.
    Read from the database on every call, so a changed list applies to the very next request."""
    matches = _matches(workspace)
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


def _matches(workspace: Workspace) -> list[Any]:
    """The workspace's rules in their order. Written out, not composed with the ORM: every mint asks
    this, and Django's composing cost several times the query's own time."""
    quote = connection.ops.quote_name
    field = CallerRule._meta.get_field("match")
    # Only the model's own table and column names are written into the text; the workspace is a parameter.
    sql = (
        f"SELECT {quote(field.column)} FROM {quote(CallerRule._meta.db_table)} "  # noqa: S608
        f"WHERE {quote('workspace_id')} = %s ORDER BY {quote('position')}, {quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [workspace.pk])
        rows = cursor.fetchall()
    return [field.from_db_value(match, None, connection) for (match,) in rows]  # type: ignore[attr-defined,arg-type]


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
