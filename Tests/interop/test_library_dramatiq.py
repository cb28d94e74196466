"""dramatiq 2.2.1's rate limiters on its own RedisBackend, unmodified.

RedisBackend implements add with SET NX PX and incr/decr/incr_and_sum as optimistic
WATCH / GET / MGET / MULTI / SET PX / EXEC loops, so these tests need transactions
with WATCH to be right under contention: a lost update lets too many through, a
spurious conflict only retries. Each test asserts counts, not just "no exception".
The barrier has its own file (test_dramatiq_barrier.py).
"""
import multiprocessing
import threading
import time

from dramatiq.rate_limits import BucketRateLimiter, ConcurrentRateLimiter, WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from targets import run_in_threads

LIMIT = 3
THREADS = 6
ATTEMPTS = 12  # per thread
HOLD_SECONDS = 0.003


def contend(url, key, held, peak, lock, start, outcome):
    """Threads of one process acquire and release the same concurrent limiter.

    `held` counts permits held right now across all processes (the limiter's own
    counter is what is under test, so this one is separate); `peak` keeps its
    maximum. `outcome` receives (acquired, refused, errors) for this process.
    """
    backend = RedisBackend(url=url)
    acquired = refused = 0
    errors = []
    counts = threading.Lock()

    def worker():
        nonlocal acquired, refused
        limiter = ConcurrentRateLimiter(backend, key, limit=LIMIT)
        start.wait(timeout=60)  # every thread of both processes starts together
        for _ in range(ATTEMPTS):
            try:
                with limiter.acquire(raise_on_failure=False) as ok:
                    if ok:
                        with lock:
                            held.value += 1
                            peak.value = max(peak.value, held.value)
                        time.sleep(HOLD_SECONDS)
                        with lock:
                            held.value -= 1
                with counts:
                    if ok:
                        acquired += 1
                    else:
                        refused += 1
            except Exception as error:  # reported, so a server error fails the test with its message
                with counts:
                    errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.put((acquired, refused, errors[:1] + [len(errors)] if errors else []))


def test_concurrent_limiter_never_exceeds_its_limit_and_loses_no_permit(target, prefix):
    key = prefix + "concurrent"
    context = multiprocessing.get_context("spawn")
    held, peak = context.Value("i", 0, lock=False), context.Value("i", 0, lock=False)
    lock, start, outcome = context.Lock(), context.Barrier(2 * THREADS), context.Queue()
    processes = [
        context.Process(target=contend, args=(target.url, key, held, peak, lock, start, outcome)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    results = [outcome.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    acquired = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    errors = [r[2] for r in results if r[2]]
    assert not errors, errors
    assert acquired + refused == 2 * THREADS * ATTEMPTS
    assert 1 <= peak.value <= LIMIT
    assert acquired > 0 and refused > 0  # the limit was reached, so it was tested
    client = target.client()
    # Every acquisition was released: the counter is back to zero ...
    assert client.get(key) == b"0"
    # ... so exactly LIMIT permits can be held again.
    limiter = ConcurrentRateLimiter(RedisBackend(client=client), key, limit=LIMIT)
    with limiter.acquire(raise_on_failure=False) as a, limiter.acquire(raise_on_failure=False) as b:
        with limiter.acquire(raise_on_failure=False) as c, limiter.acquire(raise_on_failure=False) as d:
            assert [a, b, c, d] == [True, True, True, False]
    assert client.get(key) == b"0"
    client.close()


def test_concurrent_limiter_of_one_is_a_mutex(target, prefix):
    backend = RedisBackend(url=target.url)
    mutex = ConcurrentRateLimiter(backend, prefix + "mutex", limit=1)
    with mutex.acquire(raise_on_failure=False) as first:
        with mutex.acquire(raise_on_failure=False) as second:
            assert (first, second) == (True, False)
    with mutex.acquire(raise_on_failure=False) as again:
        assert again is True


def count_allowed(limiter, threads=THREADS, attempts=5):
    allowed = []

    def work():
        for _ in range(attempts):
            with limiter.acquire(raise_on_failure=False) as ok:
                allowed.append(ok)

    run_in_threads(threads, work)
    assert len(allowed) == threads * attempts
    return sum(allowed)


def wait_clear_of_bucket_boundary(bucket_ms, margin_ms):
    remaining = bucket_ms - int(time.time() * 1000) % bucket_ms
    if remaining < margin_ms:
        time.sleep(remaining / 1000 + 0.01)


def test_bucket_limiter_allows_exactly_its_limit_per_bucket_from_many_threads(target, prefix):
    wait_clear_of_bucket_boundary(60_000, 3_000)
    limiter = BucketRateLimiter(RedisBackend(url=target.url), prefix + "bucket", limit=7, bucket=60_000)
    assert count_allowed(limiter) == 7


def test_bucket_limiter_allows_again_in_the_next_one_second_bucket(target, prefix):
    limiter = BucketRateLimiter(RedisBackend(url=target.url), prefix + "second", limit=2, bucket=1_000)
    wait_clear_of_bucket_boundary(1_000, 700)  # start early in a second
    results = []
    for _ in range(4):
        with limiter.acquire(raise_on_failure=False) as ok:
            results.append(ok)
    wait_clear_of_bucket_boundary(1_000, 1_000)  # the next second's bucket
    for _ in range(3):
        with limiter.acquire(raise_on_failure=False) as ok:
            results.append(ok)
    assert results == [True, True, False, False, True, True, False]


def test_window_limiter_allows_exactly_its_limit_per_window_from_many_threads(target, prefix):
    # A 10 s window: incr_and_sum WATCHes and MGETs ten per-second keys.
    limiter = WindowRateLimiter(RedisBackend(url=target.url), prefix + "window", limit=9, window=10)
    assert count_allowed(limiter) == 9
    with limiter.acquire(raise_on_failure=False) as ok:
        assert ok is False


def test_window_limiter_with_a_one_second_window_refills(target, prefix):
    limiter = WindowRateLimiter(RedisBackend(url=target.url), prefix + "short", limit=3, window=1)
    wait_clear_of_bucket_boundary(1_000, 700)
    results = []
    for _ in range(5):
        with limiter.acquire(raise_on_failure=False) as ok:
            results.append(ok)
    wait_clear_of_bucket_boundary(1_000, 1_000)
    with limiter.acquire(raise_on_failure=False) as ok:
        results.append(ok)
    assert results == [True, True, True, False, False, True]
