from __future__ import annotations

from django.db import migrations

# The plans as this migration first made them, frozen here: the live code's plans have features as
# rows (0004 moves this `sts` column into them), which this migration's Plan does not have yet.
PLANS_AT_THIS_MIGRATION = ({"slug": "free", "name": "Free", "sts": False}, {"slug": "pro", "name": "Pro", "sts": True})


def create_plans(apps, schema_editor):  # type: ignore[no-untyped-def]
    plan_model = apps.get_model("workspaces", "Plan")
    if not plan_model.objects.exists():
        for plan in PLANS_AT_THIS_MIGRATION:
            plan_model.objects.create(**plan)


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0001_initial")]

    operations = [migrations.RunPython(create_plans, migrations.RunPython.noop)]
