from __future__ import annotations

from django.db import migrations


def create_plans(apps, schema_editor):  # type: ignore[no-untyped-def]
    Plan = apps.get_model("workspaces", "Plan")
    Plan.objects.update_or_create(slug="free", defaults={"name": "Free", "sts": False})
    Plan.objects.update_or_create(slug="pro", defaults={"name": "Pro", "sts": True})


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0001_initial")]

    operations = [migrations.RunPython(create_plans, migrations.RunPython.noop)]
