"""The Redis that the suite's Redis tests use (CI starts it before the suite): its address, and the one
failure when it is not running (never a skip). Tests keep apart by key prefix, never by flushing it."""

from __future__ import annotations

import uuid

import pytest
import redis

from atmospro.redis_cache import RedisCache

REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_required() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"This test needs Redis at {REDIS_URL} (CI starts it before the suite): it is not running.")
    finally:
        client.close()


def redis_cache_of_its_own() -> RedisCache:
    """The service's Redis cache, under a key prefix that no other test uses."""
    redis_required()
    return RedisCache(REDIS_URL, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
