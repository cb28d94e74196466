"""Starts real servers on free loopback ports for the interoperability tests:
sluice-server (one per session, real clock), a second sluice-server that allows
DEBUG SET-CLOCK, and a real redis-server for differential tests."""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest
import redis

# target (redis-server or Sluice) and prefix fixtures for the library and differential tests
pytest_plugins = ["targets"]

READY = re.compile(r"ready on ([0-9.]+):(\d+)")


def start_sluice(*extra_args):
    binary = os.environ.get("SLUICE_BIN", ".build/debug/sluice-server")
    process = subprocess.Popen(
        [binary, "--port", "0", *extra_args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 30
    port = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = READY.search(line)
        if match:
            port = int(match.group(2))
            break
    if port is None:
        process.kill()
        raise RuntimeError("sluice-server did not report ready")
    return process, {"host": "127.0.0.1", "port": port, "pid": process.pid}


def resp_request(words):
    """A command as the RESP multi-bulk request clients send."""
    return b"".join([b"*%d\r\n" % len(words)] + [b"$%d\r\n%s\r\n" % (len(word), word) for word in words])


def stop(process):
    process.terminate()
    try:
        return process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.fixture(scope="session")
def sluice():
    process, info = start_sluice()
    yield info
    assert stop(process) == 0, "sluice-server did not exit cleanly on SIGTERM"


@pytest.fixture(scope="session")
def sluice_debug():
    """A sluice-server whose clock DEBUG SET-CLOCK may pin."""
    process, info = start_sluice("--enable-debug-command", "yes")
    yield info
    assert stop(process) == 0, "sluice-server did not exit cleanly on SIGTERM"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A throw-away redis-server on a free loopback port, stopped by its PID."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                stop(process)
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
    client.close()
    yield {"host": "127.0.0.1", "port": port, "pid": process.pid}
    stop(process)
