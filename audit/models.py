"""The audit log: one row per decision, written once and never changed (see the migrations' triggers).

Each workspace's events form a hash chain (`sequence`, `previous_hash`, `hash`; `audit.chain`), so a
row altered or removed behind the database's back is found by `manage.py audit_verify`. Old events
leave only through retention, which first writes a signed checkpoint: the database refuses to
delete any event that no checkpoint covers.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from audit import event_types


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        # The API's requests; the type says how an exchange or a mint ended (`audit.event_types`).
        OIDC_TOKEN_EXCHANGE_SUCCESS = event_types.OIDC_TOKEN_EXCHANGE_SUCCESS, "OIDC token exchanged"
        OIDC_TOKEN_EXCHANGE_FAILURE = event_types.OIDC_TOKEN_EXCHANGE_FAILURE, "OIDC token exchange refused"
        TOKEN_MINTED = event_types.TOKEN_MINTED, "Tokens minted"
        MINT_DENIED = event_types.MINT_DENIED, "Mint refused"
        TOKEN_REVOKED = event_types.TOKEN_REVOKED, "Token revocation"
        # Changes people make to a workspace's configuration (the actor is the person, not a run).
        ENTITLEMENT_PLAN_CHANGED = "pro.atmos.entitlement.plan_changed", "Plan changed"
        ENTITLEMENT_FEATURE_CHANGED = "pro.atmos.entitlement.feature_changed", "Plan feature changed"
        ENTITLEMENT_OVERRIDE_CHANGED = "pro.atmos.entitlement.override_changed", "Feature override changed"
        WORKSPACE_SETTING_CHANGED = "pro.atmos.workspace.setting_changed", "Workspace setting changed"
        WORKSPACE_MEMBERSHIP_CHANGED = "pro.atmos.workspace.membership_changed", "Workspace member changed"
        WORKSPACE_INSTALLATION_CHANGED = "pro.atmos.workspace.installation_changed", "Installation linked or unlinked"
        WORKSPACE_CALLER_RULES_CHANGED = "pro.atmos.workspace.caller_rules_changed", "Caller rules changed"
        WORKSPACE_STAFF_CHANGE = "pro.atmos.workspace.staff_change", "Change by operator staff"
        AUDIT_RETENTION_APPLIED = "pro.atmos.audit.retention_applied", "Old events removed by retention"
        # What GitHub's webhooks told us about a workspace's installations and its policy files.
        INSTALLATION_CREATED = "pro.atmos.installation.created", "Installation created at GitHub"
        INSTALLATION_DELETED = "pro.atmos.installation.deleted", "Installation deleted at GitHub"
        INSTALLATION_SUSPENDED = "pro.atmos.installation.suspended", "Installation suspended"
        INSTALLATION_UNSUSPENDED = "pro.atmos.installation.unsuspended", "Installation unsuspended"
        INSTALLATION_PERMISSIONS_ACCEPTED = "pro.atmos.installation.permissions_accepted", "New permissions accepted"
        INSTALLATION_REPOSITORIES_CHANGED = "pro.atmos.installation.repositories_changed", "Repositories changed"
        INSTALLATION_REPOSITORY_MOVED = "pro.atmos.installation.repository_moved", "Repository renamed or transferred"
        INSTALLATION_RECONCILED = "pro.atmos.installation.reconciled", "Installation repaired by reconciliation"
        POLICY_INVALIDATED = "pro.atmos.policy.invalidated", "Cached trust policies forgotten after a push"
        POLICY_ADDED = "pro.atmos.policy.added", "Trust policy added to a repository"
        POLICY_CHANGED = "pro.atmos.policy.changed", "Trust policy changed in a repository"
        POLICY_REMOVED = "pro.atmos.policy.removed", "Trust policy removed from a repository"
        # The names rows were stored under before the ones above; such rows are never rewritten, and are
        # shown and searched under the names above (`event_type`, `audit.event_types`).
        LEGACY_OIDC_EXCHANGE = event_types.LEGACY_OIDC_EXCHANGE, "OIDC exchange (legacy name)"
        LEGACY_STS_MINT = event_types.LEGACY_STS_MINT, "Token mint (legacy name)"
        LEGACY_STS_REVOKE = event_types.LEGACY_STS_REVOKE, "Token revocation (legacy name)"

    class Outcome(models.TextChoices):
        ALLOWED = "allowed"
        DENIED = "denied"
        ERROR = "error"

    # Set by the writer before the hash is computed (auto_now_add would overwrite it after).
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    request_id = models.CharField("trace id", max_length=64, db_index=True)
    action = models.CharField(max_length=100, choices=Action.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error_tag = models.CharField(max_length=64, blank=True)
    workspace_public_id = models.CharField("workspace", max_length=40, blank=True)
    # The verified run identity, in columns for the search (indexed below), and in full in `identity`.
    repository = models.CharField(max_length=200, blank=True)
    ref = models.CharField(max_length=255, blank=True, db_index=True)
    actor = models.CharField(max_length=100, blank=True)
    workflow = models.CharField(max_length=255, blank=True)
    run_id = models.CharField(max_length=32, blank=True)
    identity = models.JSONField(default=dict)
    detail = models.JSONField(default=dict)
    # The workspace's chain ("" is the chain of events that name no workspace).
    sequence = models.BigIntegerField(editable=False)
    previous_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Two writers can never both extend a chain from the same link: no fork, whatever the Python does.
            models.UniqueConstraint(fields=["workspace_public_id", "sequence"], name="audit_chain_without_forks"),
        ]
        # Each serves the search's newest-first keyset pages (`audit.selectors.audit_page`) within a
        # workspace without a sort: the whole log, one caller, one actor. GitHub compares names without
        # case, and so does the search: `repo:` and `actor:` compile to UPPER(column) = UPPER(value)
        # (`audit.query`), the expression these indexes hold.
        indexes = [
            models.Index(fields=["workspace_public_id", "created_at", "id"], name="audit_event_keyset"),
            models.Index("workspace_public_id", Upper("repository"), "created_at", "id", name="audit_event_by_caller"),
            models.Index("workspace_public_id", Upper("actor"), "created_at", "id", name="audit_event_by_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.outcome} {self.repository or '?'} ({self.request_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError("Audit events are immutable.")

    @property
    def event_type(self) -> str:
        """The `pro.atmos.*` type, a legacy row's included (`audit.event_types`)."""
        return event_types.event_type(self.action, allowed=self.outcome == self.Outcome.ALLOWED)

    @property
    def event_type_label(self) -> str:
        event_type = self.event_type
        return str(_ACTION_LABELS.get(event_type, event_type))


# Read for every row of the list: `Action.values` builds a new list at each call.
_ACTION_LABELS = dict(AuditEvent.Action.choices)


class AuditChainHead(models.Model):
    """The last link of one workspace's chain; writers lock it, so links are added one at a time."""

    workspace_public_id = models.CharField(max_length=40, unique=True)
    sequence = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.workspace_public_id or '(no workspace)'} at #{self.sequence}"


class AuditCheckpoint(models.Model):
    """Where a workspace's kept chain starts after retention removed older events: the last removed
    event's sequence and hash, signed with the server's key. Written once, never changed."""

    workspace_public_id = models.CharField(max_length=40)
    sequence = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace_public_id", "sequence"], name="one_checkpoint_per_link")
        ]

    def __str__(self) -> str:
        return f"{self.workspace_public_id or '(no workspace)'} up to #{self.sequence}"


class AuditSource(models.Model):
    """One source repository decided in a mint, a row of its own and indexed, so that "every mint
    that touched acme/terraform-modules in the last 30 days" is one indexed query. Covered by its
    event's hash; written with the event, never changed."""

    class Decision(models.TextChoices):
        GRANTED = "granted"
        EXCLUDED = "excluded"

    event = models.ForeignKey(AuditEvent, on_delete=models.CASCADE, related_name="sources")
    workspace_public_id = models.CharField(max_length=40)
    created_at = models.DateTimeField()
    repository = models.CharField(max_length=200)
    repository_key = models.CharField(max_length=200, editable=False)  # GitHub compares names without case
    github_id = models.BigIntegerField(null=True, blank=True)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reason = models.CharField(max_length=64, blank=True)
    rule = models.IntegerField(null=True, blank=True, help_text="The policy rule that granted, counted from 0.")
    fingerprint = models.CharField(max_length=64, blank=True, help_text="The token's hashed_token, when granted.")

    class Meta:
        indexes = [
            # A repository's rows in one workspace, newest first: the pages of `source:` (`audit.query`),
            # and the "every mint that touched X in the last 30 days" as one range of it.
            models.Index(
                fields=["repository_key", "workspace_public_id", "created_at", "event"], name="audit_source_by_key"
            ),
            models.Index(fields=["fingerprint"], name="audit_source_by_token"),
        ]

    def __str__(self) -> str:
        return f"{self.repository} {self.decision} {self.reason}".strip()

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are immutable.")
        self.repository_key = self.repository.lower()
        super().save(*args, **kwargs)

    def as_hashed(self) -> dict[str, Any]:
        """What of this row its event's hash covers."""
        return {
            "repository": self.repository,
            "github_id": self.github_id,
            "decision": self.decision,
            "reason": self.reason,
            "rule": self.rule,
            "fingerprint": self.fingerprint,
        }
