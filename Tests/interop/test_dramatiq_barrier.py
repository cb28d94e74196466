"""dramatiq 2.2.1's Barrier over Sluice's lists.

The barrier's waiters block in BRPOPLPUSH on `<key>@events`, rotating the list onto
itself; the last party RPUSHes one "x" and PEXPIREs the list, and that single element
releases every waiter. dramatiq's unmodified RedisBackend counts the parties down
with WATCH/MULTI and notifies in a MULTI/EXEC; a second backend counts down with
Sluice's native DECR and notifies without a transaction, so waiters are served
between the RPUSH and the PEXPIRE. Both run against the same Barrier code.
"""
import threading
import time
import uuid

import pytest
import redis
from dramatiq.rate_limits import Barrier
from dramatiq.rate_limits.backends import RedisBackend


class NativeCountdownBackend(RedisBackend):
    """RedisBackend with the countdown as one native command and a plain pipeline for
    the notification; `wait` (BRPOPLPUSH) and `add` (SET NX PX) are dramatiq's own."""

    def decr(self, key, amount, minimum, ttl):
        return self.client.execute_command("DECR", key, amount, minimum, ttl) == 1

    def wait_notify(self, key, ttl):
        with self.client.pipeline(transaction=False) as pipe:
            pipe.rpush(key, b"x")
            pipe.pexpire(key, ttl)
            pipe.execute()


def supports_transactions(client):
    try:
        client.execute_command("MULTI")
    except redis.ResponseError:
        return False
    client.execute_command("DISCARD")
    return True


@pytest.fixture
def client(sluice):
    client = redis.Redis(host=sluice["host"], port=sluice["port"])
    yield client
    client.close()


@pytest.fixture(params=["RedisBackend", "NativeCountdownBackend"])
def backend(request, client):
    if request.param == "RedisBackend":
        if not supports_transactions(client):
            pytest.skip("dramatiq's RedisBackend needs WATCH/MULTI/EXEC")
        return RedisBackend(client=client)
    return NativeCountdownBackend(client=client)


def blocked_clients(client):
    return client.info("clients")["blocked_clients"]


def wait_for_blocked(client, count, within=5.0):
    deadline = time.monotonic() + within
    while blocked_clients(client) != count:
        assert time.monotonic() < deadline, f"expected {count} blocked clients, saw {blocked_clients(client)}"
        time.sleep(0.01)


def test_last_party_releases_every_waiting_thread(backend, client):
    parties = 5
    barrier = Barrier(backend, f"barrier-{uuid.uuid4()}", ttl=30_000)
    assert barrier.create(parties=parties)
    assert not barrier.create(parties=parties), "a barrier is created once"

    results = [None] * (parties - 1)

    def party(index):
        results[index] = barrier.wait(timeout=10_000)

    threads = [threading.Thread(target=party, args=(index,)) for index in range(parties - 1)]
    for thread in threads:
        thread.start()
    wait_for_blocked(client, parties - 1)
    assert results == [None] * (parties - 1), "nobody passes before the last party"

    started = time.monotonic()
    assert barrier.wait(timeout=10_000) is True
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive()
    assert results == [True] * (parties - 1)
    assert time.monotonic() - started < 2, "waiters are released by the push, not by their timeout"

    # The one notification is still there (rotated by every waiter) and expires with the barrier.
    assert client.lrange(barrier.key_events, 0, -1) == [b"x"]
    assert 0 < client.pttl(barrier.key_events) <= 30_000
    assert blocked_clients(client) == 0


def test_non_blocking_waits_report_whether_the_barrier_is_cleared(backend):
    barrier = Barrier(backend, f"barrier-{uuid.uuid4()}", ttl=30_000)
    assert barrier.create(parties=3)
    assert barrier.wait(block=False) is False
    assert barrier.wait(block=False) is False
    assert barrier.wait(block=False) is True


def test_a_wait_nobody_releases_times_out(backend, client):
    barrier = Barrier(backend, f"barrier-{uuid.uuid4()}", ttl=30_000)
    assert barrier.create(parties=2)
    started = time.monotonic()
    assert barrier.wait(timeout=1_000) is False
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 3, elapsed
    assert blocked_clients(client) == 0
    assert client.exists(barrier.key_events) == 0


def test_a_waiter_released_after_another_gave_up_still_passes(backend, client):
    barrier = Barrier(backend, f"barrier-{uuid.uuid4()}", ttl=30_000)
    assert barrier.create(parties=3)
    assert barrier.wait(timeout=1_000) is False  # gave up; its party still counts

    result = []
    thread = threading.Thread(target=lambda: result.append(barrier.wait(timeout=10_000)))
    thread.start()
    wait_for_blocked(client, 1)
    assert barrier.wait(block=False) is True
    thread.join(timeout=5)
    assert result == [True]
