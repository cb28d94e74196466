"""A server with four event loops (`--threads 4`) under clients writing the same keys at
once, with one lock over the keyspace and with 16 shards of it: each command,
MULTI/EXEC block and script stays atomic across loops, and decisions count exactly."""
import itertools
import threading

import pytest
import redis

from conftest import start_sluice, stop
from targets import run_in_threads

CLIENTS = 8


@pytest.fixture(scope="module", params=[1, 16], ids=["one-lock", "16-shards"])
def server(request):
    process, info = start_sluice("--threads", "4", "--keyspace-shards", str(request.param))
    yield info
    assert stop(process) == 0, "sluice-server did not exit cleanly on SIGTERM"


def client(server):
    return redis.Redis(host=server["host"], port=server["port"], socket_timeout=30, protocol=2)


def run_clients(work):
    """Runs `work(index)` on CLIENTS threads released together, each with its own index."""
    indices = itertools.count()
    run_in_threads(CLIENTS, lambda: work(next(indices)))


def test_counters_and_limits_count_exactly(server):
    rounds, batch = 25, 40
    allowed = {"consume": 0, "throttle": 0, "acquire": 0}
    lock = threading.Lock()

    def work(index):
        connection = client(server)
        for _ in range(rounds):
            pipe = connection.pipeline(transaction=False)
            for _ in range(batch):
                pipe.execute_command("INCR", "threads:counter")
                pipe.execute_command("CONSUME", "threads:bucket", "100", "3600")
                pipe.execute_command("CL.THROTTLE", "threads:gcra", "49", "1", "3600")
                pipe.execute_command("ACQUIRE", "threads:window", "1", "RATE", "75", "3600000")
            replies = pipe.execute()
            with lock:
                allowed["consume"] += sum(reply[0] for reply in replies[1::4])
                allowed["throttle"] += sum(1 for reply in replies[2::4] if reply[0] == 0)
                allowed["acquire"] += sum(1 for reply in replies[3::4] if reply[0] == 1)

    run_clients(work)
    assert int(client(server).get("threads:counter")) == CLIENTS * rounds * batch
    # 8,000 requests each: a bucket of 100 drops, a burst of 50, a window of 75.
    assert allowed == {"consume": 100, "throttle": 50, "acquire": 75}


def test_pipelines_over_many_keys_lose_no_increment(server):
    """Each pipeline touches 32 keys, so with shards its run holds many shards' locks at once."""
    keys = [f"threads:many:{index}" for index in range(32)]
    rounds = 40

    def work(index):
        connection = client(server)
        for step in range(rounds):
            pipe = connection.pipeline(transaction=False)
            for offset in range(len(keys)):
                pipe.incr(keys[(index * 5 + step + offset) % len(keys)])
            pipe.execute()

    run_clients(work)
    values = client(server).mget(keys)
    assert [int(value) for value in values] == [CLIENTS * rounds] * len(keys)


def test_transactions_scripts_and_multi_key_commands_are_never_seen_half_done(server):
    setup = client(server)
    setup.mset({"threads:a": 1000, "threads:b": 1000, "threads:x": 0, "threads:y": 0})
    move_back = setup.register_script(
        "local n = tonumber(ARGV[1]) "
        "redis.call('DECRBY', KEYS[1], n) "
        "redis.call('INCRBY', KEYS[2], n) "
        "return redis.call('MGET', KEYS[1], KEYS[2])"
    )
    seen = []

    def work(index):
        connection = client(server)
        for step in range(150):
            kind = (index + step) % 4
            if kind == 0:  # MULTI/EXEC moving 7 from a to b
                pipe = connection.pipeline(transaction=True)
                pipe.decrby("threads:a", 7)
                pipe.incrby("threads:b", 7)
                pipe.execute()
            elif kind == 1:  # a script moving 7 back
                a, b = move_back(keys=["threads:b", "threads:a"], args=[7], client=connection)
                seen.append(int(a) + int(b))
            elif kind == 2:  # MSET of both keys of a pair, read back whole by MGET
                value = index * 1000 + step
                connection.mset({"threads:x": value, "threads:y": value})
            else:
                a, b, x, y = connection.mget("threads:a", "threads:b", "threads:x", "threads:y")
                seen.append(int(a) + int(b))
                assert x == y, (x, y)

    run_clients(work)
    assert seen and all(total == 2000 for total in seen)
    a, b = setup.mget("threads:a", "threads:b")
    assert int(a) + int(b) == 2000


def test_watch_retries_until_its_increments_all_land(server):
    setup = client(server)
    setup.set("threads:watched", 0)

    def work(index):
        connection = client(server)
        for _ in range(40):
            # Optimistic read-modify-write, as dramatiq's RedisBackend and many clients do.
            def increment(pipe):
                value = int(pipe.get("threads:watched"))
                pipe.multi()
                pipe.set("threads:watched", value + 1)

            connection.transaction(increment, "threads:watched")

    run_clients(work)
    assert int(setup.get("threads:watched")) == CLIENTS * 40


def test_scripts_and_transactions_see_no_single_key_command_of_another_loop_midway(server):
    """With shards, single-key commands run holding only their key's shard; a script or
    MULTI/EXEC holds every shard, so none lands between two reads."""
    setup = client(server)
    setup.set("threads:hot", 0)
    read_twice = setup.register_script(
        "local first = redis.call('GET', KEYS[1]) "
        "for i = 1, 20000 do end "
        "return {first, redis.call('GET', KEYS[1])}"
    )
    readers = CLIENTS // 2
    finished = []
    increments = []

    def work(index):
        connection = client(server)
        if index < readers:
            try:
                for _ in range(30):
                    first, second = read_twice(keys=["threads:hot"], client=connection)
                    assert first == second, (first, second)
                    pipe = connection.pipeline(transaction=True)
                    pipe.get("threads:hot")
                    pipe.execute_command("CONSUME", "threads:hot-bucket", "1000000", "1")
                    pipe.get("threads:hot")
                    first, _, second = pipe.execute()
                    assert first == second, (first, second)
            finally:
                finished.append(index)
        else:
            sent = 0
            while len(finished) < readers:
                pipe = connection.pipeline(transaction=False)
                for _ in range(50):
                    pipe.incr("threads:hot")
                pipe.execute()
                sent += 50
            increments.append(sent)

    run_clients(work)
    assert int(setup.get("threads:hot")) == sum(increments) > 0
