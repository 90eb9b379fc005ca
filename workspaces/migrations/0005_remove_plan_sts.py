from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0004_plan_sts_column_to_features")]

    operations = [migrations.RemoveField(model_name="plan", name="sts")]
