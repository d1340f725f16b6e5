"""Retrieval quality of dense, BM25 and hybrid search on labelled sets built from Debian
documentation, and the embedded BM25 against a reference BM25 (bm25s).

Run from the repository root (downloads 4 packages, embeds ~5,000 passages once, a few
minutes on 2 busy cores; later runs reuse benchmarks/.cache/quality/)::

    .venv/bin/python benchmarks/quality.py              # build (once), evaluate, report
    .venv/bin/python benchmarks/quality.py --pages 150  # a smaller, quicker set

The labelled sets (BEIR format under benchmarks/.cache/quality/<set>/: corpus.jsonl,
queries.jsonl, qrels/test.tsv), all over one corpus of passages from the man pages of
``manpages`` and ``manpages-dev`` and the info manuals of ``coreutils`` and ``bash-doc``
(fetched with ``apt-get download`` by benchmarks/corpus.py's helpers):

* ``man-desc``: the description of a man page's NAME line ("list directory contents")
  as the query; the page's other passages (its NAME line is not in the corpus) are the
  relevant ones. Mostly paraphrase: dense search's ground.
* ``man-name``: the page's name(s) ("pthread_mutex_lock, pthread_mutex_unlock") as the
  query, the same relevant passages. Exact identifiers: BM25's ground.
* ``info-node``: an info node's title ("Bash Conditional Expressions", "cp invocation")
  as the query, the node's passages as the relevant ones.

Metrics: nDCG@10 (binary relevance) and MRR@10 of ``n_results=10`` queries, Recall@100
of ``n_results=100`` ones, for dense (the collection's
all-MiniLM-L6-v2 vectors, cosine), lexical (FTS5 BM25), and hybrid with each fusion;
p50 query latency per mode at ``n_results=10`` (BM25 postings in memory, read before);
ingest time with and without the lexical index; and FTS5's BM25 against bm25s (k1 1.2,
b 0.75, on the very tokens FTS5 indexed, read back through ``fts5vocab``): nDCG@10 of
each, top-10 agreement, score differences, per-query time. Results:
benchmarks/results/quality.json and quality.md (which report.py puts into RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import corpus as debian  # noqa: E402

import vectorhouse  # noqa: E402
from vectorhouse.engine import lexical  # noqa: E402

CACHE = HERE / ".cache" / "quality"
PACKAGES = {
    "manpages": (("usr/share/man/man[1578]/*", "man"),),
    "manpages-dev": (("usr/share/man/man[23]/*", "man"),),
    "coreutils": (("usr/share/info/*", "info"),),
    "bash-doc": (("usr/share/info/*", "info"),),
}
PASSAGES_PER_PAGE = 6
SETS = ("man-desc", "man-name", "info-node")
FUSIONS: dict[str, dict[str, Any] | None] = {
    "hybrid": None,  # the default: weighted, dense_weight 0.6
    "hybrid-rrf": {"method": "rrf", "k": 60},
    "hybrid-weighted-0.5": {"method": "weighted", "dense_weight": 0.5},
    "hybrid-weighted-0.7": {"method": "weighted", "dense_weight": 0.7},
}
PORTER_FUSIONS: dict[str, dict[str, Any] | None] = {
    # Over the Porter-stemmed collection; their BM25 baseline is lexical-porter.
    "hybrid-porter": None,
    "hybrid-porter-0.5x100": {"method": "weighted", "dense_weight": 0.5, "candidates": 100},
}


def log(message: str) -> None:
    print(f"[quality {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- building the labelled sets -------------------------------------------------------


def _man_unit(package: str, source: str, blocks: list[tuple[str, str]]) -> dict[str, Any] | None:
    name = [t for s, t in blocks if s == "Name"]
    m = re.match(r"(.+?)\s+[-\u2014]+\s+(.+)", name[0]) if name else None
    if not m:
        return None
    body = [(s, t) for s, t in blocks if s != "Name"]
    return {
        "kind": "man",
        "source": f"{package}:{source}",
        "name": m.group(1).strip(),
        "desc": m.group(2).strip(),
        "passages": [t for _, t in debian.passages_of(body)][:PASSAGES_PER_PAGE],
    }


def _info_units(package: str, source: str, blocks: list[tuple[str, str]]) -> list[dict[str, Any]]:
    by_node: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for s, t in blocks:
        by_node[s].append((s, t))
    return [
        {
            "kind": "info",
            "source": f"{package}:{source}#{node}",
            "name": node,
            "passages": [t for _, t in debian.passages_of(node_blocks)][:PASSAGES_PER_PAGE],
        }
        for node, node_blocks in by_node.items()
        if node and node != "Top"
    ]


def build(pages: int, nodes: int, seed: int) -> dict[str, Any]:
    """Download, extract and sample; write the BEIR files; return the in-memory sets.

    Man pages are sampled before rendering (seeded; aliases and pages without a NAME
    line are skipped until enough are found), info nodes after parsing every file."""
    rng = random.Random(seed)
    debs = debian.CACHE / "debs"
    debian.download(list(PACKAGES), debs)
    man_files: list[tuple[str, Path, Path]] = []
    info_units: list[dict[str, Any]] = []
    for package in PACKAGES:
        deb = debian._deb_for(debs, package)
        assert deb is not None
        root = debian.CACHE / "x" / package
        debian.unpack(deb, root)
        pkg = debian.Package(package, PACKAGES[package])
        for path, kind in debian.package_files(pkg, root):
            if kind == "man":
                man_files.append((package, root, path))
            else:
                blocks = debian.file_blocks(path, kind)
                info_units += _info_units(package, path.relative_to(root).as_posix(), blocks)
    rng.shuffle(man_files)
    units: list[dict[str, Any]] = []
    for package, root, path in man_files:
        if len(units) >= pages * 1.3:
            break
        try:
            blocks = debian.file_blocks(path, "man")
        except (UnicodeDecodeError, subprocess.CalledProcessError, OSError):
            continue
        unit = _man_unit(package, path.relative_to(root).as_posix(), blocks)
        if unit is not None:
            units.append(unit)
    units += info_units
    seen: set[str] = set()
    for u in units:
        kept = []
        for text in u["passages"]:
            key = text.casefold()
            if len(text.split()) >= debian.MIN_WORDS and key not in seen:
                seen.add(key)
                kept.append(text)
        u["passages"] = kept
    man = sorted((u for u in units if u["kind"] == "man" and u["passages"]), key=_key)
    info = sorted((u for u in units if u["kind"] == "info" and u["passages"]), key=_key)
    chosen = rng.sample(man, min(pages, len(man))) + rng.sample(info, min(nodes, len(info)))
    docs: list[dict[str, Any]] = []
    sets: dict[str, dict[str, Any]] = {s: {"queries": {}, "qrels": {}} for s in SETS}
    for qi, u in enumerate(chosen):
        ids = []
        for text in u["passages"]:
            pid = f"p{len(docs)}"
            docs.append({"_id": pid, "title": u["source"], "text": text, "unit": qi})
            ids.append(pid)
        queries = (
            [("man-desc", u["desc"]), ("man-name", u["name"])]
            if u["kind"] == "man"
            else [("info-node", u["name"])]
        )
        for name, text in queries:
            qid = f"q{qi}"
            sets[name]["queries"][qid] = text
            sets[name]["qrels"][qid] = set(ids)
    _write_beir(docs, sets)
    return {"docs": docs, "sets": sets}


def _key(u: dict[str, Any]) -> str:
    return str(u["source"])


def _write_beir(docs: list[dict[str, Any]], sets: dict[str, dict[str, Any]]) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    corpus_path = CACHE / "corpus.jsonl"
    with open(corpus_path, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"_id": d["_id"], "title": d["title"], "text": d["text"]}) + "\n")
    for name, data in sets.items():
        folder = CACHE / name
        (folder / "qrels").mkdir(parents=True, exist_ok=True)
        target = folder / "corpus.jsonl"
        target.unlink(missing_ok=True)
        os.link(corpus_path, target)
        with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
            for qid, text in data["queries"].items():
                f.write(json.dumps({"_id": qid, "text": text}) + "\n")
        with open(folder / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            for qid, rel in data["qrels"].items():
                for pid in sorted(rel, key=lambda p: int(p[1:])):
                    f.write(f"{qid}\t{pid}\t1\n")


def embeddings_for(texts: list[str], path: Path, threads: int) -> np.ndarray:
    """The texts' vectors, cached in ``path`` (recomputed when the texts changed)."""
    digest = _digest(texts)
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists() and json.loads(meta.read_text()).get("digest") == digest:
        return np.load(path)
    ef = vectorhouse.DefaultEmbeddingFunction(num_threads=threads)
    t0 = time.perf_counter()
    vectors = np.asarray(ef(texts), dtype=np.float32)
    seconds = time.perf_counter() - t0
    np.save(path, vectors)
    meta.write_text(json.dumps({"digest": digest, "seconds": seconds, "n": len(texts)}))
    log(f"embedded {len(texts):,} texts in {seconds:.0f} s ({len(texts) / seconds:.0f}/s)")
    return vectors


def _digest(texts: list[str]) -> str:
    import hashlib

    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8") + b"\x00")
    return h.hexdigest()


# -- metrics --------------------------------------------------------------------------


def ndcg_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    """nDCG@k with binary relevance."""
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: list[str], relevant: set[str], k: int = 100) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant)


def mrr_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if d in relevant:
            return 1.0 / (i + 1)
    return 0.0


def scores(
    top10: dict[str, list[str]], top100: dict[str, list[str]], qrels: dict[str, set[str]]
) -> dict[str, float]:
    """nDCG@10 and MRR@10 of ``n_results=10`` queries, Recall@100 of ``n_results=100``
    ones: a hybrid query's ranking depends on ``n_results`` (each retriever gives
    ``max(n_results, candidates)`` records to the fusion), so each metric is taken from
    the query a user would make for it."""
    qids = list(qrels)
    return {
        "ndcg@10": statistics.fmean(ndcg_at(top10[q], qrels[q]) for q in qids),
        "recall@100": statistics.fmean(recall_at(top100[q], qrels[q]) for q in qids),
        "mrr@10": statistics.fmean(mrr_at(top10[q], qrels[q]) for q in qids),
    }


# -- running --------------------------------------------------------------------------


def ingest(
    path: Path, docs: list[dict[str, Any]], vectors: np.ndarray, *, lexical_on: bool, **kw: Any
) -> tuple[vectorhouse.Collection, float]:
    """A persistent collection of the corpus (given vectors, cosine); seconds taken."""
    shutil.rmtree(path, ignore_errors=True)
    client = vectorhouse.PersistentClient(path)
    col = client.create_collection(
        "quality", embedding_function=None, metadata={"hnsw:space": "cosine"}, **kw
    )
    if not lexical_on:
        with col._engine.lock, col._engine.store.tx.atomic():
            lexical.drop(col._engine.store.conn, str(col.id))
    t0 = time.perf_counter()
    for start in range(0, len(docs), 500):
        part = docs[start : start + 500]
        col.add(
            ids=[d["_id"] for d in part],
            embeddings=vectors[start : start + 500],
            documents=[d["text"] for d in part],
            metadatas=[{"source": d["title"]} for d in part],
        )
    client._engine.flush()
    return col, time.perf_counter() - t0


def run_mode(
    col: vectorhouse.Collection,
    texts: list[str],
    vectors: np.ndarray,
    mode: str,
    n: int,
    fusion: dict[str, Any] | None = None,
) -> tuple[list[list[str]], list[float]]:
    """Ranked ids per query and per-query seconds."""
    out, times = [], []
    for text, vec in zip(texts, vectors, strict=True):
        t0 = time.perf_counter()
        if mode == "dense":
            r = col.query(query_embeddings=[vec], n_results=n)
        elif mode == "lexical":
            r = col.query(query_texts=[text], n_results=n, mode="lexical")
        else:
            r = col.query(
                query_texts=[text],
                query_embeddings=[vec],
                n_results=n,
                mode="hybrid",
                fusion=fusion,
            )
        times.append(time.perf_counter() - t0)
        out.append(r["ids"][0])
    return out, times


def fts_tokens(col: vectorhouse.Collection) -> dict[int, list[str]]:
    """Each document's tokens exactly as FTS5 indexed them, in order, by rowid."""
    conn: sqlite3.Connection = col._engine.store.conn
    table = lexical.table_name(str(col.id))
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, {table}, instance)"
    )
    tokens: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for term, doc, offset in conn.execute("SELECT term, doc, offset FROM temp.vocab"):
        tokens[doc].append((offset, term))
    return {doc: [t for _, t in sorted(items)] for doc, items in tokens.items()}


def query_tokens(text: str) -> list[str]:
    """A query's tokens as unicode61 with remove_diacritics makes them (lowercased)."""
    out = []
    for term in lexical.query_terms(text):
        folded = unicodedata.normalize("NFKD", term.lower())
        out.append("".join(c for c in folded if not unicodedata.combining(c)))
    return list(dict.fromkeys(out))


def reference_bm25(
    col: vectorhouse.Collection, sets: dict[str, Any], fts_runs: dict[str, list[list[str]]]
) -> dict[str, Any]:
    """bm25s on FTS5's own tokens against FTS5's ranking: quality, agreement, speed."""
    import bm25s

    conn = col._engine.store.conn
    rowid_to_id = dict(conn.execute("SELECT rowid, id FROM records"))
    tokens = fts_tokens(col)
    rowids = sorted(tokens)
    out: dict[str, Any] = {"bm25s": bm25s.__version__}
    for method in ("lucene", "robertson"):
        t0 = time.perf_counter()
        retriever = bm25s.BM25(k1=1.2, b=0.75, method=method)
        retriever.index([tokens[r] for r in rowids], show_progress=False)
        build_s = time.perf_counter() - t0
        vocab = retriever.vocab_dict
        per_set = {}
        times = []
        for name, data in sets.items():
            runs: dict[str, list[str]] = {}
            agree, max_diff = [], 0.0
            for (qid, text), fts_ids in zip(data["queries"].items(), fts_runs[name], strict=True):
                qt = [t for t in query_tokens(text) if t in vocab]
                t1 = time.perf_counter()
                if qt:
                    ids = [vocab[t] for t in qt]
                    s = retriever.get_scores(ids)
                    top = np.argsort(-s, kind="stable")[:100]
                    top = top[s[top] > 0]
                else:
                    top, s = np.zeros(0, np.int64), np.zeros(0)
                times.append(time.perf_counter() - t1)
                ranked = [rowid_to_id[rowids[i]] for i in top]
                runs[qid] = ranked
                agree.append(
                    len(set(ranked[:10]) & set(fts_ids[:10])) / max(1, min(10, len(ranked)))
                )
                if method == "robertson" and qt:
                    fts = dict(
                        conn.execute(
                            f"SELECT rowid, -bm25({lexical.table_name(str(col.id))}) FROM"
                            f" {lexical.table_name(str(col.id))} WHERE"
                            f" {lexical.table_name(str(col.id))} MATCH ?",
                            (lexical.match_expression(text),),
                        )
                    )
                    pos = {r: i for i, r in enumerate(rowids)}
                    for r, v in list(fts.items())[:50]:
                        # bm25s leaves out BM25's constant factor (k1 + 1).
                        ref = float(s[pos[r]]) * 2.2
                        if ref > 0:
                            max_diff = max(max_diff, abs(v - ref) / ref)
            per_set[name] = {
                **scores(runs, runs, data["qrels"]),  # a BM25 ranking: its top 10 at any depth
                "top10_agreement": statistics.fmean(agree),
                **({"max_rel_score_diff_top50": max_diff} if method == "robertson" else {}),
            }
        out[method] = {
            "build_s": build_s,
            "query_p50_ms": statistics.median(times) * 1000,
            "sets": per_set,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=600, help="man pages sampled")
    ap.add_argument("--nodes", type=int, default=250, help="info nodes sampled")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    started = time.time()
    load_start = os.getloadavg()
    uptime_start = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    data = build(args.pages, args.nodes, args.seed)
    docs, sets = data["docs"], data["sets"]
    log(
        f"{len(docs):,} passages; "
        + ", ".join(f"{k}: {len(v['queries'])} queries" for k, v in sets.items())
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    vectors = embeddings_for([d["text"] for d in docs], CACHE / "corpus.f32.npy", args.threads)
    work = Path(tempfile.mkdtemp(prefix="vh-quality-"))
    ingest_s: dict[str, list[float]] = {"with": [], "without": []}
    for rep in range(3):
        for flag in ("with", "without") if rep % 2 == 0 else ("without", "with"):
            _, seconds = ingest(work / f"db-{flag}", docs, vectors, lexical_on=flag == "with")
            ingest_s[flag].append(seconds)
    col, _ = ingest(work / "db", docs, vectors, lexical_on=True)
    porter, _ = ingest(
        work / "db-porter",
        docs,
        vectors,
        lexical_on=True,
        configuration={"lexical": {"stemming": "porter"}},
    )
    for c in (col, porter):  # as a serving process has them: the BM25 postings read
        c.query(query_texts=["warm"], n_results=1, mode="lexical")
        assert c._engine.postings is not None
        c._engine.postings.wait()
    results: dict[str, Any] = {"sets": {}, "latency_ms": {}}
    fts_runs: dict[str, list[list[str]]] = {}
    latency: dict[str, list[float]] = defaultdict(list)
    for name, d in sets.items():
        texts = list(d["queries"].values())
        qvec = embeddings_for(texts, CACHE / f"{name}.queries.f32.npy", args.threads)
        row: dict[str, Any] = {}
        modes: list[tuple[str, str, dict[str, Any] | None, vectorhouse.Collection]] = [
            ("dense", "dense", None, col),
            ("lexical", "lexical", None, col),
            ("lexical-porter", "lexical", None, porter),
            *((label, "hybrid", f, col) for label, f in FUSIONS.items()),
            *((label, "hybrid", f, porter) for label, f in PORTER_FUSIONS.items()),
        ]
        for label, mode, fusion, c in modes:
            ranked, _ = run_mode(c, texts, qvec, mode, 100, fusion)
            ranked10, times = run_mode(c, texts, qvec, mode, 10, fusion)
            row[label] = scores(
                dict(zip(d["queries"], ranked10, strict=True)),
                dict(zip(d["queries"], ranked, strict=True)),
                d["qrels"],
            )
            if label == "lexical":
                fts_runs[name] = ranked
            latency[label] += times
        results["sets"][name] = row
        log(f"{name}: " + ", ".join(f"{k} {v['ndcg@10']:.3f}" for k, v in row.items()))
    results["latency_ms"] = {k: statistics.median(v) * 1000 for k, v in latency.items()}
    results["reference"] = reference_bm25(col, sets, fts_runs)
    results["ingest_s"] = {k: statistics.median(v) for k, v in ingest_s.items()}
    meta_path = (CACHE / "corpus.f32.npy").with_suffix(".json")
    results["embed_s"] = json.loads(meta_path.read_text())["seconds"]
    results["ingest_s_all"] = ingest_s
    results["meta"] = {
        "command": "python " + " ".join(["benchmarks/quality.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "elapsed_s": time.time() - started,
        "uptime_start": uptime_start,
        "uptime_end": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "loadavg_start": load_start,
        "passages": len(docs),
        "queries": {k: len(v["queries"]) for k, v in sets.items()},
        "sqlite": sqlite3.sqlite_version,
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "git": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        ).stdout.strip(),
    }
    shutil.rmtree(work, ignore_errors=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "quality.json").write_text(json.dumps(results, indent=1) + "\n")
    md = render(results)
    (HERE / "results" / "quality.md").write_text(md)
    print(md)


def render(r: dict[str, Any]) -> str:
    """The RESULTS.md section for one run."""
    m = r["meta"]
    labels = list(next(iter(r["sets"].values())))
    lines = [
        "## Retrieval quality: dense, BM25 and hybrid on labelled Debian documentation",
        "",
        f"- Date: {m['date']} (took {m['elapsed_s'] / 60:.1f} min); git {m['git']};"
        f" SQLite {m['sqlite']}",
        f"- Command: `{m['command']}`"
        + (
            f" with OPENBLAS_NUM_THREADS={m['openblas_num_threads']}"
            if m.get("openblas_num_threads")
            else ""
        ),
        f"- `uptime` at start: `{m['uptime_start']}`; at end: `{m['uptime_end']}`",
        f"- Data: {m['passages']:,} passages; queries: "
        + ", ".join(f"{k} {v}" for k, v in m["queries"].items())
        + " (see the docstring of benchmarks/quality.py for how each set is made)",
        "",
        "nDCG@10 / Recall@100 / MRR@10:",
        "",
        "| set | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for name, row in r["sets"].items():
        cells = [
            f"{row[k]['ndcg@10']:.3f} / {row[k]['recall@100']:.3f} / {row[k]['mrr@10']:.3f}"
            for k in labels
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Hybrid target (nDCG@10 >= max(dense, lexical) + 0.02; the hybrid-porter columns"
        " search the Porter-stemmed collection, against max(dense, lexical-porter)):",
        "",
    ]
    for name, row in r["sets"].items():
        for label in labels:
            if label.startswith("hybrid"):
                lex = "lexical-porter" if "porter" in label else "lexical"
                best = max(row["dense"]["ndcg@10"], row[lex]["ndcg@10"])
                got = row[label]["ndcg@10"]
                verdict = "met" if got >= best + 0.02 else "missed"
                lines.append(f"- {name}, {label}: {got:.3f} vs {best:.3f} + 0.02: {verdict}")
    lat = r["latency_ms"]
    ing = r["ingest_s"]
    end_to_end = (ing["with"] - ing["without"]) / (r["embed_s"] + ing["without"])
    lines += [
        "",
        "p50 latency per query (ms, n_results=10, one query per call, precomputed query"
        " vectors): " + ", ".join(f"{k} {v:.2f}" for k, v in lat.items()),
        "",
        f"Hybrid p50 / dense p50: {lat['hybrid'] / lat['dense']:.2f}x (default fusion),"
        f" {lat['hybrid-rrf'] / lat['dense']:.2f}x (rrf); target <= 2x.",
        "",
        f"Ingest of the {m['passages']:,} passages with precomputed vectors (median of 3,"
        f" alternating): {r['ingest_s']['with']:.2f} s with the lexical index,"
        f" {r['ingest_s']['without']:.2f} s without:"
        f" +{(r['ingest_s']['with'] / r['ingest_s']['without'] - 1) * 100:.0f}% of the"
        " storage-only time. Counting the embedding of the same texts (done once for this"
        f" corpus: {r['embed_s']:.0f} s), as `add(documents=...)` does:"
        f" +{end_to_end * 100:.1f}%"
        " (target <= 30%).",
        "",
        f"Reference BM25 (bm25s {r['reference']['bm25s']}, k1 1.2, b 0.75, FTS5's own tokens):",
        "",
        "| set | FTS5 nDCG@10 | bm25s lucene nDCG@10 | bm25s robertson nDCG@10 |"
        " top-10 agreement (lucene / robertson) | max rel. score diff vs robertson x (k1+1),"
        " top 50 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ref = r["reference"]
    for name, row in r["sets"].items():
        lu, ro = ref["lucene"]["sets"][name], ref["robertson"]["sets"][name]
        lines.append(
            f"| {name} | {row['lexical']['ndcg@10']:.3f} | {lu['ndcg@10']:.3f} |"
            f" {ro['ndcg@10']:.3f} | {lu['top10_agreement']:.3f} / {ro['top10_agreement']:.3f}"
            f" | {ro['max_rel_score_diff_top50']:.2g} |"
        )
    lines += [
        "",
        f"Speed at this size: BM25 p50 {lat['lexical']:.2f} ms per query through"
        f' `query(mode="lexical")` (FTS5\'s scores, ranked from the postings in memory;'
        " records fetched too); bm25s p50"
        f" {ref['lucene']['query_p50_ms']:.2f} ms per query for the scores alone, index built"
        f" in {ref['lucene']['build_s']:.2f} s (FTS5 builds inside the ingest above).",
        "",
        "Raw numbers: `benchmarks/results/quality.json`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
