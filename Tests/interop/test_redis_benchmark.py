"""redis-benchmark (Debian redis-tools) with its default tests against sluice-server:
every test runs to the end on a server of its own."""
import csv
import subprocess

from conftest import start_sluice, stop

# What redis-benchmark 7.0 runs without -t, in its order.
DEFAULT_TESTS = [
    "PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP", "SADD", "HSET",
    "SPOP", "ZADD", "ZPOPMIN", "LPUSH (needed to benchmark LRANGE)", "LRANGE_100 (first 100 elements)",
    "LRANGE_300 (first 300 elements)", "LRANGE_500 (first 500 elements)", "LRANGE_600 (first 600 elements)",
    "MSET (10 keys)",
]


def test_every_default_test_runs_to_the_end():
    process, server = start_sluice()
    try:
        result = subprocess.run(
            ["redis-benchmark", "-h", server["host"], "-p", str(server["port"]), "-n", "2000", "-c", "10",
             "-r", "1000", "--csv"],
            capture_output=True, text=True, timeout=300,
        )
        # An error reply (an unknown command) is printed and the run goes on or stops.
        assert result.returncode == 0, result.stderr
        assert "Error" not in result.stdout + result.stderr, result.stdout + result.stderr
        rows = list(csv.DictReader(result.stdout.splitlines()))
        assert [row["test"] for row in rows] == DEFAULT_TESTS
        assert all(float(row["rps"]) > 0 for row in rows), rows
        # 2,000 SPOPs and ZPOPMINs took every member the 2,000 SADDs and ZADDs (of 1,000
        # possible members) put in; the lists are still there for LRANGE.
        cli = ["redis-cli", "-h", server["host"], "-p", str(server["port"])]
        assert subprocess.run(cli + ["EXISTS", "myset", "myzset"], capture_output=True, text=True).stdout == "0\n"
        assert subprocess.run(cli + ["TYPE", "mylist"], capture_output=True, text=True).stdout == "list\n"
    finally:
        assert stop(process) == 0
