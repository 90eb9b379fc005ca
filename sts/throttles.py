"""Per-client rate limits of the STS endpoints (DRF throttles, counted in the shared Django cache)."""

from __future__ import annotations

import hashlib

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class ClientThrottle(SimpleRateThrottle):
    """Per client IP (``NUM_PROXIES`` says which ``X-Forwarded-For`` entry is the client); the rate of
    ``scope`` comes from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``."""

    def get_rate(self) -> str | None:
        # Read at each request, not at import: DRF's class attribute would freeze the rate of the first import.
        rate = api_settings.DEFAULT_THROTTLE_RATES[str(self.scope)]
        return None if rate is None else str(rate)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        # The ident comes from a header: hashed, so any value makes a well-formed cache key.
        ident = hashlib.sha256(str(self.get_ident(request)).encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def client_ip(self, request: Request) -> str:
        return str(self.get_ident(request) or "")[:64]


class OidcExchangeThrottle(ClientThrottle):
    scope = "oidc_exchange"


class MintThrottle(ClientThrottle):
    """The mint and the revocation: a CI fleet shares few egress addresses, so the rate is generous."""

    scope = "mint"
