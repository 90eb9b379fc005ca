"""What a workspace's plan (and any override of it) lets the workspace do: the registry of features and
the one place that answers "may workspace W use feature F now".

Features are data: a plan stores a value per feature key (`PlanFeature`), a workspace may be granted
another value until a date (`FeatureOverride`), and a key with neither takes the registry's default.
Every answer is read from the database when it is asked, never remembered by a process: a billing
admin's change applies to the very next request in every server process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from django.db import connection, models
from django.utils import timezone

if TYPE_CHECKING:
    from workspaces.models import Workspace

FeatureValue = bool | int


@dataclass(frozen=True)
class Feature:
    """One entitlement a plan can hold: a switch (`bool`) or a number (`int`, within its bounds)."""

    key: str
    label: str
    kind: type[bool] | type[int]
    default: FeatureValue
    description: str
    minimum: int = 0
    maximum: int = 0

    def problem(self, value: object) -> str | None:
        """Why `value` cannot be this feature's value, in a sentence; None when it can."""
        if self.kind is bool:
            return None if isinstance(value, bool) else f"{self.label} is a switch: its value is true or false."
        # bool is a subclass of int in Python: `true` is not a number of days.
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{self.label} is a whole number from {self.minimum} to {self.maximum}."
        if not self.minimum <= value <= self.maximum:
            return f"{self.label} is a whole number from {self.minimum} to {self.maximum}, not {value}."
        return None


# The registry: every feature key the product knows, with the value a plan without it gets. The
# defaults are the least a plan can give, so a plan nobody configured grants nothing by accident.
FEATURES: dict[str, Feature] = {
    feature.key: feature
    for feature in (
        Feature("sts", "STS", bool, False, "Mint short-lived GitHub tokens at all."),
        Feature(
            "write_tokens",
            "write tokens",
            bool,
            False,
            "Workspace admins may switch write tokens on (trust policies may then grant write permissions).",
        ),
        Feature(
            "audit_retention_days",
            "audit retention",
            int,
            7,
            "Days the audit log keeps an event.",
            minimum=1,
            maximum=3650,
        ),
        Feature("audit_streaming", "audit streaming", bool, False, "Stream audit events to the customer's own sink."),
        Feature(
            "max_sources_per_mint",
            "sources per mint",
            int,
            100,
            "Source repositories one mint request may ask for (the server's STS_MAX_SOURCES caps it too).",
            minimum=1,
            maximum=500,
        ),
    )
}
FEATURE_CHOICES = [(feature.key, feature.key) for feature in FEATURES.values()]

# The plans a new database starts with: billing admins change them in the admin afterwards. Keys not
# named take the registry's default.
DEFAULT_PLANS: tuple[tuple[str, str, dict[str, FeatureValue]], ...] = (
    ("free", "Free", {"sts": False, "audit_retention_days": 7}),
    ("pro", "Pro", {"sts": True, "write_tokens": True, "audit_retention_days": 365}),
)


def feature_named(key: str) -> Feature:
    """The registry's feature; an unknown key is a bug in the caller, not a refusal."""
    try:
        return FEATURES[key]
    except KeyError:
        raise ValueError(f"There is no feature {key!r}; known features: {', '.join(FEATURES)}.") from None


@dataclass(frozen=True)
class Entitlement:
    """A feature's value for one workspace now, and where it comes from."""

    feature: Feature
    value: FeatureValue
    source: Literal["override", "plan", "default"]
    until: datetime | None = None  # the end of the override it comes from


def entitlement(*, workspace: Workspace, feature: str, now: datetime | None = None) -> Entitlement:
    """The value of `feature` for the workspace now: an override that has not expired, else the plan's
    value, else the registry's default."""
    known = feature_named(feature)
    now = now or timezone.now()
    # A workspace not saved yet (an admin form's) has no overrides.
    overrides = workspace.feature_overrides.filter(key=known.key) if workspace.pk is not None else None
    override = overrides.filter(expires_at__gt=now).first() if overrides is not None else None
    if override is not None:
        return Entitlement(known, override.value, "override", override.expires_at)
    row = workspace.plan.features.filter(key=known.key).first()
    if row is not None:
        return Entitlement(known, row.value, "plan")
    return Entitlement(known, known.default, "default")


def feature_values(
    *, workspace: Workspace, features: tuple[str, ...], now: datetime | None = None
) -> dict[str, FeatureValue]:
    """The values of several features for the workspace now, as `entitlement` gives each, in one query
    whatever their number (a request that needs several asks once)."""
    known = [feature_named(key) for key in features]
    values: dict[str, FeatureValue] = {}
    for key, value in _override_and_plan_values(workspace, [feature.key for feature in known], now or timezone.now()):
        values.setdefault(key, value)  # an override comes before the plan's value
    return {feature.key: values.get(feature.key, feature.default) for feature in known}


def _override_and_plan_values(workspace: Workspace, keys: list[str], now: datetime) -> list[tuple[str, Any]]:
    """The workspace's unexpired overrides of `keys`, then its plan's values of them, as (key, value).

    Written out, not composed with the ORM: every mint asks this, and composing the union cost Django
    about a millisecond of CPU a request, several times the query's own time. One override per
    (workspace, feature) at most: a constraint says so."""
    # The two models, through the workspace's relations (workspaces.models imports this module).
    override_model = _related_model(type(workspace), "feature_overrides")
    plan_feature_model = _related_model(_related_model(type(workspace), "plan"), "features")
    if not keys:
        return []
    # Only the models' own table and column names are written into the text (S608 below); every value
    # is a parameter.
    quote = connection.ops.quote_name
    listed = ", ".join(["%s"] * len(keys))
    plan_rows = (
        f"SELECT {quote('key')}, {quote('value')}, 1 AS {quote('rank')} "  # noqa: S608
        f"FROM {quote(plan_feature_model._meta.db_table)} "
        f"WHERE {quote('plan_id')} = %s AND {quote('key')} IN ({listed})"
    )
    params: list[Any] = [workspace.plan_id, *keys]
    sql = plan_rows
    if workspace.pk is not None:  # a workspace not saved yet (an admin form's) has no overrides
        sql = (
            f"SELECT {quote('key')}, {quote('value')}, 0 AS {quote('rank')} "  # noqa: S608
            f"FROM {quote(override_model._meta.db_table)} "
            f"WHERE {quote('workspace_id')} = %s AND {quote('key')} IN ({listed}) AND {quote('expires_at')} > %s "
            f"UNION ALL {plan_rows}"
        )
        params = [workspace.pk, *keys, connection.ops.adapt_datetimefield_value(now), *params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    field = plan_feature_model._meta.get_field("value")  # both tables' value is the same JSON
    assert isinstance(field, models.JSONField)
    ordered = sorted(rows, key=lambda row: row[2])  # an override before the plan's value
    return [(key, field.from_db_value(value, None, connection)) for key, value, _ in ordered]  # type: ignore[arg-type]


def _related_model(model: type[models.Model], relation: str) -> type[models.Model]:
    related = model._meta.get_field(relation).related_model
    assert isinstance(related, type) and issubclass(related, models.Model)
    return related


def feature_value(*, workspace: Workspace, feature: str, now: datetime | None = None) -> FeatureValue:
    """A feature's value for the workspace now (the number of a numeric feature, such as max sources)."""
    return entitlement(workspace=workspace, feature=feature, now=now).value


def feature_refusal(*, workspace: Workspace, feature: str, now: datetime | None = None) -> str | None:
    """Whether the workspace may use a switch feature now: None when it may, else a sentence for the user."""
    now = now or timezone.now()
    found = entitlement(workspace=workspace, feature=feature, now=now)
    if found.feature.kind is not bool:
        raise ValueError(f"{feature!r} is a number, not a switch: read it with feature_value.")
    if found.value is True:
        return None
    label = found.feature.label
    if found.source == "override":
        return (
            f"{label} is withheld from workspace {workspace.public_id} until {_moment(found.until)}; contact support."
        )
    ended = (
        workspace.feature_overrides.filter(key=feature, expires_at__lte=now).order_by("-expires_at").first()
        if workspace.pk is not None
        else None
    )
    trial = f" (its trial ended {_moment(ended.expires_at)})" if ended is not None and ended.value is True else ""
    return (
        f"The plan {workspace.plan.name!r} of workspace {workspace.public_id} does not include {label}{trial};"
        " upgrade the plan."
    )


def _moment(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "further notice"
