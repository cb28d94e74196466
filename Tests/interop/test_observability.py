"""The sluice-server binary's observability: /metrics parsed by the Prometheus
client library's own parser, and --log-format json lines parsed as JSON."""
import json
import os
import socket
import urllib.error
import urllib.request

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from conftest import free_port, start_sluice, stop


@pytest.fixture(scope="module")
def observed():
    metrics_port = free_port()
    process, info = start_sluice("--metrics-port", str(metrics_port), "--log-format", "json", "--requirepass", "pw")
    info["metrics"] = f"http://127.0.0.1:{metrics_port}"
    info["process"] = process
    yield info
    if process.poll() is None:
        stop(process)


def scrape(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return response.read().decode()


def samples(text):
    """{(name, frozenset(labels)): value} for every sample, via prometheus_client's parser."""
    result = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            result[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return result


def test_metrics_parse_and_count_commands_and_decisions(observed):
    client = redis.Redis(port=observed["port"], password="pw", protocol=2, decode_responses=True)
    for _ in range(3):
        client.set("obs:k", "v")
    results = [client.execute_command("CONSUME", "obs:bucket", 2, 1)[0] for _ in range(3)]
    assert results == [1, 1, 0]
    with pytest.raises(redis.exceptions.ResponseError):
        client.execute_command("LPUSH", "obs:k", "x")
    info = client.info("everything")
    client.close()

    parsed = samples(scrape(observed["metrics"]))
    families = {family.name: family.type for family in text_string_to_metric_families(scrape(observed["metrics"]))}
    assert families["sluice_commands"] == "counter"
    assert families["sluice_command_duration_seconds"] == "histogram"
    assert families["sluice_connected_clients"] == "gauge"
    assert parsed[("sluice_commands_total", frozenset({("command", "set")}))] == 3
    consume = {("command", "consume")}
    assert parsed[("sluice_ratelimit_decisions_total", frozenset(consume | {("decision", "allowed")}))] == 2
    assert parsed[("sluice_ratelimit_decisions_total", frozenset(consume | {("decision", "denied")}))] == 1
    assert parsed[("sluice_errors_total", frozenset({("kind", "WRONGTYPE")}))] == info["errorstat_WRONGTYPE"]["count"] == 1
    assert info["ratelimit_consume_allowed"] == 2
    assert parsed[("sluice_connections_received_total", frozenset())] == info["total_connections_received"]
    assert parsed[("sluice_command_duration_seconds_count", frozenset({("command", "set")}))] == 3
    assert parsed[("sluice_resident_memory_bytes", frozenset())] > 0


def test_other_paths_are_not_found(observed):
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(observed["metrics"] + "/", timeout=10)
    assert error.value.code == 404


def listening_ports(pid):
    """TCP ports the process listens on, from /proc (no `ss` needed)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_metrics_port_is_a_second_listener(observed):
    assert listening_ports(observed["pid"]) == {observed["port"], int(observed["metrics"].rsplit(":", 1)[1])}


def test_json_log_lines_cover_start_auth_failure_and_stop(observed):
    # A raw socket: redis-py would reconnect after each failure, with back-off.
    with socket.create_connection(("127.0.0.1", observed["port"]), timeout=10) as raw:
        raw.sendall(b"AUTH wrong\r\n" * 3)
        reply = b""
        while reply.count(b"\r\n") < 3:
            reply += raw.recv(4096)
    assert reply == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n" * 3
    process = observed["process"]
    assert stop(process) == 0
    # start_sluice read the ready line already; the rest follows on the same pipe.
    lines = [json.loads(line) for line in process.stdout.read().splitlines() if line.strip()]
    for line in lines:
        assert set(line) == {"ts", "level", "message", "label", "metadata"}
    messages = [line["message"] for line in lines]
    failures = [line for line in lines if line["message"] == "Authentication failed"]
    assert len(failures) == 1, "three failures within 10 seconds log one line"
    assert failures[0]["level"] == "warning"
    assert messages[-1] == "Sluice stopped"


def test_no_metrics_port_by_default():
    """Without --metrics-port nothing listens besides the Redis port."""
    process, info = start_sluice()
    try:
        assert listening_ports(process.pid) == {info["port"]}
    finally:
        assert stop(process) == 0
