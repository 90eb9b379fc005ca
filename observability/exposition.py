"""`GET /metrics`: the Prometheus text format, for whom configuration allows, a 404 for everyone else.

Allowed: `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time), or a client whose socket
address lies in `METRICS_ALLOWED_NETWORKS`. The address is the socket's own (`REMOTE_ADDR`), never
`X-Forwarded-For`: anyone can write that header, and a scraper reaches each process directly, not
through the load balancer. With neither setting, nobody is allowed. A refusal is the same 404 as an
unknown path, so the route does not tell who probes it that it exists or what would open it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import os
from collections.abc import Sequence

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        raise Http404()
    if request.method not in ("GET", "HEAD"):  # told only to who may scrape: to others the route is not there
        return HttpResponseNotAllowed(["GET", "HEAD"])
    response = HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


def metrics_allowed(request: HttpRequest) -> bool:
    return _bearer_matches(request.headers.get("Authorization", ""), settings.METRICS_TOKEN) or _address_allowed(
        request.META.get("REMOTE_ADDR", ""), tuple(settings.METRICS_ALLOWED_NETWORKS)
    )


def _bearer_matches(header: str, expected: str | None) -> bool:
    scheme, _, given = header.partition(" ")
    if not expected or scheme.lower() != "bearer" or not given:
        return False
    # Digests of equal length: the comparison tells nothing, not even the token's length.
    return hmac.compare_digest(_digest(given.strip()), _digest(expected))


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", errors="surrogatepass")).digest()


def _address_allowed(address: str, networks: tuple[str, ...]) -> bool:
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.5 on a dual-stack socket is 10.0.0.5
    return any(ip in network for network in parsed_networks(networks))


@functools.lru_cache(maxsize=8)
def parsed_networks(networks: Sequence[str]) -> tuple[IpNetwork, ...]:
    """CIDRs as written in `METRICS_ALLOWED_NETWORKS`; raises ValueError on one that is not a network."""
    return tuple(ipaddress.ip_network(network, strict=True) for network in networks)


def _registry() -> CollectorRegistry:
    """Every process's values added up when there are several (gunicorn), else this process's registry."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry
