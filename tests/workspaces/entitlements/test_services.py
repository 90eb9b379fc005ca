"""The services that change plans, features, overrides and switches: each change and its one audit
event happen together, with the person as actor and the old and new values."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from tests.factories import workspace_create
from tests.workspaces.entitlements.conftest import ADMIN, STAFF, changes, in_days
from workspaces.entitlements import feature_refusal, feature_value
from workspaces.models import FeatureOverride, Plan, PlanFeature, Workspace
from workspaces.services import (
    BILLING_STAFF_GROUP,
    Actor,
    FeatureNotEntitled,
    InvalidFeatureValue,
    InvalidOverride,
    override_grant,
    override_revoke,
    plan_feature_set,
    workspace_plan_change,
    workspace_switch_set,
)

Action = AuditEvent.Action


def only(action: str) -> AuditEvent:
    events = changes(action)
    assert len(events) == 1, events
    return events[0]


# --- plans ---


def test_moving_a_workspace_to_another_plan_is_one_event_with_both_plans(free: Workspace) -> None:
    workspace_plan_change(workspace=free, plan=Plan.objects.get(slug="pro"), actor=STAFF)
    free.refresh_from_db()
    assert free.plan.slug == "pro"
    assert free.sts_refusal() is None
    event = only(Action.ENTITLEMENT_PLAN_CHANGED)
    assert (event.outcome, event.workspace_public_id, event.actor) == ("allowed", free.public_id, "billing-bob")
    assert event.identity == {"actor": "billing-bob", "actor_kind": "staff"}
    assert event.detail == {"old": "free", "new": "pro"}
    assert event.request_id.startswith("chg_")


def test_moving_a_workspace_to_its_own_plan_changes_and_records_nothing(pro: Workspace) -> None:
    workspace_plan_change(workspace=pro, plan=pro.plan, actor=STAFF)
    assert changes(Action.ENTITLEMENT_PLAN_CHANGED) == []


def test_a_change_made_in_a_request_keeps_the_requests_trace_id(free: Workspace) -> None:
    workspace_plan_change(workspace=free, plan=Plan.objects.get(slug="pro"), actor=STAFF, request_id="req_abc")
    assert only(Action.ENTITLEMENT_PLAN_CHANGED).request_id == "req_abc"


# --- plan features ---


def test_setting_a_plan_feature_applies_to_every_workspace_on_the_plan(pro: Workspace) -> None:
    other = workspace_create(name="Other", plan=pro.plan)
    plan_feature_set(plan=pro.plan, feature="audit_streaming", value=True, actor=STAFF)
    assert feature_value(workspace=pro, feature="audit_streaming") is True
    assert feature_value(workspace=other, feature="audit_streaming") is True
    event = only(Action.ENTITLEMENT_FEATURE_CHANGED)
    assert event.workspace_public_id == ""  # a plan's change concerns all its workspaces
    assert event.detail == {"plan": "pro", "feature": "audit_streaming", "old": None, "new": True, "default": False}


def test_changing_a_plan_feature_records_the_old_and_new_value(pro: Workspace) -> None:
    plan_feature_set(plan=pro.plan, feature="audit_retention_days", value=90, actor=STAFF)
    assert PlanFeature.objects.get(plan=pro.plan, key="audit_retention_days").value == 90
    detail = only(Action.ENTITLEMENT_FEATURE_CHANGED).detail
    assert (detail["old"], detail["new"]) == (365, 90)


def test_taking_a_plan_feature_away_brings_back_the_default(pro: Workspace) -> None:
    plan_feature_set(plan=pro.plan, feature="sts", value=None, actor=STAFF)
    assert not PlanFeature.objects.filter(plan=pro.plan, key="sts").exists()
    assert pro.sts_refusal() == f"The plan 'Pro' of workspace {pro.public_id} does not include STS; upgrade the plan."
    detail = only(Action.ENTITLEMENT_FEATURE_CHANGED).detail
    assert (detail["old"], detail["new"]) == (True, None)


def test_setting_a_plan_feature_to_its_value_records_nothing(pro: Workspace) -> None:
    plan_feature_set(plan=pro.plan, feature="sts", value=True, actor=STAFF)
    plan_feature_set(plan=pro.plan, feature="audit_streaming", value=None, actor=STAFF)
    assert changes(Action.ENTITLEMENT_FEATURE_CHANGED) == []


@pytest.mark.parametrize(
    ("feature", "value"),
    [
        ("sts", "true"),
        ("sts", 1),
        ("audit_retention_days", True),
        ("audit_retention_days", 0),
        ("audit_retention_days", 7.5),
    ],
)
def test_a_plan_feature_refuses_a_value_of_the_wrong_kind(pro: Workspace, feature: str, value: object) -> None:
    with pytest.raises(InvalidFeatureValue):
        plan_feature_set(plan=pro.plan, feature=feature, value=value, actor=STAFF)  # type: ignore[arg-type]
    assert changes(Action.ENTITLEMENT_FEATURE_CHANGED) == []


def test_a_plan_feature_row_refuses_a_bad_value_in_its_form(pro: Workspace) -> None:
    row = PlanFeature(plan=pro.plan, key="max_sources_per_mint", value=100000)
    with pytest.raises(ValidationError) as refused:
        row.full_clean()
    assert refused.value.message_dict == {"value": ["sources per mint is a whole number from 1 to 500, not 100000."]}


def test_a_plan_feature_row_refuses_an_unknown_key_in_its_form(pro: Workspace) -> None:
    with pytest.raises(ValidationError) as refused:
        PlanFeature(plan=pro.plan, key="teleport", value=True).full_clean()
    assert set(refused.value.message_dict) == {"key"}


# --- overrides ---


def test_granting_a_trial_lets_the_workspace_use_the_feature_until_it_ends(free: Workspace) -> None:
    until = in_days(14)
    override_grant(workspace=free, feature="sts", value=True, expires_at=until, actor=STAFF, note="trial, ticket 42")
    assert free.sts_refusal() is None
    row = FeatureOverride.objects.get(workspace=free, key="sts")
    assert (row.value, row.expires_at, row.granted_by, row.note) == (True, until, "billing-bob", "trial, ticket 42")
    event = only(Action.ENTITLEMENT_OVERRIDE_CHANGED)
    assert event.workspace_public_id == free.public_id
    assert event.detail == {
        "feature": "sts",
        "old": None,
        "new": {"value": True, "until": until.isoformat(), "note": "trial, ticket 42"},
    }


def test_granting_again_replaces_the_override_and_records_both(free: Workspace) -> None:
    first, second = in_days(7), in_days(30)
    override_grant(workspace=free, feature="sts", value=True, expires_at=first, actor=STAFF)
    override_grant(workspace=free, feature="sts", value=True, expires_at=second, actor=STAFF)
    assert FeatureOverride.objects.filter(workspace=free).count() == 1
    last = changes(Action.ENTITLEMENT_OVERRIDE_CHANGED)[-1]
    assert last.detail["old"]["until"] == first.isoformat()
    assert last.detail["new"]["until"] == second.isoformat()


def test_an_override_that_ends_in_the_past_is_refused(free: Workspace) -> None:
    with pytest.raises(InvalidOverride, match="An override must end in the future"):
        override_grant(workspace=free, feature="sts", value=True, expires_at=in_days(-1), actor=STAFF)
    assert not FeatureOverride.objects.exists()
    assert changes(Action.ENTITLEMENT_OVERRIDE_CHANGED) == []


def test_an_override_without_a_time_zone_is_refused(free: Workspace) -> None:
    with pytest.raises(InvalidOverride, match="time zone"):
        override_grant(workspace=free, feature="sts", value=True, expires_at=datetime(2999, 1, 1), actor=STAFF)


def test_an_override_refuses_a_value_of_the_wrong_kind(free: Workspace) -> None:
    with pytest.raises(InvalidFeatureValue, match="STS is a switch"):
        override_grant(workspace=free, feature="sts", value=7, expires_at=in_days(1), actor=STAFF)


def test_an_override_refuses_a_note_longer_than_its_column(free: Workspace) -> None:
    with pytest.raises(InvalidOverride, match="200 characters"):
        override_grant(workspace=free, feature="sts", value=True, expires_at=in_days(1), actor=STAFF, note="x" * 201)


def test_an_override_row_in_the_past_is_refused_by_its_form(free: Workspace) -> None:
    with pytest.raises(ValidationError) as refused:
        FeatureOverride(workspace=free, key="sts", value=True, expires_at=in_days(-1)).full_clean()
    assert refused.value.message_dict == {"expires_at": ["An override must end in the future."]}


def test_revoking_an_override_ends_it_now_and_is_one_event(free: Workspace) -> None:
    override_grant(workspace=free, feature="sts", value=True, expires_at=in_days(7), actor=STAFF)
    override_revoke(workspace=free, feature="sts", actor=STAFF)
    assert free.sts_refusal() is not None
    last = changes(Action.ENTITLEMENT_OVERRIDE_CHANGED)[-1]
    assert last.detail["new"] is None and last.detail["old"]["value"] is True


def test_revoking_an_override_that_does_not_exist_records_nothing(free: Workspace) -> None:
    override_revoke(workspace=free, feature="sts", actor=STAFF)
    assert changes(Action.ENTITLEMENT_OVERRIDE_CHANGED) == []


# --- switches ---


def test_a_workspace_admin_switching_sts_off_is_one_event_and_refuses_the_next_mint(pro: Workspace) -> None:
    workspace_switch_set(workspace=pro, switch="sts_enabled", on=False, actor=ADMIN)
    pro.refresh_from_db()
    assert (
        pro.sts_refusal() == f"STS is switched off for workspace {pro.public_id}; a workspace admin can switch it on."
    )
    event = only(Action.WORKSPACE_SETTING_CHANGED)
    assert event.identity == {"actor": "ada", "actor_kind": "member"}
    assert event.detail == {"setting": "sts_enabled", "old": True, "new": False}


def test_a_switch_set_to_where_it_is_records_nothing(pro: Workspace) -> None:
    workspace_switch_set(workspace=pro, switch="sts_enabled", on=True, actor=ADMIN)
    assert changes(Action.WORKSPACE_SETTING_CHANGED) == []


def test_write_tokens_switch_on_where_the_plan_includes_them(pro: Workspace) -> None:
    workspace_switch_set(workspace=pro, switch="allow_write_tokens", on=True, actor=ADMIN)
    pro.refresh_from_db()
    assert pro.write_tokens_allowed() is True
    assert only(Action.WORKSPACE_SETTING_CHANGED).detail == {"setting": "allow_write_tokens", "old": False, "new": True}


def test_write_tokens_do_not_switch_on_without_the_feature(free: Workspace) -> None:
    with pytest.raises(FeatureNotEntitled) as refused:
        workspace_switch_set(workspace=free, switch="allow_write_tokens", on=True, actor=ADMIN)
    assert str(refused.value) == (
        f"The plan 'Free' of workspace {free.public_id} does not include write tokens; upgrade the plan."
    )
    free.refresh_from_db()
    assert free.allow_write_tokens is False
    assert changes(Action.WORKSPACE_SETTING_CHANGED) == []


def test_write_tokens_switch_on_during_a_trial_of_them(free: Workspace) -> None:
    override_grant(workspace=free, feature="write_tokens", value=True, expires_at=in_days(3), actor=STAFF)
    workspace_switch_set(workspace=free, switch="allow_write_tokens", on=True, actor=ADMIN)
    free.refresh_from_db()
    assert free.allow_write_tokens is True


def test_write_tokens_always_switch_off(free: Workspace) -> None:
    Workspace.objects.filter(pk=free.pk).update(allow_write_tokens=True)
    workspace_switch_set(workspace=free, switch="allow_write_tokens", on=False, actor=ADMIN)
    free.refresh_from_db()
    assert free.allow_write_tokens is False


def test_an_unknown_switch_is_a_bug_in_the_caller(pro: Workspace) -> None:
    with pytest.raises(ValueError, match="no workspace switch 'plan'"):
        workspace_switch_set(workspace=pro, switch="plan", on=True, actor=ADMIN)


def test_the_workspace_form_refuses_to_switch_write_tokens_on_without_the_feature(free: Workspace) -> None:
    free.allow_write_tokens = True
    with pytest.raises(ValidationError) as refused:
        free.full_clean()
    assert refused.value.message_dict == {
        "allow_write_tokens": [
            f"The plan 'Free' of workspace {free.public_id} does not include write tokens; upgrade the plan."
        ]
    }


def test_the_workspace_form_accepts_write_tokens_on_with_the_feature(pro: Workspace) -> None:
    pro.allow_write_tokens = True
    pro.full_clean()


def test_the_workspace_form_leaves_a_switch_that_was_already_on(free: Workspace) -> None:
    # On from before entitlements existed: editing the name must not fail; it takes no effect anyway.
    Workspace.objects.filter(pk=free.pk).update(allow_write_tokens=True)
    free.refresh_from_db()
    free.name = "Hobby 2"
    free.full_clean()
    assert free.write_tokens_allowed() is False


def test_a_new_workspace_form_refuses_write_tokens_on_a_plan_without_them(db: None) -> None:
    new = Workspace(name="New", plan=Plan.objects.get(slug="free"), allow_write_tokens=True)
    with pytest.raises(ValidationError):
        new.full_clean()


# --- who the actor is ---


def test_a_superuser_and_the_billing_staff_act_as_staff_and_others_as_members(db: None) -> None:
    root = User.objects.create_superuser("root", password="x")
    billing = User.objects.create_user("bill", password="x")
    billing.groups.add(Group.objects.create(name=BILLING_STAFF_GROUP))
    member = User.objects.create_user("mia", password="x")
    assert [Actor.of_user(user) for user in (root, billing, member)] == [
        Actor("root", "staff"),
        Actor("bill", "staff"),
        Actor("mia", "member"),
    ]


def test_nothing_of_a_refused_change_reaches_the_audit_log(free: Workspace) -> None:
    with pytest.raises(InvalidFeatureValue):
        plan_feature_set(plan=free.plan, feature="sts", value="yes", actor=STAFF)  # type: ignore[arg-type]
    assert not AuditEvent.objects.exists()
    assert feature_refusal(workspace=free, feature="sts") is not None
