"""The admin pages of plan features, overrides and caller rules write through the services: each
save or delete through the real admin views is one audit event with the signed-in user as actor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from sts.models import CallerRule
from tests.factories import workspace_create
from workspaces.models import FeatureOverride, Plan, PlanFeature, Workspace

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("root", "root@example.com", password=None))
    return client


@pytest.fixture
def workspace() -> Workspace:
    return workspace_create(name="Acme", plan="free")


def only(action: str) -> AuditEvent:
    [event] = AuditEvent.objects.filter(action=action)
    return event


def test_adding_a_plan_feature_in_the_admin_is_audited(staff: Client) -> None:
    pro = Plan.objects.get(slug="pro")
    response = staff.post(
        reverse("admin:workspaces_planfeature_add"), {"plan": pro.pk, "key": "audit_streaming", "value": "true"}
    )
    assert response.status_code == 302, response.content
    assert PlanFeature.objects.get(plan=pro, key="audit_streaming").value is True
    event = only(Action.ENTITLEMENT_FEATURE_CHANGED)
    assert event.identity == {"actor": "root", "actor_kind": "staff"}
    assert (event.detail["old"], event.detail["new"]) == (None, True)


def test_a_plan_feature_of_the_wrong_kind_is_a_form_error_in_the_admin(staff: Client) -> None:
    pro = Plan.objects.get(slug="pro")
    response = staff.post(
        reverse("admin:workspaces_planfeature_add"), {"plan": pro.pk, "key": "audit_streaming", "value": "7"}
    )
    assert response.status_code == 200
    assert "audit streaming is a switch: its value is true or false." in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_deleting_a_plan_feature_in_the_admin_is_audited(staff: Client) -> None:
    row = PlanFeature.objects.get(plan__slug="pro", key="sts")
    response = staff.post(reverse("admin:workspaces_planfeature_delete", args=[row.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not PlanFeature.objects.filter(pk=row.pk).exists()
    assert only(Action.ENTITLEMENT_FEATURE_CHANGED).detail["new"] is None


def test_granting_a_trial_in_the_admin_is_audited(staff: Client, workspace: Workspace) -> None:
    until = timezone.localtime(timezone.now() + timedelta(days=14)).replace(microsecond=0)
    response = staff.post(
        reverse("admin:workspaces_featureoverride_add"),
        {
            "workspace": workspace.pk,
            "key": "sts",
            "value": "true",
            "expires_at_0": until.strftime("%Y-%m-%d"),
            "expires_at_1": until.strftime("%H:%M:%S"),
            "note": "trial",
        },
    )
    assert response.status_code == 302, response.content
    assert FeatureOverride.objects.get(workspace=workspace).granted_by == "root"
    assert workspace.sts_refusal() is None
    assert only(Action.ENTITLEMENT_OVERRIDE_CHANGED).detail["new"]["until"] == until.isoformat()


def test_a_trial_ending_in_the_past_is_a_form_error_in_the_admin(staff: Client, workspace: Workspace) -> None:
    response = staff.post(
        reverse("admin:workspaces_featureoverride_add"),
        {
            "workspace": workspace.pk,
            "key": "sts",
            "value": "true",
            "expires_at_0": "2020-01-01",
            "expires_at_1": "00:00",
        },
    )
    assert response.status_code == 200
    assert "An override must end in the future." in response.content.decode()
    assert not FeatureOverride.objects.exists() and not AuditEvent.objects.exists()


def test_adding_a_caller_rule_in_the_admin_is_audited(staff: Client, workspace: Workspace) -> None:
    response = staff.post(
        reverse("admin:sts_callerrule_add"),
        {"workspace": workspace.pk, "position": "0", "match": '{"repository": "acme/*"}', "note": ""},
    )
    assert response.status_code == 302, response.content
    assert CallerRule.objects.get().match == {"repository": "acme/*"}
    assert only(Action.WORKSPACE_CALLER_RULES_CHANGED).detail["new"] == [
        {"match": {"repository": "acme/*"}, "note": ""}
    ]


def test_an_invalid_caller_rule_is_a_form_error_with_the_validators_message(
    staff: Client, workspace: Workspace
) -> None:
    response = staff.post(
        reverse("admin:sts_callerrule_add"),
        {"workspace": workspace.pk, "position": "0", "match": '{"reff": "main"}', "note": ""},
    )
    assert response.status_code == 200
    assert "match.reff: unknown claim name" in response.content.decode()
    assert not CallerRule.objects.exists() and not AuditEvent.objects.exists()


def test_deleting_a_caller_rule_in_the_admin_is_audited(staff: Client, workspace: Workspace) -> None:
    rule = CallerRule.objects.create(workspace=workspace, match={"repository": "acme/*"})
    response = staff.post(reverse("admin:sts_callerrule_delete", args=[rule.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not CallerRule.objects.exists()
    assert only(Action.WORKSPACE_CALLER_RULES_CHANGED).detail["new"] == []
