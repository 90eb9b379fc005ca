"""Moves `Plan.sts` into feature rows, so that nothing that works today stops working:

- `sts` is the column's value;
- `write_tokens` is on for a plan with STS or with a workspace whose write switch is already on
  (until now every workspace could switch write tokens on);
- the default plans get their audit retention (free 7 days, pro 365); other plans take the default.
"""

from django.db import migrations

# Frozen here, as the live registry may change after this migration.
RETENTION_DAYS = {"free": 7, "pro": 365}


def sts_column_to_features(apps, schema_editor):  # type: ignore[no-untyped-def]
    plan_model = apps.get_model("workspaces", "Plan")
    feature_model = apps.get_model("workspaces", "PlanFeature")
    workspace_model = apps.get_model("workspaces", "Workspace")
    for plan in plan_model.objects.all():
        write_switch_on = workspace_model.objects.filter(plan=plan, allow_write_tokens=True).exists()
        values = {"sts": plan.sts, "write_tokens": plan.sts or write_switch_on}
        if plan.slug in RETENTION_DAYS:
            values["audit_retention_days"] = RETENTION_DAYS[plan.slug]
        for key, value in values.items():
            feature_model.objects.update_or_create(plan=plan, key=key, defaults={"value": value})


def features_to_sts_column(apps, schema_editor):  # type: ignore[no-untyped-def]
    plan_model = apps.get_model("workspaces", "Plan")
    feature_model = apps.get_model("workspaces", "PlanFeature")
    for plan in plan_model.objects.all():
        row = feature_model.objects.filter(plan=plan, key="sts").first()
        plan.sts = bool(row is not None and row.value is True)
        plan.save(update_fields=["sts"])


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0003_plan_features_and_overrides")]

    operations = [migrations.RunPython(sts_column_to_features, features_to_sts_column)]
