"""Lua scripting (EVAL, EVALSHA, SCRIPT) on sluice-server compared with a real
redis-server: redis-py's Script objects, error replies, and aiosteady 22.1.0's
Throttler running its own Lua scripts unmodified on both servers."""
import asyncio
import random
import struct
import uuid

import pytest
import redis
from aioredis.errors import ReplyError
from aiosteady.leakybucket import Throttler


@pytest.fixture
def clients(sluice, redis_server):
    made = [
        redis.Redis(host=server["host"], port=server["port"], decode_responses=True)
        for server in (sluice, redis_server)
    ]
    yield made
    for client in made:
        client.close()


def both(clients, call):
    """The outcome of `call(client)` on Sluice and on Redis: a value or the error text."""
    outcomes = []
    for client in clients:
        try:
            outcomes.append(call(client))
        except redis.ResponseError as error:
            outcomes.append(("error", str(error)))
    return outcomes


def test_redis_py_script_objects_run_by_digest(clients):
    key = f"lua:{uuid.uuid4().hex}"
    for client in clients:
        client.script_flush()
        add = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        assert add(keys=[key], args=[5]) == 5  # NOSCRIPT, then SCRIPT LOAD and EVALSHA again
        assert add(keys=[key], args=[2]) == 7
        assert client.script_exists(add.sha) == [True]
        client.delete(key)


@pytest.mark.parametrize(
    "script, numkeys, arguments",
    [
        ("return {1, 'two', {3, false}, true, nil, 6}", 0, []),
        ("return {KEYS[1], ARGV[1], #KEYS, #ARGV}", 1, ["k", "a"]),
        ("return redis.call('SET', KEYS[1], ARGV[1]) and redis.call('GET', KEYS[1])", 1, ["lua:set", "v"]),
        ("return redis.status_reply('FINE')", 0, []),
        ("return redis.error_reply('MYCODE went wrong')", 0, []),
        ("redis.call('SET', KEYS[1], 'v'); return redis.pcall('INCR', KEYS[1])", 1, ["lua:text"]),
        ("redis.call('SET', KEYS[1], 'v'); return redis.call('INCR', KEYS[1])", 1, ["lua:text"]),
        ("return cjson.encode({a = {1, 2}})", 0, []),
        ("error('boom')", 0, []),
        ("x = 1", 0, []),
        ("return undefined_global", 0, []),
        ("return 'unterminated", 0, []),
        ("return 1", 2, ["only-one"]),
    ],
)
def test_replies_and_errors_match_redis(clients, script, numkeys, arguments):
    sluice, reference = both(clients, lambda client: client.eval(script, numkeys, *arguments))
    assert sluice == reference


def test_tonumber_reads_what_redis_reads(clients):
    """Sluice reads plain decimals in tonumber itself; every text, decimal or not,
    must come out as the same double (17 significant digits) as in Redis's Lua."""
    generator = random.Random(7)
    words = ["0", "-0", "9007199254740993", "1765000000.123456", "0.1", "5.", ".5", "-.5", ".", "-", "",
             "1.2.3", " 5 ", "0x1F", "1e3", "+5", "inf", "nan", "5 x", "0.00000000000000000000001",
             "123456789012345678901", "-00012.50"]
    for _ in range(2000):
        sign = "-" if generator.random() < 0.25 else ""
        whole = "".join(generator.choice("0123456789") for _ in range(generator.randrange(20)))
        fraction = "." + "".join(generator.choice("0123456789") for _ in range(generator.randrange(24)))
        words.append(sign + whole + (fraction if generator.random() < 0.7 else "") or "3")
    script = """
        local out = {}
        for i, s in ipairs(ARGV) do
          local v = tonumber(s)
          out[i] = v == nil and 'nil' or string.format('%.17g', v)
        end
        return out
    """
    sluice, reference = both(clients, lambda client: client.eval(script, 0, *words))
    assert sluice == reference
    assert len(sluice) == len(words)
    for call in ("return tonumber()", "return tonumber('7', 99)", "return tonumber('z', 36)"):
        sluice, reference = both(clients, lambda client: client.eval(call, 0))
        assert sluice == reference


def test_numbers_format_as_in_redis(clients):
    """Sluice writes tostring of a number, string.format's %d, %f and %.Nf, and numbers
    passed to redis.call (%.17g) itself; every text must be what Redis writes."""
    generator = random.Random(11)
    values = ["0", "-0", "0.5", "2.5", "0.0078125", "99999999999999.5", "999999999999995", "1e38", "1e-9",
              "1765000000.123456", "9.2e18", "1e300", "1e-300", "123.456", "-7"]
    for _ in range(1500):
        values.append(repr(struct.unpack("<d", struct.pack("<Q", generator.getrandbits(64)))[0]))
        values.append(repr(generator.randrange(-2**60, 2**60) / 2 ** generator.randrange(30)))
        values.append(f"{generator.randrange(10**15)}e{generator.randrange(-25, 25)}")
    values = [value for value in values if value not in ("nan", "inf", "-inf")]
    script = """
        local out = {}
        for i, s in ipairs(ARGV) do
          local v = tonumber(s)
          local d = math.abs(v) < 9e18 and string.format('%d', v) or '-'
          redis.call('SET', KEYS[1], v)
          out[i] = tostring(v) .. '|' .. string.format('%f|%.0f|%.3f|%.9f', v, v, v, v) .. '|' .. d
            .. '|' .. redis.call('GET', KEYS[1])
        end
        return out
    """
    sluice, reference = both(clients, lambda client: client.eval(script, 1, "lua:number", *values))
    assert sluice == reference
    assert len(sluice) == len(values)
    for call in ("return string.format('%5.1f|%x|%q|%-3d|%s|%s', 2.25, 255, 'a\\0b', 4, 'c\\0d', ('e'):rep(120) .. '\\0')",
                 "return string.format('%d', 'x')", "return string.format('%f')", "return string.format('%y', 1)",
                 "return {tostring(1/0), tostring(-1/0), tostring(nil), tostring(12)}"):
        sluice, reference = both(clients, lambda client: client.eval(call, 0))
        assert sluice == reference


FORMAT_PIECES = ["%d", "%f", "%s", "%%", "%.0f", "%.3f", "%.9f", "%.10f", "%5d", "%-d", "%x", "%q", "%i", "%.f",
                 "%.", "%", "%g", "%e", "%c", " ", "a", "\0", "%%d", "%.2d", "%.1s", "%05.1f"]


def test_random_formats_and_arguments_as_in_redis(clients):
    """string.format and tostring with random formats and arguments of every type,
    errors included (through pcall): what Sluice writes itself and what it leaves to
    Lua's own functions must together match Redis."""
    generator = random.Random(5)
    script = """
        local args = {}
        for i = 2, #ARGV do
          local kind, body = ARGV[i]:sub(1, 1), ARGV[i]:sub(2)
          if kind == 'n' then args[i - 1] = tonumber(body) elseif kind == 's' then args[i - 1] = body
          elseif kind == 'b' then args[i - 1] = true end
        end
        local ok, out = pcall(string.format, ARGV[1], unpack(args, 1, #ARGV - 1))
        local shown, text = pcall(tostring, args[1])
        return {tostring(ok), out, tostring(shown), text}
    """

    def argument():
        kind = generator.random()
        if kind < 0.5:
            number = generator.choice([generator.uniform(-1e20, 1e20), generator.randrange(-10**12, 10**12),
                                       generator.random(), generator.randrange(-5, 5) + 0.5, 1e300, -0.0, 9.3e18])
            return "n" + repr(float(number))
        if kind < 0.8:
            return "s" + generator.choice(["abc", "", "x\0y", "y" * 120, "z" * 99 + "\0", "12", " 5 "])
        return "b" if kind < 0.9 else "x"

    for _ in range(1500):
        form = "".join(generator.choice(FORMAT_PIECES) for _ in range(generator.randrange(6)))
        arguments = [argument() for _ in range(generator.randrange(5))]
        sluice, reference = both(clients, lambda client: client.eval(script, 0, form, *arguments))
        assert sluice == reference, (form, arguments)


def test_evalsha_of_an_unknown_digest_is_noscript(clients):
    for client in clients:
        with pytest.raises(redis.exceptions.NoScriptError, match="No matching script. Please use EVAL."):
            client.evalsha("0" * 40, 0)


def test_eval_ro_refuses_writes_like_redis(clients):
    sluice, reference = both(clients, lambda client: client.eval_ro("return redis.call('SET', KEYS[1], 'x')", 1, "lua:ro"))
    assert sluice == reference
    assert "Write commands are not allowed from read-only scripts" in sluice[1]


class Scripting:
    """The two scripting calls of aioredis 1.x that aiosteady makes, over redis-py."""

    def __init__(self, client):
        self.client = client
        self.evalsha_calls = 0
        self.eval_calls = 0

    async def evalsha(self, sha, keys, args):
        self.evalsha_calls += 1
        try:
            return self.client.evalsha(sha, len(keys), *keys, *args)
        except redis.ResponseError as error:
            raise ReplyError(str(error))

    async def eval(self, script, keys, args):
        self.eval_calls += 1
        return self.client.eval(script, len(keys), *keys, *args)


def run_throttler(client, capacity, recharge, block, operations):
    """Runs `operations` ("consume" or "peek") through aiosteady and returns
    (success, level, blocked) per operation. The recharge is long, so no drop leaks
    while the test runs and the outcomes do not depend on timing."""
    scripting = Scripting(client)
    throttler = Throttler(scripting, capacity, recharge, block)
    key = f"aiosteady:{uuid.uuid4().hex}"

    async def run():
        outcomes = []
        for operation in operations:
            result = await (throttler.consume(key) if operation == "consume" else throttler.peek(key))
            outcomes.append((result.success, result.level, result.blocked_for is not None))
        return outcomes

    try:
        return asyncio.run(run()), scripting
    finally:
        client.delete(key)


@pytest.mark.parametrize(
    "capacity, block",
    [(5, None), (3, 60.0)],
    ids=["refusing", "blocking"],
)
def test_aiosteady_throttler_decides_the_same_on_sluice_and_redis(clients, capacity, block):
    sluice, reference = clients
    if "Unknown" in str(sluice.eval("return redis.pcall('SETEX').err", 0)):
        pytest.skip("aiosteady's consume script writes with SETEX, which this build does not have yet")
    operations = ["consume"] * (capacity + 3) + ["peek", "consume", "peek"]
    for client in clients:
        client.script_flush()
    on_sluice, sluice_calls = run_throttler(sluice, capacity, 30.0, block, operations)
    on_redis, _ = run_throttler(reference, capacity, 30.0, block, operations)
    assert on_sluice == on_redis
    allowed = sum(1 for success, _, _ in on_sluice[: capacity + 3] if success)
    assert allowed == capacity
    # The first call found no cached script and fell back to EVAL; later ones ran by digest.
    assert sluice_calls.eval_calls == 2  # once for consume, once for peek
    assert sluice_calls.evalsha_calls == len(operations)
