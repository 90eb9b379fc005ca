"""The audit search language: GitHub's audit-log syntax, compiled to a filter on `AuditEvent`.

`repo:acme/infra source:acme/modules -outcome:allowed created:>=2026-11-01 "deploy bot"` reads as
every term joined by AND; a leading `-` excludes; quotes hold values with spaces; a bare word is free
text. The syntax is the one security staff already know from GitHub
(https://docs.github.com/en/organizations/keeping-your-organization-secure/managing-security-settings-for-your-organization/reviewing-the-audit-log-for-your-organization#searching-the-audit-log).
A query that cannot be read raises `AuditQueryError` with a sentence saying what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Upper
from django.db.models.lookups import Exact

from audit.event_types import is_legacy, stored_forms
from audit.models import AuditEvent, AuditSource

# Bounds that keep a hostile query cheap to read and to run: a human never writes more.
MAX_QUERY_LENGTH = 1000
MAX_TERMS = 20
MAX_VALUE_LENGTH = 255

Outcome = AuditEvent.Outcome
Action = AuditEvent.Action

QUALIFIERS = ("repo", "source", "actor", "ref", "workflow", "action", "outcome", "reason", "created")

# One term: an optional `-`, then `key:value` or a bare value; a value is a quoted string (with `\"`
# and `\\` escapes) or a run of anything but whitespace and quotes.
_TERM = re.compile(
    r"""(?P<negated>-)?(?:(?P<key>[A-Za-z_]+):)?(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s"]+))""",
    re.DOTALL,
)
_SPACE = re.compile(r"[ \t\r\n]+")
# C0 and C1 controls (a NUL never reaches PostgreSQL) and the bidirectional overrides that make a
# value read differently from what it is.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_COMPARISON = re.compile(r"(?P<op>>=|<=|>|<)?(?P<when>.+)")


class AuditQueryError(ValueError):
    """A query that cannot be read; its message is a sentence for the person who typed it."""

    tag = "AuditQueryInvalid"


@dataclass(frozen=True)
class Term:
    key: str  # "" for free text
    value: str
    negated: bool = False

    def __str__(self) -> str:
        return ("-" if self.negated else "") + (f"{self.key}:" if self.key else "") + quoted(self.value)


def quoted(value: str) -> str:
    """`value` as the language writes it: in quotes when it holds a space, a quote or a backslash."""
    if value and not re.search(r'[\s"\\]', value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def query_terms(text: str) -> list[Term]:
    """The terms of a query, in order; raises AuditQueryError for anything it cannot read."""
    if len(text) > MAX_QUERY_LENGTH:
        raise AuditQueryError(f"The query is longer than {MAX_QUERY_LENGTH} characters.")
    if _CONTROL.search(text):
        raise AuditQueryError("The query contains control characters.")
    terms: list[Term] = []
    position = _skip_space(text, 0)
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None or (match.end() < len(text) and not text[match.end()].isspace()):
            raise AuditQueryError(_unreadable(text, position))
        terms.append(_term(match))
        if len(terms) > MAX_TERMS:
            raise AuditQueryError(f"The query has more than {MAX_TERMS} terms.")
        position = _skip_space(text, match.end())
    return terms


def query_filter(text: str) -> Q:
    """The filter on AuditEvent that a query means (an empty query matches everything)."""
    condition = Q()
    joined = False
    for term in query_terms(text):
        if term.key == "source" and not term.negated and not joined:
            condition &= _source_rows_joined(term.value)
            joined = True
            continue
        compiled = _compiled(term)
        condition &= ~compiled if term.negated else compiled
    return condition


def query_with(text: str, *, key: str, value: str) -> str:
    """`text` with one more qualifier, unless the query already holds it: how a facet adds itself."""
    term = Term(key=key, value=value)
    try:
        if term in query_terms(text):
            return text.strip()
    except AuditQueryError:
        return str(term)
    return f"{text.strip()} {term}".strip()


def _skip_space(text: str, position: int) -> int:
    space = _SPACE.match(text, position)
    return space.end() if space else position


def _unreadable(text: str, position: int) -> str:
    if text[position:].lstrip("-").split(":", 1)[-1].startswith('"') or text.count('"') % 2:
        return "A quote is not closed."
    return f"The query cannot be read at character {position + 1}."


def _term(match: re.Match[str]) -> Term:
    key = (match.group("key") or "").lower()
    quoted_value = match.group("quoted")
    value = _ESCAPE.sub(r"\1", quoted_value) if quoted_value is not None else match.group("bare")
    if not key and re.fullmatch(r"[A-Za-z_]+:", value):
        key, value = value[:-1].lower(), ""  # `repo:` with nothing after it
    if key and key not in QUALIFIERS:
        raise AuditQueryError(f"Unknown qualifier '{key[:40]}:'; known: {', '.join(q + ':' for q in QUALIFIERS)}.")
    if not value:
        raise AuditQueryError(f"'{key}:' needs a value." if key else "An empty quoted text matches nothing.")
    if len(value) > MAX_VALUE_LENGTH:
        raise AuditQueryError(f"A value is longer than {MAX_VALUE_LENGTH} characters.")
    return Term(key=key, value=value, negated=match.group("negated") is not None)


def _compiled(term: Term) -> Q:
    return _COMPILERS[term.key](term.value)


def _free_text(value: str) -> Q:
    return (
        Q(repository__icontains=value)
        | Q(actor__icontains=value)
        | Q(ref__icontains=value)
        | Q(workflow__icontains=value)
        | Q(request_id=value)
        | Q(error_tag__icontains=value)
    )


def _name(column: str) -> Callable[[str], Q]:
    """A name compared without case, as GitHub compares them: UPPER(column) = UPPER(value), the very
    expression that `audit_event_by_caller` and `audit_event_by_actor` index. Written out rather than
    Django's `iexact`, which is a LIKE on SQLite that no index serves."""

    def compiled(value: str) -> Q:
        return Q(Exact(Upper(column), Upper(Value(value))))

    return compiled


def _source_rows_joined(value: str) -> Q:
    """`source:` read from the source rows' index (`audit_source_by_key`) in the page's own order: joined
    on the event, its workspace and its time (a source row repeats both), so the database walks that
    repository's rows newest first and stops at a page, however common or rare the repository is. A
    semi-join would read every row of the repository first, or every event of the workspace. Only one
    term can join so (Django joins the terms of one filter once); further `source:` terms are checked per
    event."""
    return Q(
        sources__repository_key=value.lower(),
        sources__workspace_public_id=F("workspace_public_id"),
        sources__created_at=F("created_at"),
    )


def _source(value: str) -> Q:
    # GitHub compares repository names without regard to case; the source rows keep the lower-cased key,
    # indexed (`audit_source_by_key`): the events are found from their source rows, not the reverse.
    return Q(pk__in=AuditSource.objects.filter(repository_key=value.lower()).values("event_id"))


def event_type_filter(value: str) -> Q:
    """The events of one type, the legacy rows that mean the same included (`audit.event_types.stored_forms`)."""
    name = value.lower()
    if name not in Action.values:
        known = ", ".join(sorted(Action.values, key=is_legacy))  # the legacy names last
        raise AuditQueryError(f"Unknown action '{value[:60]}'; known: {known}.")
    forms = [_stored_form(action, allowed) for action, allowed in stored_forms(name)]
    condition = forms[0]
    for form in forms[1:]:
        condition |= form
    return condition


def _stored_form(action: str, allowed: bool | None) -> Q:
    if allowed is None:
        return Q(action=action)
    return Q(action=action, outcome=Outcome.ALLOWED) if allowed else Q(action=action) & ~Q(outcome=Outcome.ALLOWED)


def _outcome(value: str) -> Q:
    if value.lower() not in Outcome.values:
        raise AuditQueryError(f"Unknown outcome '{value[:40]}'; known: {', '.join(Outcome.values)}.")
    return Q(outcome=value.lower())


def _reason(value: str) -> Q:
    """An event's error tag (`StsNotEntitled`) or a source's exclusion reason (`trust_policy_denied`)."""
    excluded = AuditSource.objects.filter(event=OuterRef("pk"), reason=value)
    return Q(error_tag=value) | Q(Exists(excluded))


def _created(value: str) -> Q:
    if ".." in value:
        start, _, end = value.partition("..")
        condition = Q()
        if start != "*":
            condition &= Q(created_at__gte=_instant(start, end_of_day=False))
        if end != "*":
            condition &= Q(created_at__lt=_instant(end, end_of_day=True))
        return condition
    comparison = _COMPARISON.fullmatch(value)
    assert comparison is not None  # the pattern matches any non-empty value
    operator, when = comparison.group("op"), comparison.group("when")
    if operator in (">=", ">"):
        return Q(created_at__gte=_instant(when, end_of_day=operator == ">"))
    if operator in ("<=", "<"):
        return Q(created_at__lt=_instant(when, end_of_day=operator == "<="))
    return Q(created_at__gte=_instant(when, end_of_day=False), created_at__lt=_instant(when, end_of_day=True))


def _instant(text: str, *, end_of_day: bool) -> datetime:
    """The start of a day in UTC (the start of the next one with `end_of_day`), or an exact ISO time."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(), tzinfo=UTC)
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise AuditQueryError(
            f"'{text[:40]}' is not a date: write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, e.g. created:>=2026-11-01."
        ) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


_COMPILERS: Mapping[str, Callable[[str], Q]] = {
    "": _free_text,
    "repo": _name("repository"),
    "source": _source,
    "actor": _name("actor"),
    "ref": lambda value: Q(ref=value),
    "workflow": lambda value: Q(workflow=value),
    "action": event_type_filter,
    "outcome": _outcome,
    "reason": _reason,
    "created": _created,
}
