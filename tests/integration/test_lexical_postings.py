"""BM25 postings kept in memory rank exactly as FTS5's ``bm25()`` does: the same rowids
in the same order with the same scores, on a random corpus and on edge cases; they are
used only for the table version they were read from, so every write (this client's or
another process's) is reflected at once; and a stemmed table or a word FTS5 must
tokenize itself is left to FTS5."""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorhouse
from vectorhouse.engine import hybrid, lexical
from vectorhouse.engine.postings import Postings

WORDS = [f"w{i}" for i in range(80)]
COMMON = ["the", "a", "of"]  # in most documents
EAGER = vectorhouse.Settings(lexical_postings_min_documents=1)
FTS5_ONLY = vectorhouse.Settings(lexical_postings_min_documents=10**9)


def _documents(rng: np.random.Generator, n: int) -> list[str]:
    docs = []
    for _ in range(n):
        words = list(rng.choice(WORDS, size=int(rng.integers(1, 30))))
        words += [w for w in COMMON if rng.random() < 0.8]
        rng.shuffle(words)
        docs.append(" ".join(words))
    return docs


def _queries(rng: np.random.Generator, n: int) -> list[str]:
    out = [" ".join(rng.choice(WORDS + COMMON, size=int(rng.integers(1, 7)))) for _ in range(n)]
    edge = ["the", "the a of", "absent words only", "W1 w1 W1", "w2 absent", "w3-w4_w5", "?!"]
    return out + edge


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[vectorhouse.Collection]:
    rng = np.random.default_rng(31)
    docs = _documents(rng, 400)
    docs += ["w7 w8 w9"] * 3 + [""]  # equal scores (ties go by rowid) and an empty document
    with vectorhouse.PersistentClient(path=tmp_path, settings=EAGER) as client:
        col = client.create_collection("posts", embedding_function=None)
        col.add(
            ids=[f"d{i}" for i in range(len(docs))],
            embeddings=rng.standard_normal((len(docs), 8)).astype(np.float32),
            documents=docs,
            metadatas=[{"n": i % 5} for i in range(len(docs))],
        )
        yield col


def _fts5(col: vectorhouse.Collection, text: str, k: int) -> list[Any]:
    """The ranking FTS5 gives (no postings, no remembered counts)."""
    engine = col._engine
    with engine.lock, engine.store.tx.snapshot():
        rowids, scores = lexical.search(engine.store.conn, str(col.id), text, k)
    return list(zip(rowids.tolist(), scores.tolist(), strict=True))


def _read_postings(col: vectorhouse.Collection) -> Postings:
    conn = sqlite3.connect(col._engine.store.path or "")
    try:
        found = Postings.read(conn, lexical.table_name(str(col.id)))
    finally:
        conn.close()
    assert found is not None
    return found


def _served(col: vectorhouse.Collection, text: str, k: int) -> list[Any]:
    ((rowids, scores),) = hybrid.lexical_ranked(col._engine, str(col.id), [text], k, None, None)
    return list(zip(rowids.tolist(), scores.tolist(), strict=True))


def _ready(col: vectorhouse.Collection) -> None:
    """Let the client read the postings of the collection's current version."""
    _served(col, "w1", 1)
    col._engine.postings.wait()


def test_postings_rank_with_the_same_rowids_order_and_scores_as_fts5(
    collection: vectorhouse.Collection,
) -> None:
    postings = _read_postings(collection)
    for text in _queries(np.random.default_rng(5), 150):
        for k in (1, 3, 10, 1000):
            found = postings.search(lexical.query_terms(text), k)
            if not lexical.query_terms(text):
                continue
            assert found is not None, text
            got = list(zip(found[0].tolist(), found[1].tolist(), strict=True))
            assert got == _fts5(collection, text, k), (text, k)


def test_ties_at_the_kth_score_are_broken_by_rowid_as_in_sql(
    collection: vectorhouse.Collection,
) -> None:
    postings = _read_postings(collection)
    rowids, scores = postings.search(["w7", "w8", "w9"], 2) or ([], [])
    expected = _fts5(collection, "w7 w8 w9", 2)
    assert list(zip(list(rowids), list(scores), strict=True)) == expected
    assert expected[0][1] == expected[1][1]  # the three equal documents tie


def test_words_outside_ascii_are_tokenized_by_fts5_itself(tmp_path: Path) -> None:
    docs = ["Crème brûlée au café", "cafe creme", "Straße und strasse", "naïve café x²", "x2"]
    with vectorhouse.PersistentClient(path=tmp_path, settings=EAGER) as client:
        col = client.create_collection("accents", embedding_function=None)
        col.add(ids=[str(i) for i in range(len(docs))], embeddings=[[1.0]] * 5, documents=docs)
        postings = _read_postings(col)
        assert postings.search(["café"], 5) is None  # FTS5's tokenizer is needed
        conn = sqlite3.connect(":memory:")
        for text in ["café", "CRÈME brulee", "straße", "x²", "naïve Café creme", "x2"]:
            found = postings.search(lexical.query_terms(text), 5, conn)
            assert found is not None, text
            got = list(zip(found[0].tolist(), found[1].tolist(), strict=True))
            assert got == _fts5(col, text, 5), text
        _ready(col)
        assert _served(col, "café", 5) == _fts5(col, "café", 5) != []


STEMMED = ["running", "runs", "ran", "connect", "connection", "connected", "files", "file"]


def test_a_stemmed_table_ranks_with_the_stemmed_query_words(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    vocabulary = STEMMED + WORDS[:20]
    docs = [" ".join(rng.choice(vocabulary, size=int(rng.integers(1, 12)))) for _ in range(200)]
    with vectorhouse.PersistentClient(path=tmp_path, settings=EAGER) as client:
        col = client.create_collection(
            "stemmed",
            embedding_function=None,
            configuration={"lexical": {"stemming": "porter"}},
        )
        col.add(
            ids=[str(i) for i in range(len(docs))],
            embeddings=rng.standard_normal((len(docs), 4)).astype(np.float32),
            documents=docs,
        )
        postings = _read_postings(col)
        assert not postings.plain
        for _ in range(60):
            text = " ".join(rng.choice([*vocabulary, "Runner", "CONNECTS"], size=3))
            assert _served(col, text, 10) == _fts5(col, text, 10), text
            with col._engine.lock, col._engine.store.tx.snapshot():
                found = postings.search(lexical.query_terms(text), 10, col._engine.store.conn)
            assert found is not None
            assert list(zip(*(a.tolist() for a in found), strict=True)) == _fts5(col, text, 10)
        _ready(col)
        assert _served(col, "connecting", 50) == _fts5(col, "connecting", 50) != []


def test_queries_are_served_from_postings_once_read(collection: vectorhouse.Collection) -> None:
    engine = collection._engine
    _ready(collection)
    table = lexical.table_name(str(collection.id))
    assert engine.postings is not None and table in engine.postings._tables
    calls = []
    original = Postings.rank

    def spy(self: Postings, *args: Any) -> Any:
        calls.append(args)
        return original(self, *args)

    try:
        Postings.rank = spy  # type: ignore[method-assign]
        for text in ["w1 w2", "the w40", "w5"]:
            assert _served(collection, text, 10) == _fts5(collection, text, 10)
        hybrid_found = collection.query(
            query_texts=["w1 w2"], query_embeddings=[[0.1] * 8], n_results=5, mode="hybrid"
        )
    finally:
        Postings.rank = original  # type: ignore[method-assign]
    assert len(calls) == 4 and len(hybrid_found["ids"][0]) == 5


@pytest.mark.parametrize("write", ["add", "update", "delete", "upsert"])
def test_every_write_is_reflected_in_the_next_query(
    collection: vectorhouse.Collection, write: str
) -> None:
    _ready(collection)
    text = "w11 zebra"
    vec = [[0.5] * 8]
    if write == "add":
        collection.add(ids=["new"], embeddings=vec, documents=["zebra w11 w11"])
    elif write == "update":
        collection.update(ids=["d3"], embeddings=vec, documents=["zebra zebra"])
    elif write == "upsert":
        collection.upsert(ids=["d4"], embeddings=vec, documents=["zebra w11"])
    else:
        first = _fts5(collection, text, 1)[0][0]
        (gone,) = collection._engine.store.read(
            str(collection.id), dimension=None, rowids=[first], documents=False, metadatas=False
        ).ids
        collection.delete(ids=[gone])
    expected = _fts5(collection, text, 20)
    assert _served(collection, text, 20) == expected
    _ready(collection)  # and after the new version is read
    assert _served(collection, text, 20) == expected


def test_another_process_write_is_reflected_at_once(
    collection: vectorhouse.Collection, tmp_path: Path
) -> None:
    _ready(collection)
    with vectorhouse.PersistentClient(path=tmp_path) as other:
        col = other.get_collection("posts", embedding_function=None)
        col.add(ids=["z"], embeddings=[[0.1] * 8], documents=["okapi okapi w1"])
    served = _served(collection, "okapi", 5)
    assert served == _fts5(collection, "okapi", 5) and len(served) == 1


def test_filtered_queries_rank_the_same_as_unfiltered_ones_do(
    collection: vectorhouse.Collection,
) -> None:
    _ready(collection)
    where = {"n": {"$in": [1, 3]}}
    got = collection.query(query_texts=["w1 w2 w3"], mode="lexical", n_results=400, where=where)
    full = collection.query(query_texts=["w1 w2 w3"], mode="lexical", n_results=400)
    pairs = zip(full["ids"][0], full["metadatas"][0], strict=True)
    kept = {i for i, m in pairs if m["n"] in (1, 3)}
    assert got["ids"][0] == [i for i in full["ids"][0] if i in kept]


def test_closing_waits_for_a_postings_read_in_progress(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    docs = _documents(rng, 3000)
    client = vectorhouse.PersistentClient(path=tmp_path, settings=EAGER)
    col = client.create_collection("big", embedding_function=None)
    col.add(
        ids=[str(i) for i in range(len(docs))],
        embeddings=rng.standard_normal((len(docs), 4)).astype(np.float32),
        documents=docs,
    )
    col.query(query_texts=["w1"], mode="lexical", n_results=3)  # starts a read
    client.close()
    assert not any(t.name == "vectorhouse-postings" and t.is_alive() for t in _threads())


def _threads() -> list[threading.Thread]:
    return threading.enumerate()


def test_hybrid_search_with_the_default_model_is_unchanged_by_postings(tmp_path: Path) -> None:
    texts = [
        "E4021 raised by the storage controller on volume three",
        "Disk error E4012: the disk is nearly full, writes will slow down",
        "write_config_file() saves the settings back to the file",
        "A network timeout while connecting to the database server",
        "Cooking pasta needs plenty of salted boiling water",
    ]
    queries = ["E4021", "save the settings file", "boiling water", "timeout"]
    with vectorhouse.PersistentClient(path=tmp_path, settings=EAGER) as client:
        col = client.create_collection("logs")  # the embedded default model
        col.add(ids=[f"t{i}" for i in range(len(texts))], documents=texts)
        before = [col.query(query_texts=[q], mode="hybrid", n_results=3) for q in queries]
        col._engine.postings.wait()
        table = lexical.table_name(str(col.id))
        assert table in col._engine.postings._tables
        after = [col.query(query_texts=[q], mode="hybrid", n_results=3) for q in queries]
    assert [r["ids"] for r in after] == [r["ids"] for r in before]
    assert [r["distances"] for r in after] == [r["distances"] for r in before]
    assert after[0]["ids"][0][0] == "t0"


@pytest.mark.parametrize("fusion", ["weighted", "rrf"])
def test_hybrid_results_are_the_same_with_postings_and_with_fts5_alone(
    collection: vectorhouse.Collection, tmp_path: Path, fusion: str
) -> None:
    _ready(collection)
    rng = np.random.default_rng(11)
    with vectorhouse.PersistentClient(path=tmp_path, settings=FTS5_ONLY) as plain:
        other = plain.get_collection("posts", embedding_function=None)
        for text in _queries(rng, 40)[:-1]:  # ("?!" has no words: hybrid needs one)
            vector = rng.standard_normal((1, 8)).astype(np.float32)
            args: dict[str, Any] = {
                "query_texts": [text],
                "query_embeddings": vector,
                "n_results": 10,
                "mode": "hybrid",
                "fusion": fusion,
            }
            assert collection.query(**args) == other.query(**args), text
    assert plain._engine.postings is not None and not plain._engine.postings._tables


def _hybrid_in_child(path: str, queue: Any) -> None:
    with vectorhouse.PersistentClient(path=path, settings=EAGER) as client:
        col = client.get_collection("posts", embedding_function=None)
        found = col.query(
            query_texts=["w1 w2"], query_embeddings=[[0.1] * 8], n_results=3, mode="hybrid"
        )
        queue.put(found["ids"])


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_runs_hybrid_queries_with_its_own_threads(
    collection: vectorhouse.Collection, tmp_path: Path
) -> None:
    import multiprocessing

    _ready(collection)
    args: dict[str, Any] = {"query_texts": ["w1 w2"], "query_embeddings": [[0.1] * 8]}
    expected = collection.query(**args, n_results=3, mode="hybrid")["ids"]  # pool started
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_hybrid_in_child, args=(str(tmp_path), queue))
    child.start()
    try:
        child.join(30)
        assert child.exitcode == 0  # (None: it hung waiting for a thread it does not have)
        assert queue.get(timeout=5) == expected
    finally:
        if child.is_alive():
            child.kill()


def test_a_table_too_large_for_the_memory_allowed_is_left_to_fts5(tmp_path: Path) -> None:
    settings = vectorhouse.Settings(
        lexical_postings_min_documents=1, lexical_postings_max_bytes=10_000
    )
    rng = np.random.default_rng(4)
    docs = _documents(rng, 500)
    with vectorhouse.PersistentClient(path=tmp_path, settings=settings) as client:
        col = client.create_collection("big", embedding_function=None)
        col.add(
            ids=[str(i) for i in range(len(docs))],
            embeddings=rng.standard_normal((len(docs), 4)).astype(np.float32),
            documents=docs,
        )
        _ready(col)
        cache = client._engine.postings
        assert cache is not None
        table = lexical.table_name(str(col.id))
        assert cache._tables[table][1] is None  # its version known, its postings not read
        for text in ["w1 w2", "w3"]:
            assert _served(col, text, 10) == _fts5(col, text, 10)
            assert cache._thread is None  # and not read again for this version


FILTERS: list[dict[str, Any]] = [
    {"where": {"n": 2}},
    {"where": {"n": {"$in": [0, 4]}}},
    {"where_document": {"$contains": "w5"}},
    {"where": {"n": {"$ne": 1}}, "where_document": {"$not_contains": "the"}},
    {"ids": [f"d{i}" for i in range(0, 400, 3)]},
    {"ids": ["d1", "d2", "absent"], "where": {"n": {"$gte": 1}}},
    {"where": {"n": 99}},  # passes nothing
]


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_filtered_queries_from_postings_equal_fts5_under_the_same_filter(
    collection: vectorhouse.Collection, tmp_path: Path, mode: str
) -> None:
    _ready(collection)
    rng = np.random.default_rng(12)
    calls = []
    original = Postings.rank

    def spy(self: Postings, *args: Any) -> Any:
        calls.append(args)
        return original(self, *args)

    with vectorhouse.PersistentClient(path=tmp_path, settings=FTS5_ONLY) as plain:
        other = plain.get_collection("posts", embedding_function=None)
        try:
            Postings.rank = spy  # type: ignore[method-assign]
            for filters in FILTERS:
                for text in _queries(rng, 8)[:-1]:
                    args: dict[str, Any] = {"query_texts": [text], "n_results": 15, "mode": mode}
                    if mode == "hybrid":
                        args["query_embeddings"] = rng.standard_normal((1, 8)).astype(np.float32)
                    got = collection.query(**args, **filters)
                    assert got == other.query(**args, **filters), (filters, text)
        finally:
            Postings.rank = original  # type: ignore[method-assign]
    assert len(calls) == len(FILTERS) * 14  # every one ranked from the postings
