"""The default plans, and the move of today's `Plan.sts` column into feature rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import workspace_create
from workspaces.entitlements import feature_value
from workspaces.models import Plan, PlanFeature, Workspace, default_plans_create


def features_of(slug: str) -> dict[str, object]:
    return dict(PlanFeature.objects.filter(plan__slug=slug).values_list("key", "value"))


def test_a_new_database_has_free_without_sts_and_pro_with_it(db: None) -> None:
    assert features_of("free") == {"sts": False, "write_tokens": False, "audit_retention_days": 7}
    assert features_of("pro") == {"sts": True, "write_tokens": True, "audit_retention_days": 365}


def test_default_plans_are_created_on_an_empty_plan_table(db: None) -> None:
    PlanFeature.objects.all().delete()
    Plan.objects.all().delete()
    default_plans_create()
    workspace = workspace_create()
    assert workspace.sts_refusal() is None
    assert feature_value(workspace=workspace, feature="audit_retention_days") == 365


def test_default_plans_never_touch_plans_that_exist(db: None) -> None:
    pro = Plan.objects.get(slug="pro")
    PlanFeature.objects.filter(plan=pro, key="sts").update(value=False)
    Plan.objects.filter(slug="free").delete()
    default_plans_create()
    assert not Plan.objects.filter(slug="free").exists()
    assert features_of("pro")["sts"] is False


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_the_sts_column_into_features_without_taking_anything_away() -> None:
    executor = MigrationExecutor(connection)
    before = [("workspaces", "0003_plan_features_and_overrides")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    old_plan, old_workspace = old.get_model("workspaces", "Plan"), old.get_model("workspaces", "Workspace")
    old.get_model("workspaces", "PlanFeature").objects.all().delete()
    old_plan.objects.all().delete()
    old_plan.objects.create(slug="free", name="Free", sts=False)
    old_plan.objects.create(slug="pro", name="Pro", sts=True)
    team = old_plan.objects.create(slug="team", name="Team", sts=False)
    old_plan.objects.create(slug="solo", name="Solo", sts=False)
    # Until now every workspace could switch write tokens on: one that did keeps them.
    old_workspace.objects.create(name="Writer", plan=team, allow_write_tokens=True)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert features_of("free") == {"sts": False, "write_tokens": False, "audit_retention_days": 7}
    assert features_of("pro") == {"sts": True, "write_tokens": True, "audit_retention_days": 365}
    assert features_of("team") == {"sts": False, "write_tokens": True}
    assert features_of("solo") == {"sts": False, "write_tokens": False}
    writer = Workspace.objects.get(name="Writer")
    assert writer.write_tokens_allowed() is True
    assert writer.sts_refusal() == (
        f"The plan 'Team' of workspace {writer.public_id} does not include STS; upgrade the plan."
    )
