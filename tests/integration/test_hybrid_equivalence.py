"""Lexical and hybrid queries give what the straightforward computation gives: each
retriever's list on its own, fused by adding up every record's contributions, and the
records read one by one; and remembered term counts never change a lexical result,
through adds, updates, deletes, a rebuilt table and a second connection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorhouse
from vectorhouse.engine import hybrid, lexical

WORDS = [f"w{i}" for i in range(60)]
COMMON = ["the", "a", "of"]  # in most documents: left out of queries that have others


def _documents(rng: np.random.Generator, n: int, start: int = 0) -> dict[str, str]:
    docs = {}
    for i in range(start, start + n):
        words = list(rng.choice(WORDS, size=int(rng.integers(2, 25))))
        words += [w for w in COMMON if rng.random() < 0.8]
        rng.shuffle(words)
        docs[f"d{i}"] = " ".join(words)
    return docs


def _queries(rng: np.random.Generator, n: int) -> list[str]:
    out = []
    for _ in range(n):
        words = list(rng.choice(WORDS + COMMON, size=int(rng.integers(1, 6))))
        out.append(" ".join(words))
    return [*out, "the", "the a of", "nothing here", "w1 the"]


def _collection(path: Path, seed: int = 15) -> tuple[vectorhouse.Collection, dict[str, str]]:
    rng = np.random.default_rng(seed)
    docs = _documents(rng, 300)
    col = vectorhouse.PersistentClient(path).create_collection(
        "equiv", embedding_function=None, metadata={"hnsw:space": "cosine"}
    )
    vectors = rng.standard_normal((len(docs), 16)).astype(np.float32)
    col.add(
        ids=list(docs),
        embeddings=vectors,
        documents=list(docs.values()),
        metadatas=[{"n": i % 7} for i in range(len(docs))],
    )
    return col, docs


def _uncached_lexical(col: vectorhouse.Collection, text: str, k: int) -> list[Any]:
    engine = col._engine
    with engine.lock, engine.store.tx.snapshot():
        rowids, scores = lexical.search(engine.store.conn, str(col.id), text, k)
    return list(zip(rowids.tolist(), scores.tolist(), strict=True))


def _cached_lexical(col: vectorhouse.Collection, text: str, k: int) -> list[Any]:
    ((rowids, scores),) = hybrid.lexical_ranked(col._engine, str(col.id), [text], k, None, None)
    return list(zip(rowids.tolist(), scores.tolist(), strict=True))


def _straightforward(
    col: vectorhouse.Collection, text: str, vector: np.ndarray, n: int, fusion: hybrid.Fusion
) -> tuple[list[str], list[float], list[str | None]]:
    """Both lists from the public ranking functions, fused one record at a time, and
    the records read with get()."""
    engine, cid = col._engine, str(col.id)
    depth = max(n, fusion.candidates)
    d_ids, d_scores = hybrid.dense_ranked(engine, cid, vector[None, :], depth, None, None)[0]
    l_ids, l_scores = hybrid.lexical_ranked(engine, cid, [text], depth, None, None)[0]
    total: dict[int, float] = {}
    w = fusion.weight
    if fusion.method == "weighted":
        lists = [(d_ids, d_scores, w), (l_ids, l_scores, 1.0 - w)]
        for ids, scores, weight in lists:
            normalised = hybrid._normalised(scores).tolist()
            for x, value in zip(ids.tolist(), normalised, strict=True):
                total[x] = total.get(x, 0.0) + weight * value
    else:
        for ids, weight in ((d_ids, 2 * w), (l_ids, 2 * (1.0 - w))):
            for rank, x in enumerate(ids.tolist()):
                total[x] = total.get(x, 0.0) + weight / (fusion.k + rank)
    best = sorted(total.items(), key=lambda item: (-item[1], item[0]))[:n]
    by_rowid = {}
    for rowid, _ in best:
        rows = engine.store.read(cid, dimension=None, rowids=[rowid])
        assert rows.documents is not None
        by_rowid[rowid] = (rows.ids[0], rows.documents[0])
    return (
        [by_rowid[r][0] for r, _ in best],
        [-s for _, s in best],
        [by_rowid[r][1] for r, _ in best],
    )


@pytest.mark.parametrize(
    "fusion",
    [hybrid.Fusion(), hybrid.Fusion("rrf"), hybrid.Fusion(dense_weight=0.3, candidates=20)],
    ids=["weighted", "rrf", "weighted-0.3-20"],
)
def test_hybrid_query_equals_fusing_each_list_by_hand(
    tmp_path: Path, fusion: hybrid.Fusion
) -> None:
    col, _ = _collection(tmp_path / "db")
    rng = np.random.default_rng(3)
    fields = {"method": fusion.method, "dense_weight": fusion.dense_weight}
    fields["candidates"] = fusion.candidates
    for n in (1, 10, 40):
        for text in _queries(rng, 15):
            vector = rng.standard_normal(16).astype(np.float32)
            got = col.query(
                query_texts=[text],
                query_embeddings=[vector],
                n_results=n,
                mode="hybrid",
                fusion=fields,
                include=["documents", "distances"],
            )
            ids, scores, documents = _straightforward(col, text, vector, n, fusion)
            assert got["ids"][0] == ids, text
            assert got["distances"][0] == scores, text
            assert got["documents"][0] == documents, text


def test_lexical_query_equals_the_ranked_list_with_its_records(tmp_path: Path) -> None:
    col, docs = _collection(tmp_path / "db")
    for text in _queries(np.random.default_rng(4), 30):
        got = col.query(query_texts=[text], mode="lexical", n_results=12)
        expected = _uncached_lexical(col, text, 12)
        assert len(got["ids"][0]) == len(expected)
        rowids = col._engine.store.rowids_for(str(col.id), got["ids"][0])
        assert [rowids[i] for i in got["ids"][0]] == [r for r, _ in expected], text
        assert got["distances"][0] == [s for _, s in expected]
        assert got["documents"][0] == [docs[i] for i in got["ids"][0]]


def test_remembered_term_counts_never_change_lexical_results(tmp_path: Path) -> None:
    col, docs = _collection(tmp_path / "db")
    rng = np.random.default_rng(5)
    queries = _queries(rng, 40)

    def same_everywhere() -> None:
        for text in queries:
            for k in (5, 50):
                assert _cached_lexical(col, text, k) == _uncached_lexical(col, text, k), text

    same_everywhere()
    same_everywhere()  # now from remembered counts
    # "w7" goes from a few documents to most of them, "the" from most to a minority.
    more = {f"x{i}": f"w7 w7 w{i % 60} filler" for i in range(400)}
    col.add(ids=list(more), documents=list(more.values()), embeddings=np.ones((400, 16)))
    same_everywhere()
    col.update(
        ids=[f"x{i}" for i in range(0, 400, 2)],
        documents=["plain words"] * 200,
        embeddings=np.ones((200, 16)),
    )
    same_everywhere()
    col.delete(ids=[f"x{i}" for i in range(1, 400, 2)] + list(docs)[:100])
    same_everywhere()
    # Another connection writes: this one sees it at its next snapshot.
    other = vectorhouse.PersistentClient(tmp_path / "db").get_collection("equiv")
    other.add(ids=["y"], documents=["w7 w8 w9"], embeddings=np.ones((1, 16)))
    same_everywhere()
    assert hybrid.rebuild_lexical(col._engine, str(col.id)) > 0
    same_everywhere()


def test_reads_inside_a_write_transaction_do_not_use_remembered_counts(tmp_path: Path) -> None:
    col, _ = _collection(tmp_path / "db")
    engine = col._engine
    assert hybrid._term_counts(engine) is engine.term_counts
    with engine.lock, engine.store.tx.atomic():
        assert hybrid._term_counts(engine) is None
        with engine.store.tx.snapshot():
            assert hybrid._term_counts(engine) is None
    assert hybrid._term_counts(engine) is engine.term_counts
