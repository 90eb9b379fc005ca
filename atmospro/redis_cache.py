"""Django's Redis cache, with one `redis.Redis` client per connection pool instead of one per operation.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every cache call, and redis-py's
constructor copies its table of response callbacks each time: under load that was a few percent of a
mint's CPU (a mint reads the cache several times: throttles, policy files, rate-limit memory). A
`redis.Redis` is safe to share between threads (each command borrows a connection from the pool), and
the pool notices a fork by itself, so the client is kept beside its pool. Everything else is Django's.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends import redis as django_redis


class _KeptClientRedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}
        self._clients_lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]  # Django's; its stubs lack it
        client = self._clients.get(id(pool))
        if client is None:
            with self._clients_lock:
                client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))  # type: ignore[attr-defined]
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _KeptClientRedisCacheClient
