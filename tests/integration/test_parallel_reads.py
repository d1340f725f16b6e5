"""Reads in parallel with writes: no read waits for a write in progress, and every
read sees one committed state (never half a batch, never a record whose metadata is
newer than its vector)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vectorhouse

DIM = 8


def _client(path: Path) -> vectorhouse.ClientAPI:
    return vectorhouse.PersistentClient(path=path)


def test_a_read_does_not_wait_for_a_write_in_progress(tmp_path: Path) -> None:
    client = _client(tmp_path / "db")
    col = client.create_collection("docs", embedding_function=None)
    col.add(ids=["a", "b"], embeddings=np.eye(2, DIM, dtype=np.float32))
    engine = col._engine
    seen: dict[str, object] = {}
    finished = threading.Event()

    def read() -> None:
        seen["count"] = col.count()
        seen["get"] = col.get(ids=["c"])["ids"]
        seen["query"] = col.query(query_embeddings=[[0.0] * DIM], n_results=5)["ids"]
        finished.set()

    # A write in progress: the writer's lock held and a SQLite transaction open with a
    # record inserted but not committed.
    with engine.lock, engine.store.tx.atomic():
        seq = engine.store.next_seq()
        engine.store.update_collection(str(col.id), seq=seq)
        engine.store.insert(
            str(col.id), ["c"], np.full((1, DIM), 0.5, np.float32), [None], [None], seq
        )
        reader = threading.Thread(target=read)
        reader.start()
        assert finished.wait(30), "the read waited for the write"
    reader.join()
    assert seen == {"count": 2, "get": [], "query": [["a", "b"]]}
    # Committed behind the engine's back, the record is found by the next read, which
    # brings the index up to date first.
    assert col.query(query_embeddings=[[0.5] * DIM], n_results=1)["ids"] == [["c"]]
    client.close()


def test_reads_of_an_in_memory_client_run_under_the_lock() -> None:
    client = vectorhouse.EphemeralClient()
    col = client.create_collection("docs", embedding_function=None)
    col.add(ids=["a"], embeddings=np.ones((1, DIM), np.float32))
    assert not col._engine.store.parallel_reads
    assert col.query(query_embeddings=[[1.0] * DIM], n_results=1)["ids"] == [["a"]]


# -- snapshot consistency under interleaving ----------------------------------------

Op = tuple[str, int, int]  # (kind, batch, size)


def _ops() -> st.SearchStrategy[list[Op]]:
    op = st.tuples(
        st.sampled_from(["add", "update", "delete"]),
        st.integers(0, 5),
        st.integers(1, 40),
    )
    return st.lists(op, min_size=3, max_size=12)


def _vectors(batch: int, version: int, size: int) -> np.ndarray:
    rng = np.random.default_rng([batch, version])
    vecs = rng.standard_normal((size, DIM)).astype(np.float32)
    vecs[:, 0] = version  # the vector says which version of the batch it is
    return vecs


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=_ops())
def test_every_read_sees_one_committed_state(
    tmp_path_factory: pytest.TempPathFactory, ops: list[Op]
) -> None:
    client = _client(tmp_path_factory.mktemp("snap") / "db")
    col = client.create_collection("docs", embedding_function=None)
    # states[i]: id -> (batch, version, vector) after i writes; committed[0] counts the
    # writes done (the state of the one in progress is recorded already).
    states: list[dict[str, tuple[int, int, np.ndarray]]] = [{}]
    committed = [0]
    problems: list[str] = []
    stop = threading.Event()
    query = np.random.default_rng(7).standard_normal((1, DIM)).astype(np.float32)

    def nearest(state: dict[str, tuple[int, int, np.ndarray]], k: int) -> list[str]:
        ids = sorted(state)
        if not ids:
            return []
        vecs = np.stack([state[i][2] for i in ids]).astype(np.float64)
        d = ((vecs - query.astype(np.float64)) ** 2).sum(axis=1)
        return [ids[p] for p in np.lexsort((np.arange(len(ids)), d))[:k]]

    def reader() -> None:
        while not stop.is_set():
            first = committed[0]
            got = col.get(include=["metadatas", "embeddings"])
            res = col.query(
                query_embeddings=query, n_results=10, include=["metadatas", "embeddings"]
            )
            last = committed[0] + 1
            versions: dict[int, set[int]] = {}
            sizes: dict[int, int] = {}
            for meta, vec in zip(got["metadatas"], got["embeddings"], strict=True):
                if int(vec[0]) != meta["version"]:
                    problems.append(f"metadata version {meta['version']} beside vector {vec[0]}")
                versions.setdefault(meta["batch"], set()).add(meta["version"])
                sizes[meta["batch"]] = sizes.get(meta["batch"], 0) + 1
            if any(len(v) > 1 for v in versions.values()):
                problems.append(f"a batch in two versions: {versions}")
            window = states[first : last + 1]
            if not any(sizes == _sizes(s) for s in window):
                problems.append(f"get saw no committed state: {sizes}")
            for meta, vec in zip(res["metadatas"][0], res["embeddings"][0], strict=True):
                if int(vec[0]) != meta["version"]:
                    problems.append("query: metadata and vector of different writes")
            if not any(res["ids"][0] == nearest(s, 10) for s in window):
                problems.append("query equals exact search on no committed state")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for step, (kind, batch, size) in enumerate(ops, start=1):
            state = dict(states[-1])
            ids = [f"b{batch}-{i}" for i in range(size)]
            mine = sorted(i for i, s in state.items() if s[0] == batch)
            if kind == "add" and not mine:
                vecs = _vectors(batch, step, size)
                metas = [{"batch": batch, "version": step}] * size
                state.update({i: (batch, step, v) for i, v in zip(ids, vecs, strict=True)})
                states.append(state)  # before the write: a read may see it at once
                col.add(ids=ids, embeddings=vecs, metadatas=metas)
            elif kind == "update" and mine:
                vecs = _vectors(batch, step, len(mine))
                metas = [{"batch": batch, "version": step}] * len(mine)
                state.update({i: (batch, step, v) for i, v in zip(mine, vecs, strict=True)})
                states.append(state)
                col.update(ids=mine, embeddings=vecs, metadatas=metas)
            elif kind == "delete" and mine:
                states.append({i: s for i, s in state.items() if s[0] != batch})
                col.delete(where={"batch": batch})
            else:
                continue
            committed[0] += 1
    finally:
        stop.set()
        for t in threads:
            t.join()
        client.close()
    assert not problems, problems[:3]


def _sizes(state: dict[str, tuple[int, int, np.ndarray]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for batch, _, _ in state.values():
        out[batch] = out.get(batch, 0) + 1
    return out


def test_threads_querying_texts_through_the_default_model_get_what_one_thread_gets(
    tmp_path: Path,
) -> None:
    client = _client(tmp_path / "db")
    col = client.create_collection("docs")  # the bundled default model
    docs = [
        "The cat sleeps on the warm windowsill.",
        "Stock markets fell sharply on Monday.",
        "A recipe for bread with sourdough starter.",
        "The spacecraft entered orbit around Mars.",
        "Tips for training a puppy to sit.",
        "Interest rates were raised by the central bank.",
    ]
    col.add(ids=[f"d{i}" for i in range(len(docs))], documents=docs)
    questions = ["pets at home", "finance news", "baking", "space travel"] * 4
    alone = [col.query(query_texts=[q], n_results=3)["ids"][0] for q in questions]
    together: dict[int, list[str]] = {}
    start = threading.Barrier(len(questions))

    def ask(i: int) -> None:
        start.wait()
        together[i] = col.query(query_texts=[questions[i]], n_results=3)["ids"][0]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [together[i] for i in range(len(questions))] == alone
    assert alone[0][0] in {"d0", "d4"} and alone[1][0] in {"d1", "d5"}
    client.close()
