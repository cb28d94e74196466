"""pyrate-limiter 4.5.1's Redis buckets, unmodified, with redis-py sync and asyncio clients.

RedisBucket loads one Lua script with SCRIPT LOAD and runs it with EVALSHA: ZCOUNT per
rate, ZRANGE by negative rank WITHSCORES for the wait, ZADD of score/member pairs;
leak is ZREMRANGEBYSCORE, count ZCARD. RedisStateStore (GCRA) runs HMGET / HSET /
PEXPIRE in a registered script. Items carry explicit timestamps, so the expected
verdicts and waits are exact and no test sleeps except the one that checks
the Limiter's own blocking wait. pyrate-limiter's in-memory buckets, fed the same
items, are the oracle for the step-by-step verdicts.
"""
import asyncio
import time
from inspect import isawaitable

import pytest
import redis
import redis.asyncio
from pyrate_limiter import (
    GCRA,
    Duration,
    FixedWindow,
    InMemoryBucket,
    InMemoryStateStore,
    Limiter,
    Rate,
    RateItem,
    RedisBucket,
    RedisStateStore,
    StateBucket,
)


PER_SECOND = Rate(5, Duration.SECOND)
PER_MINUTE = Rate(20, Duration.MINUTE)
RATES = [PER_SECOND, PER_MINUTE]

# One attempt every 150 ms for 7.5 s, weight 1, except a few heavier items.
SCHEDULE = [(150 * i, 3 if i in (9, 23) else 1) for i in range(50)]


def outcome(bucket, item, admitted):
    """(admitted, failing rate, wait in ms) after one put."""
    if admitted:
        return (True, None, 0)
    return (False, repr(bucket.failing_rate), bucket.waiting(item))


def reference_outcomes(bucket, start):
    results = []
    for offset, weight in SCHEDULE:
        item = RateItem("req", start + offset, weight=weight)
        results.append(outcome(bucket, item, bucket.put(item)))
    return results


def put_all_sync(bucket, start):
    return reference_outcomes(bucket, start)


async def put_all_async(bucket, start):
    results = []
    for offset, weight in SCHEDULE:
        item = RateItem("req", start + offset, weight=weight)
        admitted = await bucket.put(item)
        state = outcome(bucket, item, admitted)
        if isawaitable(state[2]):
            state = (state[0], state[1], await state[2])
        results.append(state)
    return results


def check_known_points(results, start):
    """A few outcomes worked out by hand, so the oracle cannot be wrong with us."""
    admitted = [r[0] for r in results]
    # 0..600 ms: five pass, the sixth (750 ms) hits 5/s and waits for the first to age out.
    assert admitted[:6] == [True] * 5 + [False]
    assert results[5] == (False, repr(PER_SECOND), 0 + 1000 - 750 + 1)
    # Units, not items, count: the minute fills at exactly 20.
    used = sum(SCHEDULE[i][1] for i, ok in enumerate(admitted) if ok)
    assert used == 20
    # Once the minute is full, the wait is until the oldest unit leaves it (+1 ms).
    first_minute_refusal = next(r for r in results if r[1] == repr(PER_MINUTE))
    assert first_minute_refusal[2] > 50_000


@pytest.mark.parametrize("algorithm", [None, FixedWindow()], ids=["sliding-log", "fixed-window"])
def test_sync_bucket_matches_the_in_memory_bucket(target, prefix, algorithm):
    client = target.client()
    start = (int(time.time() * 1000) // 60_000) * 60_000  # a minute boundary: fixed windows align
    expected = reference_outcomes(InMemoryBucket(RATES, algorithm=algorithm), start)
    bucket = RedisBucket.init(RATES, client, prefix + "bucket", algorithm=algorithm)
    assert put_all_sync(bucket, start) == expected
    if algorithm is None:
        check_known_points(expected, start)
    # The sorted set holds one member per admitted unit; peek reads newest first.
    assert bucket.count() == 20
    newest = bucket.peek(0)
    assert newest.timestamp == start + max(o for (o, w), r in zip(SCHEDULE, expected) if r[0])
    # Leak removes what is older than every window: the sliding minute reaches back to
    # 450 ms, the fixed minute starts at 60 000 ms.
    old = [w for (o, w), r in zip(SCHEDULE, expected) if r[0] and (o <= 450 or algorithm is not None)]
    assert bucket.leak(start + 60_000 + 450) == sum(old)
    bucket.flush()
    assert bucket.count() == 0
    client.close()


def test_async_bucket_matches_the_in_memory_bucket(target, prefix):
    start = int(time.time() * 1000)
    expected = reference_outcomes(InMemoryBucket(RATES), start)

    async def run():
        client = redis.asyncio.Redis(host=target.host, port=target.port)
        try:
            bucket = await RedisBucket.init(RATES, client, prefix + "async")
            results = await put_all_async(bucket, start)
            return results, await bucket.count()
        finally:
            await client.aclose()

    results, count = asyncio.run(run())
    assert results == expected
    check_known_points(results, start)
    assert count == 20


def test_limiter_refuses_without_blocking_then_waits_out_the_delay(target, prefix):
    client = target.client()
    limiter = Limiter(RedisBucket.init([Rate(5, Duration.SECOND)], client, prefix + "limiter"))
    try:
        began = time.monotonic()
        results = [limiter.try_acquire("job", blocking=False) for _ in range(8)]
        assert results == [True] * 5 + [False] * 3
        # Blocking: sleeps until the first unit leaves the 1 s window, then passes.
        assert limiter.try_acquire("job", blocking=True) is True
        waited = time.monotonic() - began
        assert 0.9 <= waited <= 2.0
    finally:
        limiter.close()
        client.close()


def test_async_limiter_refuses_without_blocking(target, prefix):
    async def run():
        client = redis.asyncio.Redis(host=target.host, port=target.port)
        limiter = Limiter(await RedisBucket.init([Rate(3, Duration.SECOND), Rate(4, Duration.MINUTE)], client, prefix + "alim"))
        try:
            first = [await limiter.try_acquire_async("job", blocking=False) for _ in range(5)]
            return first
        finally:
            limiter.close()
            await client.aclose()

    assert asyncio.run(run()) == [True, True, True, False, False]


def test_gcra_state_in_a_hash_matches_the_in_memory_store(target, prefix):
    rates = [Rate(5, Duration.SECOND, burst=2), Rate(20, Duration.MINUTE)]
    client = target.client()
    start = int(time.time() * 1000)
    memory = StateBucket(rates, GCRA(), InMemoryStateStore())
    remote = StateBucket(rates, GCRA(), RedisStateStore(client, prefix + "gcra"))
    expected = reference_outcomes(memory, start)
    assert reference_outcomes(remote, start) == expected
    # 200 ms per unit, burst 2, one try per 150 ms: the sixth (750 ms) is 50 ms early;
    # a weight of 3 exceeds the burst and can never pass (wait -1).
    assert expected[:6] == [(True, None, 0)] * 5 + [(False, repr(rates[0]), 50)]
    assert expected[9] == (False, repr(rates[0]), -1)
    # One hash field per rate, a TTL on the key.
    assert sorted(client.hkeys(prefix + "gcra")) == [b"tat1", b"tat2"]
    assert client.pttl(prefix + "gcra") > 0
    client.close()
