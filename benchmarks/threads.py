"""Parallel reads in one process: query throughput of 1 thread against 8 threads while
a 9th thread adds batches, on one persistent collection.

Run from the repository root::

    .venv/bin/python benchmarks/threads.py                 # 50,000 x 384, 20 s per phase
    .venv/bin/python benchmarks/threads.py --n 20000 --seconds 5

What it does:

1. Stores ``--n`` records of the seeded synthetic set (benchmarks/data.py) in a fresh
   persistent collection (l2), waits until the graph holds them all, and warms up.
2. Phase "1 thread": one thread queries (n_results=10; documents, metadatas and
   distances) for ``--seconds`` seconds; then phase "8 threads", 8 threads at once.
3. Phase "8 threads + writer": 8 threads query the same way while a 9th adds a batch
   of 100 new records every 100 ms (1,000 records/s). The new records lie far from
   every query (their first coordinate is +100), so the exact top 10 of each query is
   the same before and after them and each result can be checked.
4. Every result of both phases is compared with the exact top 10 (ground truth of
   the data set): recall@10 must be the same in both phases (parallel reads return
   what a single reader returns), and no result may hold a record of the writer.
5. For scale: the same pure-Python busy loop in 1 and then 2 processes (how much a
   second core adds on this machine at this moment).

Writes benchmarks/results/threads-<n>.json (with its RESULTS.md section).
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
from bench import git_describe, machine_info  # noqa: E402
from data import DataSpec, document, ensure_dataset, read_rows, record_id  # noqa: E402

import vectorhouse  # noqa: E402

BATCH = 1_000
READERS = 8


def _busy(n: int) -> None:
    total = 0
    for i in range(n):
        total += i


def core_scaling(n: int = 20_000_000) -> float:
    """Throughput of 2 processes over 1 running the same pure-Python loop."""
    t = time.perf_counter()
    _busy(n)
    one = time.perf_counter() - t
    procs = [multiprocessing.Process(target=_busy, args=(n,)) for _ in range(2)]
    t = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    two = time.perf_counter() - t
    return round(2 * one / two, 2)


def fill(col: Any, data: Path, n: int) -> float:
    labels = np.load(data / "labels.npy")
    t = time.perf_counter()
    for start in range(0, n, BATCH):
        stop = min(start + BATCH, n)
        col.add(
            ids=[record_id(i) for i in range(start, stop)],
            embeddings=read_rows(data / "train.npy", start, stop),
            documents=[document(i, int(labels[i])) for i in range(start, stop)],
            metadatas=[{"cluster": int(labels[i])} for i in range(start, stop)],
        )
    return time.perf_counter() - t


def phase(
    col: Any, queries: np.ndarray, readers: int, seconds: float, writer: bool
) -> dict[str, Any]:
    """``readers`` threads query until the time is up (with a writer thread if asked)."""
    stop = threading.Event()
    results: list[list[tuple[int, list[str]]]] = [[] for _ in range(readers)]
    latencies: list[list[float]] = [[] for _ in range(readers)]
    written = [0]
    errors: list[BaseException] = []
    start_barrier = threading.Barrier(readers + (1 if writer else 0) + 1)

    def read(me: int) -> None:
        rng = np.random.default_rng(me)
        start_barrier.wait()
        try:
            while not stop.is_set():
                q = int(rng.integers(len(queries)))
                t = time.perf_counter()
                got = col.query(
                    query_embeddings=queries[q : q + 1],
                    n_results=10,
                    include=["documents", "metadatas", "distances"],
                )
                latencies[me].append(time.perf_counter() - t)
                results[me].append((q, got["ids"][0]))
        except BaseException as exc:
            errors.append(exc)

    def write() -> None:
        rng = np.random.default_rng(99)
        start_barrier.wait()
        try:
            while not stop.is_set():
                vecs = rng.standard_normal((100, queries.shape[1])).astype(np.float32)
                vecs[:, 0] += 100.0  # far from every query
                base = written[0]
                col.add(
                    ids=[f"w{base + i}" for i in range(100)],
                    embeddings=vecs,
                    metadatas=[{"cluster": -1}] * 100,
                    documents=["written during the run"] * 100,
                )
                written[0] += 100
                time.sleep(0.1)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(readers)]
    if writer:
        threads.append(threading.Thread(target=write))
    for t in threads:
        t.start()
    start_barrier.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    flat = sorted(x for lat in latencies for x in lat)
    done = [r for rs in results for r in rs]
    return {
        "readers": readers,
        "writer": writer,
        "queries": len(done),
        "qps": round(len(done) / elapsed, 1),
        "p50_ms": round(1000 * flat[len(flat) // 2], 3),
        "p99_ms": round(1000 * flat[int(len(flat) * 0.99)], 3),
        "records_written": written[0],
        "results": done,
    }


def recall(done: list[tuple[int, list[str]]], gt: np.ndarray) -> tuple[float, int]:
    """Mean recall@10 of the results, and how many held a record of the writer."""
    hits, foreign = 0, 0
    for q, ids in done:
        want = {record_id(int(i)) for i in gt[q][:10]}
        hits += len(want & set(ids))
        foreign += any(i.startswith("w") for i in ids)
    return round(hits / (10 * max(1, len(done))), 4), foreign


def markdown(result: dict[str, Any]) -> str:
    one, many = result["phases"]["one"], result["phases"]["many"]
    readers = result["phases"]["readers"]
    lines = [
        f"## Parallel reads in one process: {result['n']:,} x 384, 1 thread against"
        f" {READERS} threads with a writer",
        "",
        f"- **Date**: {result['date']}; **git**: `{result['git']}`; **command**:"
        f" `{result['command']}`",
        f"- **Machine**: {result['machine']['cpu_model']}, {result['machine']['cores']} cores;"
        f" `uptime` before: {result['uptime_start']}; after: {result['uptime_end']}",
        f"- **This machine's second core, at the time**: 2 processes running the same"
        f" pure-Python loop do {result['core_scaling']}x the work of 1 (2.0x would be two"
        " full cores).",
        f"- Each phase {result['seconds']:.0f} s; queries n_results=10 with documents,"
        f" metadatas and distances; the writer adds 100 records every 100 ms"
        f" ({many['records_written']:,} during the phase), far from every query.",
        "",
        "| phase | queries/s | p50 ms | p99 ms | recall@10 | results holding a writer's record |",
        "|---|---:|---:|---:|---:|---:|",
        f"| 1 thread | {one['qps']:,} | {one['p50_ms']} | {one['p99_ms']} |"
        f" {one['recall']} | {one['foreign']} |",
        f"| {READERS} threads | {readers['qps']:,} | {readers['p50_ms']} |"
        f" {readers['p99_ms']} | {readers['recall']} | {readers['foreign']} |",
        f"| {READERS} threads + writer | {many['qps']:,} | {many['p50_ms']} | {many['p99_ms']} |"
        f" {many['recall']} | {many['foreign']} |",
        "",
        f"**{READERS} threads / 1 thread: {result['speedup']}x** (target >= 1.7x on 2 cores).",
        "",
        f"Raw numbers: `benchmarks/results/{result['file']}`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args()
    started = time.time()
    up0 = report.uptime()
    spec = DataSpec(n=args.n, n_clusters=max(10, args.n // 100))
    data = ensure_dataset(spec)
    queries = np.load(data / "queries.npy")
    gt = np.load(data / "gt_all.npy")
    tmp = Path(tempfile.mkdtemp(prefix="threads-bench-"))
    try:
        client = vectorhouse.PersistentClient(path=tmp / "db")
        col = client.create_collection(
            "bench", metadata={"hnsw:space": "l2"}, embedding_function=None
        )
        fill_s = fill(col, data, args.n)
        client._engine.wait_for_index(600)
        phase(col, queries, 1, 2.0, writer=False)  # warm up
        one = phase(col, queries, 1, args.seconds, writer=False)
        readers = phase(col, queries, READERS, args.seconds, writer=False)
        many = phase(col, queries, READERS, args.seconds, writer=True)
        client.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    scaling = core_scaling()
    for ph in (one, readers, many):
        ph["recall"], ph["foreign"] = recall(ph.pop("results"), gt)
    name = f"threads-{args.n}"
    result: dict[str, Any] = {
        "kind": "threads",
        "file": f"{name}.json",
        "n": args.n,
        "seconds": args.seconds,
        "fill_s": round(fill_s, 1),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "git": git_describe(),
        "command": " ".join([".venv/bin/python", "benchmarks/threads.py", *sys.argv[1:]]),
        "machine": machine_info(),
        "uptime_start": up0,
        "uptime_end": report.uptime(),
        "elapsed_s": round(time.time() - started, 1),
        "core_scaling": scaling,
        "phases": {"one": one, "readers": readers, "many": many},
        "speedup": round(many["qps"] / one["qps"], 2),
    }
    report.publish(name, result, markdown(result))


if __name__ == "__main__":
    main()
