"""dramatiq 2.2.1's rate limiters over Sluice's native bounded-counter commands.

Sluice does not run dramatiq's RedisBackend yet (it needs WATCH/MULTI, issue 4), so a
small backend here maps dramatiq's backend methods onto ADD, INCR, DECR and
INCR_AND_SUM; the limiters themselves are dramatiq's, unmodified.
"""
import time
import uuid

import pytest
import redis
from dramatiq.rate_limits import (
    BucketRateLimiter,
    ConcurrentRateLimiter,
    RateLimiterBackend,
    WindowRateLimiter,
)
from dramatiq.rate_limits.backends import StubBackend


class SluiceBackend(RateLimiterBackend):
    """dramatiq's backend interface, one native command per method."""

    def __init__(self, client):
        self.client = client

    def add(self, key, value, ttl):
        return self.client.execute_command("ADD", key, value, ttl) == 1

    def incr(self, key, amount, maximum, ttl):
        return self.client.execute_command("INCR", key, amount, maximum, ttl) == 1

    def decr(self, key, amount, minimum, ttl):
        return self.client.execute_command("DECR", key, amount, minimum, ttl) == 1

    def incr_and_sum(self, key, keys, amount, maximum, ttl):
        listed = keys() if callable(keys) else keys
        return self.client.execute_command("INCR_AND_SUM", key, amount, maximum, ttl, *listed) == 1

    def wait(self, key, timeout):  # the barrier's blocking wait has no native command yet
        raise NotImplementedError

    def wait_notify(self, key, ttl):
        raise NotImplementedError


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def client(sluice, request):
    connection = redis.Redis(host=sluice["host"], port=sluice["port"], protocol=request.param, decode_responses=True)
    yield connection
    connection.close()


@pytest.fixture
def prefix():
    return f"dq:{uuid.uuid4().hex}:"


# The same calls against dramatiq's StubBackend and against Sluice. TTLs are long enough
# that nothing expires during the test (the stub uses the real monotonic clock).
TTL = 60_000
SEQUENCE = [
    ("add", "a", 1),
    ("add", "a", 2),
    ("incr", "c", 2, 3),
    ("incr", "c", 2, 3),
    ("incr", "c", 1, 3),
    ("incr", "c", 0, 3),
    ("decr", "c", 5, 0),
    ("decr", "c", 3, 0),
    ("decr", "c", 1, -1),
    ("decr", "d", 1, 0),
    ("decr", "d", -4, 0),
    ("incr", "n", -2, 0),
    ("incr_and_sum", "w1", ["w0", "w1"], 1, 3),
    ("incr", "w0", 2, 10),
    ("incr_and_sum", "w1", ["w0", "w1"], 1, 3),
    ("incr_and_sum", "w1", ["w0", "w1"], 1, 3),
    ("incr_and_sum", "w2", ["w0", "w1", "w2"], 1, 5),
    ("incr_and_sum", "w2", ["w0", "w1", "w2"], 2, 5),
    ("incr_and_sum", "w3", ["missing"], 3, 3),
    ("incr_and_sum", "w3", ["missing"], 1, 3),
]


def run(backend, prefix, step):
    operation, key, *arguments = step
    key = prefix + key
    if operation == "add":
        (value,) = arguments
        return backend.add(key, value, TTL)
    if operation == "incr":
        amount, maximum = arguments
        return backend.incr(key, amount, maximum, TTL)
    if operation == "decr":
        amount, minimum = arguments
        return backend.decr(key, amount, minimum, TTL)
    keys, amount, maximum = arguments
    return backend.incr_and_sum(key, lambda: [prefix + k for k in keys], amount, maximum, TTL)


def test_same_booleans_as_dramatiqs_stub_backend(client, prefix):
    stub = StubBackend()
    sluice = SluiceBackend(client)
    for step in SEQUENCE:
        expected = run(stub, prefix, step)
        assert run(sluice, prefix, step) is expected, step
    for name in ["a", "c", "d", "n", "w0", "w1", "w2"]:
        stored = client.get(prefix + name)
        assert (int(stored) if stored is not None else None) == stub._get(prefix + name), name


def test_values_are_integers_with_millisecond_ttls(client, prefix):
    assert client.execute_command("ADD", prefix + "k", 7, 1500) == 1
    assert client.get(prefix + "k") == "7"
    # The deadline is now + ttl rounded up to a whole millisecond, so PTTL may read 1501.
    assert 1400 <= client.pttl(prefix + "k") <= 1501


def test_concurrent_rate_limiter(client, prefix):
    limiter = ConcurrentRateLimiter(SluiceBackend(client), prefix + "mutex", limit=2)
    outcomes = []
    with limiter.acquire(raise_on_failure=False) as first:
        with limiter.acquire(raise_on_failure=False) as second:
            with limiter.acquire(raise_on_failure=False) as third:
                outcomes += [first, second, third]
        with limiter.acquire(raise_on_failure=False) as again:
            outcomes.append(again)
    assert outcomes == [True, True, False, True]
    assert client.get(prefix + "mutex") == "0"


def test_bucket_rate_limiter(client, prefix):
    bucket = 3_600_000
    # Stay clear of an hour boundary so all attempts land in one bucket.
    if bucket - int(time.time() * 1000) % bucket < 2_000:
        time.sleep(2.5)
    limiter = BucketRateLimiter(SluiceBackend(client), prefix + "bucket", limit=5, bucket=bucket)
    allowed = 0
    for _ in range(12):
        with limiter.acquire(raise_on_failure=False) as acquired:
            allowed += acquired
    assert allowed == 5


def test_window_rate_limiter(client, prefix):
    limiter = WindowRateLimiter(SluiceBackend(client), prefix + "window", limit=5, window=60)
    allowed = 0
    for _ in range(12):
        with limiter.acquire(raise_on_failure=False) as acquired:
            allowed += acquired
    assert allowed == 5
