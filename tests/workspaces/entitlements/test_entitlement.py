"""`entitlement`, `feature_value` and `feature_refusal`: every path of "may workspace W use feature F now"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import workspace_create
from tests.workspaces.entitlements.conftest import in_days
from workspaces.entitlements import entitlement, feature_refusal, feature_value, feature_values
from workspaces.models import FeatureOverride, Plan, PlanFeature, Workspace


def test_a_feature_the_plan_sets_takes_the_plans_value(pro: Workspace) -> None:
    found = entitlement(workspace=pro, feature="audit_retention_days")
    assert (found.value, found.source, found.until) == (365, "plan", None)


def test_a_feature_the_plan_does_not_set_takes_the_registrys_default(pro: Workspace) -> None:
    found = entitlement(workspace=pro, feature="max_sources_per_mint")
    assert (found.value, found.source) == (100, "default")


def test_a_plan_with_no_features_grants_no_switch_and_the_default_numbers(bare: Workspace) -> None:
    for switch in ("sts", "write_tokens", "audit_streaming"):
        assert feature_value(workspace=bare, feature=switch) is False
    assert feature_value(workspace=bare, feature="audit_retention_days") == 7
    assert feature_value(workspace=bare, feature="max_sources_per_mint") == 100
    assert feature_refusal(workspace=bare, feature="sts") == (
        f"The plan 'Bare' of workspace {bare.public_id} does not include STS; upgrade the plan."
    )


def test_a_switch_the_plan_includes_is_not_refused(pro: Workspace) -> None:
    assert feature_refusal(workspace=pro, feature="sts") is None


def test_a_switch_the_plan_lacks_is_refused_with_a_sentence_naming_plan_workspace_and_feature(free: Workspace) -> None:
    assert feature_refusal(workspace=free, feature="write_tokens") == (
        f"The plan 'Free' of workspace {free.public_id} does not include write tokens; upgrade the plan."
    )


def test_an_override_counts_over_the_plan_until_it_expires(free: Workspace) -> None:
    until = in_days(14)
    FeatureOverride.objects.create(workspace=free, key="sts", value=True, expires_at=until)
    found = entitlement(workspace=free, feature="sts")
    assert (found.value, found.source, found.until) == (True, "override", until)
    assert feature_refusal(workspace=free, feature="sts") is None


def test_an_override_no_longer_counts_once_it_expired(free: Workspace) -> None:
    FeatureOverride.objects.create(workspace=free, key="sts", value=True, expires_at=in_days(-1))
    assert entitlement(workspace=free, feature="sts").source == "plan"
    refusal = feature_refusal(workspace=free, feature="sts")
    assert refusal is not None
    assert refusal.startswith(f"The plan 'Free' of workspace {free.public_id} does not include STS (its trial ended ")
    assert refusal.endswith(" UTC); upgrade the plan.")


def test_an_override_expiring_this_very_moment_no_longer_counts(free: Workspace) -> None:
    now = timezone.now()
    FeatureOverride.objects.create(workspace=free, key="sts", value=True, expires_at=now)
    assert feature_refusal(workspace=free, feature="sts", now=now) is not None
    assert feature_refusal(workspace=free, feature="sts", now=now - timedelta(microseconds=1)) is None


def test_an_override_can_withhold_a_feature_the_plan_includes(pro: Workspace) -> None:
    FeatureOverride.objects.create(workspace=pro, key="sts", value=False, expires_at=in_days(2))
    refusal = feature_refusal(workspace=pro, feature="sts")
    assert refusal is not None
    assert refusal.startswith(f"STS is withheld from workspace {pro.public_id} until ")
    assert refusal.endswith("; contact support.")


def test_a_number_can_be_overridden_too(pro: Workspace) -> None:
    FeatureOverride.objects.create(workspace=pro, key="max_sources_per_mint", value=250, expires_at=in_days(1))
    assert feature_value(workspace=pro, feature="max_sources_per_mint") == 250


def test_another_workspaces_override_does_not_count(free: Workspace) -> None:
    other = workspace_create(name="Other", plan=free.plan)
    FeatureOverride.objects.create(workspace=other, key="sts", value=True, expires_at=in_days(1))
    assert feature_refusal(workspace=free, feature="sts") is not None


def test_a_plan_change_to_its_features_counts_at_the_next_question(pro: Workspace) -> None:
    assert feature_refusal(workspace=pro, feature="audit_streaming") is not None
    PlanFeature.objects.create(plan=pro.plan, key="audit_streaming", value=True)
    assert feature_refusal(workspace=pro, feature="audit_streaming") is None


def test_a_workspace_not_saved_yet_has_its_plans_features(db: None) -> None:
    unsaved = Workspace(name="New", plan=Plan.objects.get(slug="pro"))
    assert feature_value(workspace=unsaved, feature="sts") is True
    assert feature_refusal(workspace=Workspace(name="New", plan=Plan.objects.get(slug="free")), feature="sts")


def test_asking_whether_a_number_may_be_used_is_a_bug(pro: Workspace) -> None:
    with pytest.raises(ValueError, match="is a number, not a switch"):
        feature_refusal(workspace=pro, feature="audit_retention_days")


def test_asking_about_an_unknown_feature_is_a_bug(pro: Workspace) -> None:
    with pytest.raises(ValueError, match="There is no feature 'teleport'"):
        feature_value(workspace=pro, feature="teleport")


# --- the workspace's own questions, which go through the same function ---


def test_sts_is_refused_when_the_plan_lacks_it_whatever_the_switch(free: Workspace) -> None:
    assert free.sts_enabled is True
    assert (
        free.sts_refusal() == f"The plan 'Free' of workspace {free.public_id} does not include STS; upgrade the plan."
    )


def test_sts_is_refused_when_a_workspace_admin_switched_it_off(pro: Workspace) -> None:
    pro.sts_enabled = False
    assert pro.sts_refusal() == (
        f"STS is switched off for workspace {pro.public_id}; a workspace admin can switch it on."
    )


def test_sts_is_allowed_by_a_trial_on_a_plan_without_it(free: Workspace) -> None:
    FeatureOverride.objects.create(workspace=free, key="sts", value=True, expires_at=in_days(30))
    assert free.sts_refusal() is None


def test_write_tokens_need_both_the_switch_and_the_feature(pro: Workspace, free: Workspace) -> None:
    assert pro.write_tokens_allowed() is False  # the plan includes them, the switch is off
    pro.allow_write_tokens = True
    assert pro.write_tokens_allowed() is True
    free.allow_write_tokens = True  # set past the services, as an old row may be
    assert free.write_tokens_allowed() is False


def test_feature_values_reads_several_features_as_entitlement_does_each_in_one_query(
    free: Workspace, django_assert_num_queries
) -> None:
    FeatureOverride.objects.create(workspace=free, key="sts", value=True, expires_at=in_days(14))
    FeatureOverride.objects.create(workspace=free, key="audit_retention_days", value=30, expires_at=in_days(-1))
    FeatureOverride.objects.create(workspace=free, key="max_sources_per_mint", value=5, expires_at=in_days(3))
    keys = ("sts", "write_tokens", "audit_retention_days", "audit_streaming", "max_sources_per_mint")

    with django_assert_num_queries(1):
        values = feature_values(workspace=free, features=keys)

    assert values == {key: feature_value(workspace=free, feature=key) for key in keys}
    assert values == {
        "sts": True,
        "write_tokens": False,
        "audit_retention_days": 7,
        "audit_streaming": False,
        "max_sources_per_mint": 5,
    }
