"""Room for the `pro.atmos.<category>.<action>` event types.

SQLite alters a column by building the table anew, which drops its triggers: they are created again
right after, so the log stays immutable on SQLite as on PostgreSQL (where the type change keeps them).
"""

import importlib

from django.db import migrations, models

_immutable = importlib.import_module("audit.migrations.0002_immutable_audit_events")


def _recreate_sqlite_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "sqlite":
        for trigger in ("audit_event_no_update", "audit_event_no_delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        for statement in _immutable.SQLITE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_immutable_audit_events'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('oidc.exchange', 'OIDC exchange'), ('sts.mint', 'Token mint'), ('sts.revoke', 'Token revocation'), ('pro.atmos.entitlement.plan_changed', 'Plan changed'), ('pro.atmos.entitlement.feature_changed', 'Plan feature changed'), ('pro.atmos.entitlement.override_changed', 'Feature override changed'), ('pro.atmos.workspace.setting_changed', 'Workspace setting changed'), ('pro.atmos.workspace.membership_changed', 'Workspace member changed'), ('pro.atmos.workspace.installation_changed', 'Installation linked or unlinked'), ('pro.atmos.workspace.caller_rules_changed', 'Caller rules changed'), ('pro.atmos.workspace.staff_change', 'Change by operator staff')], max_length=100),
        ),
        migrations.RunPython(_recreate_sqlite_triggers, _recreate_sqlite_triggers),
    ]
