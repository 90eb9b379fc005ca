"""Customers: workspaces, their plans and members, and the GitHub App installations they own."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from workspaces.entitlements import DEFAULT_PLANS, FEATURE_CHOICES, FEATURES, feature_named, feature_refusal


def default_plans_create() -> None:
    """Creates the default plans, with their features, where there is no plan at all (a new or a flushed
    database); never touches plans that exist, so an admin's changes survive every deploy."""
    if Plan.objects.exists():
        return
    for slug, name, features in DEFAULT_PLANS:
        plan = Plan.objects.create(slug=slug, name=name)
        PlanFeature.objects.bulk_create(PlanFeature(plan=plan, key=key, value=value) for key, value in features.items())


def new_workspace_id() -> str:
    return "ws_" + secrets.token_hex(12)


class Plan(models.Model):
    """A price plan; its features are rows of PlanFeature (workspaces.entitlements lists the keys)."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


def _feature_value_check(key: str, value: Any) -> None:
    if key not in FEATURES:
        return  # the key field reports an unknown key on its own
    problem = feature_named(key).problem(value)
    if problem is not None:
        raise ValidationError({"value": problem})


class PlanFeature(models.Model):
    """One feature's value in a plan; a key without a row takes the registry's default."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="features")
    key = models.CharField("feature", max_length=50, choices=FEATURE_CHOICES)
    value = models.JSONField(help_text="true or false for a switch, a whole number for a number.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "key"], name="one_value_per_plan_feature")]

    def __str__(self) -> str:
        return f"{self.plan.slug}: {self.key} = {self.value!r}"

    def clean(self) -> None:
        _feature_value_check(self.key, self.value)


class Workspace(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=new_workspace_id, editable=False)
    name = models.CharField(max_length=200)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="workspaces")
    sts_enabled = models.BooleanField(
        "STS switched on", default=True, help_text="Workspace admins may switch STS off even when the plan has it."
    )
    allow_write_tokens = models.BooleanField(
        default=False, help_text="Trust policies may grant write permissions only when this is on."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    def sts_refusal(self, *, features: Mapping[str, Any] | None = None) -> str | None:
        """Why this workspace may not mint, in a sentence for the user; None when it may. The plan (or an
        override) must include STS, and a workspace admin's switch applies on top of it. `features`: the
        values `feature_values` already read for this request; the sentence is then read only on a refusal."""
        if features is not None and features["sts"] is True and self.sts_enabled:
            return None
        refusal = feature_refusal(workspace=self, feature="sts")
        if refusal is not None:
            return refusal
        if not self.sts_enabled:
            return f"STS is switched off for workspace {self.public_id}; a workspace admin can switch it on."
        return None

    def write_tokens_allowed(self, *, features: Mapping[str, Any] | None = None) -> bool:
        """Whether trust policies may grant write permissions now: the switch is on and the plan (or an
        override) still includes write tokens; a plan moved down switches write tokens off in effect.
        `features`: the values `feature_values` already read for this request."""
        if features is not None:
            return self.allow_write_tokens and features["write_tokens"] is True
        return self.allow_write_tokens and feature_refusal(workspace=self, feature="write_tokens") is None

    def clean(self) -> None:
        # Only turning the switch on needs the feature: a switch left on by a plan moved down must not
        # block every other edit of the workspace (write_tokens_allowed() already ignores it).
        turned_on = self.allow_write_tokens and not (
            self.pk is not None and Workspace.objects.filter(pk=self.pk, allow_write_tokens=True).exists()
        )
        if turned_on and self.plan_id is not None:
            refusal = feature_refusal(workspace=self, feature="write_tokens")
            if refusal is not None:
                raise ValidationError({"allow_write_tokens": refusal})


class FeatureOverride(models.Model):
    """A feature value granted to one workspace until a moment (a trial); it counts until it expires,
    and then the plan's value counts again. One per workspace and feature: a new grant replaces it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="feature_overrides")
    key = models.CharField("feature", max_length=50, choices=FEATURE_CHOICES)
    value = models.JSONField(help_text="true or false for a switch, a whole number for a number.")
    expires_at = models.DateTimeField("until")
    note = models.CharField(max_length=200, blank=True)
    granted_by = models.CharField(max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="one_override_per_workspace_feature")]

    def __str__(self) -> str:
        return f"{self.workspace.public_id}: {self.key} = {self.value!r} until {self.expires_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        _feature_value_check(self.key, self.value)
        if self.expires_at is not None and self.expires_at <= timezone.now():
            raise ValidationError({"expires_at": "An override must end in the future."})


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin"
        SECURITY = "security"
        BILLING = "billing"
        MEMBER = "member"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "workspace"], name="one_membership_per_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace.public_id} as {self.role}"


class GitHubInstallation(models.Model):
    """A GitHub App installation (https://docs.github.com/en/rest/apps/apps#get-an-installation-for-the-authenticated-app)."""

    github_id = models.BigIntegerField("GitHub installation id", unique=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="installations")
    account_login = models.CharField(max_length=100)
    account_id = models.BigIntegerField()
    account_type = models.CharField(max_length=20)
    repository_selection = models.CharField(max_length=20)
    permissions = models.JSONField(default=dict)
    suspended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(Lower("account_login"), name="installation_account_lower")]

    def __str__(self) -> str:
        return f"{self.account_login} ({self.github_id})"

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class InstallationRepository(models.Model):
    installation = models.ForeignKey(GitHubInstallation, on_delete=models.CASCADE, related_name="repositories")
    github_id = models.BigIntegerField("GitHub repository id")
    full_name = models.CharField(max_length=200)
    full_name_key = models.CharField(max_length=200, db_index=True, editable=False)

    class Meta:
        verbose_name_plural = "installation repositories"
        constraints = [
            models.UniqueConstraint(fields=["installation", "github_id"], name="one_row_per_installed_repository")
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args: object, **kwargs: object) -> None:
        # GitHub compares owner and repository names without regard to case.
        self.full_name_key = self.full_name.lower()
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class InstallationSetupState(models.Model):
    """A `state` handed to GitHub's App installation page: it comes back to the setup URL once, for the
    person who asked, within its lifetime. Only a digest of its random part is kept."""

    nonce_digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"installation setup for {self.workspace_id} by {self.user_id}"
