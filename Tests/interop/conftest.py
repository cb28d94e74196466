"""Starts a real sluice-server on a free loopback port for the interoperability tests."""
import os
import re
import subprocess
import time

import pytest

READY = re.compile(r"ready on ([0-9.]+):(\d+)")


@pytest.fixture(scope="session")
def sluice():
    binary = os.environ.get("SLUICE_BIN", ".build/debug/sluice-server")
    process = subprocess.Popen(
        [binary, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
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
    yield {"host": "127.0.0.1", "port": port, "pid": process.pid}
    process.terminate()
    try:
        assert process.wait(timeout=10) == 0, "sluice-server did not exit cleanly on SIGTERM"
    finally:
        if process.poll() is None:
            process.kill()
