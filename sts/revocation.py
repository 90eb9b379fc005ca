"""Revoking tokens we minted, counted as done only when GitHub confirmed it.

GitHub is eventually consistent: a freshly created installation token can answer 401 to its own
revocation for a few seconds and then work for the rest of its hour (https://docs.github.com/en/rest/apps/installations#revoke-an-installation-access-token).
So a revocation GitHub did not confirm is retried in the background of this process, holding the
token in memory only: never in the database, never in a queue message. If the process dies first,
the token's row stays visibly unconfirmed until the token expires on its own.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from django.db import connections

from audit.trail import AuditTrail
from github_app.client import GitHubApp
from github_app.errors import GitHubError
from sts.errors import StsError
from sts.models import MintedToken, StsSession, token_fingerprint

logger = logging.getLogger(__name__)


class TokenNotFound(StsError):
    tag = "TokenNotFound"
    status = 404
    message = "This workspace did not mint that token."


@dataclass(frozen=True)
class Revocation:
    minted: MintedToken
    confirmed: bool
    # The revocation is recorded and ours to finish (retried until GitHub confirms or the token expires).
    revoked: bool = True


def token_revoke(*, session: StsSession, token: str, trail: AuditTrail) -> Revocation:
    """Revokes a token this workspace minted. An unconfirmed revocation is answered as such and
    retried in the background until GitHub confirms it or the token expires."""
    fingerprint = token_fingerprint(token)
    trail.note(fingerprint=fingerprint)
    minted = MintedToken.objects.filter(fingerprint=fingerprint, workspace=session.workspace).first()
    if minted is None:
        raise TokenNotFound()
    if not minted.is_revoked():
        confirmed = revocation_attempt(app=GitHubApp.from_settings(), token=token, issued_at=minted.created_at)
        minted.revocation_attempted(confirmed=confirmed)
        if not confirmed:
            revocation_retries.submit(token=token, issued_at=minted.created_at, expires_at=minted.expires_at)
    trail.note(confirmed=minted.is_revoked(), revocation_attempts=minted.revocation_attempts)
    return Revocation(minted=minted, confirmed=minted.is_revoked())


def revocation_attempt(*, app: GitHubApp, token: str, issued_at: datetime) -> bool:
    """One revocation at GitHub: True when GitHub confirmed the token no longer works, False when it
    did not (a fresh token's 401, or GitHub failing); never raises for GitHub's answer."""
    try:
        return _github_revocation_confirmed(app=app, token=token, issued_at=issued_at)
    except GitHubError as error:
        logger.warning(
            "GitHub did not confirm the revocation of token %s: %s", token_fingerprint(token), type(error).__name__
        )
        return False


def _github_revocation_confirmed(*, app: GitHubApp, token: str, issued_at: datetime) -> bool:
    return app.revoke_installation_token(token, issued_at=issued_at.timestamp()).confirmed


class RevocationRetries:
    """Unconfirmed revocations retried in this process, with growing pauses, until GitHub confirms or
    the token expires; at most `max_pending` at once (beyond that a row simply stays unconfirmed), and
    one per token however often its revocation is asked for again meanwhile."""

    def __init__(self, *, workers: int, max_pending: int, first_pause: float, longest_pause: float) -> None:
        self.first_pause = first_pause
        self.longest_pause = longest_pause
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="revocation-retry")
        self._slots = threading.BoundedSemaphore(max_pending)
        self._lock = threading.Lock()
        self._pending: set[str] = set()

    def submit(self, *, token: str, issued_at: datetime, expires_at: datetime) -> Future[bool] | None:
        fingerprint = token_fingerprint(token)
        with self._lock:
            if fingerprint in self._pending:
                return None  # already being retried: a second retry would only hold another slot
            if not self._slots.acquire(blocking=False):
                logger.warning("Too many revocations to retry; token %s stays unconfirmed.", fingerprint)
                return None
            self._pending.add(fingerprint)
        future = self._executor.submit(self._retry, token, issued_at, expires_at)
        future.add_done_callback(lambda _: self._done(fingerprint))
        return future

    def _done(self, fingerprint: str) -> None:
        with self._lock:
            self._pending.discard(fingerprint)
        self._slots.release()

    def _retry(self, token: str, issued_at: datetime, expires_at: datetime) -> bool:
        pause = self.first_pause
        fingerprint = token_fingerprint(token)
        try:
            while time.time() + pause < expires_at.timestamp():
                time.sleep(pause)
                confirmed = revocation_attempt(app=GitHubApp.from_settings(), token=token, issued_at=issued_at)
                minted = MintedToken.objects.filter(fingerprint=fingerprint).first()
                if minted is not None:
                    minted.revocation_attempted(confirmed=confirmed)
                if confirmed:
                    logger.info("GitHub confirmed the revocation of token %s.", fingerprint)
                    return True
                pause = min(pause * 2, self.longest_pause)
            logger.warning("The revocation of token %s was never confirmed; it has expired.", fingerprint)
            return False
        finally:
            connections.close_all()  # this thread's own connections only


revocation_retries = RevocationRetries(workers=4, max_pending=500, first_pause=2.0, longest_pause=300.0)
