"""HSCAN, SSCAN and ZSCAN through redis-py's scan iterators, on redis-server and on
Sluice alike: a full iteration gives every element, and every element present from the
start to the end of an iteration, while others are added and deleted between steps, as
Redis promises. Sluice's steps and cursors differ from Redis's; these guarantees do not."""
import random

import pytest
import redis

SIZE = 3_000


@pytest.fixture(params=["redis", "sluice"])
def client(request, redis_server, sluice):
    server = redis_server if request.param == "redis" else sluice
    connection = redis.Redis(host=server["host"], port=server["port"], decode_responses=True)
    connection.delete("scan:h", "scan:s", "scan:z")
    yield connection
    connection.delete("scan:h", "scan:s", "scan:z")
    connection.close()


def fill(client):
    pipeline = client.pipeline(transaction=False)
    for start in range(0, SIZE, 500):
        numbers = range(start, start + 500)
        pipeline.hset("scan:h", mapping={f"f{n}": f"v{n}" for n in numbers})
        pipeline.sadd("scan:s", *(f"m{n}" for n in numbers))
        # Runs of ten equal scores, and negative ones.
        pipeline.zadd("scan:z", {f"m{n}": n // 10 - 100 for n in numbers})
    pipeline.execute()


def test_a_full_iteration_gives_every_element_once_nothing_changes(client):
    fill(client)
    assert dict(client.hscan_iter("scan:h", count=25)) == client.hgetall("scan:h")
    members = list(client.sscan_iter("scan:s", count=25))
    assert len(members) == SIZE and set(members) == client.smembers("scan:s")
    pairs = list(client.zscan_iter("scan:z", count=25))
    assert len(pairs) == SIZE
    assert dict(pairs) == dict(client.zrange("scan:z", 0, -1, withscores=True))


def test_match_keeps_only_matching_elements(client):
    fill(client)
    assert set(client.sscan_iter("scan:s", match="m12?", count=50)) == {f"m{n}" for n in range(120, 130)}
    assert dict(client.hscan_iter("scan:h", match="f7", count=50)) == {"f7": "v7"}
    assert dict(client.zscan_iter("scan:z", match="m99?", count=50)) == {f"m{n}": n // 10 - 100 for n in range(990, 1000)}


@pytest.mark.parametrize("kind", ["hash", "set", "zset"])
def test_elements_present_throughout_come_back_while_others_change(client, kind):
    fill(client)
    rng = random.Random(kind)
    removed, seen, added = set(), set(), 0
    cursor, steps = 0, 0
    while True:
        if kind == "hash":
            cursor, data = client.hscan("scan:h", cursor, count=40)
            seen.update(field[1:] for field in data)
        elif kind == "set":
            cursor, data = client.sscan("scan:s", cursor, count=40)
            seen.update(member[1:] for member in data)
        else:
            cursor, data = client.zscan("scan:z", cursor, count=40)
            seen.update(member[1:] for member, _ in data)
        steps += 1
        if cursor == 0 or steps > 10_000:
            break
        for _ in range(8):
            number = str(rng.randrange(SIZE))
            if kind == "hash":
                gone = client.hdel("scan:h", f"f{number}")
            elif kind == "set":
                gone = client.srem("scan:s", f"m{number}")
            else:
                gone = client.zrem("scan:z", f"m{number}")
            if gone:
                removed.add(number)
        for _ in range(8):
            added += 1
            if kind == "hash":
                client.hset("scan:h", f"new{added}", "x")
            elif kind == "set":
                client.sadd("scan:s", f"new{added}")
            else:
                # New members anywhere in the order, below the cursor's score too.
                client.zadd("scan:z", {f"new{added}": rng.randrange(-100, 200)})
    throughout = {str(n) for n in range(SIZE)} - removed
    assert cursor == 0
    assert len(throughout) > SIZE // 2
    assert throughout - seen == set()
