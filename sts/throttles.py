"""Rate limits of the STS endpoints (DRF throttles, counted in the shared cache, so they hold across
processes and machines).

The exchange is unauthenticated: it is limited per client address against floods. The mint and the
revocation are limited per workspace and per calling repository, never per address: GitHub-hosted
runners share egress addresses across all their customers, so an address limit would let one
customer starve another.
"""

from __future__ import annotations

import hashlib

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from sts.models import StsSession


class _ConfiguredRateThrottle(SimpleRateThrottle):
    """The rate of ``scope`` comes from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``."""

    def get_rate(self) -> str | None:
        # Read at each request, not at import: DRF's class attribute would freeze the rate of the first import.
        rate = api_settings.DEFAULT_THROTTLE_RATES[str(self.scope)]
        return None if rate is None else str(rate)

    def key_for(self, ident: str) -> str:
        # Idents come from headers or claims: hashed, so any value makes a well-formed cache key.
        return self.cache_format % {"scope": self.scope, "ident": hashlib.sha256(ident.encode()).hexdigest()[:32]}


class OidcExchangeThrottle(_ConfiguredRateThrottle):
    """Per client address (``NUM_PROXIES`` says which ``X-Forwarded-For`` entry is the client)."""

    scope = "oidc_exchange"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.key_for(str(self.get_ident(request)))


class _SessionThrottle(_ConfiguredRateThrottle):
    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        session = request.auth
        return self.key_for(self.ident(session)) if isinstance(session, StsSession) else None

    def ident(self, session: StsSession) -> str:
        raise NotImplementedError


class WorkspaceThrottle(_SessionThrottle):
    """Every caller of one workspace together."""

    scope = "sts_workspace"

    def ident(self, session: StsSession) -> str:
        return session.workspace.public_id


class CallerRepositoryThrottle(_SessionThrottle):
    """One calling repository of a workspace, by GitHub id (a rename does not reset it)."""

    scope = "sts_caller"

    def ident(self, session: StsSession) -> str:
        return f"{session.workspace.public_id}:{session.identity.get('repository_id', '')}"


def client_address(request: Request) -> str:
    return str(OidcExchangeThrottle().get_ident(request) or "")[:64]
