"""What STS must remember: used OIDC tokens, the sessions it issued, and the tokens it minted (as digests)."""

from __future__ import annotations

import base64
import hashlib

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from sts.caller_rule_language import caller_rule_problems


class OidcTokenUse(models.Model):
    """One row per accepted GitHub Actions OIDC token: the unique constraint makes each usable once."""

    issuer = models.CharField(max_length=255)
    jti = models.CharField(max_length=1024)  # as long as verification lets a claim be (sts.oidc.MAX_CLAIM_CHARS)
    used_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True, help_text="The token's own expiry; the row may go after it.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "jti"], name="oidc_token_single_use")]

    def __str__(self) -> str:
        return f"{self.issuer} {self.jti}"


class StsSession(models.Model):
    """A session JWT we issued (kind ws:gh:action), with the run identity it vouches for."""

    jti = models.CharField(max_length=64, unique=True)
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="sts_sessions")
    identity = models.JSONField(help_text="The verified OIDC claims that trust policies match on.")
    request_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.identity.get('repository', '?')} run {self.identity.get('run_id', '?')} ({self.jti})"

    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


def token_fingerprint(token: str) -> str:
    """The base64 SHA-256 of a token: what GitHub's audit log shows as ``hashed_token``.

    https://docs.github.com/en/organizations/keeping-your-organization-secure/managing-security-settings-for-your-organization/identifying-audit-log-events-performed-by-an-access-token
    """
    return base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()


class MintedToken(models.Model):
    """An installation token we handed out. Never the token: its fingerprint finds it again."""

    fingerprint = models.CharField(max_length=64, unique=True)
    session = models.ForeignKey(StsSession, on_delete=models.PROTECT, related_name="minted_tokens")
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="minted_tokens")
    installation_github_id = models.BigIntegerField()
    repositories = models.JSONField()
    permissions = models.JSONField()
    request_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    # A revocation counts only once GitHub confirmed it: a fresh token can answer 401 to its own
    # revocation while GitHub has not propagated it yet, and still work for an hour. Until then the
    # row shows a requested, unconfirmed revocation and how often it was tried.
    revocation_requested_at = models.DateTimeField(null=True, blank=True)
    revocation_attempts = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField("revocation confirmed at", null=True, blank=True)

    class RevocationState(models.TextChoices):
        ACTIVE = "active", "active"
        UNCONFIRMED = "unconfirmed", "revocation unconfirmed"
        REVOKED = "revoked", "revoked (confirmed by GitHub)"

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True) | models.Q(revocation_requested_at__isnull=False),
                name="minted_token_revoked_only_when_requested",
            )
        ]

    def __str__(self) -> str:
        return f"token for {', '.join(self.repositories)} ({self.fingerprint[:12]}…)"

    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def revocation_state(self) -> RevocationState:
        if self.revoked_at is not None:
            return self.RevocationState.REVOKED
        if self.revocation_requested_at is not None:
            return self.RevocationState.UNCONFIRMED
        return self.RevocationState.ACTIVE

    def revocation_attempted(self, *, confirmed: bool) -> bool:
        """Records one attempt to revoke the token at GitHub, and the confirmation when GitHub gave it.

        Conditional updates, so concurrent attempts (a client's and a background retry) each count and
        the first confirmation's time stays. True when this call recorded the confirmation."""
        now = timezone.now()
        rows = MintedToken.objects.filter(pk=self.pk)
        with transaction.atomic():
            rows.update(
                revocation_attempts=models.F("revocation_attempts") + 1,
                revocation_requested_at=Coalesce(
                    "revocation_requested_at", models.Value(now, output_field=models.DateTimeField())
                ),
            )
            recorded = confirmed and rows.filter(revoked_at__isnull=True).update(revoked_at=now) == 1
        self.refresh_from_db(fields=["revocation_requested_at", "revocation_attempts", "revoked_at"])
        return recorded


class CallerRule(models.Model):
    """One of a workspace's caller rules: its own say over which GitHub Actions runs may open a session,
    on top of the source repositories' trust policies (sts.caller_rules evaluates the list)."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="caller_rules")
    position = models.PositiveIntegerField(default=0, help_text="Rules are listed in this order.")
    match = models.JSONField(
        help_text="Claim names to conditions, as in a trust policy rule's match, for example "
        '{"repository": "acme/*", "ref": "refs/heads/main"}. A caller that any rule matches is admitted.'
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["workspace", "position", "id"]

    def __str__(self) -> str:
        return f"caller rule {self.position} of {self.workspace_id}"

    def clean(self) -> None:
        problems = caller_rule_problems(self.match)
        if problems:
            raise ValidationError({"match": problems})


class PolicyCheck(models.Model):
    """The check run one webhook delivery asked for (a push or a pull request touching the policy
    folder): created once per delivery, so a retried task or a redelivery continues it instead of
    reporting twice. `annotations_sent` says how far the run's annotations got."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        DONE = "done"
        FAILED = "failed"

    delivery_guid = models.CharField(max_length=64, unique=True)
    installation = models.ForeignKey(
        "workspaces.GitHubInstallation", on_delete=models.CASCADE, related_name="policy_checks"
    )
    repository_github_id = models.BigIntegerField()
    full_name = models.CharField(max_length=200)
    head_sha = models.CharField(max_length=64)
    # The changed paths the push listed; null: ask GitHub (a pull request) or list the folder (a push that
    # cannot show what it changed).
    paths = models.JSONField(null=True, blank=True)
    pull_request_number = models.PositiveBigIntegerField(null=True, blank=True)
    to_default_branch = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    check_run_id = models.BigIntegerField(null=True, blank=True)
    conclusion = models.CharField(max_length=16, blank=True)
    annotations_sent = models.PositiveIntegerField(default=0)
    error_tag = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"policy check of {self.full_name}@{self.head_sha[:12]} ({self.status})"


class PolicyIndexEntry(models.Model):
    """One policy file (`.atmos/pro/sts/<policy_name>.yaml`) a repository of an installation holds on its
    default branch, with its last validation: which repositories a mint without `sources` reads."""

    installation = models.ForeignKey(
        "workspaces.GitHubInstallation", on_delete=models.CASCADE, related_name="policy_index"
    )
    repository_github_id = models.BigIntegerField("GitHub repository id")
    full_name = models.CharField("repository", max_length=200)
    policy_name = models.CharField(max_length=64)
    blob_sha = models.CharField(max_length=64, blank=True, help_text="Empty until the file was read.")
    valid = models.BooleanField(null=True, help_text="Unknown until the file was read and validated.")
    problem_count = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True, help_text="The first problems, with their lines.")
    rules = models.JSONField(default=list, blank=True, help_text="What the policy admits, a sentence per rule.")
    validated_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(help_text="When the file last changed, as far as we saw.")

    class Meta:
        verbose_name = "opted-in repository policy"
        verbose_name_plural = "opted-in repository policies"
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "repository_github_id", "policy_name"], name="one_index_entry_per_policy_file"
            )
        ]
        indexes = [models.Index(fields=["installation", "policy_name"], name="policy_index_by_name")]

    def __str__(self) -> str:
        return f"{self.full_name}: {self.policy_name}"


class PolicyIndexScan(models.Model):
    """Whether an installation's index is complete: set by a full scan of its repositories, cleared by
    anything that may have changed a policy the index has not seen (a repository added, a push that
    cannot show what it changed)."""

    installation = models.OneToOneField(
        "workspaces.GitHubInstallation", on_delete=models.CASCADE, related_name="policy_index_scan"
    )
    complete = models.BooleanField(default=False)
    scanned_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"policy index of {self.installation_id}: {'complete' if self.complete else 'incomplete'}"
