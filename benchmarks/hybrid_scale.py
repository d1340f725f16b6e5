"""Hybrid search latency at 120,000 documents: dense, lexical (BM25) and hybrid query
p50 on the real corpus, and what the lexical index adds to ingest there.

Run from the repository root, after the corpus is built (benchmarks/corpus.py) and
benchmarks/quality.py has run once (its queries are used here)::

    .venv/bin/python benchmarks/hybrid_scale.py
    .venv/bin/python benchmarks/hybrid_scale.py --limit 5000   # on corpus.py --limit 5000

The documents: every passage of the Debian documentation corpus with its precomputed
all-MiniLM-L6-v2 vector, its metadata as given by corpus.py, the cosine space. The
queries: the 1,450 short queries of benchmarks/quality.py's labelled sets (man page
descriptions and names, info node titles) with their vectors, one query per call,
``n_results=10`` with documents, metadatas and distances (the default ``include``), in
each mode. The collection is ingested twice (with and without its BM25 table), closed
and opened again before the queries (the graph complete, as a serving process finds
it), and the BM25 postings read into memory by the first lexical queries (as a serving
process holds them; the time one read takes is reported); then 3 rounds, each running
the modes in a rotated order. Medians of the rounds. Also the hybrid query's parts: the
dense and the lexical ranking alone (50 candidates each, the default fusion's depth, no
records read), and the lexical ranking by FTS5 alone (what a query gets right after a
write, until the postings of the new version are read); and each mode under two
``where`` filters.

Writes benchmarks/results/hybrid-scale-<n>.json and regenerates RESULTS.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
import report  # noqa: E402

import vectorhouse  # noqa: E402
from vectorhouse.engine import hybrid, lexical  # noqa: E402
from vectorhouse.engine.postings import Postings  # noqa: E402

QUALITY = HERE / ".cache" / "quality"
SETS = ("man-desc", "man-name", "info-node")
MODES = ("dense", "lexical", "hybrid")
BATCH = 1_000


def load_queries() -> tuple[list[str], np.ndarray]:
    """The labelled sets' query texts and their cached vectors (quality.py made them)."""
    sys.path.insert(0, str(HERE.parent / "src"))
    import quality

    texts: list[str] = []
    vectors = []
    for name in SETS:
        rows = [json.loads(line) for line in (QUALITY / name / "queries.jsonl").open()]
        part = [r["text"] for r in rows]
        vectors.append(quality.embeddings_for(part, QUALITY / f"{name}.queries.f32.npy", 2))
        texts += part
    return texts, np.concatenate(vectors).astype(np.float32)


def ingest(path: Path, texts: list[str], metas: list[Any], vectors: Any, lexical_on: bool) -> float:
    """Add the corpus in batches (with or without the BM25 table); seconds taken."""
    shutil.rmtree(path, ignore_errors=True)
    with vectorhouse.PersistentClient(path) as client:
        col = client.create_collection(
            "docs", embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        if not lexical_on:
            engine = col._engine
            with engine.lock, engine.store.tx.atomic():
                lexical.drop(engine.store.conn, str(col.id))
        t0 = time.perf_counter()
        for start in range(0, len(texts), BATCH):
            stop = min(start + BATCH, len(texts))
            col.add(
                ids=[corpus.passage_id(i) for i in range(start, stop)],
                embeddings=np.asarray(vectors[start:stop], dtype=np.float32),
                documents=texts[start:stop],
                metadatas=metas[start:stop],
            )
        return time.perf_counter() - t0


def timed(
    col: vectorhouse.Collection,
    mode: str,
    texts: list[str],
    qvec: np.ndarray,
    where: dict[str, Any] | None = None,
) -> list[float]:
    """Per-query milliseconds of one mode over every query (under ``where``, if given)."""
    out = []
    for text, vec in zip(texts, qvec, strict=True):
        t0 = time.perf_counter()
        if mode == "dense":
            col.query(query_embeddings=vec[None, :], n_results=10, where=where)
        elif mode == "lexical":
            col.query(query_texts=[text], n_results=10, mode="lexical", where=where)
        else:
            col.query(
                query_texts=[text],
                query_embeddings=vec[None, :],
                n_results=10,
                mode=mode,
                where=where,
            )
        out.append((time.perf_counter() - t0) * 1000)
    return out


def parts(col: vectorhouse.Collection, texts: list[str], qvec: np.ndarray) -> dict[str, float]:
    """p50 ms of the hybrid query's two rankings alone (50 candidates, no records)."""
    engine, cid = col._engine, str(col.id)
    dense, lex = [], []
    for text, vec in zip(texts, qvec, strict=True):
        t0 = time.perf_counter()
        hybrid.dense_ranked(engine, cid, vec[None, :], 50, None, None)
        t1 = time.perf_counter()
        hybrid.lexical_ranked(engine, cid, [text], 50, None, None)
        t2 = time.perf_counter()
        dense.append((t1 - t0) * 1000)
        lex.append((t2 - t1) * 1000)
    fts5 = []
    for text in texts:
        t0 = time.perf_counter()
        with engine.lock, engine.store.tx.snapshot():
            lexical.search(engine.store.conn, cid, text, 50)
        fts5.append((time.perf_counter() - t0) * 1000)
    return {
        "dense_ranking": statistics.median(dense),
        "lexical_ranking": statistics.median(lex),
        "lexical_ranking_fts5": statistics.median(fts5),
    }


FILTERS = {
    "kind = man (man pages)": {"kind": "man"},
    "package = bash-doc": {"package": "bash-doc"},
}


def filtered(col: vectorhouse.Collection, texts: list[str], qvec: np.ndarray) -> dict[str, Any]:
    """Per filter: its share of the documents, p50 ms of each mode under it (one round),
    and of FTS5 alone ranking BM25 under it (as before the postings took filters)."""
    from vectorhouse.filters.parse import parse_where

    engine, cid = col._engine, str(col.id)
    total = col.count()
    out: dict[str, Any] = {}
    for label, where in FILTERS.items():
        row: dict[str, Any] = {"share": len(col.get(where=where, include=[])["ids"]) / total}
        for mode in MODES:
            row[mode] = statistics.median(timed(col, mode, texts, qvec, where))
        node, fts5 = parse_where(where), []
        for text in texts:
            t0 = time.perf_counter()
            with engine.lock, engine.store.tx.snapshot():
                lexical.search(engine.store.conn, cid, text, 10, node)
            fts5.append((time.perf_counter() - t0) * 1000)
        row["lexical_ranking_fts5"] = statistics.median(fts5)
        out[label] = row
    return out


def bm25s_reference(col: vectorhouse.Collection, texts: list[str]) -> dict[str, Any]:
    """bm25s (Robertson's idf, k1 1.2, b 0.75) over the very terms FTS5 indexed (taken
    from the postings): index time, p50 of ``retrieve(k=50)`` per query on one thread
    (and of its scores with a top 50 picked by hand), and top-10 agreement with
    vectorhouse's BM25 ranking."""
    import bm25s
    from bm25s.tokenization import Tokenized

    engine, cid = col._engine, str(col.id)
    assert engine.postings is not None
    found = engine.postings._tables[lexical.table_name(cid)][1]
    assert found is not None
    vocab = {term: i for term, i in found.lookup.items()}
    per_posting = np.repeat(np.arange(len(found.starts) - 1), np.diff(found.starts))
    order = np.argsort(found.positions, kind="stable")
    doc_of = found.positions[order]
    tokens = np.repeat(per_posting[order], found.frequencies[order].astype(np.int64))
    bounds = np.searchsorted(
        np.repeat(doc_of, found.frequencies[order].astype(np.int64)),
        np.arange(len(found.rowids) + 1),
    )
    ids = [tokens[a:b].tolist() for a, b in itertools.pairwise(bounds)]
    t0 = time.perf_counter()
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="robertson")
    retriever.index(Tokenized(ids=ids, vocab=vocab), show_progress=False)
    build_s = time.perf_counter() - t0
    times, scored, agree = [], [], []
    for text in texts:
        terms = found.terms(lexical.query_terms(text), None)
        query = [vocab[t] for t in terms or [] if t in vocab]
        if not query:
            continue
        t1 = time.perf_counter()
        docs, _ = retriever.retrieve([query], k=50, show_progress=False, n_threads=1)
        t2 = time.perf_counter()
        scores = retriever.get_scores(query)
        np.argpartition(-scores, 49)[:50]
        times.append((t2 - t1) * 1000)
        scored.append((time.perf_counter() - t2) * 1000)
        ours = hybrid.lexical_ranked(engine, cid, [text], 10, None, None)[0][0].tolist()
        theirs = found.rowids[docs[0][:10]].tolist()
        agree.append(len(set(ours) & set(theirs)) / max(1, min(10, len(ours))))
    return {
        "bm25s": bm25s.__version__,
        "index_s": build_s,
        "retrieve_p50_ms": statistics.median(times),
        "scores_top50_p50_ms": statistics.median(scored),
        "top10_agreement": statistics.fmean(agree),
        "queries": len(times),
    }


def postings_read(db: Path, table: str) -> dict[str, float]:
    """Seconds one read of the BM25 postings takes, and the memory they hold."""
    conn = sqlite3.connect(db)
    try:
        t0 = time.perf_counter()
        found = Postings.read(conn, table)
        seconds = time.perf_counter() - t0
    finally:
        conn.close()
    assert found is not None
    return {"read_s": seconds, "mb": found.nbytes / 2**20, "postings": len(found.positions)}


def markdown(r: dict[str, Any]) -> str:
    p50 = r["p50_ms"]
    ratio = p50["hybrid"] / p50["dense"]
    ing = r["ingest_s"]
    end_to_end = (ing["with"] - ing["without"]) / (r["embed_s"] + ing["without"])
    lines = [
        f"## Hybrid search latency at {r['documents']:,} documents (real corpus)",
        "",
        f"- **Date**: {r['date']}; **git**: `{r['git']}`; **command**: `{r['command']}`"
        + (
            f" with OPENBLAS_NUM_THREADS={r['openblas_num_threads']}"
            if r.get("openblas_num_threads")
            else ""
        )
        + f" ({r['elapsed_s']:.0f} s)",
        f"- **`uptime`**: at start `{r['uptime_start']}`; at end `{r['uptime_end']}`",
        f"- {r['documents']:,} Debian documentation passages with their all-MiniLM-L6-v2"
        f" vectors (cosine); {r['queries']:,} short queries (benchmarks/quality.py's"
        " labelled sets), one per call, `n_results=10`, documents, metadatas and"
        " distances; 3 rounds, medians.",
        "",
        "| mode | p50 ms (rounds) | p99 ms |",
        "|---|---:|---:|",
    ]
    for mode in MODES:
        rounds = ", ".join(f"{x:.2f}" for x in r["rounds_p50_ms"][mode])
        lines.append(f"| {mode} | {p50[mode]:.2f} ({rounds}) | {r['p99_ms'][mode]:.2f} |")
    lines += [
        "",
        f"Hybrid p50 / dense p50: **{ratio:.2f}x** (target <= 2x:"
        f" {'met' if ratio <= 2 else '**missed**'}). The hybrid query's parts alone"
        f" (p50): dense ranking {r['parts_ms']['dense_ranking']:.2f} ms, BM25 ranking"
        f" {r['parts_ms']['lexical_ranking']:.2f} ms (50 candidates each, no records read;"
        " BM25 from the postings in memory). In a hybrid query the BM25 ranking runs in a"
        " second thread while the dense search runs.",
        "",
        (
            f"BM25 postings: {r['postings']['postings']:,} (term, document) pairs,"
            f" {r['postings']['mb']:.0f} MiB in memory, read in {r['postings']['read_s']:.2f} s"
            " by a background thread after each change to the collection. Until a read"
            " finishes, FTS5 ranks: p50"
            if r["postings"]
            else "No BM25 postings in memory (fewer documents than"
            " `Settings.lexical_postings_min_documents`): FTS5 ranks, p50"
        )
        + f" {r['parts_ms']['lexical_ranking_fts5']:.2f} ms for the BM25 ranking alone.",
    ]
    if r.get("filtered_ms"):
        lines += [
            "",
            "Under a `where` filter (p50 ms, one round; BM25 ranks among the records the"
            " filter passes, resolved and cached as for dense search):",
            "",
            "| filter | share | dense | lexical | hybrid | BM25 by FTS5 alone |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for label, f in r["filtered_ms"].items():
            lines.append(
                f"| {label} | {f['share'] * 100:.1f}% | {f['dense']:.2f} | {f['lexical']:.2f}"
                f" | {f['hybrid']:.2f} | {f['lexical_ranking_fts5']:.2f} |"
            )
    ref = r.get("bm25s_reference")
    if ref:
        lines += [
            "",
            f"Against bm25s {ref['bm25s']} (Robertson idf, k1 1.2, b 0.75, on FTS5's own"
            f" terms, one thread): its index took {ref['index_s']:.1f} s to build,"
            f" `retrieve(k=50)` p50 {ref['retrieve_p50_ms']:.2f} ms per query"
            f" (`get_scores` and an `argpartition` for the top 50:"
            f" {ref['scores_top50_p50_ms']:.2f} ms) against"
            f" {r['parts_ms']['lexical_ranking']:.2f} ms for vectorhouse's BM25 ranking;"
            f" top-10 agreement {ref['top10_agreement']:.3f} over {ref['queries']:,} queries"
            " (FTS5 floors the idf of words in more than half of the documents at 1e-6 and"
            " leaves them out of queries with other words; bm25s lets it go negative).",
        ]
    lines += [
        "",
        f"Ingest with vectors, batches of {BATCH:,}: {r['ingest_s']['with']:.1f} s with the"
        f" BM25 table, {r['ingest_s']['without']:.1f} s without"
        f" (+{(r['ingest_s']['with'] / r['ingest_s']['without'] - 1) * 100:.0f}% of the"
        f" storage-only time; the corpus took {r['embed_s']:.0f} s to embed, so"
        f" +{end_to_end * 100:.1f}%"
        " of `add(documents=...)` end to end; target <= 30%).",
        "",
        f"Raw numbers: `benchmarks/results/{r['name']}.json`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="corpus.py --limit N version")
    args = ap.parse_args()
    started = time.time()
    uptime_start = report.uptime()
    texts, metas, vectors = corpus.load_corpus(args.limit, mmap=True)
    manifest = corpus.load_manifest(args.limit)
    qtexts, qvec = load_queries()
    work = Path(tempfile.mkdtemp(prefix="vh-hybrid-scale-"))
    try:
        ingest_s = {
            "without": ingest(work / "without", texts, metas, vectors, lexical_on=False),
            "with": ingest(work / "db", texts, metas, vectors, lexical_on=True),
        }
        shutil.rmtree(work / "without", ignore_errors=True)
        rounds: dict[str, list[list[float]]] = {m: [] for m in MODES}
        with vectorhouse.PersistentClient(work / "db") as client:
            col = client.get_collection("docs", embedding_function=None)
            for mode in MODES:  # warm: the file pages, the term counts, the postings
                timed(col, mode, qtexts[:100], qvec[:100])
            engine = col._engine
            assert engine.postings is not None
            engine.postings.wait()
            table = lexical.table_name(str(col.id))
            in_memory = len(texts) >= engine.settings.lexical_postings_min_documents
            assert (table in engine.postings._tables) == in_memory
            for rep in range(3):
                for mode in MODES[rep:] + MODES[:rep]:
                    rounds[mode].append(timed(col, mode, qtexts, qvec))
            part_ms = parts(col, qtexts, qvec)
            filtered_ms = filtered(col, qtexts, qvec)
            reference = bm25s_reference(col, qtexts) if in_memory else None
            postings = (
                postings_read(work / "db" / "vectorhouse.sqlite3", table) if in_memory else None
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    name = f"hybrid-scale-{len(texts) // 1000}k"
    result: dict[str, Any] = {
        "name": name,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "elapsed_s": time.time() - started,
        "command": "python " + " ".join(["benchmarks/hybrid_scale.py", *sys.argv[1:]]),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "git": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        ).stdout.strip(),
        "uptime_start": uptime_start,
        "uptime_end": report.uptime(),
        "loadavg_end": os.getloadavg(),
        "documents": len(texts),
        "queries": len(qtexts),
        "embed_s": manifest["embedding"]["embed_s"],
        "ingest_s": ingest_s,
        "rounds_p50_ms": {m: [statistics.median(x) for x in v] for m, v in rounds.items()},
        "p50_ms": {
            m: statistics.median(statistics.median(x) for x in v) for m, v in rounds.items()
        },
        "p99_ms": {
            m: float(np.percentile(np.concatenate([np.asarray(x) for x in v]), 99))
            for m, v in rounds.items()
        },
        "parts_ms": part_ms,
        "filtered_ms": filtered_ms,
        "postings": postings,
        "bm25s_reference": reference,
    }
    report.publish(name, result, markdown(result))


if __name__ == "__main__":
    main()
