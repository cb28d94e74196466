"""The `target` fixture: the same library test runs once against the real
redis-server (which proves the test itself is right) and once against Sluice.
Select one with `-k redis` or `-k sluice`.

conftest.py loads this module as a plugin, so every test can ask for `target` and
`prefix`. Servers start lazily, so `-k redis` never starts sluice-server.
"""
import threading
import uuid
from dataclasses import dataclass

import pytest
import redis


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: int

    @property
    def url(self):
        return f"redis://{self.host}:{self.port}/0"

    def client(self, **options):
        return redis.Redis(host=self.host, port=self.port, **options)


@pytest.fixture(params=["redis", "sluice"])
def target(request):
    server = request.getfixturevalue("redis_server" if request.param == "redis" else "sluice")
    return Target(request.param, server["host"], server["port"])


def delete_prefixed(client, prefix):
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def prefix(target):
    """A fresh key prefix; every key under it is deleted after the test."""
    value = f"it:{uuid.uuid4().hex[:12]}:"
    yield value
    client = target.client()
    try:
        delete_prefixed(client, value)
    except redis.RedisError:
        pass  # a server without a command the cleanup needs must not hide the test's own outcome
    finally:
        client.close()


def run_in_threads(count, work):
    """Runs work() in `count` threads released together; re-raises the first
    exception a thread hit, so a server error fails the test with its message."""
    start, errors = threading.Barrier(count), []

    def body():
        start.wait()
        try:
            work()
        except BaseException as error:  # handed to the test's thread
            errors.append(error)

    threads = [threading.Thread(target=body) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
