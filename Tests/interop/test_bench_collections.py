"""bench/collections end to end, briefly, with the sluice-server under test: every test
runs on both servers (the bench checks each collection's final size and stops on any
error reply), and the table's ratios
follow from its numbers. The numbers themselves are not judged (a debug build is slow)."""
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / "bench" / "collections"
SLUICE_BIN = Path(os.environ.get("SLUICE_BIN", REPO / ".build" / "debug" / "sluice-server")).resolve()


def test_collections_reports_both_servers_and_their_ratios():
    result = subprocess.run(
        [str(COLLECTIONS), "--no-build", "--sluice-bin", str(SLUICE_BIN),
         "--members", "20000", "--window", "5000", "--steps", "3000", "--rounds", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = re.findall(r"^\[round 1/1\] (hash|zset|window) +(Redis|Sluice) .*slowest [\d.]+ ms, p99 [\d.]+ ms; "
                      r"resident \d+ MB$", result.stdout, re.M)
    assert runs == [(kind, server) for kind in ("hash", "zset", "window") for server in ("Redis", "Sluice")]
    rows = {(cells[0], cells[1]): cells[2:] for cells in (
        [cell.strip() for cell in line.strip("|").split("|")] for line in result.stdout.splitlines() if line.startswith("| ")
    ) if cells[0] in ("hash", "zset", "window")}
    for kind in ("hash", "zset", "window"):
        redis, sluice, ratio = rows[(kind, "Redis")], rows[(kind, "Sluice")], rows[(kind, "Sluice/Redis")]
        for column in range(4):
            low, high = (float(value.replace(",", "")) for value in (redis[column], sluice[column]))
            # Printed rounded, while the ratio is of the unrounded medians: checked only where
            # Redis's number is ten rounding steps or more (a p99 of 0.1 ms may be 0.05 or 0.149).
            decimals = len(redis[column].split(".")[1]) if "." in redis[column] else 0
            if low >= 10 * 10 ** -decimals:
                assert float(ratio[column].rstrip("x")) == pytest.approx(high / low, rel=0.3)

