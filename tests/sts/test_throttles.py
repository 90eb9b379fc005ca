"""The rate limits (`sts.throttles`): a burst of N, then one request every period/N; a refused request
counts against no limit; and the Redis script and the arithmetic for other caches decide alike."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache as default_cache

import sts.throttles
from sts.throttles import Limit, SessionThrottle, limits_admit
from tests.redis_server import redis_cache_of_its_own

NOW = 1_800_000_000.0

Admit = Callable[..., float]


def _admit_on(store: Any) -> Admit:
    def admit(limits: list[Limit], *, now: float) -> float:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sts.throttles, "cache", store)
            return limits_admit(limits, now=now)

    return admit


@pytest.fixture
def here() -> Iterator[Admit]:
    """The arithmetic run here, on a cache without scripts (the suite's memory cache)."""
    default_cache.clear()
    yield _admit_on(default_cache)
    default_cache.clear()


@pytest.fixture
def there() -> Admit:
    """The script, on a real Redis."""
    return _admit_on(redis_cache_of_its_own())


@pytest.fixture(params=[pytest.param("here"), pytest.param("there", marks=pytest.mark.redis)])
def admit(request: pytest.FixtureRequest) -> Admit:
    return request.getfixturevalue(request.param)


def test_a_burst_of_the_rate_then_one_request_every_interval(admit: Admit) -> None:
    limit = Limit("workspace", requests=3, seconds=60)

    burst = [admit([limit], now=NOW) for _ in range(4)]
    assert burst[:3] == [0, 0, 0]
    assert burst[3] == pytest.approx(20)  # the bucket has room again after period/N

    assert admit([limit], now=NOW + 19.9) > 0
    assert admit([limit], now=NOW + 20) == 0
    assert admit([limit], now=NOW + 20) > 0


def test_a_refused_request_counts_against_no_limit(admit: Admit) -> None:
    roomy, tight = Limit("workspace", requests=100, seconds=60), Limit("caller", requests=1, seconds=60)
    assert admit([roomy, tight], now=NOW) == 0

    refusals = [admit([roomy, tight], now=NOW) for _ in range(150)]

    assert all(wait == pytest.approx(60) for wait in refusals)
    # Only the first request counted against the roomy limit: 99 more fit in it.
    assert [admit([roomy], now=NOW) for _ in range(100)].count(0) == 99


def test_a_rate_beyond_a_request_a_microsecond_still_counts(admit: Admit) -> None:
    limit = Limit("flood", requests=10_000_000, seconds=1)
    assert limit.interval == 1
    assert all(admit([limit], now=NOW) == 0 for _ in range(3))


def test_limits_of_other_keys_are_apart_and_a_rate_of_zero_admits_nothing(admit: Admit) -> None:
    assert admit([Limit("a", requests=1, seconds=60)], now=NOW) == 0
    assert admit([Limit("b", requests=1, seconds=60)], now=NOW) == 0
    assert admit([Limit("a", requests=1, seconds=60)], now=NOW) > 0

    assert admit([Limit("closed", requests=0, seconds=60)], now=NOW) == 60
    assert admit([Limit("closed", requests=0, seconds=60), Limit("b2", requests=5, seconds=1)], now=NOW) == 60
    assert admit([Limit("b2", requests=5, seconds=1)] * 1, now=NOW) == 0  # the closed limit counted nothing


@pytest.mark.parametrize(
    "ident", ["", "a b\r\nFLUSHALL\r\n", "'; return 1 --", "\u202e\U0001f600" * 50, "k" * 5000, "\ud800"]
)
def test_hostile_idents_are_only_hashed_into_keys(admit: Admit, ident: str, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"sts_caller": "1/minute"}}
    (limit,) = SessionThrottle().limit("sts_caller", ident)
    assert limit.key.startswith("throttle:sts_caller:") and len(limit.key) == len("throttle:sts_caller:") + 32

    assert admit([limit], now=NOW) == 0
    assert admit([limit], now=NOW) > 0
    assert admit([*SessionThrottle().limit("sts_caller", ident + "x")], now=NOW) == 0


@pytest.mark.redis
def test_the_script_and_the_arithmetic_decide_alike(here: Admit, there: Admit) -> None:
    shapes = random.Random(13)
    choices = [("w", 5, 60), ("c", 2, 60), ("x", 10, 1), ("y", 1, 3600)]
    decided_here, decided_there = [], []
    now = NOW
    for _ in range(400):
        now += shapes.choice([0, 0, 0, 0.05, 0.5, 3, 20])
        limits = [Limit(*shape) for shape in shapes.sample(choices, k=shapes.randint(1, 3))]
        decided_here.append(here(limits, now=now))
        decided_there.append(there(limits, now=now))

    assert decided_here == pytest.approx(decided_there)
    assert 0 < decided_here.count(0) < len(decided_here)  # both admitted and refused
