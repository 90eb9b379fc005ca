from __future__ import annotations

from django.db import migrations

from workspaces.models import default_plans_create


def create_plans(apps, schema_editor):  # type: ignore[no-untyped-def]
    default_plans_create(apps.get_model("workspaces", "Plan"))


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0001_initial")]

    operations = [migrations.RunPython(create_plans, migrations.RunPython.noop)]
