"""aiosteady 22.1.0's Throttler on a real redis-server against CONSUME/PEEK on Sluice,
at the same controlled times.

aiosteady reads "now" inside its Lua scripts with Redis's TIME. The client adapter
below gives aiosteady the scripting calls it makes (evalsha, falling back to eval)
over redis-py and replaces `redis.call("TIME")` in the script text with the pinned
time; Sluice's clock is pinned with DEBUG SET-CLOCK. Where aiosteady reports
something plainly wrong, the test asserts aiosteady's value and Sluice's true one
(README.md lists each difference).
"""
import asyncio
import uuid

import pytest
import redis
from aioredis.errors import ReplyError
from aiosteady.leakybucket import Throttler

START_MS = 1_800_000_000_000
TIME_CALL = 'redis.call("TIME")'


class PinnedTimeScripting:
    """The part of aioredis's scripting API aiosteady uses, with a pinned TIME."""

    def __init__(self, client):
        self.client = client
        self.now_ms = START_MS

    async def evalsha(self, sha, keys, args):
        # Never loaded: aiosteady falls back to eval with the script text.
        raise ReplyError("NOSCRIPT No matching script. Please use EVAL.")

    async def eval(self, script, keys, args):
        assert TIME_CALL in script
        seconds, milliseconds = divmod(self.now_ms, 1000)
        pinned = script.replace(TIME_CALL, '{"%d", "%d"}' % (seconds, milliseconds * 1000))
        return self.client.eval(pinned, len(keys), *keys, *args)


def sluice_call(client, key, throttler, operation, amount):
    arguments = [key, throttler.max_capacity, throttler.drop_recharge]
    if operation == "consume":
        arguments += ["AMOUNT", amount]
    if throttler.block_duration:
        arguments += ["BLOCK", throttler.block_duration]
    success, level, until_next_drop, blocked_for = client.execute_command(operation.upper(), *arguments)
    return (bool(success), level, float(until_next_drop), None if blocked_for is None else float(blocked_for))


def as_tuple(result):
    return (result.success, result.level, result.until_next_drop, result.blocked_for)


def assert_close(actual, expected, step):
    success, level, until_next_drop, blocked_for = actual
    assert (success, level) == expected[:2], step
    assert until_next_drop == pytest.approx(expected[2], abs=0.001), step
    if expected[3] is None:
        assert blocked_for is None, step
    else:
        assert blocked_for == pytest.approx(expected[3], abs=0.001), step


# (ms after START_MS, operation, amount, aiosteady's reply,
#  Sluice's reply where aiosteady's is wrong, else None)
BLOCKING = (3, 1.0, 2.0), [
    (0, "consume", 1, (True, 1, 1.0, None), None),
    (100, "consume", 1, (True, 2, 0.9, None), None),
    (200, "consume", 1, (True, 3, 0.8, None), None),
    # The consume that starts a block: aiosteady says level 0.
    (300, "consume", 1, (False, 0, 0.7, 2.0), (False, 3, 0.7, 2.0)),
    # Peek while blocked: aiosteady says 0 s to the next drop.
    (400, "peek", 0, (False, 3, 0.0, 1.9), (False, 3, 0.6, 1.9)),
    # Consume while blocked: aiosteady says level 0 and 0 s to the next drop.
    (1500, "consume", 1, (False, 0, 0.0, 0.8), (False, 2, 0.5, 0.8)),
    (2400, "consume", 1, (True, 2, 0.6, None), None),
    (2500, "peek", 0, (True, 2, 0.5, None), None),
    (2600, "consume", -5, (True, 0, 1.0, None), None),
    (2700, "peek", 0, (True, 0, 1.0, None), None),
    (2700, "consume", 3, (True, 3, 1.0, None), None),
    (3200, "consume", 1, (False, 0, 0.5, 2.0), (False, 3, 0.5, 2.0)),
]

NON_BLOCKING = (3, 2.0, None), [
    (0, "consume", 2, (True, 2, 2.0, None), None),
    # A refused consume without BLOCK: aiosteady says level = capacity.
    (500, "consume", 2, (False, 3, 1.5, None), (False, 2, 1.5, None)),
    (700, "consume", 1, (True, 3, 1.3, None), None),
    (900, "consume", 1, (False, 3, 1.1, None), None),
    (2100, "peek", 0, (True, 2, 1.9, None), None),
    (4500, "consume", 1, (True, 2, 1.5, None), None),
    (4600, "consume", -1, (True, 1, 1.4, None), None),
    # Only times before the key's TTL: redis-server expires keys by its real clock.
    (5000, "peek", 0, (True, 1, 1.0, None), None),
]


@pytest.mark.parametrize("scenario", [BLOCKING, NON_BLOCKING], ids=["blocking", "non-blocking"])
def test_consume_and_peek_match_aiosteady_on_redis(redis_server, sluice_debug, scenario):
    (capacity, recharge, block), steps = scenario
    reference = redis.Redis(host=redis_server["host"], port=redis_server["port"], decode_responses=True)
    sluice = redis.Redis(host=sluice_debug["host"], port=sluice_debug["port"], protocol=2, decode_responses=True)
    scripting = PinnedTimeScripting(reference)
    throttler = Throttler(scripting, capacity, recharge, block)
    key = f"aiosteady:{uuid.uuid4().hex}"
    try:
        for step in steps:
            offset, operation, amount, aiosteady_reply, sluice_truth = step
            scripting.now_ms = START_MS + offset
            if operation == "consume":
                result = asyncio.run(throttler.consume(key, amount))
            else:
                result = asyncio.run(throttler.peek(key))
            assert_close(as_tuple(result), aiosteady_reply, step)
            assert sluice.execute_command("DEBUG", "SET-CLOCK", START_MS + offset) == "OK"
            assert_close(sluice_call(sluice, key, throttler, operation, amount), sluice_truth or aiosteady_reply, step)
    finally:
        sluice.execute_command("DEBUG", "SET-CLOCK", "REAL")
        reference.close()
        sluice.close()


def test_fractional_recharge_works_on_sluice_where_aiosteadys_script_fails(redis_server, sluice_debug):
    reference = redis.Redis(host=redis_server["host"], port=redis_server["port"], decode_responses=True)
    sluice = redis.Redis(host=sluice_debug["host"], port=sluice_debug["port"], protocol=2, decode_responses=True)
    throttler = Throttler(PinnedTimeScripting(reference), 3, 0.2)
    key = f"aiosteady:{uuid.uuid4().hex}"
    try:
        with pytest.raises(redis.ResponseError):
            asyncio.run(throttler.consume(key))
        sluice.execute_command("DEBUG", "SET-CLOCK", START_MS)
        assert sluice.execute_command("CONSUME", key, 3, 0.2) == [1, 1, "0.2", None]
        assert sluice.pttl(key) == 200
    finally:
        sluice.execute_command("DEBUG", "SET-CLOCK", "REAL")
        reference.close()
        sluice.close()
