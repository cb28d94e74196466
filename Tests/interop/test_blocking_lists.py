"""Blocking list commands under concurrent redis-py clients, on Sluice and on a real
redis-server: no element is lost or delivered twice, whatever the interleaving."""
import threading
import uuid

import pytest
import redis
from conftest import start_sluice, stop


@pytest.fixture(scope="module")
def sluice_threads():
    """A sluice-server with four event loops, so waking a client usually crosses threads."""
    process, info = start_sluice("--threads", "4")
    yield info
    assert stop(process) == 0


@pytest.fixture(params=["sluice", "sluice_threads", "redis_server"])
def server(request):
    return request.getfixturevalue(request.param)


def connect(server):
    return redis.Redis(host=server["host"], port=server["port"])


def test_concurrent_producers_and_blocked_consumers_see_each_element_once(server):
    queue = f"queue-{uuid.uuid4()}"
    producers, per_producer, consumers = 4, 250, 6
    received = [[] for _ in range(consumers)]
    failures = []

    def consume(index):
        client = connect(server)
        try:
            while True:
                item = client.blpop([queue], timeout=5)
                if item is None:
                    failures.append(f"consumer {index} timed out")
                    return
                if item[1] == b"stop":
                    return
                received[index].append(item[1])
        finally:
            client.close()

    def produce(index):
        client = connect(server)
        try:
            for n in range(0, per_producer, 5):
                client.rpush(queue, *[f"{index}:{n + k}" for k in range(5)])
        finally:
            client.close()

    consumer_threads = [threading.Thread(target=consume, args=(i,)) for i in range(consumers)]
    producer_threads = [threading.Thread(target=produce, args=(i,)) for i in range(producers)]
    for thread in consumer_threads + producer_threads:
        thread.start()
    for thread in producer_threads:
        thread.join(timeout=30)
    control = connect(server)
    control.rpush(queue, *([b"stop"] * consumers))
    for thread in consumer_threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert failures == []
    everything = sorted(item for items in received for item in items)
    expected = sorted(f"{p}:{n}".encode() for p in range(producers) for n in range(per_producer))
    assert everything == expected
    assert control.exists(queue) == 0
    control.close()


def test_brpoplpush_workers_move_every_element_exactly_once(server):
    source, done = f"src-{uuid.uuid4()}", f"done-{uuid.uuid4()}"
    workers, total = 5, 300
    moved = []
    lock = threading.Lock()

    def work():
        client = connect(server)
        try:
            while True:
                item = client.brpoplpush(source, done, timeout=1)
                if item is None:
                    return
                with lock:
                    moved.append(item)
        finally:
            client.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    client = connect(server)
    for n in range(total):
        client.lpush(source, n)
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert sorted(int(item) for item in moved) == list(range(total))
    assert sorted(int(item) for item in client.lrange(done, 0, -1)) == list(range(total))
    assert client.exists(source) == 0
    client.close()


def test_blocked_client_answers_none_on_timeout_in_resp2_and_resp3(server):
    for protocol in (2, 3):
        client = redis.Redis(host=server["host"], port=server["port"], protocol=protocol)
        key = f"empty-{uuid.uuid4()}"
        assert client.blpop([key], timeout=0.1) is None
        assert client.brpoplpush(key, key + "-dst", timeout=0.1) is None
        assert client.blmove(key, key + "-dst", 0.1, "LEFT", "RIGHT") is None
        client.close()
