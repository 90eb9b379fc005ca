"""What the App remembers of its credentials between calls: App JWTs and our own reader tokens, per
process and in memory only (they are credentials: never in a shared cache or the database), and the
credentials GitHub told us are exhausted, in the shared cache.

None of it is a decision: losing it costs a GitHub call, never a wrong answer.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache

from github_app.errors import GitHubAuthenticationFailed, GitHubRateLimited

READER_TOKEN_MARGIN_SECONDS = 300  # stop reusing our own reader token this long before it expires
RATE_LIMIT_MEMORY_MAX_SECONDS = 3600


class _RateLimitMemory:
    """When GitHub said a credential is exhausted, calls with it wait for the reset instead of hammering.

    Kept in the shared cache, not in this process: GitHub's limit belongs to the App (or to one
    installation) whichever process or machine spends it, so what one process learnt spares every
    other the refused call. The entry expires at GitHub's reset time; losing it costs one refused call.
    """

    def check(self, credential: str) -> None:
        until = cache.get(_rate_limit_key(credential))
        if isinstance(until, int | float) and until > time.time():
            raise GitHubRateLimited("GitHub's rate limit for this credential is exhausted.", retry_at=float(until))

    def remember(self, credential: str, until: float) -> None:
        seconds = until - time.time()
        if seconds > 0:
            # GitHub's windows are an hour at most; a reset further away is not believed beyond that.
            cache.set(_rate_limit_key(credential), until, timeout=min(int(seconds) + 1, RATE_LIMIT_MEMORY_MAX_SECONDS))


def _rate_limit_key(credential: str) -> str:
    # The cache's key prefix already names the deployment (GitHub API URL and App id).
    return f"github:rate-limited:{credential}"


rate_limits = _RateLimitMemory()
app_jwts: dict[tuple[str, str], tuple[str, float]] = {}
app_jwts_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def app_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):  # settings check this at start; a test may not have
        raise GitHubAuthenticationFailed("GITHUB_APP_PRIVATE_KEY must be an RSA private key.")
    return key


@dataclass(frozen=True)
class ReaderToken:
    """Our own reader token and when we received it: GitHub may not accept it for its first seconds."""

    token: str = field(repr=False)
    issued_at: float
    expires_at: float


class _ReaderTokens:
    """Our own installation tokens for reading policy files: per process, in memory only, reused
    until shortly before they expire; never handed to a caller, never in a shared cache or the database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, int], threading.Lock] = {}
        self._tokens: dict[tuple[str, int], ReaderToken] = {}

    def get(self, *, api_url: str, installation_id: int, create: Callable[[], ReaderToken]) -> ReaderToken:
        key = (api_url, installation_id)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one creation per installation at a time: concurrent policy reads share it
            current = self._tokens.get(key)
            if current is None or current.expires_at - time.time() < READER_TOKEN_MARGIN_SECONDS:
                current = create()
                self._tokens[key] = current
            return current

    def forget(self, *, api_url: str, installation_id: int, token: str) -> None:
        """Forget `token` if it is still the current one (another thread may already have replaced it)."""
        key = (api_url, installation_id)
        with self._lock:
            current = self._tokens.get(key)
            if current is not None and current.token == token:
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


reader_tokens = _ReaderTokens()


def github_memory_clear() -> None:
    """Forget this process's reader tokens and App JWTs (after a key rotation, and between tests); the
    rate-limit waits live in the shared cache until GitHub's reset."""
    reader_tokens.clear()
    with app_jwts_lock:
        app_jwts.clear()
