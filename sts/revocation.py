"""Revoking, through us, a token we minted: the caller hands it back and we revoke it at GitHub."""

from __future__ import annotations

from django.utils import timezone

from audit.trail import AuditTrail
from github_app.client import GitHubApp
from github_app.errors import GitHubError
from sts.errors import StsError
from sts.models import MintedToken, StsSession, token_fingerprint


class TokenNotFound(StsError):
    tag = "TokenNotFound"
    status = 404
    message = "This workspace did not mint that token."


class RevocationFailed(StsError):
    tag = "RevocationFailed"
    status = 502
    message = "GitHub could not be reached to revoke the token; it expires on its own within the hour. Retry."


def token_revoke(*, session: StsSession, token: str, trail: AuditTrail) -> MintedToken:
    fingerprint = token_fingerprint(token)
    trail.note(fingerprint=fingerprint)
    minted = MintedToken.objects.filter(fingerprint=fingerprint, workspace=session.workspace).first()
    if minted is None:
        raise TokenNotFound()
    if not minted.is_revoked():
        try:
            GitHubApp.from_settings().revoke_installation_token(token)
        except GitHubError as error:
            raise RevocationFailed(context={"github": error.reason}) from None
        # Conditional update: two concurrent revocations record one time, the first.
        MintedToken.objects.filter(pk=minted.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        minted.refresh_from_db()
    return minted
