"""Revoking, through us, a token we minted: the caller hands it back and we revoke it at GitHub."""

from __future__ import annotations

from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
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


def token_revoke(*, session: StsSession, token: str, request_id: str) -> MintedToken:
    fingerprint = token_fingerprint(token)
    minted = MintedToken.objects.filter(fingerprint=fingerprint, workspace=session.workspace).first()
    try:
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
    except StsError as error:
        revocation_record(session=session, request_id=request_id, fingerprint=fingerprint, error=error)
        raise
    revocation_record(session=session, request_id=request_id, fingerprint=fingerprint, error=None)
    return minted


def revocation_record(*, session: StsSession, request_id: str, fingerprint: str, error: StsError | None) -> None:
    """The audit event of a revocation; `fingerprint` is empty when the request named no token."""
    audit_record(
        action=AuditEvent.Action.STS_REVOKE,
        outcome=AuditEvent.Outcome.ALLOWED if error is None else AuditEvent.Outcome.DENIED,
        request_id=request_id,
        workspace_public_id=session.workspace.public_id,
        identity=session.identity,
        error_tag=error.tag if error else "",
        detail={"session": session.jti, "fingerprint": fingerprint},
    )
