"""The 4-process soak as a benchmark: 2 writers and 2 readers on one database path,
vectorhouse and then chromadb 1.5.9 in the same run.

Run from the repository root::

    .venv/bin/python benchmarks/soak.py                  # 60 s per engine
    .venv/bin/python benchmarks/soak.py --duration 20 --engines vectorhouse

Each engine gets a fresh database of ``--preload`` records (25,000 x 32 by default),
then four processes start together (tests/reliability/soak_worker.py, the same workload
as the reliability test): writers add batches (10 records, one in twenty 200), upsert
their own pool, delete, read their own writes and query; readers query (plain and
filtered), get pages and ids, and count. Afterwards the database is checked against
every acknowledged write. Printed and written to benchmarks/results/soak-4x<d>s.json:
per-process operations, ops/s, p50/p99/max latency and errors, lost writes, and the
machine's ``uptime`` before and after each engine's soak (other work on the machine
slows every figure). chroma runs from benchmarks/.venv-chroma when it holds chromadb
1.5.9, else from this interpreter when it has that version, else a venv is made as
bench.py does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import report
from bench import (
    CHROMA_VERSION,
    DEFAULT_CHROMA_VENV,
    busy_note,
    chroma_version,
    ensure_chroma_venv,
    log,
    machine_info,
    result_header,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "reliability"))

from soak_worker import PRELOAD, run_soak, table  # noqa: E402  (a test helper, not a package)


def chroma_python(venv: Path) -> Path:
    if chroma_version(venv / "bin" / "python") == CHROMA_VERSION:
        return venv / "bin" / "python"
    if chroma_version(Path(sys.executable)) == CHROMA_VERSION:
        return Path(sys.executable)
    return ensure_chroma_venv(venv)


def soak_engine(engine: str, python: Path, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"soak-{engine}-") as tmp:
        before = report.uptime()
        log(f"{engine}: {args.preload:,} records, then 4 processes x {args.duration:.0f} s")
        log(f"  {before}")
        started = time.time()
        result = run_soak(
            str(python),
            engine,
            Path(tmp),
            seed=args.seed,
            duration_s=args.duration,
            timeout_s=args.timeout,
            preload=args.preload,
        )
        result["wall_s"] = round(time.time() - started, 1)
        result["uptime_before"] = before
        result["uptime_after"] = report.uptime()
    processes = result["processes"]
    if processes:
        result["max_latency_s"] = max(p["max_latency_s"] for p in processes.values())
        result["total_ops_per_s"] = round(sum(p["ops_per_s"] for p in processes.values()), 1)
        result["errors"] = sum(p["errors"] for p in processes.values())
    log(table(processes) if processes else "no process reported")
    log(f"verify: {result['verify'] or result['failures']}")
    log(f"uptime after: {result['uptime_after']}")
    return result


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=60.0, help="seconds of soak per engine")
    p.add_argument("--preload", type=int, default=PRELOAD, help="records stored first")
    p.add_argument("--engines", default="vectorhouse,chroma")
    p.add_argument("--seed", type=int, default=4242)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds for set-up and checks")
    p.add_argument("--chroma-venv", type=Path, default=DEFAULT_CHROMA_VENV)
    p.add_argument("--out", type=Path, help="result file (default results/soak-4x<d>s.json)")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    started = time.time()
    machine = machine_info()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    pythons = {"vectorhouse": Path(sys.executable)}
    if "chroma" in engines:
        pythons["chroma"] = chroma_python(args.chroma_venv)
    results = {engine: soak_engine(engine, pythons[engine], args) for engine in engines}
    machine["loadavg_end"] = round(os.getloadavg()[0], 2)
    name = f"soak-4x{args.duration:.0f}s"
    report = {
        **result_header(
            name,
            5,
            f"Soak: 2 writer + 2 reader processes x {args.duration:.0f} s on one path",
            started,
            machine,
            busy_note(machine, tuple(range(os.cpu_count() or 1))),
        ),
        "kind": "soak",
        "settings": {
            "duration_s": args.duration,
            "preload": args.preload,
            "seed": args.seed,
            "chroma_version": CHROMA_VERSION,
            "workload": "tests/reliability/soak_worker.py",
        },
        "results": results,
    }
    out = args.out or HERE / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    log("")
    for engine, result in results.items():
        log(f"{engine} ({result['uptime_before']})")
        log(table(result["processes"]) if result["processes"] else "  no process reported")
        verified = result["verify"]
        if verified:
            log(
                f"  lost {verified['lost']}, wrong {verified['wrong_values']}, resurrected"
                f" {verified['resurrected']}, unreadable {verified['unreadable']}, count"
                f" {verified['count']} of {verified['expected_records']}"
            )
            for error in verified["verify_errors"]:
                log(f"  reading back failed: {error[:300]}")
        for failure in result["failures"]:
            log(f"  FAILED: {failure[:500]}")
        log("")
    log(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
