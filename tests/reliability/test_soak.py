"""4 processes x 60 s on one database path: 2 writers, 2 readers.

Writers add, upsert, delete and read their own writes back; readers query (plain and
filtered), get and count (soak_worker.py). At the end every acknowledged write must be
visible (and every acknowledged delete absent), no call may have failed, and no single
call may have taken over 2 s (issue 12: on an idle machine). Each process's ops/s and
latencies are printed; benchmarks/soak.py runs the same soak as a benchmark.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from soak_worker import run_soak, table

pytestmark = pytest.mark.reliability

DURATION_S = 60.0
MAX_CALL_S = 2.0
SEED = 4242


def test_four_processes_for_a_minute_lose_no_write_and_no_call_takes_over_2_s(
    tmp_path: Path,
) -> None:
    result = run_soak(
        sys.executable, "vectorhouse", tmp_path, seed=SEED, duration_s=DURATION_S, timeout_s=120
    )
    processes, verified = result["processes"], result["verify"]
    print(f"\nsoak, load average {os.getloadavg()[0]:.2f} at the end")
    print(table(processes))
    print(verified)
    assert not result["failures"], result["failures"]
    assert len(processes) == 4
    for name, summary in processes.items():
        assert summary["errors"] == 0, f"{name}: {summary['first_errors']}"
        assert summary["read_mismatches"] == 0, f"{name}: {summary['first_read_mismatches']}"
        assert summary["ops"] > 0, f"{name} did nothing"
    assert verified["uncertain_writes"] == 0
    assert verified["unreadable"] == 0, verified["verify_errors"]
    assert verified["lost"] == 0, verified["first_lost"]
    assert verified["wrong_values"] == 0, verified["first_wrong"]
    assert verified["resurrected"] == 0, verified["first_resurrected"]
    assert verified["count"] == verified["expected_records"]
    slow = {
        name: (s["max_latency_s"], s["slowest_op"])
        for name, s in processes.items()
        if s["max_latency_s"] > MAX_CALL_S
    }
    assert not slow, f"calls over {MAX_CALL_S} s (seconds, operation): {slow}"
