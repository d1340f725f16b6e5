"""Run one benchmark phase against one engine and write one JSON of measurements.

vectorhouse and chromadb share the API used here, so the same code drives both; only the
import differs. bench.py starts this script in a fresh process per phase, with the
engine's own interpreter, CPU set and thread settings. It can also be run by hand::

    .venv/bin/python benchmarks/run_engine.py --engine vectorhouse --phase ingest \\
        --data benchmarks/.cache/<dataset> --db /tmp/vh-db --out /tmp/ingest.json
    benchmarks/.venv-chroma/bin/python benchmarks/run_engine.py --engine chroma \\
        --phase serve --data benchmarks/.cache/<dataset> --db /tmp/chroma-db --out /tmp/serve.json

Phases (each in its own process):

* ``ingest``: create a persistent database and add every record (vector, document,
  metadata) in batches of ``--batch``; time the ``add`` calls and ``close()``.
* ``serve``: reopen the database (cold start: open, get the collection, first query);
  query latency and recall@10; filtered queries; delete 10% of the records, then query.
* ``sweep``: reopen, then query at increasing ``hnsw.ef_search`` until recall@10 reaches
  ``--target-recall`` (the scale run).

``--profile`` runs each timed section under cProfile and adds a short summary per
section (slower: use it to explain a number, not to measure one).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib
import json
import os
import platform
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
from data import FILTERS, K, document, load_info, read_rows, record_id, record_index

COLLECTION = "bench"
INCLUDE = ["documents", "metadatas", "distances"]
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "PYTHONHASHSEED",
)
WARMUP_QUERIES = 20


# -- process facts ----------------------------------------------------------------------


def proc_status() -> dict[str, float]:
    """Current and peak RSS (MB) and thread count of this process, from /proc."""
    out: dict[str, float] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
            elif key == "Threads":
                out[key] = int(value)
    return {"rss_mb": out["VmRSS"], "peak_rss_mb": out["VmHWM"], "threads": out["Threads"]}


def disk_usage(path: Path) -> dict[str, Any]:
    """Total size (MB) of the files under ``path``, and the size of each top-level entry."""
    parts: dict[str, int] = {}
    for root, _, files in os.walk(path):
        for name in files:
            full = Path(root, name)
            with contextlib.suppress(FileNotFoundError):
                top = full.relative_to(path).parts[0]
                parts[top] = parts.get(top, 0) + full.stat().st_size
    mb = 1024 * 1024
    return {
        "disk_mb": round(sum(parts.values()) / mb, 2),
        "disk_parts_mb": {k: round(v / mb, 2) for k, v in sorted(parts.items())},
    }


def versions(engine: str) -> dict[str, str]:
    """Versions of the engine and the packages it measures with."""
    names = ["numpy"] + (["vectorhouse", "usearch"] if engine == "vectorhouse" else ["chromadb"])
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


# -- profiling ----------------------------------------------------------------------


class Sections:
    """Times named sections; with profiling on, keeps a cProfile summary of each."""

    def __init__(self, profile: bool) -> None:
        self.profile = profile
        self.summaries: dict[str, Any] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if not self.profile:
            yield
            return
        prof = cProfile.Profile()
        prof.enable()
        try:
            yield
        finally:
            prof.disable()
            self.summaries[name] = summarize_profile(prof)


def summarize_profile(prof: cProfile.Profile, top: int = 12) -> dict[str, Any]:
    """The functions with the most own time (tottime), and the section's total."""
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = "/".join(Path(file).parts[-2:]) if file != "~" else "built-in"
        rows.append(
            {
                "function": f"{where}:{line}({func})",
                "ncalls": ncalls,
                "tottime_s": round(tottime, 4),
                "cumtime_s": round(cumtime, 4),
            }
        )
    rows.sort(key=lambda r: -r["tottime_s"])
    return {"total_s": round(stats.total_tt, 4), "top_tottime": rows[:top]}  # type: ignore[attr-defined]


# -- engine -------------------------------------------------------------------------


def import_engine(engine: str) -> Any:
    """The engine's module: ``vectorhouse`` or ``chromadb``."""
    return importlib.import_module("vectorhouse" if engine == "vectorhouse" else "chromadb")


def open_client(mod: Any, db: Path) -> Any:
    """A persistent client on ``db`` (telemetry off; vectorhouse ignores that setting)."""
    return mod.PersistentClient(path=str(db), settings=mod.Settings(anonymized_telemetry=False))


def run_queries(
    col: Any,
    queries: np.ndarray,
    truth: np.ndarray,
    *,
    where: dict[str, Any] | None = None,
    allowed: Callable[[np.ndarray], np.ndarray] | None = None,
    labels: np.ndarray | None = None,
) -> dict[str, Any]:
    """One query per call (n_results=10, documents+metadatas+distances): latency and recall.

    ``allowed`` maps returned row numbers to a bool array (False: should not have come
    back). With ``labels``, every returned document is checked against its record.
    """
    latencies = np.empty(len(queries))
    recalls = np.empty(len(queries))
    short = violations = wrong_content = 0
    for i in range(len(queries)):
        t = time.perf_counter()
        res = col.query(
            query_embeddings=queries[i : i + 1], n_results=K, where=where, include=INCLUDE
        )
        latencies[i] = time.perf_counter() - t
        rows = np.array([record_index(x) for x in res["ids"][0]], dtype=np.int64)
        recalls[i] = len(np.intersect1d(rows, truth[i])) / K
        short += len(rows) < K
        if allowed is not None:
            violations += int((~allowed(rows)).sum())
        if labels is not None:
            docs = res["documents"][0]
            expected = [document(int(r), int(labels[r])) for r in rows]
            wrong_content += sum(d != e for d, e in zip(docs, expected, strict=True))
    ms = latencies * 1000
    return {
        "n": len(queries),
        "recall": round(float(recalls.mean()), 4),
        "qps": round(len(queries) / float(latencies.sum()), 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "short_results": int(short),
        "violations": int(violations),
        "wrong_documents": int(wrong_content),
    }


def warm_up(col: Any, queries: np.ndarray, where: dict[str, Any] | None = None) -> list[float]:
    """A few queries (from the end of the set) before a timed loop; their latencies, ms.

    The first one with a new ``where`` shows what a filter costs before any cache helps.
    """
    latencies = []
    for i in range(max(0, len(queries) - WARMUP_QUERIES), len(queries)):
        t = time.perf_counter()
        col.query(query_embeddings=queries[i : i + 1], n_results=K, where=where, include=INCLUDE)
        latencies.append(round((time.perf_counter() - t) * 1000, 3))
    return latencies


def reopen(mod: Any, db: Path, queries: np.ndarray) -> tuple[Any, Any, dict[str, Any]]:
    """Open the client and collection and run the first two queries, timing each step."""
    out: dict[str, Any] = {}
    t = time.perf_counter()
    client = open_client(mod, db)
    out["open_client_ms"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    col = client.get_collection(COLLECTION)
    out["get_collection_ms"] = (time.perf_counter() - t) * 1000
    for i, key in enumerate(("first_query_ms", "second_query_ms")):
        t = time.perf_counter()
        col.query(query_embeddings=queries[i : i + 1], n_results=K, include=INCLUDE)
        out[key] = (time.perf_counter() - t) * 1000
    out["reopen_to_first_result_ms"] = (
        out["open_client_ms"] + out["get_collection_ms"] + out["first_query_ms"]
    )
    out = {k: round(v, 3) for k, v in out.items()}
    out.update({f"{k}_after_first_query": v for k, v in proc_status().items()})
    return client, col, out


# -- phases -------------------------------------------------------------------------


def phase_ingest(args: argparse.Namespace, info: dict[str, Any], sec: Sections) -> dict[str, Any]:
    labels = np.load(args.data / "labels.npy")
    n = len(labels)
    out: dict[str, Any] = {}
    t = time.perf_counter()
    mod = import_engine(args.engine)
    out["import_s"] = round(time.perf_counter() - t, 3)
    out["after_import"] = proc_status()
    t = time.perf_counter()
    client = open_client(mod, args.db)
    col = client.create_collection(
        COLLECTION, metadata={"hnsw:space": "l2"}, embedding_function=None
    )
    out["create_s"] = round(time.perf_counter() - t, 3)

    batch_s = []
    with sec("ingest"):
        for start in range(0, n, args.batch):
            stop = min(start + args.batch, n)
            vectors = read_rows(args.data / "train.npy", start, stop)
            ids = [record_id(i) for i in range(start, stop)]
            docs = [document(i, int(labels[i])) for i in range(start, stop)]
            metas = [{"cluster": int(labels[i]), "even": i % 2 == 0} for i in range(start, stop)]
            t = time.perf_counter()
            col.add(ids=ids, embeddings=vectors, documents=docs, metadatas=metas)
            batch_s.append(time.perf_counter() - t)
        out["count"] = col.count()
        out["after_add"] = proc_status()
        t = time.perf_counter()
        client.close()
        close_s = time.perf_counter() - t
    add_s = float(sum(batch_s))
    batch_vps = args.batch / np.array(batch_s)
    out.update(
        {
            "n": n,
            "batch": args.batch,
            "add_s": round(add_s, 3),
            "close_s": round(close_s, 3),
            "ingest_s": round(add_s + close_s, 3),
            "ingest_vps": round(n / (add_s + close_s), 1),
            "add_vps": round(n / add_s, 1),
            "batch_vps_first": round(float(batch_vps[0]), 1),
            "batch_vps_last": round(float(batch_vps[-1]), 1),
            "batch_vps_median": round(float(np.median(batch_vps)), 1),
            "end": proc_status(),
        }
    )
    out.update(disk_usage(args.db))
    return out


def phase_serve(args: argparse.Namespace, info: dict[str, Any], sec: Sections) -> dict[str, Any]:
    labels = np.load(args.data / "labels.npy")
    queries = np.load(args.data / "queries.npy")[: args.queries]
    deleted = np.load(args.data / "deleted.npy")
    out: dict[str, Any] = {"at_rest_after_ingest": disk_usage(args.db)}
    t = time.perf_counter()
    mod = import_engine(args.engine)
    out["import_s"] = round(time.perf_counter() - t, 3)
    with sec("reopen_first_query"):
        client, col, out["cold"] = reopen(mod, args.db, queries)
    out["count"] = col.count()

    warm_up(col, queries)
    with sec("query"):
        out["query"] = run_queries(col, queries, np.load(args.data / "gt_all.npy"), labels=labels)

    out["filtered"] = {}
    nf = min(args.filtered_queries, len(queries))
    for name in FILTERS:
        spec = info["filters"][name]
        where = spec["where"]
        if name == "even":

            def allowed(rows: np.ndarray) -> np.ndarray:
                return rows % 2 == 0
        else:
            clusters = np.array(spec["clusters"])

            def allowed(rows: np.ndarray, clusters: np.ndarray = clusters) -> np.ndarray:
                return np.isin(labels[rows], clusters)

        warmup_ms = warm_up(col, queries[:nf], where)
        with sec(f"filtered_{name}"):
            res = run_queries(
                col,
                queries[:nf],
                np.load(args.data / f"gt_{name}.npy"),
                where=where,
                allowed=allowed,
            )
        out["filtered"][name] = {
            "pass_fraction": spec["pass_fraction"],
            "first_query_ms": warmup_ms[0] if warmup_ms else None,
            "warmup_ms": warmup_ms,
            **res,
        }

    with sec("delete"):
        t = time.perf_counter()
        for start in range(0, len(deleted), args.batch):
            col.delete(ids=[record_id(int(i)) for i in deleted[start : start + args.batch]])
        out["delete_s"] = round(time.perf_counter() - t, 3)
    out["count_after_delete"] = col.count()
    t = time.perf_counter()
    col.query(query_embeddings=queries[:1], n_results=K, include=INCLUDE)
    out["first_query_after_delete_ms"] = round((time.perf_counter() - t) * 1000, 3)
    with sec("query_after_delete"):
        out["after_delete"] = run_queries(
            col,
            queries,
            np.load(args.data / "gt_alive.npy"),
            allowed=lambda rows: ~np.isin(rows, deleted),
        )
    out["end"] = proc_status()
    t = time.perf_counter()
    client.close()
    out["close_s"] = round(time.perf_counter() - t, 3)
    out["after_delete_disk"] = disk_usage(args.db)
    return out


def phase_sweep(args: argparse.Namespace, info: dict[str, Any], sec: Sections) -> dict[str, Any]:
    queries = np.load(args.data / "queries.npy")[: args.queries]
    truth = np.load(args.data / "gt_all.npy")
    out: dict[str, Any] = {"at_rest_after_ingest": disk_usage(args.db)}
    t = time.perf_counter()
    mod = import_engine(args.engine)
    out["import_s"] = round(time.perf_counter() - t, 3)
    client, col, out["cold"] = reopen(mod, args.db, queries)
    out["count"] = col.count()
    out["points"] = []
    for ef in args.ef:
        col.modify(configuration={"hnsw": {"ef_search": ef}})
        warm_up(col, queries)
        with sec(f"query_ef{ef}"):
            point = run_queries(col, queries, truth)
        out["points"].append({"ef_search": ef, **point})
        if point["recall"] >= args.target_recall:
            break
    reached = [p for p in out["points"] if p["recall"] >= args.target_recall]
    out["at_target"] = reached[0] if reached else None
    out["target_recall"] = args.target_recall
    out["end"] = proc_status()
    client.close()
    return out


PHASES = {"ingest": phase_ingest, "serve": phase_serve, "sweep": phase_sweep}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("vectorhouse", "chroma"), required=True)
    parser.add_argument("--phase", choices=tuple(PHASES), required=True)
    parser.add_argument("--data", type=Path, required=True, help="a data.py cache folder")
    parser.add_argument("--db", type=Path, required=True, help="the database folder")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=None, help="limit the query set")
    parser.add_argument("--filtered-queries", type=int, default=200)
    parser.add_argument("--ef", type=int, nargs="+", default=[10, 20, 40, 60, 100, 150, 200])
    parser.add_argument("--target-recall", type=float, default=0.95)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    info = load_info(args.data)
    sec = Sections(args.profile)
    started = time.time()
    result: dict[str, Any] = {
        "engine": args.engine,
        "phase": args.phase,
        "dataset": info["name"],
        "argv": sys.argv,
        "executable": sys.executable,
        "pid": os.getpid(),
        "affinity": sorted(os.sched_getaffinity(0)),
        "env": {k: os.environ.get(k) for k in THREAD_ENV},
        "profiled": args.profile,
    }
    result.update(PHASES[args.phase](args, info, sec))
    result["versions"] = versions(args.engine)
    result["wall_s"] = round(time.time() - started, 2)
    if sec.summaries:
        result["profile"] = sec.summaries
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
