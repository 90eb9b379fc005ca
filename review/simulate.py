"""The trust-policy simulator behind `/policies/simulate/`: a pasted policy decided for some claims
(pasted as JSON, or the verified run identity a recorded exchange or mint carries) by the mint's own
validator and evaluator, `sts.policy.parse_policy` and `TrustPolicy.evaluate`; nothing here matches a
claim itself.

The mint reaches `parse_policy` through `parse_policy_bytes`, its per-process cache of parsed files; the
simulator calls `parse_policy` directly, so that text pasted here never takes the mint's cache space.
The same limits hold (the validator's), and the form caps the policy and the claims before that.
What the simulator cannot know is the installation of a source repository, so it shows the permissions
a rule grants; the mint also excludes a source whose installation lacks them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from audit.event_types import EXCHANGE, MINT
from audit.models import AuditEvent
from audit.selectors import audit_events_for
from sts.policy import MAX_POLICY_BYTES, Decision, PolicyInvalid, Problem, TrustPolicy, parse_policy
from workspaces.models import Workspace

MAX_CLAIMS_CHARS = 16 * 1024
MAX_CLAIMS = 100
MAX_WORKSPACE_CHOICES = 200
# The events that carry the identity the mint decides on: the exchange that issued the session, the mint.
IDENTIFIED_ACTIONS = (*EXCHANGE.actions, *MINT.actions)


@dataclass(frozen=True)
class RuleResult:
    """One rule as the evaluator tried it: matched, or the first condition that failed and why."""

    index: int
    line: int | None
    matched: bool
    failure: str = ""
    failure_line: int | None = None


@dataclass(frozen=True)
class Simulation:
    problems: list[Problem] = field(default_factory=list)
    decision: Decision | None = None
    rules: list[RuleResult] = field(default_factory=list)
    untried: int = 0  # rules after the one that decided
    write_tokens_allowed: bool = False


def policy_simulate(
    *, policy_text: str, policy_name: str, claims: Mapping[str, object], allow_write: bool
) -> Simulation:
    """The validator's problems, or the decision for `claims` with each tried rule's result."""
    try:
        policy = parse_policy(policy_text.encode("utf-8", "surrogatepass"), name=policy_name, allow_write=allow_write)
    except PolicyInvalid as invalid:
        return Simulation(problems=invalid.problems, write_tokens_allowed=allow_write)
    decision = policy.evaluate(claims)
    return Simulation(
        decision=decision,
        rules=_rule_results(policy, decision),
        untried=_untried(policy, decision),
        write_tokens_allowed=allow_write,
    )


def _rule_results(policy: TrustPolicy, decision: Decision) -> list[RuleResult]:
    lines = {rule.index: rule.line for rule in policy.rules}
    results = []
    for index, failure in decision.trace:
        if failure is None:
            results.append(RuleResult(index=index, line=lines.get(index), matched=True))
        else:
            results.append(
                RuleResult(
                    index=index,
                    line=lines.get(index),
                    matched=False,
                    failure=str(failure),
                    failure_line=failure.condition.line,
                )
            )
    return results


def _untried(policy: TrustPolicy, decision: Decision) -> int:
    return len(policy.rules) - len(decision.trace)


def claims_parse(text: str) -> dict[str, object]:
    """Claims pasted as a JSON object; raises ValidationError with a sentence (never echoing the text)."""
    try:
        value = json.loads(text, parse_constant=_refused_constant)
    except RecursionError:
        raise ValidationError("The claims are nested too deeply.") from None
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"The claims are not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
        ) from None
    except ValueError as error:
        raise ValidationError(str(error)) from None
    if not isinstance(value, dict):
        raise ValidationError("The claims must be a JSON object of claim names and values.")
    if len(value) > MAX_CLAIMS:
        raise ValidationError(f"The claims hold more than {MAX_CLAIMS} names.")
    for name, item in value.items():
        for text_part in (name, item) if isinstance(item, str) else (name,):
            if not _is_unicode(text_part):
                raise ValidationError("The claims hold an unpaired surrogate (\\ud800-\\udfff), which is not text.")
    return value


def _refused_constant(name: str) -> object:
    raise ValueError(f"The claims are not valid JSON: {name} is not a JSON value.")


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class SimulationForm(forms.Form):
    policy = forms.CharField(
        label="Trust policy (YAML)",
        max_length=MAX_POLICY_BYTES,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "cols": 80, "spellcheck": "false"}),
    )
    policy_name = forms.CharField(
        label="Policy name", initial="default", max_length=64, help_text="The file's name: <name>.yaml."
    )
    claims = forms.CharField(
        label="Claims (JSON object)",
        required=False,
        max_length=MAX_CLAIMS_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80, "spellcheck": "false"}),
    )
    event = forms.IntegerField(label="or a recorded event's id", required=False, min_value=1, max_value=2**63 - 1)
    workspace = forms.ChoiceField(label="Workspace (its write-token switch)", required=False)

    def __init__(self, *args: Any, workspaces: Collection[str] | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspaces = workspaces
        readable = Workspace.objects.order_by("name", "public_id")
        if workspaces is not None:
            readable = readable.filter(public_id__in=list(workspaces))
        choices = [(row.public_id, f"{row.name} ({row.public_id})") for row in readable[:MAX_WORKSPACE_CHOICES]]
        workspace_field = self.fields["workspace"]
        assert isinstance(workspace_field, forms.ChoiceField)
        workspace_field.choices = [("", "the event's, else none (write tokens off)"), *choices]

    def clean_claims(self) -> dict[str, object] | None:
        text = self.cleaned_data.get("claims") or ""
        return claims_parse(text) if text.strip() else None

    def clean_event(self) -> AuditEvent | None:
        pk = self.cleaned_data.get("event")
        if pk is None:
            return None
        # Another workspace's event reads exactly as one that does not exist.
        event = (
            audit_events_for(workspace_public_ids=self.workspaces).filter(pk=pk, action__in=IDENTIFIED_ACTIONS).first()
        )
        if event is None:
            raise ValidationError("No exchange or mint event with this id in your workspaces.")
        if not isinstance(event.identity, dict) or not event.identity:
            raise ValidationError("This event carries no verified identity (it was refused before one was known).")
        return event

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        has_claims, has_event = cleaned.get("claims") is not None, cleaned.get("event") is not None
        if has_claims == has_event and not self.errors:
            raise ValidationError("Give either claims or an event id, not both and not neither.")
        return cleaned

    def simulation(self) -> Simulation:
        event: AuditEvent | None = self.cleaned_data["event"]
        claims = event.identity if event is not None else self.cleaned_data["claims"]
        return policy_simulate(
            policy_text=self.cleaned_data["policy"],
            policy_name=self.cleaned_data["policy_name"],
            claims=claims,
            allow_write=self.write_tokens_allowed(),
        )

    def switch_workspace(self) -> Workspace | None:
        """The workspace whose write-token switch applies: the one chosen, else the event's."""
        event: AuditEvent | None = self.cleaned_data.get("event")
        public_id = self.cleaned_data.get("workspace") or (event.workspace_public_id if event is not None else "")
        return Workspace.objects.filter(public_id=public_id).first() if public_id else None

    def write_tokens_allowed(self) -> bool:
        workspace = self.switch_workspace()
        return workspace.write_tokens_allowed() if workspace is not None else False


def simulation_initial(*, event_id: str) -> dict[str, Any]:
    """The form's first values when reached from an event's page (`?event=<id>`); checked on submit."""
    return {"event": event_id} if event_id.isascii() and event_id.isdigit() and len(event_id) <= 19 else {}
