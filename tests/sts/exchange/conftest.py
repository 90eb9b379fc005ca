"""A workspace that installed the GitHub App on "acme" (with acme/app), at the simulator and in our database."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from githubsim.simulator import GitHubSimulator
from tests.factories import Acme, acme_create

EXCHANGE_URL = "/api/v1/auth/github-oidc"


@pytest.fixture(autouse=True)
def _private_cache(settings: Any, tmp_path: Path) -> None:
    """A file cache of this test's own: the key-set cache and the throttle counts start empty, and no
    other test run on this machine (which may clear var/cache at any moment) can disturb them."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
            "KEY_PREFIX": settings.DEPLOYMENT_CACHE_PREFIX,
        }
    }


@pytest.fixture
def acme(github_sim: GitHubSimulator, db: None) -> Acme:
    return acme_create(github_sim)


def exchange(
    client: Client, body: Any, *, content_type: str = "application/json", raw: bytes | None = None, **extra: Any
) -> Any:
    """POST to the exchange as the Atmos CLI does; the response's JSON is on ``.json()``."""
    data = raw if raw is not None else json.dumps(body)
    return client.post(EXCHANGE_URL, data=data, content_type=content_type, **extra)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value).encode())


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return _unb64(header), _unb64(payload), signature


def _unb64(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


TokenFactory = Callable[[Acme], str]
