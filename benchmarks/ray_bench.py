"""Throughput of batch embedding on Ray (vectorhouse.ray.embed_into) with 1 and 2 actors.

The texts are embed_bench.py's sample of standard-library docstrings; the model is the
built-in one, one onnxruntime thread per actor (num_cpus=1 each), Ray started locally
with ``num_cpus=2`` and no dashboard. Each actor count runs in a fresh Ray (the actors'
start and model load are included: that is what a user waits for); the target is an
in-memory embedded collection. Before the Ray runs, the same texts are embedded in
this process (2 threads) for reference, and the vectors are compared. Run from the
repository root::

    .venv/bin/python benchmarks/ray_bench.py --texts 2000

It writes benchmarks/results/ray-embed.json and regenerates RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
from bench import machine_info, result_header  # noqa: E402
from embed_bench import ensure_texts  # noqa: E402

import vectorhouse  # noqa: E402
import vectorhouse.ray  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)  # Ray's own


def one_run(texts: list[str], actors: int, batch_size: int) -> dict[str, Any]:
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    init_s = time.perf_counter() - t0
    try:
        col = vectorhouse.Client().create_collection("ray_bench", metadata={"hnsw:space": "cosine"})
        rows = [{"id": f"t{i}", "text": t} for i, t in enumerate(texts)]
        ds = ray.data.from_items(rows)
        t = time.perf_counter()
        n = vectorhouse.ray.embed_into(ds, col, batch_size=batch_size, concurrency=actors)
        seconds = time.perf_counter() - t
        got = col.get(include=["embeddings"])
    finally:
        ray.shutdown()
    order = {rid: i for i, rid in enumerate(got["ids"])}
    vectors = got["embeddings"][[order[f"t{i}"] for i in range(len(texts))]]
    return {
        "actors": actors,
        "texts": n,
        "ray_init_s": round(init_s, 2),
        "seconds": round(seconds, 2),
        "texts_per_s": round(n / seconds, 1),
        "vectors": vectors,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--texts", type=int, default=2_000)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    started = time.time()
    machine = machine_info()
    uptime_start = os.popen("uptime").read().strip()
    texts = json.loads(ensure_texts(args.texts, args.seed).read_text())["texts"]
    fn = vectorhouse.DefaultEmbeddingFunction(num_threads=2)
    t = time.perf_counter()
    reference = np.asarray(fn(texts), dtype=np.float32)
    local_s = time.perf_counter() - t
    runs = []
    for actors in (1, 2):
        run = one_run(texts, actors, args.batch_size)
        mine = run.pop("vectors")
        cos = np.sum(mine * reference, axis=1) / (
            np.linalg.norm(mine, axis=1) * np.linalg.norm(reference, axis=1)
        )
        run["min_cosine_vs_local"] = round(float(cos.min()), 6)
        runs.append(run)
        print(run, flush=True)
    machine["loadavg_end"] = round(os.getloadavg()[0], 2)
    uptime_end = os.popen("uptime").read().strip()
    result = {
        **result_header(
            "ray-embed",
            6,
            f"Batch embedding on Ray: {args.texts:,} standard-library docstrings, 1 and 2"
            " actors (Ray local mode, num_cpus=2)",
            started,
            machine,
            [],
        ),
        "local_texts_per_s": round(len(texts) / local_s, 1),
        "runs": runs,
        "uptime": [uptime_start, uptime_end],
        "batch_size": args.batch_size,
    }
    lines = [
        f"## {result['title']}",
        "",
        f"- **Date**: {result['date']}; **git**: `{result['git']}`;"
        f" **command**: `{result['command']}` ({result['elapsed_s']} s)",
        f"- **Machine**: {machine['cpu_model']}, {machine['cores']} cores; `uptime` before:"
        f" {uptime_start}; after: {uptime_end}",
        f"- Ray {__import__('ray').__version__}, local, `ray.init(num_cpus=2,"
        f" include_dashboard=False)`; `embed_into(..., batch_size={args.batch_size},"
        " concurrency=N)`, one onnxruntime thread per actor; time from the call to the last"
        " record written (actor start and model load included; Ray's own start not).",
        f"- Reference: the same texts embedded in this process with 2 threads:"
        f" {result['local_texts_per_s']} texts/s.",
        "",
        "| actors | texts/s | seconds | Ray start (s) | min cosine vs local |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['actors']} | {r['texts_per_s']} | {r['seconds']} | {r['ray_init_s']} |"
            f" {r['min_cosine_vs_local']} |"
        )
    lines += ["", "Raw numbers: `benchmarks/results/ray-embed.json`.", ""]
    report.publish("ray-embed", result, "\n".join(lines))


if __name__ == "__main__":
    main()
