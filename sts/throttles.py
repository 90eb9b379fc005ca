"""Rate limits of the STS endpoints, counted in the shared cache, so they hold across processes and
machines.

The exchange is unauthenticated: it is limited per client address against floods. The mint and the
revocation are limited per workspace and per calling repository, never per address: GitHub-hosted
runners share egress addresses across all their customers, so an address limit would let one
customer starve another.

Each limit is a generic cell rate (GCRA, the leaky bucket as a meter): a rate of N a period admits a
burst of N, then one request every period/N, and keeps one number per key, the time at which its
bucket is empty again. A request is checked against all of its limits at once and counts against all
or, refused, against none. On Redis that is one script, atomic and one round trip whatever the number
of processes and machines; on another cache (a single machine's file cache) the same arithmetic runs
here, with a read and a write that concurrent requests may interleave.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from sts.models import StsSession


@dataclass(frozen=True)
class Limit:
    key: str
    requests: int
    seconds: int

    @property
    def interval(self) -> int:
        """Microseconds between two requests, once the burst is spent (at least one: a bucket that
        never fills would be stored with no lifetime)."""
        return max(1, round(self.seconds * _MICROSECONDS / self.requests))


# Times are whole microseconds: exact in the doubles of Redis's Lua as in Python, and written as
# integers (Lua's `tostring` would keep 14 digits of a time since 1970 in microseconds).
_MICROSECONDS = 1_000_000


# KEYS: one per limit; ARGV: now, then each limit's interval and period, in microseconds. Every value
# read or written under these keys is the time at which that key's bucket is empty again, in microseconds.
_ADMIT_SCRIPT = """
local now = tonumber(ARGV[1])
local wait = 0
local empty_at = {}
for index, key in ipairs(KEYS) do
    local interval, period = tonumber(ARGV[2 * index]), tonumber(ARGV[2 * index + 1])
    local at = math.max(tonumber(redis.call('GET', key) or '0') or 0, now) + interval
    empty_at[index] = at
    wait = math.max(wait, at - now - period)
end
if wait > 0 then
    return string.format('%.0f', wait)
end
for index, key in ipairs(KEYS) do
    redis.call('SET', key, string.format('%.0f', empty_at[index]), 'PX', math.ceil((empty_at[index] - now) / 1000))
end
return '0'
"""


def limits_admit(limits: Sequence[Limit], *, now: float | None = None) -> float:
    """0 when the request fits every one of `limits` (and is then counted against each); otherwise
    the seconds until it would fit, and nothing is counted."""
    if not limits:
        return 0.0
    closed = [limit.seconds for limit in limits if limit.requests < 1]
    if closed:  # a rate of 0: nothing is admitted, nothing is counted
        return float(max(closed))
    at = round((time.time() if now is None else now) * _MICROSECONDS)
    if isinstance(cache, RedisCache):
        # Django's cache offers no script call: its client (`_cache`) does, with the same pool.
        client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]  # Django's; its stubs lack it
        keys = [cache.make_and_validate_key(limit.key) for limit in limits]
        periods = [(limit.interval, limit.seconds * _MICROSECONDS) for limit in limits]
        wait = int(client.eval(_ADMIT_SCRIPT, len(keys), *keys, at, *(value for pair in periods for value in pair)))
    else:
        wait = _admit_here(limits, at)
    return wait / _MICROSECONDS


def _admit_here(limits: Sequence[Limit], now: int) -> int:
    """The script's arithmetic, for a cache without scripts."""
    stored = cache.get_many([limit.key for limit in limits])
    empty_at = {limit.key: max(int(stored.get(limit.key, 0)), now) + limit.interval for limit in limits}
    wait = max(empty_at[limit.key] - now - limit.seconds * _MICROSECONDS for limit in limits)
    if wait > 0:
        return wait
    for limit in limits:
        cache.set(limit.key, empty_at[limit.key], math.ceil((empty_at[limit.key] - now) / _MICROSECONDS))
    return 0


class _LimitsThrottle(BaseThrottle):
    """Admits a request that fits all of `limits`; `wait` says when a refused one would fit."""

    _wait = 0.0

    def limits(self, request: Request) -> list[Limit]:
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        self._wait = limits_admit(self.limits(request))
        return self._wait <= 0

    def wait(self) -> float:
        return self._wait

    def limit(self, scope: str, ident: str) -> list[Limit]:
        """The limit of `scope` (`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`, read at each request) for
        `ident`; none when the scope's rate is None."""
        rate = api_settings.DEFAULT_THROTTLE_RATES[scope]
        if rate is None:
            return []
        count, _, period = str(rate).partition("/")
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]  # DRF's spelling: 10/second, 600/minute
        # Idents come from headers or claims: hashed, so any value makes a well-formed cache key.
        return [
            Limit(
                f"throttle:{scope}:{hashlib.sha256(ident.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}",
                int(count),
                seconds,
            )
        ]


class OidcExchangeThrottle(_LimitsThrottle):
    """Per client address (``NUM_PROXIES`` says which ``X-Forwarded-For`` entry is the client)."""

    def limits(self, request: Request) -> list[Limit]:
        return self.limit("oidc_exchange", str(self.get_ident(request)))


class SessionThrottle(_LimitsThrottle):
    """Every caller of one workspace together (`sts_workspace`), and one calling repository of a
    workspace by GitHub id, so that a rename does not reset it (`sts_caller`)."""

    def limits(self, request: Request) -> list[Limit]:
        session = request.auth
        if not isinstance(session, StsSession):
            return []
        workspace = session.workspace.public_id
        return [
            *self.limit("sts_workspace", workspace),
            *self.limit("sts_caller", f"{workspace}:{session.identity.get('repository_id', '')}"),
        ]


def client_address(request: Request) -> str:
    return str(OidcExchangeThrottle().get_ident(request) or "")[:64]
