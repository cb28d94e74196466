"""limits 5.8.0's three strategies on its `redis://` storage, unmodified.

Every strategy runs Lua through redis-py's registered scripts (EVALSHA, SCRIPT LOAD on
NOSCRIPT): fixed window INCRBY + EXPIRE; moving window LPUSH / LINDEX / LTRIM / EXPIRE
with float timestamps; sliding window counter GET / PTTL / RENAME / SET PX / INCRBY.
Counts are exact within a window; limits' own MemoryStorage, given the same calls,
is the oracle for mixed hit/test/cost sequences.
"""
import asyncio
import time

import pytest
from limits import parse
from limits.aio import strategies as aio_strategies
from limits.aio.storage import RedisStorage as AsyncRedisStorage
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)

from targets import run_in_threads

STRATEGIES = {
    "fixed": FixedWindowRateLimiter,
    "moving": MovingWindowRateLimiter,
    "sliding": SlidingWindowCounterRateLimiter,
}


@pytest.fixture(params=list(STRATEGIES))
def strategy(request):
    return request.param


@pytest.fixture
def storage(target, prefix):
    storage = RedisStorage(target.url, key_prefix=prefix.rstrip(":"))
    yield storage
    storage.storage.close()


def clear_of_minute_boundary():
    """MemoryStorage's sliding window is aligned to the clock; Redis's starts at the first hit."""
    remaining = 60 - time.time() % 60
    if remaining < 1:
        time.sleep(remaining + 0.01)


def test_five_per_second_allows_exactly_five_then_reports_the_reset(storage, strategy):
    limiter = STRATEGIES[strategy](storage)
    item = parse("5/second")
    began = time.time()
    assert [limiter.hit(item, "user") for _ in range(8)] == [True] * 5 + [False] * 3
    assert limiter.test(item, "user") is False
    reset, remaining = limiter.get_window_stats(item, "user")
    assert remaining == 0
    # The window ends at most a second after it began (fixed window: TTL is whole seconds).
    assert began < reset <= time.time() + 1.01
    assert limiter.test(item, "other") is True
    assert limiter.get_window_stats(item, "other").remaining == 5


def test_five_per_second_allows_again_after_the_window(storage, strategy):
    limiter = STRATEGIES[strategy](storage)
    item = parse("5/second")
    assert sum(limiter.hit(item, "user") for _ in range(6)) == 5
    time.sleep(1.05)
    allowed = sum(limiter.hit(item, "user") for _ in range(6))
    if strategy == "sliding":
        # The previous window still counts, weighted by the part of it that is left.
        assert 1 <= allowed <= 4
    else:
        assert allowed == 5


def test_ten_per_minute_from_many_threads_allows_exactly_ten(storage, strategy):
    limiter = STRATEGIES[strategy](storage)
    item = parse("10/minute")
    results = []

    def work():
        for _ in range(4):
            results.append(limiter.hit(item, "shared"))

    run_in_threads(6, work)
    assert len(results) == 24 and sum(results) == 10
    reset, remaining = limiter.get_window_stats(item, "shared")
    assert remaining == 0
    assert time.time() + 55 < reset <= time.time() + 61


def test_remaining_counts_down_one_hit_at_a_time(storage, strategy):
    limiter = STRATEGIES[strategy](storage)
    item = parse("10/minute")
    seen = []
    for _ in range(4):
        seen.append(limiter.get_window_stats(item, "countdown").remaining)
        limiter.hit(item, "countdown")
    assert seen == [10, 9, 8, 7]
    limiter.clear(item, "countdown")
    assert limiter.get_window_stats(item, "countdown").remaining == 10


# (operation, limit, cost); run on MemoryStorage and on the target, outcomes compared.
SEQUENCE = [
    ("hit", "10/minute", 3),
    ("test", "10/minute", 7),
    ("test", "10/minute", 8),
    ("hit", "10/minute", 3),
    ("hit", "10/minute", 3),
    ("stats", "10/minute", 0),
    ("hit", "10/minute", 2),
    ("hit", "10/minute", 1),
    ("test", "10/minute", 1),
    ("stats", "10/minute", 0),
    ("hit", "10/minute", 11),
    ("hit", "3/hour", 1),
    ("hit", "3/hour", 2),
    ("hit", "3/hour", 1),
    ("stats", "3/hour", 0),
]


def run_sequence(limiter, key):
    outcomes = []
    for operation, limit, cost in SEQUENCE:
        item = parse(limit)
        if operation == "hit":
            outcomes.append(limiter.hit(item, key, cost=cost))
        elif operation == "test":
            outcomes.append(limiter.test(item, key, cost=cost))
        else:
            outcomes.append(limiter.get_window_stats(item, key).remaining)
    return outcomes


def test_hit_test_and_cost_match_limits_in_memory_storage(storage, strategy):
    clear_of_minute_boundary()
    expected = run_sequence(STRATEGIES[strategy](MemoryStorage()), "mixed")
    assert run_sequence(STRATEGIES[strategy](storage), "mixed") == expected
    # Hand-checked parts: 3 + 3 + 3 fit in 10; a cost over the whole limit never does.
    assert expected[0] is True and expected[3] is True and expected[4] is True
    assert expected[5] == 1 and expected[10] is False
    assert expected[11:] == [True, True, False, 0]


ASYNC_STRATEGIES = {
    "fixed": aio_strategies.FixedWindowRateLimiter,
    "moving": aio_strategies.MovingWindowRateLimiter,
    "sliding": aio_strategies.SlidingWindowCounterRateLimiter,
}


def test_asyncio_storage_allows_exactly_the_limit(target, prefix, strategy):
    """limits.aio over redis.asyncio sends the same scripts from concurrent tasks."""

    async def run():
        storage = AsyncRedisStorage(
            f"async+redis://{target.host}:{target.port}", implementation="redispy", key_prefix=prefix.rstrip(":")
        )
        limiter = ASYNC_STRATEGIES[strategy](storage)
        item = parse("10/minute")
        try:
            results = await asyncio.gather(*[limiter.hit(item, "tasks") for _ in range(16)])
            return results, await limiter.get_window_stats(item, "tasks")
        finally:
            await storage.bridge.storage.aclose()

    results, stats = asyncio.run(run())
    assert sum(results) == 10 and len(results) == 16
    assert stats.remaining == 0
