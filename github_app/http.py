"""The one place that speaks HTTP to the outside (GitHub's API and the OIDC issuers).

Every call has a timeout, never follows a redirect (a redirect could carry a credential to another
host), and trusts the system CAs plus ``GITHUB_CA_BUNDLE`` when set (a GHES or the simulator).
Sessions are per thread: ``requests.Session`` is not documented as thread-safe.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

import requests
from django.conf import settings

USER_AGENT = "atmos-pro-sts/0.1"
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
    return _session().request(
        method,
        url,
        timeout=timeout or settings.GITHUB_HTTP_TIMEOUT,
        allow_redirects=False,
        verify=settings.GITHUB_CA_BUNDLE or True,
        **kwargs,
    )


def is_loopback_host(host: str) -> bool:
    """Where plain http is allowed: the simulator on this machine, never a host across a network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
