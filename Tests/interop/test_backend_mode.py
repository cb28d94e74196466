"""Backend mode through redis-py: two sluice-servers started with --backend in front of
the session's real redis-server share their limiter state there."""
import uuid

import pytest
import redis

from conftest import start_sluice, stop


@pytest.fixture(scope="module")
def instances(redis_server):
    url = f"redis://127.0.0.1:{redis_server['port']}/0"
    started = [start_sluice("--backend", url, "--backend-pool-size", "2") for _ in range(2)]
    clients = [redis.Redis(host=info["host"], port=info["port"], decode_responses=True) for _, info in started]
    yield clients
    for client in clients:
        client.close()
    for process, _ in started:
        assert stop(process) == 0, "sluice-server in backend mode did not exit cleanly on SIGTERM"


@pytest.fixture()
def direct(redis_server):
    client = redis.Redis(host="127.0.0.1", port=redis_server["port"], decode_responses=True)
    yield client
    client.close()


@pytest.fixture()
def key():
    return f"backend-{uuid.uuid4()}"


def test_info_reports_backend_mode(instances, redis_server):
    info = instances[0].info("backend")
    assert info["backend_url"] == f"redis://127.0.0.1:{redis_server['port']}/0"
    assert info["backend_connected"] == 1
    assert info["backend_pool_size"] == 2
    assert instances[0].info("server")["storage_mode"] == "backend"


def test_two_instances_share_one_bucket(instances, direct, key):
    first, second = instances
    replies = [client.execute_command("CONSUME", key, 3, 1000) for client in (first, second, first, second)]
    # redis-py 8 speaks RESP3: CONSUME replies with a map.
    assert [reply["success"] for reply in replies] == [True, True, True, False]
    assert [reply["level"] for reply in replies] == [1, 2, 3, 3]
    assert direct.type(key) == "hash"
    assert direct.hget(key, "level") == "3"


def test_plain_commands_reach_redis(instances, direct, key):
    first, second = instances
    assert first.set(key, "v", ex=100) is True
    assert second.get(key) == "v"
    assert direct.get(key) == "v"
    assert 0 < second.ttl(key) <= 100
    assert first.delete(key) == 1
    assert direct.exists(key) == 0


def test_pipelined_replies_keep_request_order(instances, key):
    pipe = instances[0].pipeline(transaction=False)
    for index in range(60):
        if index % 4 == 0:
            pipe.ping()
        else:
            pipe.execute_command("CONSUME", key, 1000, 1000)
    replies = pipe.execute()
    levels = [reply["level"] for reply in replies if reply is not True]
    assert levels == list(range(1, 46))
    assert replies[0::4] == [True] * 15


def test_transactions_are_refused_by_name(instances):
    with pytest.raises(redis.ResponseError, match="^MULTI is not available in backend mode$"):
        instances[0].execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="^KEYS is not available in backend mode$"):
        instances[0].keys("*")


def test_argument_errors_match_memory_mode(instances, key):
    with pytest.raises(redis.ResponseError, match="^capacity must be a positive integer$"):
        instances[0].execute_command("CONSUME", key, 0, 1)
    with pytest.raises(redis.ResponseError, match="^wrong number of arguments for 'incr' command$"):
        instances[0].execute_command("INCR", key, 1, 2)


def _reply(result):
    return f"error: {result}" if isinstance(result, redis.ResponseError) else result


def _counter_and_acquire_commands(prefix):
    counter, window, rates = f"{prefix}:c", f"{prefix}:w", ("RATE", 5, 1000, "RATE", 100, 60000)
    return [
        ("ADD", counter, 5, 60000),
        ("ADD", counter, 7, 60000),
        ("INCR", counter, 1, 10, 60000),
        ("INCR", f"{prefix}:list", 1, 10, 60000),  # WRONGTYPE from the script, mid-run
        ("INCR", counter, "x", 10, 60000),  # refused by Sluice before any round trip
        ("INCR", f"{prefix}:text", 1, 10, 60000),  # not an integer, from the script
        ("INCR", counter, 5, 10, 60000),
        ("DECR", counter, 3, 0, 60000),
        ("INCR_AND_SUM", f"{prefix}:d", 1, 4, 60000, counter),
        ("INCR_AND_SUM", f"{prefix}:d", 1, 4, 60000, counter),
        ("ACQUIRE", window, 2, *rates),
        ("ACQUIRE", window, 3, *rates),
        ("ACQUIRE", f"{prefix}:list", 1, *rates),
        ("ACQUIRE", window, 9, *rates),
        ("ACQUIRE", window, 0, *rates),
        ("ACQUIRE", f"{prefix}:w2", 1, "RATE", 1, 1000),
    ]


def test_pipelined_counter_and_acquire_runs_answer_as_sent_one_by_one(instances, direct, key):
    """Runs of counter commands and of ACQUIRE go to Redis as one BATCH run of their script
    each: every reply, script errors included, is the one the command gets alone."""
    for prefix in (f"{key}:alone", f"{key}:piped"):
        direct.rpush(f"{prefix}:list", "x")
        direct.set(f"{prefix}:text", "x")
    alone = []
    for command in _counter_and_acquire_commands(f"{key}:alone"):
        try:
            alone.append(instances[0].execute_command(*command))
        except redis.ResponseError as error:
            alone.append(_reply(error))
    assert alone[:4] == [1, 0, 1, "error: WRONGTYPE Operation against a key holding the wrong kind of value"]
    assert alone[10:] == [[1, 0, -1], [1, 0, -1], alone[3], [0, -1, 0], [1, 0, -1], [1, 0, -1]]

    script_calls = len(alone) - 1  # the bad amount never reaches Redis
    before = direct.info("commandstats")["cmdstat_evalsha"]["calls"]
    pipe = instances[0].pipeline(transaction=False)
    for command in _counter_and_acquire_commands(f"{key}:piped"):
        pipe.execute_command(*command)
    piped = [_reply(result) for result in pipe.execute(raise_on_error=False)]
    assert piped == alone
    assert direct.info("commandstats")["cmdstat_evalsha"]["calls"] - before < script_calls / 2
