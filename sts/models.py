"""What STS must remember: used OIDC tokens, the sessions it issued, and the tokens it minted (as digests)."""

from __future__ import annotations

import base64
import hashlib

from django.db import models
from django.utils import timezone


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
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token for {', '.join(self.repositories)} ({self.fingerprint[:12]}…)"

    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None


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
        # Imported here, so that this model stays an addition at the end of the module (and
        # sts.caller_rules, which reads this model, imports it at its top).
        from django.core.exceptions import ValidationError

        from sts.caller_rules import caller_rule_problems

        problems = caller_rule_problems(self.match)
        if problems:
            raise ValidationError({"match": problems})
