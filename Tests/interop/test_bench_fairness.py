"""bench/fairness end to end, briefly, with the sluice-server under test: both servers
answer the pipelined burst and the other client's PINGs, and the table's ratios follow
from its numbers. The numbers themselves are not judged (a debug build is slow)."""
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAIRNESS = REPO / "bench" / "fairness"
SLUICE_BIN = Path(os.environ.get("SLUICE_BIN", REPO / ".build" / "debug" / "sluice-server")).resolve()


def test_fairness_reports_both_servers_and_their_ratios():
    result = subprocess.run(
        [str(FAIRNESS), "--no-build", "--sluice-bin", str(SLUICE_BIN), "--requests", "20000", "--rounds", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rounds = re.findall(r"^\[round (\d)/2\] (Redis|Sluice) +20,000 GETs in [\d.]+ s; other client's PING: "
                        r"slowest [\d.]+ ms, p99 [\d.]+ ms \((\d+) PINGs\)$", result.stdout, re.M)
    assert [(number, server) for number, server, _ in rounds] == [("1", "Redis"), ("1", "Sluice"), ("2", "Redis"), ("2", "Sluice")]
    assert all(int(pings) > 0 for _, _, pings in rounds)
    rows = {cells[0]: cells[1:] for cells in (
        [cell.strip() for cell in line.strip("|").split("|")] for line in result.stdout.splitlines() if line.startswith("| ")
    )}
    redis, sluice, ratio = rows["Redis"], rows["Sluice"], rows["Sluice/Redis"]
    for column in range(3):
        if float(redis[column]) > 0:  # printed rounded; the ratio is of the unrounded medians
            assert float(ratio[column].rstrip("x")) == pytest.approx(float(sluice[column]) / float(redis[column]), rel=0.3)
