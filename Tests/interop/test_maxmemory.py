"""maxmemory through redis-py: the same scenario against redis-server (which proves
the test right) and against a Sluice started for it, each with its limit set a little
above the memory it uses now."""
import subprocess
import uuid

import pytest
import redis

from conftest import start_sluice, stop

HEADROOM = 200 * 1024
VALUE = "v" * 1024


@pytest.fixture(params=["redis", "sluice"])
def limited(request):
    """A client of a server whose maxmemory is its used_memory plus HEADROOM."""
    process = None
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
    else:
        process, server = start_sluice()
    client = redis.Redis(host=server["host"], port=server["port"], decode_responses=True)
    prefix = f"mm:{uuid.uuid4().hex[:8]}:"
    client.config_set("maxmemory", client.info("memory")["used_memory"] + HEADROOM)
    try:
        yield client, prefix
    finally:
        client.config_set("maxmemory", 0)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()
        if process is not None:
            stop(process)


def fill(client, prefix):
    """Writes 1 KB values until the server refuses; returns how many it took."""
    for index in range(10 * HEADROOM // len(VALUE)):
        try:
            client.set(f"{prefix}{index}", VALUE)
        except redis.exceptions.OutOfMemoryError as error:
            assert str(error) == "command not allowed when used memory > 'maxmemory'."
            return index
    pytest.fail("no OOM error")


def test_writes_fail_with_out_of_memory_error_deletes_free_and_reads_still_work(limited):
    client, prefix = limited
    stored = fill(client, prefix)
    assert stored > 50
    assert client.delete(*[f"{prefix}{index}" for index in range(1, stored)]) == stored - 1
    assert client.set(f"{prefix}again", "ok") is True
    # Redis's used_memory moves with its client buffers (the pipeline below opens a
    # second connection); a limit of 1 byte keeps both servers over it from here on.
    client.config_set("maxmemory", 1)
    assert client.get(f"{prefix}0") == VALUE
    assert client.expire(f"{prefix}0", 100) is True
    assert client.ping() is True
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        client.incr(f"{prefix}counter")
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        with client.pipeline(transaction=True) as pipe:
            pipe.get(f"{prefix}0").execute()


def test_info_memory_reports_the_limit_and_policy(limited):
    client, _ = limited
    memory = client.info("memory")
    assert 0 <= memory["used_memory"] < memory["maxmemory"]
    assert memory["maxmemory_policy"] == "noeviction"
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}


def test_volatile_ttl_evicts_rate_limit_buckets_and_keeps_keys_without_ttl():
    process, server = start_sluice("--maxmemory", "64kb", "--maxmemory-policy", "volatile-ttl")
    client = redis.Redis(host=server["host"], port=server["port"], protocol=2, decode_responses=True)
    try:
        client.set("config", "kept")
        with client.pipeline(transaction=False) as pipe:
            for index in range(5_000):
                pipe.execute_command("CONSUME", f"ip:{index}", 10, 1)
            replies = pipe.execute()
        assert all(reply[0] == 1 for reply in replies)
        memory = client.info("memory")
        assert memory["used_memory"] <= 64 * 1024
        assert memory["maxmemory_human"] == "64.00K"
        # A bucket's estimate is 56 bytes, so about 1,170 of them fit in 64 KiB.
        assert 3_800 < client.info("stats")["evicted_keys"] < 3_850
        assert client.get("config") == "kept"
    finally:
        client.close()
        assert stop(process) == 0


def test_memory_usage_and_redis_cli_memkeys_report_each_keys_estimate():
    process, server = start_sluice()
    client = redis.Redis(host=server["host"], port=server["port"], protocol=2, decode_responses=True)
    try:
        client.set("text", "x" * 100)
        client.execute_command("CONSUME", "bucket", 5, 1)
        text, bucket = client.memory_usage("text"), client.memory_usage("bucket", samples=5)
        assert bucket == 56 and text == 56 + 144
        assert client.memory_usage("absent") is None
        assert text + bucket == client.info("memory")["used_memory"]
        result = subprocess.run(
            ["redis-cli", "-h", server["host"], "-p", str(server["port"]), "--memkeys"],
            capture_output=True, text=True, timeout=30,
        )
        assert result.returncode == 0, result.stderr
        assert f"1 strings with {text} bytes" in result.stdout
        assert f"1 leakybuckets with {bucket} bytes" in result.stdout
    finally:
        client.close()
        assert stop(process) == 0
