"""Each workspace's events become a hash chain, and old events may leave only under a checkpoint.

The triggers are made anew: an event still refuses every UPDATE, and refuses DELETE unless a signed
checkpoint of its workspace covers it (retention writes the checkpoint first); checkpoints themselves
never change. Events that exist already are chained in the order they were written.
"""

from __future__ import annotations

import django.utils.timezone
from django.db import migrations, models

SQLITE = [
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are immutable'); END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent
       WHEN NOT EXISTS (SELECT 1 FROM audit_auditcheckpoint c
                        WHERE c.workspace_public_id = OLD.workspace_public_id AND c.sequence >= OLD.sequence)
       BEGIN SELECT RAISE(ABORT, 'audit events are immutable'); END""",
    """CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_auditcheckpoint
       BEGIN SELECT RAISE(ABORT, 'audit checkpoints are immutable'); END""",
    """CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_auditcheckpoint
       BEGIN SELECT RAISE(ABORT, 'audit checkpoints are immutable'); END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
    "DROP TRIGGER IF EXISTS audit_checkpoint_no_update",
    "DROP TRIGGER IF EXISTS audit_checkpoint_no_delete",
]

POSTGRESQL = [
    """CREATE FUNCTION audit_event_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'DELETE' AND EXISTS (
           SELECT 1 FROM audit_auditcheckpoint c
           WHERE c.workspace_public_id = OLD.workspace_public_id AND c.sequence >= OLD.sequence
         ) THEN
           RETURN OLD;
         END IF;
         RAISE EXCEPTION 'audit events are immutable';
       END $$""",
    """CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_auditevent
       FOR EACH ROW EXECUTE FUNCTION audit_event_immutable()""",
    """CREATE FUNCTION audit_checkpoint_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit checkpoints are immutable'; END $$""",
    """CREATE TRIGGER audit_checkpoint_no_change BEFORE UPDATE OR DELETE ON audit_auditcheckpoint
       FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_immutable()""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_checkpoint_no_change ON audit_auditcheckpoint",
    "DROP FUNCTION IF EXISTS audit_checkpoint_immutable()",
    "DROP TRIGGER IF EXISTS audit_event_no_change ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_event_immutable()",
]
# The triggers of 0002, gone before the table changes.
_OLD_TRIGGERS = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_event_no_update", "DROP TRIGGER IF EXISTS audit_event_no_delete"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_event_no_change ON audit_auditevent",
        "DROP FUNCTION IF EXISTS audit_event_immutable()",
    ],
}


def _run(statements):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


def _chain_existing_events(apps, schema_editor):  # type: ignore[no-untyped-def]
    from audit.chain import GENESIS_HASH, event_hash

    event_model = apps.get_model("audit", "AuditEvent")
    head_model = apps.get_model("audit", "AuditChainHead")
    heads: dict[str, tuple[int, str]] = {}
    for event in event_model.objects.order_by("id").iterator(2000):
        sequence, previous = heads.get(event.workspace_public_id, (0, GENESIS_HASH))
        event.sequence, event.previous_hash = sequence + 1, previous
        event.hash = event_hash(event)
        event_model.objects.filter(pk=event.pk).update(
            sequence=event.sequence, previous_hash=event.previous_hash, hash=event.hash
        )
        heads[event.workspace_public_id] = (event.sequence, event.hash)
    head_model.objects.bulk_create(
        [head_model(workspace_public_id=ws, sequence=seq, hash=digest) for ws, (seq, digest) in heads.items()]
    )


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_event_types_for_configuration_changes")]

    operations = [
        migrations.RunPython(_run(_OLD_TRIGGERS), migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditevent",
            name="created_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="sequence",
            field=models.BigIntegerField(default=0, editable=False),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="previous_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("workspace_public_id", models.CharField(max_length=40, unique=True)),
                ("sequence", models.BigIntegerField(default=0)),
                ("hash", models.CharField(max_length=64)),
            ],
        ),
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("workspace_public_id", models.CharField(max_length=40)),
                ("sequence", models.BigIntegerField()),
                ("hash", models.CharField(max_length=64)),
                ("signature", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("workspace_public_id", "sequence"), name="one_checkpoint_per_link"
                    )
                ]
            },
        ),
        migrations.RunPython(_chain_existing_events, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                fields=("workspace_public_id", "sequence"), name="audit_chain_without_forks"
            ),
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        ),
    ]
