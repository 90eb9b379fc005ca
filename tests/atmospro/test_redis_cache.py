"""The Redis cache keeps one client per connection pool, and is otherwise Django's, against a real Redis."""

from __future__ import annotations

import threading

import pytest
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

from atmospro.env import Environment
from atmospro.redis_cache import RedisCache
from tests.redis_server import REDIS_URL, redis_cache_of_its_own


@pytest.fixture
def cache() -> RedisCache:
    return redis_cache_of_its_own()


def test_a_redis_cache_url_names_the_cache_that_keeps_its_client() -> None:
    config = Environment({"CACHE_URL": REDIS_URL}).cache_url("CACHE_URL", "locmemcache://")
    assert config["BACKEND"] == "atmospro.redis_cache.RedisCache"
    assert issubclass(RedisCache, DjangoRedisCache)


def test_every_call_uses_the_same_client_and_the_same_pool(cache: RedisCache) -> None:
    first = cache._cache.get_client(write=True)
    assert cache._cache.get_client() is first
    assert cache._cache.get_client(write=True) is first
    assert first.connection_pool is cache._cache._get_connection_pool(True)


def test_values_counters_and_expiry_behave_as_in_djangos_cache(cache: RedisCache) -> None:
    cache.set("policy", {"content": b"rules"}, 30)
    assert cache.get("policy") == {"content": b"rules"}
    assert cache.add("policy", "other") is False
    cache.set("count", 1)
    assert cache.incr("count", 2) == 3
    cache.set("gone", "x", 0)  # a timeout of 0 expires at once
    assert cache.get("gone", "missing") == "missing"
    cache.delete_many(["policy", "count"])
    assert cache.get_many(["policy", "count"]) == {}


def test_threads_share_the_client_and_each_reads_its_own_keys(cache: RedisCache) -> None:
    seen: dict[int, object] = {}
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for round_ in range(50):
                cache.set(f"key-{index}", (index, round_))
                assert cache.get(f"key-{index}") == (index, round_)
            seen[index] = cache._cache.get_client()
        except BaseException as error:  # reported below, with the thread's failure
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({id(client) for client in seen.values()}) == 1
