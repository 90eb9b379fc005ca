"""Deleting what STS no longer needs to remember: used-token records and sessions past their expiry."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from sts.models import MintedToken, OidcTokenUse, StsSession

# A session that just expired may still be finishing a mint that records a MintedToken for it.
SESSION_GRACE = timedelta(hours=1)
# A minted token's row serves revocation, useless once GitHub let the token expire; the audit log
# keeps the mint (fingerprint, repositories, expiry) for good.
MINTED_TOKEN_RETENTION = timedelta(days=1)


def expired_records_delete(*, now: datetime) -> dict[str, int]:
    """Deletes what is safe to delete; returns how many rows of each kind went.

    - ``OidcTokenUse`` rows once their token can no longer be accepted: its ``exp`` plus the
      verification leeway (and a minute), so a purge never reopens a token to replay.
    - ``MintedToken`` rows a day after their token expired (GitHub no longer accepts it).
    - ``StsSession`` rows expired for more than ``SESSION_GRACE`` that no ``MintedToken`` refers to:
      a minted token keeps its session (a PROTECT foreign key), so its audit trail names the run.
    """
    replay_window = timedelta(seconds=settings.STS_OIDC_LEEWAY_SECONDS + 60)
    token_uses, _ = OidcTokenUse.objects.filter(expires_at__lt=now - replay_window).delete()
    minted, _ = MintedToken.objects.filter(expires_at__lt=now - MINTED_TOKEN_RETENTION).delete()
    sessions, _ = StsSession.objects.filter(expires_at__lt=now - SESSION_GRACE, minted_tokens__isnull=True).delete()
    return {"oidc_token_uses": token_uses, "minted_tokens": minted, "sessions": sessions}
