"""What bench/fairness, bench/collections and bench/zset-ops share: throwaway servers on
free loopback ports, writing commands to and reading replies off a raw socket, and a
server's CPU time (bench/compare reads it here too)."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(port, process):
    for _ in range(300):
        if process.poll() is not None:
            sys.exit(f"server on port {port} exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"server on port {port} did not answer PING")


def start_server(command):
    """(process, port): `command` plus `--port` on a free port, answering PING."""
    port = free_port()
    process = subprocess.Popen(command + ["--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(port, process)
    return process, port


def stop_servers(processes):
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def command(*words):
    """One command in RESP, its words bytes or anything `str` turns into text."""
    encoded = [word if isinstance(word, bytes) else str(word).encode() for word in words]
    return b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(word), word) for word in encoded)


def receive(connection):
    chunk = connection.recv(1 << 20)
    if not chunk:
        raise ConnectionError("closed by the server")
    return chunk


def read_exactly(connection, count):
    received = 0
    while received < count:
        received += len(receive(connection))


def read_line(connection):
    """One reply of one line (an integer, a status), with its CRLF."""
    reply = b""
    while not reply.endswith(b"\r\n"):
        reply += connection.recv(64)
    return reply


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may contain spaces; the fields after it are fixed.
        fields = stat.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_replies(connection, count):
    """Reads `count` one-line replies (integers, simple strings); an error reply stops the run."""
    lines = 0
    while lines < count:
        chunk = receive(connection)
        if any(line.startswith(b"-") for line in chunk.split(b"\r\n")):
            sys.exit(f"error reply: {chunk[:200]!r}")
        lines += chunk.count(b"\r\n")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
