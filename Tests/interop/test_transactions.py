"""redis-py transactions (MULTI/EXEC pipelines, WATCH and WatchError) against
sluice-server, in RESP2 and RESP3, and the same flows against redis-server."""
import threading

import pytest
import redis


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def client(sluice, request):
    connection = redis.Redis(host=sluice["host"], port=sluice["port"], protocol=request.param, decode_responses=True)
    yield connection
    connection.delete("tx:k", "tx:n", "tx:s", "tx:bucket", "tx:counter")
    connection.close()


@pytest.fixture(params=["sluice", "redis"])
def any_server(request, sluice):
    """The same test against Sluice and against a real redis-server."""
    info = sluice if request.param == "sluice" else request.getfixturevalue("redis_server")
    connection = redis.Redis(host=info["host"], port=info["port"], decode_responses=True)
    yield connection
    connection.delete("tx:k", "tx:n", "tx:s", "tx:counter")
    connection.close()


def test_transaction_pipeline_returns_every_reply(client):
    pipe = client.pipeline(transaction=True)
    pipe.set("tx:k", "v").incr("tx:n").incrby("tx:n", 4).get("tx:k")
    assert pipe.execute() == [True, 1, 5, "v"]


def test_rate_limit_commands_run_inside_a_transaction(client):
    pipe = client.pipeline(transaction=True)
    pipe.execute_command("CONSUME", "tx:bucket", "2", "1")
    pipe.execute_command("CONSUME", "tx:bucket", "2", "1")
    pipe.execute_command("CONSUME", "tx:bucket", "2", "1")
    replies = pipe.execute()
    successes = [reply["success"] if isinstance(reply, dict) else reply[0] for reply in replies]
    assert successes in ([1, 1, 0], [True, True, False])


def test_runtime_error_inside_exec_does_not_stop_the_others(any_server):
    any_server.set("tx:s", "text")
    pipe = any_server.pipeline(transaction=True)
    pipe.incr("tx:s").set("tx:k", "after")
    replies = pipe.execute(raise_on_error=False)
    assert isinstance(replies[0], redis.ResponseError)
    assert str(replies[0]) == "value is not an integer or out of range"
    assert replies[1] is True
    assert any_server.get("tx:k") == "after"


def test_queue_time_error_aborts_the_whole_transaction(any_server):
    pipe = any_server.pipeline(transaction=True)
    pipe.set("tx:k", "v").execute_command("NOSUCHCOMMAND", "x")
    with pytest.raises(redis.ResponseError) as raised:
        pipe.execute()
    assert "EXECABORT" in str(raised.value) or "unknown command" in str(raised.value)
    assert any_server.exists("tx:k") == 0


def test_watch_error_when_another_client_changes_the_key(any_server):
    other = redis.Redis(connection_pool=any_server.connection_pool)
    with any_server.pipeline() as pipe:
        pipe.watch("tx:k")
        assert pipe.get("tx:k") is None
        other.set("tx:k", "theirs")
        pipe.multi()
        pipe.set("tx:k", "mine")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert any_server.get("tx:k") == "theirs"


def test_watch_without_changes_executes_and_unwatch_forgets(any_server):
    other = redis.Redis(connection_pool=any_server.connection_pool)
    with any_server.pipeline() as pipe:
        pipe.watch("tx:k")
        pipe.unwatch()
        other.set("tx:k", "theirs")
        pipe.multi()
        pipe.set("tx:k", "mine")
        assert pipe.execute() == [True]
    assert any_server.get("tx:k") == "mine"


def test_transaction_helper_retries_until_no_lost_update(client, sluice):
    """Two threads increment through client.transaction(), which retries on WatchError."""
    per_thread = 100

    def increment(pipe):
        current = int(pipe.get("tx:counter") or 0)
        pipe.multi()
        pipe.set("tx:counter", current + 1)

    def worker():
        connection = redis.Redis(host=sluice["host"], port=sluice["port"], decode_responses=True)
        for _ in range(per_thread):
            connection.transaction(increment, "tx:counter")
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.get("tx:counter") == str(2 * per_thread)


def test_raw_replies_match_redis(sluice, redis_server):
    """The exact replies of the transaction commands' error cases, Sluice against Redis."""
    def run(info):
        connection = redis.Redis(host=info["host"], port=info["port"], decode_responses=True)
        replies = []
        for command in [
            ["EXEC"], ["DISCARD"], ["MULTI"], ["MULTI"], ["WATCH", "tx:k"], ["SET", "tx:k", "1"], ["EXEC"],
            ["MULTI"], ["GET"], ["EXEC"], ["MULTI"], ["EXEC", "x"], ["UNWATCH"], ["DEL", "tx:k"],
        ]:
            try:
                replies.append(connection.execute_command(*command))
            except redis.ResponseError as error:
                replies.append(f"error: {error}")
        connection.close()
        return replies

    assert run(sluice) == run(redis_server)
