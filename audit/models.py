"""The audit log: one row per STS decision, written once and never changed (see the migration's triggers)."""

from __future__ import annotations

from typing import Any

from django.db import models


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        OIDC_EXCHANGE = "oidc.exchange", "OIDC exchange"
        STS_MINT = "sts.mint", "Token mint"
        STS_REVOKE = "sts.revoke", "Token revocation"
        # Changes people make to a workspace's configuration (the actor is the person, not a run).
        ENTITLEMENT_PLAN_CHANGED = "pro.atmos.entitlement.plan_changed", "Plan changed"
        ENTITLEMENT_FEATURE_CHANGED = "pro.atmos.entitlement.feature_changed", "Plan feature changed"
        ENTITLEMENT_OVERRIDE_CHANGED = "pro.atmos.entitlement.override_changed", "Feature override changed"
        WORKSPACE_SETTING_CHANGED = "pro.atmos.workspace.setting_changed", "Workspace setting changed"
        WORKSPACE_MEMBERSHIP_CHANGED = "pro.atmos.workspace.membership_changed", "Workspace member changed"
        WORKSPACE_INSTALLATION_CHANGED = "pro.atmos.workspace.installation_changed", "Installation linked or unlinked"
        WORKSPACE_CALLER_RULES_CHANGED = "pro.atmos.workspace.caller_rules_changed", "Caller rules changed"
        WORKSPACE_STAFF_CHANGE = "pro.atmos.workspace.staff_change", "Change by operator staff"

    class Outcome(models.TextChoices):
        ALLOWED = "allowed"
        DENIED = "denied"
        ERROR = "error"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    request_id = models.CharField("trace id", max_length=64, db_index=True)
    action = models.CharField(max_length=100, choices=Action.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error_tag = models.CharField(max_length=64, blank=True)
    workspace_public_id = models.CharField("workspace", max_length=40, blank=True, db_index=True)
    # The verified run identity, in columns for the dashboard's filters and in full in `identity`.
    repository = models.CharField(max_length=200, blank=True, db_index=True)
    ref = models.CharField(max_length=255, blank=True, db_index=True)
    actor = models.CharField(max_length=100, blank=True, db_index=True)
    workflow = models.CharField(max_length=255, blank=True)
    run_id = models.CharField(max_length=32, blank=True)
    identity = models.JSONField(default=dict)
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome} {self.repository or '?'} ({self.request_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError("Audit events are immutable.")
