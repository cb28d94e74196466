"""redis-py against a sluice-server with a snapshot file: SAVE, BGSAVE, LASTSAVE,
INFO persistence, and a SIGTERM restart that keeps keys and TTLs."""
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
