"""One process of the multi-process soak: writers and readers on one database path.

Used by tests/reliability/test_soak.py and benchmarks/soak.py, against vectorhouse or,
for the benchmark, chromadb (the same calls: the API is Chroma's). Run as a script::

    python soak_worker.py ENGINE DB setup PRELOAD SEED
    python soak_worker.py ENGINE DB writer|reader ME SEED START DURATION OUT.json
    python soak_worker.py ENGINE DB verify SEED PRELOAD OUT.json WRITER.json ...

A writer adds batches of fresh ids ``w{me}-{n}``, upserts its own pool ``p{me}-{j}``
(each upsert a new version), deletes some of its added ids, and reads its own writes
back (get by id) besides plain and filtered queries. A reader queries (plain and
filtered), gets pages and ids, and counts. Every vector is derived from the seed, so
``verify`` recomputes what each writer's acknowledged writes must have left: every
live id present with its last vector and metadata, every deleted id absent, the count
exact. Each process records its operations, errors and per-call latencies (max, p99).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM = 32
NAME = "soak"
POOL = 100
PRELOAD = 25_000
"""Records stored before the soak: past the sizes searched exactly, so queries use the
graph and every process catches its graph up with the others' writes."""
ADD_BATCH = 10
BIG_BATCH = 200
"""One add in twenty is this large: readers must not wait behind a whole big batch."""
UPSERT_BATCH = 5


def open_collection(engine: str, path: str) -> tuple[Any, Any]:
    if engine == "vectorhouse":
        import vectorhouse

        client: Any = vectorhouse.PersistentClient(path=path)
        return client, client.get_collection(NAME)
    import chromadb

    client = chromadb.PersistentClient(path=path)
    return client, client.get_collection(NAME, embedding_function=None)


def setup(engine: str, path: str, preload: int, seed: int) -> None:
    """Create the collection and store ``preload`` records (``pre-{k}``) in it."""
    if engine == "vectorhouse":
        import vectorhouse

        client: Any = vectorhouse.PersistentClient(path=path)
    else:
        import chromadb

        client = chromadb.PersistentClient(path=path)
    col = client.create_collection(NAME, embedding_function=None, metadata={"hnsw:space": "l2"})
    rng = np.random.default_rng([seed, 99])
    for first in range(0, preload, 5000):
        n = min(5000, preload - first)
        col.add(
            ids=[f"pre-{k}" for k in range(first, first + n)],
            embeddings=rng.standard_normal((n, DIM)).astype(np.float32),
            metadatas=[{"w": -1, "v": -1}] * n,
        )
    close = getattr(client, "close", None)
    if close is not None:
        close()


def added_vectors(seed: int, me: int, first: int, n: int) -> np.ndarray:
    """The vectors of ids ``w{me}-{first}`` ... (one generator per id)."""
    return np.stack(
        [np.random.default_rng([seed, me, k]).standard_normal(DIM) for k in range(first, first + n)]
    ).astype(np.float32)


def pool_vector(seed: int, me: int, j: int, version: int) -> np.ndarray:
    return (
        np.random.default_rng([seed, me, 10**6 + j, version])
        .standard_normal(DIM)
        .astype(np.float32)
    )


class Recorder:
    """Operation counts, latencies and errors of one process."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.mismatches: list[str] = []

    def call(self, op: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            self.errors.append(f"{op}: {type(exc).__module__}.{type(exc).__name__}: {exc}")
            return None
        finally:
            self.latencies.setdefault(op, []).append(time.perf_counter() - started)

    def summary(self, elapsed: float) -> dict[str, Any]:
        every = [x for values in self.latencies.values() for x in values]
        worst = max(((max(v), op) for op, v in self.latencies.items() if v), default=(0.0, "none"))
        return {
            "ops": len(every),
            "elapsed_s": round(elapsed, 2),
            "ops_per_s": round(len(every) / elapsed, 2) if elapsed > 0 else 0.0,
            "max_latency_s": round(worst[0], 4),
            "slowest_op": worst[1],
            "p50_latency_s": round(float(np.percentile(every, 50)), 4) if every else None,
            "p99_latency_s": round(float(np.percentile(every, 99)), 4) if every else None,
            "per_op": {
                op: {
                    "n": len(v),
                    "max_s": round(max(v), 4),
                    "p99_s": round(float(np.percentile(v, 99)), 4),
                }
                for op, v in sorted(self.latencies.items())
            },
            "errors": len(self.errors),
            "first_errors": self.errors[:5],
            "read_mismatches": len(self.mismatches),
            "first_read_mismatches": self.mismatches[:5],
        }


def writer(col: Any, me: int, seed: int, stop_at: float, rec: Recorder) -> dict[str, Any]:
    rng = np.random.default_rng([seed, me, 1])
    next_id = 0
    live: list[int] = []  # added ids not deleted (acknowledged)
    deleted: list[int] = []
    pool: dict[int, int] = {}  # pool index -> last acknowledged version
    uncertain: list[str] = []  # ids whose write raised: not checked afterwards
    version = 0
    while time.time() < stop_at:
        roll = rng.random()
        if roll < 0.30:
            size = BIG_BATCH if rng.random() < 0.05 else ADD_BATCH
            ids = [f"w{me}-{k}" for k in range(next_id, next_id + size)]
            vectors = added_vectors(seed, me, next_id, size)
            metas = [{"w": me, "v": -1}] * size
            before = len(rec.errors)
            rec.call("add", col.add, ids=ids, embeddings=vectors, metadatas=metas)
            if len(rec.errors) > before:
                uncertain += ids
            else:
                live += range(next_id, next_id + size)
            next_id += size
        elif roll < 0.50:
            version += 1
            js = sorted(int(j) for j in rng.choice(POOL, UPSERT_BATCH, replace=False))
            before = len(rec.errors)
            rec.call(
                "upsert",
                col.upsert,
                ids=[f"p{me}-{j}" for j in js],
                embeddings=np.stack([pool_vector(seed, me, j, version) for j in js]),
                metadatas=[{"w": me, "v": version}] * len(js),
            )
            if len(rec.errors) > before:
                uncertain += [f"p{me}-{j}" for j in js]
                for j in js:
                    pool.pop(j, None)
            else:
                pool.update({j: version for j in js})
        elif roll < 0.60 and len(live) > 20:
            picks = sorted({int(p) for p in rng.choice(len(live), 5, replace=False)}, reverse=True)
            victims = [live.pop(p) for p in picks]
            before = len(rec.errors)
            rec.call("delete", col.delete, ids=[f"w{me}-{k}" for k in victims])
            if len(rec.errors) > before:
                uncertain += [f"w{me}-{k}" for k in victims]
            else:
                deleted += victims
        elif roll < 0.85:
            query = rng.standard_normal((1, DIM)).astype(np.float32)
            where = {"w": me} if rng.random() < 0.5 else None
            rec.call("query", col.query, query_embeddings=query, n_results=10, where=where)
        elif live:
            # Read your own writes: every id just acknowledged is there.
            picks = [live[int(p)] for p in rng.choice(len(live), min(5, len(live)), replace=False)]
            ids = [f"w{me}-{k}" for k in picks]
            got = rec.call("get", col.get, ids=ids)
            if got is not None and sorted(got["ids"]) != sorted(ids):
                rec.mismatches.append(f"get {ids} returned {got['ids']}")
    return {
        "me": me,
        "live": live,
        "deleted": deleted,
        "pool": {str(j): v for j, v in pool.items()},
        "uncertain": uncertain,
        "next_id": next_id,
    }


def reader(col: Any, me: int, seed: int, stop_at: float, rec: Recorder) -> dict[str, Any]:
    rng = np.random.default_rng([seed, me, 2])
    while time.time() < stop_at:
        roll = rng.random()
        query = rng.standard_normal((1, DIM)).astype(np.float32)
        if roll < 0.35:
            rec.call("query", col.query, query_embeddings=query, n_results=10)
        elif roll < 0.60:
            where = {"w": int(rng.integers(2))}
            rec.call("query", col.query, query_embeddings=query, n_results=10, where=where)
        elif roll < 0.75:
            rec.call("get", col.get, limit=20, offset=int(rng.integers(200)))
        elif roll < 0.90:
            ids = [f"p{int(rng.integers(2))}-{int(j)}" for j in rng.choice(POOL, 5, replace=False)]
            rec.call("get", col.get, ids=ids)
        else:
            rec.call("count", col.count)
    return {"me": me}


def run(engine: str, path: str, role: str, args: list[str]) -> None:
    me, seed, start, duration, out = (
        int(args[0]),
        int(args[1]),
        float(args[2]),
        float(args[3]),
        args[4],
    )
    client, col = open_collection(engine, path)
    late = time.time() - start
    while time.time() < start:
        time.sleep(0.005)
    rec = Recorder()
    begun = time.time()
    stop_at = max(start, begun) + duration
    state = (writer if role == "writer" else reader)(col, me, seed, stop_at, rec)
    elapsed = time.time() - begun
    summary = {"role": role, "late_start_s": round(max(0.0, late), 2), **rec.summary(elapsed)}
    Path(out).write_text(json.dumps({"summary": summary, "state": state}))
    close = getattr(client, "close", None)
    if close is not None:
        close()


def verify(
    engine: str, path: str, seed: int, preload: int, writer_files: list[str]
) -> dict[str, Any]:
    """What the writers' acknowledged writes must have left, against the database."""
    client, col = open_collection(engine, path)
    lost: list[str] = []
    wrong: list[str] = []
    resurrected: list[str] = []
    expected = preload
    uncertain = 0
    unreadable = 0
    errors: list[str] = []
    for name in writer_files:
        state = json.loads(Path(name).read_text())["state"]
        me = int(state["me"])
        skip = set(state["uncertain"])
        uncertain += len(skip)
        want: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
        for k in state["live"]:
            want[f"w{me}-{k}"] = (added_vectors(seed, me, k, 1)[0], {"w": me, "v": -1})
        for j, version in state["pool"].items():
            want[f"p{me}-{j}"] = (pool_vector(seed, me, int(j), version), {"w": me, "v": version})
        want = {rid: value for rid, value in want.items() if rid not in skip}
        expected += len(want)
        ids = sorted(want)
        try:
            got = col.get(ids=ids, include=["embeddings", "metadatas"]) if ids else {"ids": []}
        except Exception as exc:  # chroma may fail to read back: say so, do not crash
            errors.append(f"get: {type(exc).__module__}.{type(exc).__name__}: {exc}")
            unreadable += len(ids)
            continue
        found = {
            rid: (np.asarray(vec, dtype=np.float32), meta)
            for rid, vec, meta in zip(
                got["ids"], got.get("embeddings", []), got.get("metadatas", []), strict=True
            )
        }
        lost += [rid for rid in ids if rid not in found]
        for rid, (vec, meta) in found.items():
            if not np.array_equal(vec, want[rid][0]) or meta != want[rid][1]:
                wrong.append(rid)
        gone = [f"w{me}-{k}" for k in state["deleted"] if f"w{me}-{k}" not in skip]
        if gone:
            try:
                resurrected += col.get(ids=gone)["ids"]
            except Exception as exc:
                errors.append(f"get: {type(exc).__module__}.{type(exc).__name__}: {exc}")
    try:
        count: int | None = col.count()
    except Exception as exc:
        errors.append(f"count: {type(exc).__module__}.{type(exc).__name__}: {exc}")
        count = None
    close = getattr(client, "close", None)
    if close is not None:
        close()
    return {
        "expected_records": expected,
        "count": count,
        "uncertain_writes": uncertain,
        "unreadable": unreadable,
        "verify_errors": errors[:5],
        "lost": len(lost),
        "first_lost": lost[:5],
        "wrong_values": len(wrong),
        "first_wrong": wrong[:5],
        "resurrected": len(resurrected),
        "first_resurrected": resurrected[:5],
    }


ROLES = ("writer", "writer", "reader", "reader")


def run_soak(
    python: str,
    engine: str,
    workdir: Path,
    *,
    seed: int,
    duration_s: float,
    timeout_s: float,
    preload: int = PRELOAD,
) -> dict[str, Any]:
    """Set up a database of ``preload`` records under ``workdir``, run 2 writer and 2
    reader processes on it for ``duration_s`` (started together), then verify it;
    returns every process's summary and the verification."""
    import subprocess

    script = str(Path(__file__).resolve())
    db = str(workdir / "db")
    subprocess.run(
        [python, script, engine, db, "setup", str(preload), str(seed)],
        check=True,
        timeout=timeout_s,
    )
    start = time.time() + 5.0  # room for every process to import and open the database
    procs = []
    outs = []
    for me, role in enumerate(ROLES):
        out = workdir / f"{role}-{me}.json"
        outs.append(out)
        err = open(workdir / f"{role}-{me}.stderr", "w")  # noqa: SIM115 (closed below)
        cmd = [python, script, engine, db, role, str(me % 2), str(seed), str(start)]
        cmd += [str(duration_s), str(out)]
        procs.append((subprocess.Popen(cmd, stderr=err), err))
    failures = []
    for (proc, err), out in zip(procs, outs, strict=True):
        try:
            proc.wait(timeout=timeout_s + duration_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.close()
        if proc.returncode != 0:
            failures.append(
                f"{out.stem} exited with {proc.returncode}: {Path(err.name).read_text()[-2000:]}"
            )
    processes = {out.stem: json.loads(out.read_text())["summary"] for out in outs if out.exists()}
    verified: dict[str, Any] = {}
    if not failures:
        writers = [str(o) for o, role in zip(outs, ROLES, strict=True) if role == "writer"]
        result = workdir / "verify.json"
        done = subprocess.run(
            [python, script, engine, db, "verify", str(seed), str(preload), str(result), *writers],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if done.returncode == 0:
            verified = json.loads(result.read_text())
        else:
            failures.append(f"verify exited with {done.returncode}: {done.stderr[-2000:]}")
    return {"processes": processes, "verify": verified, "failures": failures}


def table(processes: dict[str, dict[str, Any]]) -> str:
    """Per-process ops/s, latencies and errors as aligned text."""
    rows = [["process", "ops", "ops/s", "p50 ms", "p99 ms", "max ms", "slowest", "errors"]]
    for name, s in processes.items():
        ms = [
            None if s[k] is None else f"{s[k] * 1000:,.1f}"
            for k in ("p50_latency_s", "p99_latency_s", "max_latency_s")
        ]
        rows.append(
            [
                name,
                f"{s['ops']:,}",
                f"{s['ops_per_s']:,.1f}",
                *(m or "-" for m in ms),
                s["slowest_op"],
                str(s["errors"]),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    engine, path, role, *rest = argv
    if role == "setup":
        setup(engine, path, int(rest[0]), int(rest[1]))
    elif role in ("writer", "reader"):
        run(engine, path, role, rest)
    elif role == "verify":
        result = verify(engine, path, int(rest[0]), int(rest[1]), rest[3:])
        Path(rest[2]).write_text(json.dumps(result))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
