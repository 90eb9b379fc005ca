"""Customers: workspaces, their plans and members, and the GitHub App installations they own."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

# The plans a new database starts with: billing admins change them in the admin afterwards.
DEFAULT_PLANS = ({"slug": "free", "name": "Free", "sts": False}, {"slug": "pro", "name": "Pro", "sts": True})


def default_plans_create(plan_model: type[models.Model]) -> None:
    """Creates the default plans where there is no plan at all (a new or a flushed database); never
    touches plans that exist, so an admin's changes survive every deploy."""
    if not plan_model._default_manager.exists():
        for plan in DEFAULT_PLANS:
            plan_model._default_manager.create(**plan)


def new_workspace_id() -> str:
    return "ws_" + secrets.token_hex(12)


class Plan(models.Model):
    """A price plan; billing admins switch its features on in the Django admin."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    sts = models.BooleanField("STS (short-lived GitHub tokens)", default=False)

    def __str__(self) -> str:
        return self.name

    def has_feature(self, feature: str) -> bool:
        return feature == "sts" and self.sts


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

    def sts_refusal(self) -> str | None:
        """Why this workspace may not mint, in a sentence for the user; None when it may."""
        if not self.plan.has_feature("sts"):
            return f"The plan {self.plan.name!r} of workspace {self.public_id} does not include STS; upgrade the plan."
        if not self.sts_enabled:
            return f"STS is switched off for workspace {self.public_id}; a workspace admin can switch it on."
        return None


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
