"""bench/expiry end to end, briefly, with the sluice-server under test: both servers
take the expiring keys and the GET load, every key has expired and been reclaimed by
the end, and the table's ratios follow from its numbers. The latencies themselves are
not judged (a debug build is slow)."""
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXPIRY = REPO / "bench" / "expiry"
SLUICE_BIN = Path(os.environ.get("SLUICE_BIN", REPO / ".build" / "debug" / "sluice-server")).resolve()


def test_expiry_reports_both_servers_and_their_ratios():
    # A TTL of 1 s: the GET load starts at once and, at these sizes, may end before the
    # keys expire, so the keys left are checked only to be at most the keys set.
    result = subprocess.run(
        [str(EXPIRY), "--no-build", "--sluice-bin", str(SLUICE_BIN), "--keys", "20000", "--ttl", "1000",
         "--requests", "50000", "--rounds", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rounds = re.findall(r"^\[round (\d)/2\] (Redis|Sluice) +GET ([\d,]+) requests/s, p99 [\d.]+ ms, "
                        r"slowest [\d.]+ ms; ([\d,]+) keys left$", result.stdout, re.M)
    assert [(number, server) for number, server, _, _ in rounds] == [("1", "Redis"), ("1", "Sluice"), ("2", "Redis"), ("2", "Sluice")]
    assert all(int(rps.replace(",", "")) > 0 and int(left.replace(",", "")) <= 20_000 for _, _, rps, left in rounds)
    rows = {cells[0]: cells[1:] for cells in (
        [cell.strip() for cell in line.strip("|").split("|")] for line in result.stdout.splitlines() if line.startswith("| ")
    )}
    redis, sluice, ratio = rows["Redis"], rows["Sluice"], rows["Sluice/Redis"]
    for column in range(3):
        value = lambda text: float(text.replace(",", ""))
        if value(redis[column]) > 0:  # printed rounded; the ratio is of the unrounded medians
            assert float(ratio[column].rstrip("x")) == pytest.approx(value(sluice[column]) / value(redis[column]), rel=0.3)
