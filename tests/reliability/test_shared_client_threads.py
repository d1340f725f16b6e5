"""16 threads share one persistent client for 30 s, reading and writing at once.

Each thread owns its ids and keeps a model of them; it adds, upserts, updates and
deletes (by ids and by filter), and checks its own records through get and filtered
queries while the others write. Afterwards no thread may have raised, and the
collection must equal the union of the models exactly, with queries equal to numpy
brute force and the graph holding exactly the stored records.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from vhcheck import assert_graph_holds, assert_queries_exact

import vectorhouse

pytestmark = pytest.mark.reliability

THREADS = 16
DURATION_S = 30.0
DIM = 16
SEED = 1616
NAME = "threads"

Model = dict[str, tuple[np.ndarray, dict[str, Any], str]]


def work(col: vectorhouse.Collection, me: int, model: Model, stop_at: float) -> int:
    """One thread's loop; returns how many calls it made."""
    rng = np.random.default_rng([SEED, me])
    counter = 0
    calls = 0

    def fresh(n: int) -> list[str]:
        nonlocal counter
        counter += n
        return [f"t{me}-{counter - n + i}" for i in range(n)]

    def values(n: int) -> tuple[np.ndarray, list[dict[str, Any]], list[str]]:
        vecs = rng.standard_normal((n, DIM)).astype(np.float32)
        metas = [{"thread": me, "grp": int(rng.integers(4)), "n": calls} for _ in range(n)]
        return vecs, metas, [f"thread {me} call {calls} #{i}" for i in range(n)]

    while time.monotonic() < stop_at:
        calls += 1
        op = int(rng.integers(9))
        mine = sorted(model)
        if op <= 1 or len(mine) < 4:
            ids = fresh(int(rng.integers(1, 20)))
            vecs, metas, docs = values(len(ids))
            col.add(ids=ids, embeddings=vecs, metadatas=metas, documents=docs)
            model.update(zip(ids, zip(vecs, metas, docs, strict=True), strict=True))
        elif op == 2:  # upsert: some existing, some new
            old = [mine[int(p)] for p in rng.choice(len(mine), 3, replace=False)]
            ids = old + fresh(2)
            vecs, metas, docs = values(len(ids))
            col.upsert(ids=ids, embeddings=vecs, metadatas=metas, documents=docs)
            model.update(zip(ids, zip(vecs, metas, docs, strict=True), strict=True))
        elif op == 3:
            ids = [mine[int(p)] for p in rng.choice(len(mine), 3, replace=False)]
            vecs, metas, docs = values(len(ids))
            col.update(ids=ids, embeddings=vecs, metadatas=metas, documents=docs)
            model.update(zip(ids, zip(vecs, metas, docs, strict=True), strict=True))
        elif op == 4:
            ids = [mine[int(p)] for p in rng.choice(len(mine), 2, replace=False)]
            assert col.delete(ids=ids) == {"deleted": 2}
            for rid in ids:
                del model[rid]
        elif op == 5 and rng.random() < 0.3:
            grp = int(rng.integers(4))
            gone = [rid for rid, (_, meta, _) in model.items() if meta["grp"] == grp]
            got = col.delete(where={"$and": [{"thread": me}, {"grp": grp}]})
            assert got == {"deleted": len(gone)}
            for rid in gone:
                del model[rid]
        elif op <= 6:
            # Only this thread writes its records: they are exactly its model.
            got = col.get(where={"thread": me}, include=["embeddings", "metadatas", "documents"])
            assert sorted(got["ids"]) == mine
            for rid, vec, meta, doc in zip(
                got["ids"], got["embeddings"], got["metadatas"], got["documents"], strict=True
            ):
                want = model[rid]
                assert np.array_equal(vec, want[0]) and meta == want[1] and doc == want[2], rid
        elif op == 7:
            rid = mine[int(rng.integers(len(mine)))]
            near = col.query(
                query_embeddings=[model[rid][0]],
                n_results=3,
                where={"thread": me},
                include=["distances"],
            )
            assert near["ids"][0][0] == rid and near["distances"][0][0] == pytest.approx(0.0)
        else:
            col.query(query_embeddings=rng.standard_normal((2, DIM)), n_results=10)
            assert col.count() >= len(model)
    return calls


def test_sixteen_threads_sharing_one_client_for_30_s_match_their_models(tmp_path: Path) -> None:
    path = tmp_path / "db"
    # Exact search up to 20,000 candidates: the queries are checked against brute force,
    # and the run makes about 5,000 records (more as the engine gets faster), past the
    # default 5,000 where the approximate graph would answer.
    client = vectorhouse.PersistentClient(
        path=path,
        settings=vectorhouse.Settings(index_save_every=500, exact_search_max_candidates=20_000),
    )
    col = client.create_collection(NAME, embedding_function=None)
    models: list[Model] = [{} for _ in range(THREADS)]
    calls = [0] * THREADS
    errors: list[tuple[int, BaseException]] = []
    start = threading.Barrier(THREADS)
    stop_at = time.monotonic() + DURATION_S

    def run(me: int) -> None:
        try:
            start.wait()
            calls[me] = work(col, me, models[me], stop_at)
        except BaseException as exc:
            errors.append((me, exc))

    threads = [threading.Thread(target=run, args=(me,)) for me in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DURATION_S + 60)
    try:
        assert not any(t.is_alive() for t in threads), "a thread hung"
        if errors:
            me, exc = errors[0]
            raise AssertionError(f"thread {me} raised {type(exc).__name__}: {exc}") from exc
        model = {rid: value for mine in models for rid, value in mine.items()}
        print(f"\n{sum(calls):,} calls by {THREADS} threads in {DURATION_S:.0f} s;", end=" ")
        print(f"{len(model):,} records")
        assert min(calls) > 10
        assert col.count() == len(model)
        got = col.get(include=["embeddings", "metadatas", "documents"])
        assert sorted(got["ids"]) == sorted(model)
        for rid, vec, meta, doc in zip(
            got["ids"], got["embeddings"], got["metadatas"], got["documents"], strict=True
        ):
            assert np.array_equal(vec, model[rid][0]) and meta == model[rid][1], rid
            assert doc == model[rid][2], rid
        vectors = np.asarray(got["embeddings"], dtype=np.float32)
        rng = np.random.default_rng(SEED)
        assert_queries_exact(
            col, got["ids"], vectors, got["metadatas"], "l2", rng, dim=DIM, where_key="thread"
        )
    finally:
        client.close()
    assert_graph_holds(path, NAME, got["ids"], vectors, "l2", SEED)
