"""The synthetic comparison through the Milvus backend, beside the embedded engine.

The same seeded data set and ground truth as bench.py (data.py), the same query loop
(run_engine.run_queries: one query per call, n_results=10 with documents, metadatas and
distances, recall@10 against exact search), driven through the same vectorhouse
collection API: once on the embedded engine (PersistentClient), once on Milvus
(MilvusClient; milvus-lite in a local file unless ``--uri`` names a server). Both use
HNSW with M=16, ef_construction=100, ef_search=100. Run from the repository root::

    .venv/bin/python benchmarks/milvus_bench.py --n 20000 --queries 200
    .venv/bin/python benchmarks/milvus_bench.py --n 200000 --uri http://milvus:19530

It writes benchmarks/results/milvus-<n>.json and regenerates RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
from bench import machine_info, result_header  # noqa: E402
from data import FILTERS, DataSpec, document, ensure_dataset, load_info, read_rows, record_id  # noqa: E402
from run_engine import proc_status, run_queries, warm_up  # noqa: E402

import vectorhouse  # noqa: E402

BATCH = 1_000
LABELS = {"even": "50%, even==True", "clus10": "~10%, cluster $in", "clus1": "~1%, cluster $in"}


def ingest(kind: str, client: Any, data: Path) -> dict[str, Any]:
    """Add every record in batches; one engine."""
    labels = np.load(data / "labels.npy")
    col = client.create_collection("bench", metadata={"hnsw:space": "l2"}, embedding_function=None)
    out: dict[str, Any] = {"engine": kind}
    t = time.perf_counter()
    for start in range(0, len(labels), BATCH):
        stop = min(start + BATCH, len(labels))
        col.add(
            ids=[record_id(i) for i in range(start, stop)],
            embeddings=read_rows(data / "train.npy", start, stop),
            documents=[document(i, int(labels[i])) for i in range(start, stop)],
            metadatas=[{"cluster": int(labels[i]), "even": i % 2 == 0} for i in range(start, stop)],
        )
    out["ingest_s"] = round(time.perf_counter() - t, 2)
    out["ingest_vps"] = round(len(labels) / out["ingest_s"], 1)
    out["count"] = col.count()
    return out


def serve(client: Any, data: Path, info: dict[str, Any], args: Any) -> dict[str, Any]:
    """The query and filtered-query loops on the ingested collection; one engine."""
    labels = np.load(data / "labels.npy")
    queries = np.load(data / "queries.npy")[: args.queries]
    col = client.get_collection("bench", embedding_function=None)
    out: dict[str, Any] = {}
    warm_up(col, queries)
    out["query"] = run_queries(col, queries, np.load(data / "gt_all.npy"), labels=labels)
    out["filtered"] = {}
    nf = min(args.filtered_queries, len(queries))
    for name in FILTERS:
        spec = info["filters"][name]
        warm_up(col, queries[:nf], spec["where"])
        out["filtered"][name] = run_queries(
            col, queries[:nf], np.load(data / f"gt_{name}.npy"), where=spec["where"]
        )
    t = time.perf_counter()
    got = col.get(where={"even": True}, limit=100, include=["documents"])
    out["get_filtered_100_ms"] = round((time.perf_counter() - t) * 1000, 2)
    assert len(got["ids"]) == 100
    out["end"] = proc_status()
    return out


def markdown(result: dict[str, Any]) -> str:
    emb, mil = result["runs"]["embedded"], result["runs"]["milvus"]

    def row(label: str, a: Any, b: Any, unit: str = "") -> str:
        ratio = f"{b / a:.2f}x" if isinstance(a, (int, float)) and a else ""
        return f"| {label} | {report.fmt(a)}{unit} | {report.fmt(b)}{unit} | {ratio} |"

    lines = [
        f"## {result['title']}",
        "",
        f"- **Date**: {result['date']}; **git**: `{result['git']}`;"
        f" **command**: `{result['command']}` ({result['elapsed_s']} s)",
        f"- **Machine**: {result['machine']['cpu_model']}, {result['machine']['cores']} cores;"
        f" load average {result['machine']['loadavg_start']} at start,"
        f" {result['machine']['loadavg_end']} at end; `uptime`: {result['uptime']}",
        f"- **Milvus**: {result['milvus']}",
        *(f"- {n}" for n in result["notes"]),
        "",
        "| measure | embedded | Milvus backend | Milvus / embedded |",
        "|---|---:|---:|---:|",
        row("ingest (vectors/s, batches of 1,000)", emb["ingest_vps"], mil["ingest_vps"]),
        row("query p50 (ms)", emb["query"]["p50_ms"], mil["query"]["p50_ms"]),
        row("query QPS (one query per call)", emb["query"]["qps"], mil["query"]["qps"]),
        row("recall@10", emb["query"]["recall"], mil["query"]["recall"]),
    ]
    for name in FILTERS:
        a, b = emb["filtered"][name], mil["filtered"][name]
        lines.append(row(f"filtered QPS, {LABELS[name]}", a["qps"], b["qps"]))
        lines.append(row(f"filtered recall@10, {LABELS[name]}", a["recall"], b["recall"]))
    lines.append(
        row("get(where, limit=100) (ms)", emb["get_filtered_100_ms"], mil["get_filtered_100_ms"])
    )
    lines += ["", f"Raw numbers: `benchmarks/results/{result['name']}.json`.", ""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--filtered-queries", type=int, default=100)
    p.add_argument("--uri", default=None, help="Milvus server (default: milvus-lite file)")
    p.add_argument("--name", default=None)
    args = p.parse_args()
    started = time.time()
    machine = machine_info()
    spec = DataSpec(n=args.n, n_queries=max(args.queries, 200), n_clusters=max(args.n // 100, 10))
    data = ensure_dataset(spec)
    info = load_info(data)
    work = Path(tempfile.mkdtemp(prefix="vh-milvus-bench-"))
    runs = {}
    try:
        # Ingest, close, open again and query, as bench.py's separate processes do: the
        # embedded engine finishes inserting into its graph on close, and Milvus indexes
        # before its first search.
        with vectorhouse.PersistentClient(path=work / "embedded") as client:
            runs["embedded"] = ingest("embedded", client, data)
        with vectorhouse.PersistentClient(path=work / "embedded") as client:
            runs["embedded"].update(serve(client, data, info, args))
        # Kept as it comes: a long run stopped during the Milvus part still tells this.
        partial = HERE / "results" / f"milvus-{args.n // 1000}k.partial.json"
        partial.write_text(json.dumps({"runs": runs, "uptime": report.uptime()}, indent=2) + "\n")
        gc.collect()
        uri = args.uri or str(work / "milvus.db")
        with vectorhouse.MilvusClient(uri=uri) as client:
            client.settings = vectorhouse.Settings(allow_reset=True)
            if args.uri:
                with contextlib.suppress(vectorhouse.CollectionNotFoundError):
                    client.delete_collection("bench")
            runs["milvus"] = ingest("milvus", client, data)
        with vectorhouse.MilvusClient(uri=uri) as client:
            runs["milvus"].update(serve(client, data, info, args))
        partial.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    machine["loadavg_end"] = round(os.getloadavg()[0], 2)
    from importlib.metadata import version

    name = args.name or f"milvus-{args.n // 1000}k"
    result = {
        **result_header(
            name,
            5,
            f"Milvus backend: {args.n:,} x 384 synthetic, the same collection API on the"
            " embedded engine and on Milvus (1 repetition)",
            started,
            machine,
            [
                "One process, engines one after the other, one repetition: a comparison of"
                " the two backends through the same API, not a tuned Milvus benchmark."
                " milvus-lite is Milvus' single-process build (pure Python over faiss), not"
                " the distributed server."
            ],
        ),
        "uptime": report.uptime(),
        "milvus": f"{args.uri or 'milvus-lite (local file)'}; pymilvus {version('pymilvus')},"
        f" milvus-lite {version('milvus-lite')}; index HNSW M=16 efConstruction=100 ef=100",
        "runs": runs,
    }
    report.publish(name, result, markdown(result))


if __name__ == "__main__":
    main()
