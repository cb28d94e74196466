"""redis-py against a sluice-server with a snapshot file: SAVE, BGSAVE, LASTSAVE,
INFO persistence, a SIGTERM restart that keeps keys and TTLs, and redis-cli SHUTDOWN."""
import subprocess
import time

import pytest
import redis

from conftest import start_sluice, stop


def test_save_bgsave_lastsave_and_restart(tmp_path):
    path = str(tmp_path / "dump.sluice")
    process, info = start_sluice("--snapshot", path, "--snapshot-interval", "0")
    try:
        client = redis.Redis(port=info["port"], decode_responses=True)
        assert client.set("persist:k", "v", ex=100) is True
        assert client.hset("persist:h", mapping={"a": "1", "b": "2"}) == 2
        assert client.save() is True
        assert client.bgsave() is True
        deadline = time.monotonic() + 10
        while client.info("persistence")["rdb_bgsave_in_progress"] and time.monotonic() < deadline:
            time.sleep(0.01)
        persistence = client.info("persistence")
        assert persistence["rdb_last_bgsave_status"] == "ok"
        assert abs(client.lastsave().timestamp() - time.time()) < 5
        assert client.config_get("snapshot*") == {
            "snapshot": path, "snapshot-interval": "0", "snapshot-ignore-corrupt": "no"}
        assert client.rpush("persist:l", "x", "y") == 2
        client.close()
    finally:
        assert stop(process) == 0

    process, info = start_sluice("--snapshot", path)
    try:
        client = redis.Redis(port=info["port"], decode_responses=True)
        assert client.get("persist:k") == "v"
        assert 90 < client.ttl("persist:k") <= 100
        assert client.hgetall("persist:h") == {"a": "1", "b": "2"}
        assert client.lrange("persist:l", 0, -1) == ["x", "y"]
        client.close()
    finally:
        assert stop(process) == 0


def test_save_without_a_snapshot_is_an_error(sluice):
    client = redis.Redis(port=sluice["port"])
    with pytest.raises(redis.exceptions.ResponseError, match="snapshot persistence is not configured"):
        client.save()
    client.close()


def test_redis_cli_shutdown_stops_the_server_and_saves(tmp_path):
    """redis-cli SHUTDOWN, as operators stop Redis: exit 0 on both sides, keys saved."""
    path = str(tmp_path / "dump.sluice")
    process, info = start_sluice("--snapshot", path, "--snapshot-interval", "0")
    try:
        client = redis.Redis(port=info["port"], decode_responses=True)
        assert client.set("shutdown:k", "v") is True
        client.close()
        result = subprocess.run(["redis-cli", "-p", str(info["port"]), "SHUTDOWN"],
                                capture_output=True, text=True, timeout=20)
        assert result.returncode == 0, result.stdout + result.stderr
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    process, info = start_sluice("--snapshot", path)
    try:
        assert redis.Redis(port=info["port"], decode_responses=True).get("shutdown:k") == "v"
    finally:
        assert stop(process) == 0
