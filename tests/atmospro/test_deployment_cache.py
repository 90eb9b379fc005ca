"""Deployments that share one cache stay apart; the processes of one deployment share it.

Each deployment here is a real process started with its own environment (``manage.py shell``), as a
server would be, against one Redis database or one file cache directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from atmospro.env import deployment_cache_prefix
from tests.redis_server import REDIS_URL, redis_required

ROOT = Path(__file__).resolve().parents[2]
# What one process does with the cache: write a value (when given) under a logical key, then read it back.
CACHE_ROUND = (
    "import json, os; from django.core.cache import cache; key = os.environ['LOGICAL_KEY']; "
    "value = os.environ.get('WRITE_VALUE'); value is not None and cache.set(key, value, 300); "
    "print(json.dumps(cache.get(key)))"
)
PRODUCTION = {"GITHUB_API_URL": "https://api.github.com", "GITHUB_APP_ID": "101"}
STAGING = {"GITHUB_API_URL": "https://api.github.com", "GITHUB_APP_ID": "202"}
# A GitHub Enterprise Server whose App happens to have the same id: its repository ids overlap github.com's.
GHES = {"GITHUB_API_URL": "https://ghes.example.com/api/v3", "GITHUB_APP_ID": "101"}


@pytest.fixture
def shared_redis() -> Iterator[str]:
    redis_required()
    yield REDIS_URL


def _process(cache_url: str, deployment: dict[str, str], tmp_path: Path, key: str, write: str | None = None) -> object:
    """One server process of a deployment: it writes ``write`` under ``key`` if given, and reports what it reads."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GITHUB_", "CACHE_URL", "DEBUG", "ALLOWED_HOSTS", "DATABASE_URL"))
    }
    env.update(deployment, CACHE_URL=cache_url, VAR_DIR=str(tmp_path / "var"), PYTHONPATH=str(ROOT), LOGICAL_KEY=key)
    if write is not None:
        env["WRITE_VALUE"] = write
    command = [sys.executable, "manage.py", "shell", "-c", CACHE_ROUND]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _prefix_of(deployment: dict[str, str]) -> str:
    return deployment_cache_prefix(
        github_api_url=deployment["GITHUB_API_URL"], github_app_id=deployment["GITHUB_APP_ID"]
    )


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis), "filecache"])
def shared_cache_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "filecache":
        return f"filecache://{tmp_path / 'shared-cache'}"
    return request.getfixturevalue("shared_redis")


@pytest.fixture
def logical_key() -> Iterator[str]:
    """A policy-shaped key of this test only; whatever it left in the shared Redis is removed after."""
    key = f"sts:policy:4242:{uuid.uuid4().hex}"
    yield key
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for raw in client.scan_iter(match=f"*{key}"):
            client.delete(raw)
    except redis.ConnectionError:
        pass  # the file cache runs need no Redis; its directory goes with tmp_path
    finally:
        client.close()


def test_a_value_cached_by_one_deployment_is_not_seen_by_another(
    shared_cache_url: str, logical_key: str, tmp_path: Path
) -> None:
    written = _process(shared_cache_url, PRODUCTION, tmp_path, logical_key, write="production's policy")
    assert written == "production's policy"
    assert _process(shared_cache_url, STAGING, tmp_path, logical_key) is None
    assert _process(shared_cache_url, GHES, tmp_path, logical_key) is None


def test_two_processes_of_one_deployment_share_what_they_cache(
    shared_cache_url: str, logical_key: str, tmp_path: Path
) -> None:
    _process(shared_cache_url, STAGING, tmp_path, logical_key, write="staging's policy")
    assert _process(shared_cache_url, STAGING, tmp_path, logical_key) == "staging's policy"


def test_deployments_writing_one_logical_key_each_read_their_own(
    shared_cache_url: str, logical_key: str, tmp_path: Path
) -> None:
    for deployment, value in ((PRODUCTION, "production"), (STAGING, "staging"), (GHES, "ghes")):
        _process(shared_cache_url, deployment, tmp_path, logical_key, write=value)
    assert _process(shared_cache_url, PRODUCTION, tmp_path, logical_key) == "production"
    assert _process(shared_cache_url, STAGING, tmp_path, logical_key) == "staging"
    assert _process(shared_cache_url, GHES, tmp_path, logical_key) == "ghes"


@pytest.mark.redis
def test_every_key_in_the_shared_redis_carries_its_deployments_prefix(
    shared_redis: str, logical_key: str, tmp_path: Path
) -> None:
    for deployment in (PRODUCTION, GHES):
        _process(shared_redis, deployment, tmp_path, logical_key, write="a policy")
    client = redis.Redis.from_url(REDIS_URL)
    stored = sorted(raw.decode() for raw in client.scan_iter(match=f"*{logical_key}"))
    client.close()
    assert stored == sorted(f"{_prefix_of(deployment)}:1:{logical_key}" for deployment in (PRODUCTION, GHES))


def test_the_deployment_prefix_follows_the_github_api_and_the_app() -> None:
    assert len({_prefix_of(deployment) for deployment in (PRODUCTION, STAGING, GHES)}) == 3


def test_the_deployment_prefix_ignores_how_the_host_and_the_final_slash_are_written() -> None:
    written = deployment_cache_prefix(github_api_url="https://GHES.example.com/api/v3/", github_app_id="101")
    assert written == deployment_cache_prefix(github_api_url="https://ghes.example.com/api/v3", github_app_id="101")


def test_a_prefix_of_the_cache_url_is_kept_in_front_of_the_deployments(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("GITHUB_", "CACHE_URL"))}
    env.update(
        PRODUCTION,
        CACHE_URL=f"{REDIS_URL}?key_prefix=blue&timeout=30",
        VAR_DIR=str(tmp_path / "var"),
        PYTHONPATH=str(ROOT),
    )
    script = "from django.conf import settings; import json; print(json.dumps(settings.CACHES['default']))"
    command = [sys.executable, "manage.py", "shell", "-c", script]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stdout.strip().splitlines()[-1])
    prefix = _prefix_of(PRODUCTION)
    # django-environ spells the query's options in lower case for Django's Redis backend, which reads
    # only upper case: both must arrive where Django looks.
    assert (entry["KEY_PREFIX"], entry["TIMEOUT"]) == (f"blue:{prefix}", 30)
    assert "key_prefix" not in entry
    assert "timeout" not in entry
