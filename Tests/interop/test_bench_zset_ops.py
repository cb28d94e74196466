"""bench/zset-ops end to end, briefly, with the sluice-server under test: each command
runs on both servers (the bench checks the set's final size and stops on any error
reply), and the table's ratios follow from its numbers. The numbers themselves are not
judged (a debug build is slow)."""
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ZSET_OPS = REPO / "bench" / "zset-ops"
SLUICE_BIN = Path(os.environ.get("SLUICE_BIN", REPO / ".build" / "debug" / "sluice-server")).resolve()
OPERATIONS = ("ZSCORE", "ZRANK", "ZADD", "ZREM")


def test_zset_ops_reports_both_servers_and_their_ratios():
    result = subprocess.run(
        [str(ZSET_OPS), "--no-build", "--sluice-bin", str(SLUICE_BIN),
         "--members", "20000", "--commands", "5000", "--rounds", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = re.findall(r"^\[round 1/1\] (Redis|Sluice) +µs of server CPU per command: "
                      r"ZSCORE [\d.]+, ZRANK [\d.]+, ZADD [\d.]+, ZREM [\d.]+$", result.stdout, re.M)
    assert runs == ["Redis", "Sluice"]
    rows = {cells[0]: cells[1:] for cells in (
        [cell.strip() for cell in line.strip("|").split("|")] for line in result.stdout.splitlines() if line.startswith("| ")
    ) if cells[0] in OPERATIONS}
    assert list(rows) == list(OPERATIONS)
    for redis, sluice, ratio in rows.values():
        # Each figure is whole ticks of the CPU clock over 5,000 commands, printed exactly;
        # a Redis that spent no tick has no ratio.
        if float(redis) == 0:
            assert ratio == "-"
        else:
            assert float(ratio.rstrip("x")) == pytest.approx(float(sluice) / float(redis), rel=0.01)


def test_zset_ops_refuses_more_removals_than_members():
    result = subprocess.run(
        [str(ZSET_OPS), "--no-build", "--sluice-bin", str(SLUICE_BIN), "--members", "100", "--commands", "200"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0 and "--commands must not exceed --members" in result.stderr
