"""vectorhouse against chromadb on the real corpus: Debian documentation passages.

Run from the repository root, after the corpus is built (benchmarks/corpus.py)::

    .venv/bin/python benchmarks/real_bench.py               # the whole corpus, 3 repetitions
    .venv/bin/python benchmarks/real_bench.py --limit 5000  # smoke run on corpus.py --limit 5000

The data: every passage of the corpus with its precomputed all-MiniLM-L6-v2 vector, its
text as the document and ``{package, source, section, kind}`` as metadata, less
``--queries`` held-out passages (seeded) whose vectors are the queries. The collection
uses the cosine space (the model's vectors are unit length). Exact ground truth, by
inner product, for the whole set and for each filter in :data:`FILTERS`:

* ``own_pkg``: ``{"package": {"$eq": <the query passage's package>}}``, a different
  selectivity per query (searching within one manual);
* ``pkg_in``: ``{"package": {"$in": [...]}}`` over the Debian and GNU guides, ~7%;
* ``small``: ``{"package": {"$in": ["glibc-doc", "developers-reference"]}}``, under 1%.

Like bench.py, each repetition runs this script again in fresh child processes
(``--child ingest`` for both engines, then ``--child serve`` for both, the order
alternating between repetitions), each engine with its own interpreter (chroma's:
benchmarks/.venv-chroma, made by bench.py's code), all pinned to the same CPUs with the
same thread variables and watched for memory and time. The children read the prepared
data in batches so that their RSS is the engine's. Medians over repetitions, the ratio
vectorhouse/chroma, the table printed and written to benchmarks/results/real-<size>.json
(RESULTS.md is regenerated from the result files unless ``--no-results-md``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import report
from bench import (
    ENGINES,
    ChildFailed,
    Runner,
    _relative,
    busy_note,
    child_env,
    cpu_policy,
    ensure_chroma_venv,
    machine_info,
    parse_cpus,
    result_header,
)
from corpus import load_corpus, load_manifest, passage_id, passage_index
from data import _merge_topk, read_rows
from run_engine import disk_usage, import_engine, open_client, proc_status, versions

HERE = Path(__file__).resolve().parent
DATA_ROOT = HERE / ".cache" / "real"
COLLECTION = "real"
K = 10
INCLUDE = ["documents", "metadatas", "distances"]
WARMUP_QUERIES = 20
SEED = 20_250_102
GT_CHUNK = 50_000
FILTERS = ("own_pkg", "pkg_in", "small")
PKG_IN = (
    "bash-doc",
    "coreutils",
    "debian-policy",
    "debian-reference-en",
    "developers-reference",
    "glibc-doc",
    "gnu-standards",
)
SMALL = ("glibc-doc", "developers-reference")
FORMAT_VERSION = 1


def log(message: str) -> None:
    print(message, flush=True)


# -- the prepared data (parent) ---------------------------------------------------------


def prepare(limit: int | None, n_queries: int) -> Path:
    """Split the corpus into records and held-out queries; exact ground truth; cached.

    Files: ``train.npy`` (vectors in ingest order), ``train.jsonl`` (id, text, metadata
    per line, same order), ``queries.npy``, ``row_package.npy`` and ``row_crc.npy`` (per
    corpus row: package number and crc32 of the text, to check what comes back),
    ``gt_<name>.npy`` (corpus rows, -1 where fewer than 10 records pass), ``info.json``.
    """
    manifest = load_manifest(limit)
    sha = manifest["passages_sha256"][:10]
    name = f"n{manifest['n']}-q{n_queries}-s{SEED}-{sha}-v{FORMAT_VERSION}"
    folder = DATA_ROOT / name
    if (folder / "info.json").exists():
        return folder
    t0 = time.perf_counter()
    texts, metas, vectors = load_corpus(limit)
    n = len(texts)
    rng = np.random.default_rng(SEED)
    query_rows = np.sort(rng.choice(n, n_queries, replace=False))
    is_query = np.zeros(n, bool)
    is_query[query_rows] = True
    train_rows = np.flatnonzero(~is_query)
    packages = sorted({m["package"] for m in metas})
    code = {p: i for i, p in enumerate(packages)}
    row_package = np.array([code[m["package"]] for m in metas], dtype=np.int16)
    row_crc = np.array([zlib.crc32(t.encode("utf-8")) for t in texts], dtype=np.uint32)

    folder.mkdir(parents=True, exist_ok=True)
    train = np.ascontiguousarray(vectors[train_rows], dtype=np.float32)
    np.save(folder / "train.npy", train)
    with open(folder / "train.jsonl", "w", encoding="utf-8") as f:
        for r in train_rows:
            row = {"id": passage_id(int(r)), "text": texts[r], "metadata": metas[r]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    queries = np.ascontiguousarray(vectors[query_rows], dtype=np.float32)
    np.save(folder / "queries.npy", queries)
    np.save(folder / "query_rows.npy", query_rows)
    np.save(folder / "row_package.npy", row_package)
    np.save(folder / "row_crc.npy", row_crc)

    q_pkg = row_package[query_rows]
    t_pkg = row_package[train_rows]
    in_codes = [code[p] for p in PKG_IN if p in code]
    small_codes = [code[p] for p in SMALL if p in code]
    masks: dict[str, Callable[[slice], np.ndarray | None]] = {
        "all": lambda s: None,
        "own_pkg": lambda s: q_pkg[:, None] == t_pkg[None, s],
        "pkg_in": lambda s: np.isin(t_pkg[s], in_codes)[None, :],
        "small": lambda s: np.isin(t_pkg[s], small_codes)[None, :],
    }
    best = {
        m: (np.full((n_queries, K), -np.inf, np.float32), np.zeros((n_queries, K), np.int64))
        for m in masks
    }
    for start in range(0, len(train), GT_CHUNK):
        block = train[start : start + GT_CHUNK]
        scores = queries @ block.T
        for m, mask_of in masks.items():
            mask = mask_of(slice(start, start + len(block)))
            s = scores if mask is None else np.where(mask, scores, -np.inf)
            best[m] = _merge_topk(*best[m], s, start)
    for m, (score, idx) in best.items():
        rows = np.where(np.isfinite(score), train_rows[idx], -1)
        np.save(folder / f"gt_{m}.npy", rows.astype(np.int64))

    own_fraction = np.bincount(t_pkg, minlength=len(packages))[q_pkg] / len(train)
    filters = {
        "own_pkg": {
            "where": "per query: {'package': {'$eq': <the query passage's package>}}",
            "pass_fraction": float(own_fraction.mean()),
            "pass_fraction_range": [float(own_fraction.min()), float(own_fraction.max())],
        },
        "pkg_in": {
            "where": {"package": {"$in": list(PKG_IN)}},
            "pass_fraction": float(np.isin(t_pkg, in_codes).mean()),
        },
        "small": {
            "where": {"package": {"$in": list(SMALL)}},
            "pass_fraction": float(np.isin(t_pkg, small_codes).mean()),
        },
    }
    info = {
        "name": name,
        "limit": limit,
        "corpus_n": n,
        "n": len(train),
        "queries": n_queries,
        "seed": SEED,
        "k": K,
        "packages": packages,
        "filters": filters,
        "corpus_manifest": {k: manifest[k] for k in ("n", "passages_sha256", "embedding")},
        "prepare_s": round(time.perf_counter() - t0, 1),
    }
    (folder / "info.json").write_text(json.dumps(info, indent=1))
    log(f"  prepared {folder.name}: {len(train):,} records, {n_queries:,} queries")
    return folder


# -- the children ------------------------------------------------------------------------


def read_jsonl_rows(path: Path, batch: int) -> Any:
    """Lists of up to ``batch`` parsed lines."""
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) == batch:
                yield rows
                rows = []
    if rows:
        yield rows


def child_ingest(args: argparse.Namespace, info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    t = time.perf_counter()
    mod = import_engine(args.engine)
    out["import_s"] = round(time.perf_counter() - t, 3)
    out["after_import"] = proc_status()
    client = open_client(mod, args.db)
    col = client.create_collection(
        COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None
    )
    batch_s = []
    start = 0
    for rows in read_jsonl_rows(args.data / "train.jsonl", args.batch):
        vectors = read_rows(args.data / "train.npy", start, start + len(rows))
        start += len(rows)
        ids = [r["id"] for r in rows]
        docs = [r["text"] for r in rows]
        metas = [r["metadata"] for r in rows]
        t = time.perf_counter()
        col.add(ids=ids, embeddings=vectors, documents=docs, metadatas=metas)
        batch_s.append(time.perf_counter() - t)
    out["count"] = col.count()
    out["after_add"] = proc_status()
    t = time.perf_counter()
    client.close()
    close_s = time.perf_counter() - t
    add_s = float(sum(batch_s))
    out.update(
        {
            "n": start,
            "batch": args.batch,
            "add_s": round(add_s, 3),
            "close_s": round(close_s, 3),
            "ingest_s": round(add_s + close_s, 3),
            "ingest_vps": round(start / (add_s + close_s), 1),
            "end": proc_status(),
        }
    )
    out.update(disk_usage(args.db))
    return out


def where_for(name: str, info: dict[str, Any], query_package: str) -> dict[str, Any]:
    if name == "own_pkg":
        return {"package": {"$eq": query_package}}
    where: dict[str, Any] = info["filters"][name]["where"]
    return where


def run_queries(
    col: Any,
    queries: np.ndarray,
    truth: np.ndarray,
    checks: dict[str, Any],
    wheres: list[dict[str, Any] | None],
    allowed: list[np.ndarray | None],
) -> dict[str, Any]:
    """One query per call (n_results=10, documents+metadatas+distances); latency, recall
    (against the exact top-10, or all passing records where fewer pass) and checks."""
    latencies = np.empty(len(queries))
    recalls = []
    violations = wrong = short = 0
    for i in range(len(queries)):
        t = time.perf_counter()
        res = col.query(
            query_embeddings=queries[i : i + 1], n_results=K, where=wheres[i], include=INCLUDE
        )
        latencies[i] = time.perf_counter() - t
        rows = np.array([passage_index(x) for x in res["ids"][0]], dtype=np.int64)
        valid = truth[i][truth[i] >= 0]
        if len(valid):
            recalls.append(len(np.intersect1d(rows, valid)) / len(valid))
        short += len(rows) < len(valid)
        codes = allowed[i]
        if codes is not None:
            violations += int((~np.isin(checks["package"][rows], codes)).sum())
        crcs = [zlib.crc32(d.encode("utf-8")) for d in res["documents"][0]]
        wrong += int((np.array(crcs, dtype=np.uint32) != checks["crc"][rows]).sum())
        wrong += sum(
            m.get("package") != checks["names"][checks["package"][r]]
            for m, r in zip(res["metadatas"][0], rows, strict=True)
        )
    ms = latencies * 1000
    return {
        "n": len(queries),
        "recall": round(float(np.mean(recalls)), 4) if recalls else None,
        "qps": round(len(queries) / float(latencies.sum()), 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "short_results": int(short),
        "violations": int(violations),
        "wrong_results": int(wrong),
    }


def child_serve(args: argparse.Namespace, info: dict[str, Any]) -> dict[str, Any]:
    queries = np.load(args.data / "queries.npy")
    query_rows = np.load(args.data / "query_rows.npy")
    names = info["packages"]
    checks = {
        "package": np.load(args.data / "row_package.npy"),
        "crc": np.load(args.data / "row_crc.npy"),
        "names": names,
    }
    q_pkg = [names[c] for c in checks["package"][query_rows]]
    out: dict[str, Any] = {"at_rest_after_ingest": disk_usage(args.db)}
    t = time.perf_counter()
    mod = import_engine(args.engine)
    out["import_s"] = round(time.perf_counter() - t, 3)

    cold: dict[str, Any] = {}
    t = time.perf_counter()
    client = open_client(mod, args.db)
    cold["open_client_ms"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    col = client.get_collection(COLLECTION)
    cold["get_collection_ms"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    col.query(query_embeddings=queries[:1], n_results=K, include=INCLUDE)
    cold["first_query_ms"] = (time.perf_counter() - t) * 1000
    cold["reopen_to_first_result_ms"] = sum(cold.values())
    out["cold"] = {k: round(v, 3) for k, v in cold.items()}
    out["count"] = col.count()

    def warm_up(wheres: list[dict[str, Any] | None]) -> None:
        for i in range(max(0, len(queries) - WARMUP_QUERIES), len(queries)):
            col.query(
                query_embeddings=queries[i : i + 1], n_results=K, where=wheres[i], include=INCLUDE
            )

    everything: list[dict[str, Any] | None] = [None] * len(queries)
    warm_up(everything)
    out["query"] = run_queries(
        col, queries, np.load(args.data / "gt_all.npy"), checks, everything, everything
    )
    out["filtered"] = {}
    nf = min(args.filtered_queries, len(queries))
    code = {p: i for i, p in enumerate(names)}
    for name in FILTERS:
        wheres: list[dict[str, Any] | None] = [where_for(name, info, p) for p in q_pkg]
        if name == "own_pkg":
            allowed = [np.array([code[p]]) for p in q_pkg]
        else:
            where = info["filters"][name]["where"]
            fixed = np.array([code[p] for p in where["package"]["$in"] if p in code])
            allowed = [fixed] * len(queries)
        warm_up(wheres)
        res = run_queries(
            col,
            queries[:nf],
            np.load(args.data / f"gt_{name}.npy")[:nf],
            checks,
            wheres[:nf],
            list(allowed[:nf]),
        )
        out["filtered"][name] = {"pass_fraction": info["filters"][name]["pass_fraction"], **res}
    out["end"] = proc_status()
    client.close()
    return out


def child_main(args: argparse.Namespace) -> None:
    info = json.loads((args.data / "info.json").read_text())
    started = time.time()
    result: dict[str, Any] = {
        "engine": args.engine,
        "phase": args.child,
        "dataset": info["name"],
        "argv": sys.argv,
        "executable": sys.executable,
        "pid": os.getpid(),
        "affinity": sorted(os.sched_getaffinity(0)),
    }
    phase = child_ingest if args.child == "ingest" else child_serve
    result.update(phase(args, info))
    result["versions"] = versions(args.engine)
    result["wall_s"] = round(time.time() - started, 2)
    args.out.write_text(json.dumps(result, indent=1))


# -- the parent --------------------------------------------------------------------------

Getter = Callable[[dict[str, Any], dict[str, Any]], float | None]


def _filtered(name: str, field: str) -> Getter:
    return lambda i, s: s["filtered"][name][field]


def _wrong(i: dict[str, Any], s: dict[str, Any]) -> float:
    blocks = [s["query"], *s["filtered"].values()]
    return sum(b["violations"] + b["wrong_results"] for b in blocks)


def measures(info: dict[str, Any]) -> list[tuple[str, str, Getter, int | None]]:
    """(key, label, getter, decimals) of every measure in the table."""
    f = info["filters"]
    lo, hi = f["own_pkg"]["pass_fraction_range"]
    labels = {
        "own_pkg": f"query's own package $eq, {lo:.2%}-{hi:.2%}",
        "pkg_in": f"$in 7 guides, {f['pkg_in']['pass_fraction']:.1%}",
        "small": f"$in 2 small packages, {f['small']['pass_fraction']:.2%}",
    }
    rows: list[tuple[str, str, Getter, int | None]] = [
        (
            "ingest_vps",
            "Ingest, vectors/s (add in batches + close)",
            lambda i, s: i["ingest_vps"],
            None,
        ),
        ("ingest_s", "Ingest, s", lambda i, s: i["ingest_s"], None),
        (
            "query_p50_ms",
            "Query p50 ms (n_results=10, documents+metadatas+distances)",
            lambda i, s: s["query"]["p50_ms"],
            None,
        ),
        ("query_p99_ms", "Query p99 ms", lambda i, s: s["query"]["p99_ms"], None),
        ("query_qps", "Query QPS (one query per call)", lambda i, s: s["query"]["qps"], None),
        ("query_recall", "Query recall@10", lambda i, s: s["query"]["recall"], 4),
    ]
    for name in FILTERS:
        rows += [
            (
                f"{name}_p50_ms",
                f"Filtered p50 ms ({labels[name]})",
                _filtered(name, "p50_ms"),
                None,
            ),
            (f"{name}_qps", f"Filtered QPS ({labels[name]})", _filtered(name, "qps"), None),
            (
                f"{name}_recall",
                f"Filtered recall@10 ({labels[name]})",
                _filtered(name, "recall"),
                4,
            ),
        ]
    rows += [
        (
            "reopen_ms",
            "Reopen, fresh process: open + get_collection + first query, ms",
            lambda i, s: s["cold"]["reopen_to_first_result_ms"],
            None,
        ),
        ("wrong_results", "Wrong documents/metadata + filter violations", _wrong, 0),
        (
            "disk_mb",
            "On-disk MB after ingest (at rest)",
            lambda i, s: s["at_rest_after_ingest"]["disk_mb"],
            None,
        ),
        (
            "peak_rss_ingest_mb",
            "Peak RSS MB, ingest process",
            lambda i, s: i["end"]["peak_rss_mb"],
            None,
        ),
        (
            "peak_rss_serve_mb",
            "Peak RSS MB, serve process",
            lambda i, s: s["end"]["peak_rss_mb"],
            None,
        ),
    ]
    return rows


def summarize(info: dict[str, Any], runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for key, label, get, decimals in measures(info):
        per_rep: dict[str, list[float | None]] = {}
        for e in ENGINES:
            values: list[float | None] = []
            for run in runs[e]:
                if "ingest" in run and "serve" in run:
                    v = get(run["ingest"], run["serve"])
                    values.append(None if v is None else float(v))
                else:
                    values.append(None)
            per_rep[e] = values
        med = {
            e: statistics.median(present) if (present := [v for v in vs if v is not None]) else None
            for e, vs in per_rep.items()
        }
        vh, ch = med["vectorhouse"], med["chroma"]
        out.append(
            {
                "key": key,
                "label": label,
                "vectorhouse": vh,
                "chroma": ch,
                "ratio": vh / ch if vh is not None and ch else None,
                "target": None,
                "met": None,
                "decimals": decimals,
                "per_rep": per_rep,
            }
        )
    return out


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, help="use corpus.py's --limit N version (smoke run)")
    p.add_argument("--queries", type=int, help="held-out passages as queries (1,000; limit 200)")
    p.add_argument("--filtered-queries", type=int, help="queries per filter (200; limit 100)")
    p.add_argument("--reps", type=int, help="repetitions (default 3; with --limit 1)")
    p.add_argument("--batch", type=int, default=5_000)
    p.add_argument("--cpus", help="CPU set for every child, e.g. 0-1 or 1 (default: all)")
    p.add_argument("--threads", type=int, help="OMP/OPENBLAS/MKL threads (default: CPU count)")
    p.add_argument("--chroma-venv", type=Path, default=HERE / ".venv-chroma")
    p.add_argument("--name", help="result name (default real-<size>)")
    p.add_argument("--note", action="append", default=[], help="a note for RESULTS.md")
    p.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per child")
    p.add_argument("--max-rss-gb", type=float, default=16.0, help="kill a child above this")
    p.add_argument("--keep-db", action="store_true", help="keep the databases afterwards")
    p.add_argument("--no-results-md", action="store_true", help="do not regenerate RESULTS.md")
    # The children: this script again, in a fresh process per engine and phase.
    p.add_argument("--child", choices=("ingest", "serve"), help=argparse.SUPPRESS)
    p.add_argument("--engine", choices=("vectorhouse", "chroma"), help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    smoke = args.limit is not None
    args.queries = args.queries or (200 if smoke else 1_000)
    args.filtered_queries = args.filtered_queries or (100 if smoke else 200)
    args.reps = args.reps or (1 if smoke else 3)
    return args


def main() -> None:
    args = parse_args()
    if args.child:
        child_main(args)
        return

    started = time.time()
    machine = machine_info()
    cpus = parse_cpus(args.cpus)
    threads = args.threads or len(cpus)
    data = prepare(args.limit, args.queries)
    info = json.loads((data / "info.json").read_text())
    n = info["n"]
    size = f"{n // 1000}k"
    args.name = args.name or (f"real-{size}" if args.limit is None else f"real-smoke-{size}")
    log_dir = HERE / ".cache" / "runs" / args.name
    log_dir.mkdir(parents=True, exist_ok=True)
    runner = Runner(cpus, child_env(threads), args.timeout, args.max_rss_gb * 1024, log_dir)
    pythons = {"vectorhouse": Path(sys.executable), "chroma": ensure_chroma_venv(args.chroma_venv)}
    log(f"{args.name}: {n:,} records, {args.reps} rep(s), CPUs {cpus}, threads {threads}")

    db_root = HERE / ".cache" / "db" / args.name
    runs: dict[str, list[dict[str, Any]]] = {e: [] for e in ENGINES}
    errors: list[str] = []
    out_json = log_dir / "out.json"
    for rep in range(args.reps):
        order = ENGINES if rep % 2 == 0 else ENGINES[::-1]
        log(f"repetition {rep + 1}/{args.reps} (order: {', '.join(order)})")
        shutil.rmtree(db_root, ignore_errors=True)
        got: dict[str, dict[str, Any]] = {e: {} for e in ENGINES}
        for phase in ("ingest", "serve"):
            for engine in order:
                if phase == "serve" and "ingest" not in got[engine]:
                    continue
                cmd = [
                    str(pythons[engine]),
                    str(Path(__file__).resolve()),
                    *("--child", phase, "--engine", engine, "--data", str(data)),
                    *("--db", str(db_root / engine), "--out", str(out_json)),
                    *("--batch", str(args.batch), "--filtered-queries", str(args.filtered_queries)),
                ]
                tag = f"rep{rep + 1}-{engine}-{phase}"
                try:
                    got[engine][phase] = runner.run(cmd, out_json, tag)
                except ChildFailed as exc:
                    errors.append(str(exc).splitlines()[0])
                    log(f"  FAILED {exc}")
        if not args.keep_db:
            shutil.rmtree(db_root, ignore_errors=True)
        for engine in ENGINES:
            runs[engine].append(got[engine])

    summary = summarize(info, runs)
    machine["loadavg_end"] = round(os.getloadavg()[0], 2)
    notes = list(args.note)
    if args.limit is not None:
        notes.append(
            "Smoke run (a small slice of the corpus, one repetition): it shows that the harness"
            " works, not how the engines compare. Run without --limit for numbers."
        )
    notes += busy_note(machine, cpus)
    emb = info["corpus_manifest"]["embedding"]
    f = info["filters"]
    vers: dict[str, dict[str, str]] = {}
    for e in ENGINES:
        for run in runs[e]:
            for phase in run.values():
                vers.setdefault(e, phase.get("versions", {}))
    title = (
        f"Real{' (smoke run)' if args.limit is not None else ''}: {n:,} Debian"
        f" documentation passages x 384, vectorhouse vs chroma ({args.reps}"
        f" repetition{'s' if args.reps > 1 else ''})"
    )
    order = 2 if args.limit is not None else 0
    result = {
        **result_header(args.name, order, title, started, machine, notes),
        "kind": "compare",
        "settings": {
            "cpu_policy": cpu_policy(cpus, runner.env),
            "data": (
                f"{n:,} passages of {len(info['packages'])} Debian documentation packages"
                " (benchmarks/corpus.py: man pages, info manuals, HTML manuals) with their"
                f" {emb['model']['model']} vectors (max_length {emb['model']['max_length']}, made"
                " once by vectorhouse's default embedding function), documents and"
                f" metadata {{package, source, section, kind}}; {info['queries']:,} held-out"
                f" passages (seed {info['seed']}) as queries ({args.filtered_queries} for each"
                f" filter); cosine space; filters: own package $eq"
                f" ({f['own_pkg']['pass_fraction']:.2%} on average), $in of 7 guides"
                f" ({f['pkg_in']['pass_fraction']:.2%}), $in of 2 small packages"
                f" ({f['small']['pass_fraction']:.2%}); exact ground truth by matrix product"
            ),
            "method": (
                "fresh process per phase; ingest, then serve (reopen, queries, filtered"
                " queries); engines alternate order each repetition; medians over"
                " repetitions; QPS = queries / summed latency of one-query calls; the"
                " OS page cache is warm for the reopen"
            ),
            "n": n,
            "queries": info["queries"],
            "filtered_queries": args.filtered_queries,
            "reps": args.reps,
            "batch": args.batch,
            "cpus": list(cpus),
            "threads": threads,
            "data_folder": _relative(str(data)),
        },
        "summary": summary,
        "runs": runs,
        "errors": errors,
        "versions": vers,
        "filters": info["filters"],
    }
    report.RESULTS_DIR.mkdir(exist_ok=True)
    out = report.RESULTS_DIR / f"{args.name}.json"
    out.write_text(json.dumps(result, indent=1, default=str))
    if not args.no_results_md:
        report.write_results_md()
    log("")
    log(report.table(result))
    log("")
    log(f"wrote {_relative(str(out))} in {result['elapsed_s'] / 60:.1f} min")
    if errors:
        raise SystemExit(f"{len(errors)} child run(s) failed: see {log_dir}")


if __name__ == "__main__":
    main()
