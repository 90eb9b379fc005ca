"""The one place that speaks HTTP to the outside (GitHub's API and the OIDC issuers).

Every call has a timeout, never follows a redirect (a redirect could carry a credential to another
host), and trusts the system CAs plus ``GITHUB_CA_BUNDLE`` when set (a GHES or the simulator).
Sessions are per thread: ``requests.Session`` is not documented as thread-safe. Each call is counted
and timed by its endpoint's template (`endpoint_template`), never by its path, which names repositories.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from observability.metrics import outbound_call_observed

USER_AGENT = "atmos-pro-sts/0.1"
# The endpoints this service calls, matched at the end of the path (a GHES serves them under /api/v3);
# https://docs.github.com/en/rest and https://docs.github.com/en/actions/reference/security/oidc
ENDPOINT_TEMPLATES = tuple(
    (re.compile(pattern), template)
    for pattern, template in (
        # A file's path may end like another endpoint: contents first.
        (r"/repositories/\d+/contents/.+$", "/repositories/{id}/contents/{path}"),
        (r"/repos/[^/]+/[^/]+/contents/.+$", "/repos/{owner}/{repo}/contents/{path}"),
        (r"/app/installations/\d+/access_tokens$", "/app/installations/{id}/access_tokens"),
        (r"/app/installations/\d+$", "/app/installations/{id}"),
        (r"/repos/[^/]+/[^/]+/installation$", "/repos/{owner}/{repo}/installation"),
        (r"/installation/repositories$", "/installation/repositories"),
        (r"/installation/token$", "/installation/token"),
        (r"/repositories/\d+/check-runs/\d+$", "/repositories/{id}/check-runs/{id}"),
        (r"/repositories/\d+/check-runs$", "/repositories/{id}/check-runs"),
        (r"/repositories/\d+/pulls/\d+/files$", "/repositories/{id}/pulls/{number}/files"),
        (r"/user/installations$", "/user/installations"),
        (r"/user/memberships/orgs/[^/]+$", "/user/memberships/orgs/{org}"),
        (r"/user$", "/user"),
        (r"/login/oauth/access_token$", "/login/oauth/access_token"),
        (r"/\.well-known/openid-configuration$", "/.well-known/openid-configuration"),
        (r"/\.well-known/jwks$", "/.well-known/jwks"),
    )
)
_local = threading.local()


def _session() -> requests.Session:
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.trust_env = False  # no proxy or netrc credentials picked up from the environment
        _local.session = session
    return session


def http_request(method: str, url: str, *, timeout: float | None = None, **kwargs: Any) -> requests.Response:
    """Raises ``requests.RequestException`` on a transport failure; the caller maps it to its own error."""
    return outbound_call_observed(
        method=method,
        endpoint=endpoint_template(url),
        send=lambda: _session().request(
            method,
            url,
            timeout=timeout or settings.GITHUB_HTTP_TIMEOUT,
            allow_redirects=False,
            verify=settings.GITHUB_CA_BUNDLE or True,
            **kwargs,
        ),
    )


def endpoint_template(url: str) -> str:
    """The documented endpoint a URL calls, with its ids and names as placeholders; `other` for the rest
    (an issuer's key set at a path of its own choosing)."""
    path = urlsplit(url).path
    return next((template for pattern, template in ENDPOINT_TEMPLATES if pattern.search(path)), "other")


def is_loopback_host(host: str) -> bool:
    """Where plain http is allowed: the simulator on this machine, never a host across a network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
