"""bench/compare end to end, in its quick mode, with the sluice-server under test: every
group runs, its table is complete, and its ratios follow from the numbers beside them.
The numbers themselves are not judged (a debug build is slow); what is checked is
that the benchmark still runs and reports what README.md says it does."""
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPARE = REPO / "bench" / "compare"
SLUICE_BIN = Path(os.environ.get("SLUICE_BIN", REPO / ".build" / "debug" / "sluice-server")).resolve()

# Each group's rows (test, server) in the Markdown table, at -P 1.
EXPECTED_ROWS = {
    "core": ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR"],
    "types": ["HSET", "HGETALL", "HINCRBY", "ZADD", "ZRANGE", "ZPOPMIN", "ZINCRBY", "LPUSH", "RPOP", "SADD", "SMEMBERS", "SPOP"],
    "options": ["SET EX", "GETEX EX", "SETEX", "APPEND", "INCRBYFLOAT", "HINCRBYFLOAT", "RPUSH", "LMOVE"],
    "ratelimit": [("GET", "Redis"), ("EVALSHA aiosteady", "Redis"), ("EVALSHA GCRA", "Redis"),
                  ("EVALSHA log", "Redis"), ("CONSUME", "Sluice"), ("CL.THROTTLE", "Sluice"),
                  ("ACQUIRE", "Sluice"), ("INCR bounded", "Sluice")],
    "scripting": ["EVALSHA aiosteady", "EVALSHA GCRA", "EVALSHA log", "EVALSHA limits"],
    "backend": [("EVALSHA", "Redis"), ("CONSUME", "Sluice backend")],
}


def run_compare(*arguments, binary=SLUICE_BIN, env=None):
    return subprocess.run(
        [str(COMPARE), "--no-build", "--sluice-bin", str(binary), *arguments],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=env,
    )


def number(cell):
    return float(cell.replace(",", "").rstrip("x"))


def tables(markdown):
    """{section: [row cells by column name]} from the Markdown report."""
    sections = {}
    for section, body in re.findall(r"^## (\w+)\n\n(.*?)(?=^## |\Z)", markdown, re.M | re.S):
        lines = [line for line in body.splitlines() if line.startswith("|")]
        header = [cell.strip() for cell in lines[0].strip("|").split("|")]
        sections[section] = [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]
    return sections


def assert_ratio(ratio, numerator, denominator):
    # Both sides are rounded to two decimals in the table.
    assert ratio.endswith("x")
    assert number(ratio) == pytest.approx(number(numerator) / number(denominator), rel=0.03, abs=0.011)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench") / "report.md"
    result = run_compare("--quick", "--group", "all", "--pipelines", "1", "--output", str(output))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tables(output.read_text())


def test_every_group_reports_its_rows(report):
    assert sorted(report) == sorted(EXPECTED_ROWS)
    for group, expected in EXPECTED_ROWS.items():
        rows = report[group]
        if isinstance(expected[0], tuple):
            assert [(row["test"], row["server"]) for row in rows] == expected
        else:
            assert [row["test"] for row in rows] == expected
        for row in rows:
            assert row["P"] == "1"
            assert number(row.get("rps") or row["Sluice rps"]) > 0


def test_sluice_against_redis_ratios_follow_from_the_numbers(report):
    for group in ("core", "types", "scripting"):
        for row in report[group]:
            assert_ratio(row["rps S/R"], row["Sluice rps"], row["Redis rps"])
            assert_ratio(row["CPU S/R"], row["Sluice CPU µs/req"], row["Redis CPU µs/req"])


def test_each_round_ratio_is_shown_beside_the_medians(report):
    # --quick runs one round, so the round's ratio is the medians' ratio.
    for group in ("core", "types", "scripting"):
        for row in report[group]:
            low, high, at_least, of, rounds = re.fullmatch(
                r"([\d.]+)–([\d.]+), (\d+) (of) (\d+)", row["rps S/R by round, ≥ 1"]).groups()
            assert low == high and rounds == "1", row
            assert_ratio(row["rps S/R"], low, "1")
            assert at_least == ("1" if float(low) >= 1 else "0"), row


def test_every_row_says_what_share_of_the_cpu_went_to_commands(report):
    for group, rows in report.items():
        for row in rows:
            if "commands % CPU R/S" in row:
                shares = [number(cell) for cell in row["commands % CPU R/S"].split("/")]
            else:
                shares = [number(row["commands % CPU"])]
            # Commands ran, and they cannot have taken more than the whole run's CPU by much.
            # The command clock is wall time, so a server preempted inside a command (a busy
            # machine, a quick run's few milliseconds) can pass 100%; a unit slip (ms for µs)
            # would give 1000 times the share.
            assert all(0 < share <= 400 for share in shares), (group, row)


def test_every_row_says_how_busy_the_client_and_the_server_were(report):
    for group, rows in report.items():
        for row in rows:
            cells = [row[name] for name in ("busy % client/server", "busy % client/Redis", "busy % client/Sluice")
                     if name in row]
            assert cells, (group, row)
            for cell in cells:
                client, server = (number(part) for part in cell.split("/"))
                # redis-benchmark is one thread: at most one CPU, give or take the clock's ticks.
                assert 0 < client <= 110 and server > 0, (group, row)


def test_rate_limit_rows_are_compared_with_get_and_with_the_script_doing_the_same(report):
    rows = {row["test"]: row for row in report["ratelimit"]}
    get = rows["GET"]
    scripts = {"CONSUME": "EVALSHA aiosteady", "CL.THROTTLE": "EVALSHA GCRA", "ACQUIRE": "EVALSHA log",
               "INCR bounded": None}
    for name, script in scripts.items():
        row = rows[name]
        assert_ratio(row["rps / GET"], row["rps"], get["rps"])
        assert_ratio(row["CPU / GET"], row["CPU µs/req"], get["CPU µs/req"])
        if script is None:
            assert row["rps / script"] == row["CPU / script"] == ""
        else:
            assert_ratio(row["rps / script"], row["rps"], rows[script]["rps"])
            assert_ratio(row["CPU / script"], row["CPU µs/req"], rows[script]["CPU µs/req"])
    for name in ("EVALSHA aiosteady", "EVALSHA GCRA", "EVALSHA log"):
        assert_ratio(rows[name]["rps / GET"], rows[name]["rps"], get["rps"])
        assert rows[name]["rps / script"] == ""


def test_backend_row_counts_the_redis_cpu_its_scripts_used(report):
    direct, backend = report["backend"]
    assert_ratio(backend["rps / EVALSHA"], backend["rps"], direct["rps"])
    assert number(backend["Redis CPU µs/req"]) > 0
    assert_ratio(backend["Redis CPU / EVALSHA"], backend["Redis CPU µs/req"], direct["CPU µs/req"])
    together = number(backend["CPU µs/req"]) + number(backend["Redis CPU µs/req"])
    assert number(backend["Sluice + Redis CPU / EVALSHA"]) == pytest.approx(together / number(direct["CPU µs/req"]), rel=0.03)


def test_memory_mode_loads_the_same_buckets_into_both_servers():
    result = run_compare("--memory", "2000")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = dict(re.findall(r"^(Redis|Sluice)\s+(2,000)\s", result.stdout, re.M))
    assert rows == {"Redis": "2,000", "Sluice": "2,000"}
    assert re.search(r"Sluice/Redis resident memory after loading: \d+\.\d\dx\.", result.stdout)


@pytest.mark.parametrize("kind, described", [
    ("zsets", "Sorted sets: `ZADD bucket:NNNNNNN` of 10 members"),
    ("long-zsets", "Sorted sets: `ZADD bucket:NNNNNNN` of 1000 members"),
    ("lists", "Lists: `LPUSH bucket:NNNNNNN` of 100 timestamps"),
    ("long-lists", "Lists: `LPUSH bucket:NNNNNNN` of 1000 timestamps"),
    ("hashes", "Hashes: `HSET bucket:NNNNNNN tokens N ts <milliseconds>`"),
    ("sets", "Sets: `SADD bucket:NNNNNNN` of 10 members"),
])
def test_memory_mode_loads_the_same_collections_into_both_servers(kind, described):
    result = run_compare("--memory", "500", "--memory-of", kind)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = dict(re.findall(r"^(Redis|Sluice)\s+(500)\s", result.stdout, re.M))
    assert rows == {"Redis": "500", "Sluice": "500"}
    assert described in result.stdout
    assert re.search(r"Sluice/Redis resident memory after loading: \d+\.\d\dx\.", result.stdout)


def test_a_command_answered_with_an_error_fails_the_comparison(tmp_path):
    # A Sluice that refuses every write once it holds anything: SET's run gets -OOM.
    wrapper = tmp_path / "sluice-full"
    wrapper.write_text(f'#!/bin/sh\nexec "{SLUICE_BIN}" "$@" --maxmemory 1\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    output = tmp_path / "report.md"
    result = run_compare("--quick", "--pipelines", "1", "--output", str(output), binary=wrapper)
    assert result.returncode == 1
    assert "OOM command not allowed" in result.stderr
    assert not output.exists()


# Stand-ins for valgrind and callgrind_control, so the --instructions plumbing runs in
# CI: the fake valgrind notes where each server's counts go (by PID, which exec keeps)
# and runs the server itself; the fake callgrind_control logs each command and, on -d,
# writes the next numbered dump: the nth of Redis counts n x 100,000,000 instructions,
# the nth of Sluice n x 250,000,000, so every run's count differs.
FAKE_VALGRIND = """#!/bin/sh
[ "$1" = --version ] && { echo valgrind-fake; exit 0; }
for arg; do case "$arg" in --callgrind-out-file=*) out="${arg#*=}";; esac; done
while [ "${1#--}" != "$1" ]; do shift; done
echo "$$ $out $1" >> "$FAKE_CALLGRIND/processes"
exec "$@"
"""
FAKE_CONTROL = """#!/bin/sh
echo "$1 $2" >> "$FAKE_CALLGRIND/commands"
[ "$1" = -d ] || exit 0
set -- $(awk -v pid="$2" '$1 == pid {print $2, $3}' "$FAKE_CALLGRIND/processes")
n=1; while [ -e "$1.$n" ]; do n=$((n + 1)); done
case "$2" in */redis-server|redis-server) count=$((n * 100000000));; *) count=$((n * 250000000));; esac
printf 'events: Ir\nsummary: %s\n' "$count" > "$1.$n"
"""


def fake_callgrind(directory):
    """An environment whose PATH finds the stand-ins first."""
    for name, text in (("valgrind", FAKE_VALGRIND), ("callgrind_control", FAKE_CONTROL)):
        tool = directory / name
        tool.write_text(text)
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return dict(os.environ, PATH=f"{directory}:{os.environ['PATH']}", FAKE_CALLGRIND=str(directory))


def test_instructions_mode_reports_each_run_between_a_zero_and_a_dump(tmp_path):
    env = fake_callgrind(tmp_path)
    output = tmp_path / "report.md"
    result = run_compare("--instructions", "--pipelines", "16", "-n", "2000", "--output", str(output), env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    rows = tables("## core\n\n" + output.read_text().split("\n\n", 1)[1])["core"]
    assert [row["test"] for row in rows] == EXPECTED_ROWS["core"]
    for n, row in enumerate(rows, start=1):
        # n x 100,000,000 and n x 250,000,000 instructions over 2,000 requests.
        assert (row["P"], row["Redis instructions/req"], row["Sluice instructions/req"], row["S/R"]) == \
            ("16", f"{n * 50_000:,}", f"{n * 125_000:,}", "2.50x")

    processes = [line.split() for line in (tmp_path / "processes").read_text().splitlines()]
    programs = sorted(Path(program).name for _, _, program in processes)
    assert programs == ["redis-server", "sluice-server"]
    # Sluice runs from a copy without debug information, not from the binary given.
    [sluice] = [program for _, _, program in processes if not program.endswith("redis-server")]
    assert sluice != str(SLUICE_BIN)
    commands = (tmp_path / "commands").read_text().split()
    assert commands[0::2] == ["-z", "-d"] * len(EXPECTED_ROWS["core"]) * 2


def test_instructions_mode_compares_each_rate_limit_command_with_get_and_its_script(tmp_path):
    env = fake_callgrind(tmp_path)
    output = tmp_path / "report.md"
    result = run_compare("--instructions", "--group", "ratelimit", "--pipelines", "16", "-n", "2000",
                         "--output", str(output), env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # One group's report has no section heading; the table follows the context lines.
    report = tables("## ratelimit\n\n" + output.read_text().split("\n\n", 1)[1])
    rows = {row["test"]: row for row in report["ratelimit"]}
    assert [(name, row["server"]) for name, row in rows.items()] == \
        [(test, server) for test, server in EXPECTED_ROWS["ratelimit"]]
    # Each server's runs, in order, count n x 100,000,000 (Redis) and n x 250,000,000
    # (Sluice) instructions over 2,000 requests.
    redis = {name: n * 50_000 for n, name in enumerate(["GET", "EVALSHA aiosteady", "EVALSHA GCRA", "EVALSHA log"], 1)}
    sluice = {name: n * 125_000 for n, name in enumerate(["CONSUME", "CL.THROTTLE", "ACQUIRE", "INCR bounded"], 1)}
    for name, count in redis.items():
        assert rows[name]["instructions/req"] == f"{count:,}"
        assert rows[name]["instructions / GET"] == ("" if name == "GET" else f"{count / redis['GET']:.2f}x")
        assert rows[name]["instructions / script"] == ""
    scripts = {"CONSUME": "EVALSHA aiosteady", "CL.THROTTLE": "EVALSHA GCRA", "ACQUIRE": "EVALSHA log"}
    for name, count in sluice.items():
        assert rows[name]["instructions/req"] == f"{count:,}"
        assert rows[name]["instructions / GET"] == f"{count / redis['GET']:.2f}x"
        assert rows[name]["instructions / script"] == (f"{count / redis[scripts[name]]:.2f}x" if name in scripts else "")


def test_instructions_mode_refuses_what_it_cannot_measure():
    for arguments in (("--group", "backend"), ("--memory", "1000")):
        result = run_compare("--instructions", *arguments)
        assert result.returncode == 2
        assert "--instructions measures" in result.stderr
