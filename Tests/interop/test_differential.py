"""Differential tests: every case in differential_cases.py is sent, command by command,
to the real redis-server and to the target, and each reply must be the same.

Targets: `sluice` (the real check) and `redis` (a second run on redis-server with
another key prefix: proves every case is deterministic, so a difference on Sluice is
Sluice's). Cases listed in RESP3 run a second time after HELLO 3.

Replies are read with a small RESP parser that keeps the reply's type (a null bulk
string and a null array differ, an error's whole message is compared), so the check is
stricter than a client's parsed values; doubles are compared as numbers, RESP3 maps and
`@unordered` replies without regard to order, and the items of a `@scanned` reply
(`[cursor, items]`) likewise.
"""
import hashlib
import shlex
import socket
import time
import uuid

import pytest

from conftest import resp_request
from differential_cases import ALLOWED_DIFFERENCES, CASES, RESP3

MARKERS = {"@2", "@3", "@send", "@read", "@unordered", "@pairs", "@scanned"}
SEND_PAUSE = 0.05  # after a command sent without reading: lets the server block on it first


class RESPConnection:
    """One socket, one command at a time, replies as (type, value) tuples."""

    def __init__(self, host, port, protocol):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.file = self.sock.makefile("rb")
        if protocol == 3:
            kind, _ = self.call([b"HELLO", b"3"])
            assert kind == "map", "HELLO 3 did not switch to RESP3"

    def close(self):
        self.file.close()
        self.sock.close()

    def send(self, words):
        self.sock.sendall(resp_request(words))

    def call(self, words):
        self.send(words)
        return self.read()

    def read(self):
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError(f"connection closed or bad line: {line!r}")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return ("status", rest)
        if kind == b"-":
            return ("error", rest)
        if kind == b":":
            return ("integer", int(rest))
        if kind in (b"$", b"=", b"!"):
            length = int(rest)
            if length < 0:
                return ("null-bulk", None)
            data = self.file.read(length + 2)[:-2]
            return ({b"$": "bulk", b"=": "verbatim", b"!": "error"}[kind], data)
        if kind in (b"*", b">", b"~"):
            count = int(rest)
            if count < 0:
                return ("null-array", None)
            items = [self.read() for _ in range(count)]
            return ({b"*": "array", b">": "push", b"~": "set"}[kind], items)
        if kind == b"%":
            pairs = [(self.read(), self.read()) for _ in range(int(rest))]
            return ("map", sorted(pairs, key=repr))
        if kind == b"|":  # attribute: skip it, the reply follows
            for _ in range(int(rest)):
                self.read(), self.read()
            return self.read()
        if kind == b"_":
            return ("null", None)
        if kind == b"#":
            return ("boolean", rest == b"t")
        if kind == b",":
            text = rest.decode().lower()
            return ("double", text if text in ("inf", "-inf", "nan") else float(text))
        if kind == b"(":
            return ("big-number", int(rest))
        raise ConnectionError(f"unknown RESP type in {line!r}")


def unordered(reply):
    kind, value = reply
    return (kind, sorted(value, key=repr)) if kind in ("array", "set") else reply


def scanned(reply):
    """A SCAN-family step with its items sorted: `[cursor, items]`."""
    kind, value = reply
    if kind != "array" or len(value) != 2:
        return reply
    return (kind, [value[0], unordered(value[1])])


def as_pairs(reply):
    kind, value = reply
    if kind != "array":
        return reply
    return ("pairs", sorted(zip(value[0::2], value[1::2]), key=repr))


def shaped(markers, reply):
    """The reply as the case's markers compare it."""
    if "@unordered" in markers:
        reply = unordered(reply)
    if "@scanned" in markers:
        reply = scanned(reply)
    if "@pairs" in markers:
        reply = as_pairs(reply)
    return reply


def expand(command, prefix):
    """Split a case line into markers and words; {p} becomes the key prefix and
    {sha:SCRIPT} the SHA1 of SCRIPT (after its own {p} is replaced)."""
    words = [word.replace("{p}", prefix) for word in shlex.split(command)]
    markers = set()
    while words and words[0] in MARKERS:
        markers.add(words.pop(0))
    expanded = []
    for word in words:
        if word.startswith("{sha:") and word.endswith("}"):
            word = hashlib.sha1(word[5:-1].encode()).hexdigest()
        elif word.startswith("{SHA:") and word.endswith("}"):
            word = hashlib.sha1(word[5:-1].encode()).hexdigest().upper()
        expanded.append(word.encode())
    return markers, expanded


class Session:
    """The case's connections to one server, opened on first use."""

    def __init__(self, host, port, protocol):
        self.address, self.protocol, self.connections = (host, port), protocol, {}

    def call(self, markers, words):
        name = next((marker for marker in ("@2", "@3") if marker in markers), "@1")
        if name not in self.connections:
            self.connections[name] = RESPConnection(*self.address, self.protocol)
        connection = self.connections[name]
        try:
            if "@send" in markers:  # a blocking command: its reply is read later by @read
                connection.send(words)
                time.sleep(SEND_PAUSE)
                return ("sent", None)
            reply = connection.read() if "@read" in markers else connection.call(words)
        except (OSError, ConnectionError) as error:
            self.connections.pop(name).close()
            return ("connection-error", str(error))
        return shaped(markers, reply)

    def close(self):
        for connection in self.connections.values():
            connection.close()


def normalize(reply, replacements):
    """Writes the run's own prefix back as {p}, and the SHA1 of any word it sent as
    {sha:WORD}, so replies that echo keys or script hashes compare across runs."""
    if isinstance(reply, bytes):
        for old, new in replacements:
            reply = reply.replace(old, new)
        return reply
    if isinstance(reply, (list, tuple)):
        return type(reply)(normalize(item, replacements) for item in reply)
    return reply


def delete_keys(host, port, prefix):
    """SCAN with MATCH, DEL what it finds. A server that died is left to the replies
    (connection-error) to report."""
    try:
        cleanup = RESPConnection(host, port, 2)
    except OSError:
        return
    cursor = b"0"
    try:
        while True:
            _, (cursor_reply, keys_reply) = cleanup.call(
                [b"SCAN", cursor, b"MATCH", prefix.encode() + b"*", b"COUNT", b"1000"]
            )
            keys = [key for _, key in keys_reply[1]]
            if keys:
                cleanup.call([b"DEL", *keys])
            cursor = cursor_reply[1]
            if cursor == b"0":
                break
    finally:
        cleanup.close()


def run_case(commands, host, port, protocol):
    prefix = f"df:{uuid.uuid4().hex[:12]}:"
    session = Session(host, port, protocol)
    replies = []
    try:
        for command in commands:
            markers, words = expand(command, prefix)
            replacements = [(prefix.encode(), b"{p}")] + [
                (hashlib.sha1(word).hexdigest().encode(), b"{sha:" + word.replace(prefix.encode(), b"{p}") + b"}")
                for word in words
            ]
            replies.append(normalize(session.call(markers, words), replacements))
    finally:
        session.close()
        delete_keys(host, port, prefix)
    return replies


def error_code(reply):
    return (reply[1].split() or [b""])[0]


def same(expected, actual, allowed):
    if expected == actual:
        return True
    if not allowed:
        return False
    if isinstance(allowed, tuple) and allowed[0] == "numbers":
        return same_numbers(expected, actual)
    # An allowed difference: both are errors with the same code (first word).
    return expected[0] == actual[0] == "error" and error_code(expected) == error_code(actual)


def score_format(command):
    """Sorted-set scores are written in Redis 7.2's shortest round-trip form (0.1,
    1.5e-7); the reference 7.0 server writes %.17g (0.10000000000000001). The doubles
    are the same, so Z* replies compare bulk strings as numbers."""
    return ("numbers", "7.2 score format") if command.upper().startswith("Z") else None


def same_numbers(expected, actual):
    """Equal, except that bulk strings may spell the same double differently."""
    if expected[0] != actual[0]:
        return False
    if expected[0] == "bulk" and expected[1] != actual[1]:
        try:
            return float(expected[1]) == float(actual[1])
        except ValueError:
            return False
    if expected[0] in ("array", "set", "push") and isinstance(expected[1], list):
        return len(expected[1]) == len(actual[1]) and all(map(same_numbers, expected[1], actual[1]))
    return expected == actual


PARAMS = [pytest.param(name, 2, id=name) for name in CASES] + [
    pytest.param(name, 3, id=f"{name}-resp3") for name in RESP3
]


@pytest.mark.parametrize("case, protocol", PARAMS)
def test_same_replies_as_the_reference_server(case, protocol, target, redis_server):
    commands = CASES[case]
    expected = run_case(commands, redis_server["host"], redis_server["port"], protocol)
    actual = run_case(commands, target.host, target.port, protocol)
    differences = [
        f"  {command}\n    redis:  {want}\n    {target.name}: {got}"
        for command, want, got in zip(commands, expected, actual)
        if not same(want, got, ALLOWED_DIFFERENCES.get((case, command)) or score_format(command))
    ]
    assert not differences, f"{len(differences)} of {len(commands)} replies differ:\n" + "\n".join(differences)


def run_case_pipelined(commands, host, port):
    """The case's commands written in one go on one connection, then every reply read:
    the server gets them as one read burst, where it hashes and prefetches the keys of
    the commands ahead of the one running."""
    prefix = f"df:{uuid.uuid4().hex[:12]}:"
    connection = RESPConnection(host, port, 2)
    expanded = [expand(command, prefix) for command in commands]
    replacements = [(prefix.encode(), b"{p}")] + [
        (hashlib.sha1(word).hexdigest().encode(), b"{sha:" + word.replace(prefix.encode(), b"{p}") + b"}")
        for _, words in expanded for word in words
    ]
    try:
        connection.sock.sendall(b"".join(resp_request(words) for _, words in expanded))
        replies = []
        for markers, _ in expanded:
            replies.append(normalize(shaped(markers, connection.read()), replacements))
        return replies
    finally:
        connection.close()
        delete_keys(host, port, prefix)


# Cases whose commands all go on one connection, none blocking.
PIPELINED = [
    name for name, commands in CASES.items()
    if not any(expand(command, "")[0] & {"@2", "@3", "@send", "@read"} for command in commands)
]


@pytest.mark.parametrize("case", PIPELINED)
def test_same_replies_when_pipelined(case, target, redis_server):
    commands = CASES[case]
    expected = run_case_pipelined(commands, redis_server["host"], redis_server["port"])
    actual = run_case_pipelined(commands, target.host, target.port)
    differences = [
        f"  {command}\n    redis:  {want}\n    {target.name}: {got}"
        for command, want, got in zip(commands, expected, actual)
        if not same(want, got, ALLOWED_DIFFERENCES.get((case, command)) or score_format(command))
    ]
    assert not differences, f"{len(differences)} of {len(commands)} replies differ:\n" + "\n".join(differences)


def test_allowed_differences_name_real_commands():
    for case, command in ALLOWED_DIFFERENCES:
        assert command in CASES[case], (case, command)
