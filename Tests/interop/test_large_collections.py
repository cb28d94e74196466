"""One hash of 80,000 fields, one set of 50,000 members and one sorted set of 30,000
members, changed at random the same way on redis-server and on Sluice through redis-py:
past these sizes a hash's entries span two chunks, the indexes of the hash, the set and
the sorted set's members (PositionIndex) have split into many buckets, and every read
must still agree with Redis's. Fields, values and
members are both short enough to sit in their slots (14 bytes; a sorted set's members
22) and longer."""
import random

import pytest
import redis


@pytest.fixture
def pair(sluice, redis_server):
    clients = [redis.Redis(host=server["host"], port=server["port"], decode_responses=True)
               for server in (redis_server, sluice)]
    for client in clients:
        client.delete("large:hash", "large:set", "large:zset")
    yield clients
    for client in clients:
        client.delete("large:hash", "large:set", "large:zset")
        client.close()


def run(clients, commands):
    """Runs the same commands, pipelined, on both servers; returns both reply lists."""
    replies = []
    for client in clients:
        pipeline = client.pipeline(transaction=False)
        for name, *arguments in commands:
            pipeline.execute_command(name, *arguments)
        replies.append(pipeline.execute(raise_on_error=False))
    return replies


def test_a_huge_hash_reads_back_as_redis_through_fills_and_deletions(pair):
    rng = random.Random(5)
    commands = []
    for start in range(0, 80_000, 500):
        words = []
        for number in range(start, start + 500):
            words += [f"f{number}", f"v{number}"]
        commands.append(("HSET", "large:hash", *words))
    for _ in range(30_000):
        number = rng.randrange(100_000)
        # Every tenth field name is past 14 bytes, so it has an array of its own.
        field = f"f{number}" if number % 10 else f"a-long-field-name-{number}"
        action = rng.randrange(6)
        if action == 0:
            commands.append(("HDEL", "large:hash", field))
        elif action == 1:
            value = f"w{number}" if rng.randrange(2) else f"a value longer than fourteen bytes {number}"
            commands.append(("HSET", "large:hash", field, value))
        elif action == 2:
            commands.append(("HINCRBY", "large:hash", f"n{number % 500}", rng.randrange(-5, 100)))
        elif action == 3:
            commands.append(("HSTRLEN", "large:hash", field))
        else:
            commands.append(("HGET", "large:hash", field))
    commands.append(("HLEN", "large:hash"))
    redis_replies, sluice_replies = run(pair, commands)
    assert sluice_replies == redis_replies
    redis_client, sluice_client = pair
    assert sluice_client.hgetall("large:hash") == redis_client.hgetall("large:hash")


def test_a_large_set_answers_as_redis_through_fills_and_removals(pair):
    rng = random.Random(11)
    commands = []
    for start in range(0, 50_000, 500):
        commands.append(("SADD", "large:set", *(f"m{number}" for number in range(start, start + 500))))
    for _ in range(30_000):
        number = rng.randrange(70_000)
        member = f"m{number}" if number % 7 else f"member-past-fourteen-bytes-{number}"
        action = rng.randrange(3)
        if action == 0:
            commands.append(("SREM", "large:set", member))
        elif action == 1:
            commands.append(("SADD", "large:set", member))
        else:
            commands.append(("SISMEMBER", "large:set", member))
    commands.append(("SCARD", "large:set"))
    redis_replies, sluice_replies = run(pair, commands)
    assert sluice_replies == redis_replies
    redis_client, sluice_client = pair
    members = redis_client.smembers("large:set")
    assert sluice_client.smembers("large:set") == members
    # Random draws come from the indexed table: distinct members that are in the set.
    drawn = sluice_client.srandmember("large:set", 5)
    assert len(drawn) == len(set(drawn)) == 5 and set(drawn) <= members


def test_a_large_sorted_set_ranks_and_trims_as_redis(pair):
    rng = random.Random(9)
    def member_of(number):
        # Short, of 15 to 22 bytes (in their slots too), and longer (in arrays).
        return (f"m{number}", f"item:{number:010x}:1", f"a member longer than twenty-two bytes {number}")[number % 3]

    def score():
        # A quarter among 50 scores, so that equal scores order members by their bytes.
        return str(rng.randrange(1_000_000) if rng.randrange(4) else rng.randrange(50))

    commands = []
    for start in range(0, 30_000, 500):
        words = []
        for number in range(start, start + 500):
            words += [score(), member_of(number)]
        commands.append(("ZADD", "large:zset", *words))
    for step in range(20_000):
        member = member_of(rng.randrange(40_000))
        action = rng.randrange(6)
        if action == 0:
            commands.append(("ZREM", "large:zset", member))
        elif action == 1:
            commands.append(("ZADD", "large:zset", score(), member))
        elif action == 2:
            commands.append(("ZRANK", "large:zset", member))
        elif action == 3:
            low = rng.randrange(1_000_000)
            commands.append(("ZCOUNT", "large:zset", str(low), f"({low + 5_000}"))
        elif action == 4 and step % 50 == 0:
            low = rng.randrange(1_000_000)
            commands.append(("ZREMRANGEBYSCORE", "large:zset", str(low), str(low + 2_000)))
        elif action == 4 and step % 50 == 25:
            low = rng.randrange(25_000)
            commands.append(("ZREMRANGEBYRANK", "large:zset", str(low), str(low + 20)))
        else:
            commands.append(("ZSCORE", "large:zset", member))
    commands.append(("ZCARD", "large:zset"))
    redis_replies, sluice_replies = run(pair, commands)
    assert sluice_replies == redis_replies
    redis_client, sluice_client = pair
    assert (sluice_client.zrange("large:zset", 0, -1, withscores=True)
            == redis_client.zrange("large:zset", 0, -1, withscores=True))
