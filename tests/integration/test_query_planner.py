"""Exact search for small candidate sets, the HNSW graph for large ones, and a query
always returns min(n_results, matching records) results."""

from __future__ import annotations

import numpy as np
import pytest

import vectorhouse
from vectorhouse.index.flat import exact_search

N, DIM = 12_000, 24


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(99)
    centres = rng.standard_normal((60, DIM)).astype(np.float32)
    labels = rng.integers(0, 60, N)
    vectors = centres[labels] + 0.35 * rng.standard_normal((N, DIM)).astype(np.float32)
    return vectors, labels


def _collection(
    data: tuple[np.ndarray, np.ndarray], settings: vectorhouse.Settings | None = None
) -> vectorhouse.Collection:
    vectors, labels = data
    col = vectorhouse.Client(settings).create_collection("planner", embedding_function=None)
    col.add(
        ids=[f"r{i}" for i in range(N)],
        embeddings=vectors,
        metadatas=[{"cluster": int(c), "half": i % 2 == 0} for i, c in enumerate(labels)],
    )
    return col


def _recall(got: list[list[str]], want: list[np.ndarray]) -> float:
    hits = sum(len({f"r{x}" for x in w} & set(g)) for g, w in zip(got, want, strict=True))
    return hits / sum(len(w) for w in want)


def test_graph_queries_reach_recall_and_filtered_ones_are_complete(data) -> None:
    vectors, labels = data
    col = _collection(data)
    queries = vectors[:100] + 0.05
    everyone = np.arange(N, dtype=np.int64)
    want = exact_search(queries, vectors, everyone, 10, "l2").labels
    got = col.query(query_embeddings=queries, n_results=10, include=[])["ids"]
    assert _recall(got, want) >= 0.95

    half = everyone[everyone % 2 == 0]
    want = exact_search(queries, vectors[half], half, 10, "l2").labels
    res = col.query(query_embeddings=queries, n_results=10, where={"half": True}, include=[])
    assert all(len(ids) == 10 for ids in res["ids"])
    assert all(int(i[1:]) % 2 == 0 for ids in res["ids"] for i in ids)
    assert _recall(res["ids"], want) >= 0.95

    small = everyone[labels == 7]
    want = exact_search(queries, vectors[small], small, 10, "l2").labels
    res = col.query(query_embeddings=queries, n_results=10, where={"cluster": 7}, include=[])
    assert _recall(res["ids"], want) == 1.0  # small candidate set: exact


def test_a_filter_that_cuts_the_graph_still_returns_every_match(data) -> None:
    vectors, labels = data
    # No exact shortcuts: force the graph, so only the fallback can save the query.
    settings = vectorhouse.Settings(exact_search_max_candidates=0, exact_copy_max_vectors=0)
    col = _collection(data, settings)
    far = [f"r{i}" for i in np.flatnonzero(labels == 3)[:2]] + ["r5"]
    res = col.query(query_embeddings=vectors[labels == 11][:3], n_results=10, ids=far, include=[])
    assert [sorted(ids) for ids in res["ids"]] == [sorted(far)] * 3
    res = col.query(query_embeddings=vectors[:2], n_results=N + 5, include=[])
    assert [len(ids) for ids in res["ids"]] == [N, N]


def _no_copy(**changes: float) -> vectorhouse.Settings:
    # No exact copy of the whole collection, and the graph for any new filter over 100;
    # a repeated one is searched exactly whatever share of the records it passes.
    changes = {"exact_cache_max_fraction": 1.0, **changes}
    return vectorhouse.Settings(
        exact_search_max_candidates=100, exact_copy_max_vectors=0, **changes
    )


def test_a_repeated_filter_is_searched_exactly_from_its_cached_block(data) -> None:
    vectors, _ = data
    col = _collection(data, _no_copy())
    half = np.arange(0, N, 2, dtype=np.int64)
    queries = vectors[1:101:2] + 0.05  # odd records: none of them passes the filter
    want = exact_search(queries, vectors[half], half, 10, "l2").labels
    col.query(query_embeddings=queries, n_results=10, where={"half": True}, include=[])
    res = col.query(query_embeddings=queries, n_results=10, where={"half": True}, include=[])
    assert res["ids"] == [[f"r{x}" for x in w] for w in want]
    assert col._engine._selections.block_bytes >= len(half) * DIM * 4


def test_a_repeated_filter_passing_a_large_share_stays_on_the_graph(data) -> None:
    vectors, _ = data
    col = _collection(data, _no_copy(exact_cache_max_fraction=0.2))
    half = np.arange(0, N, 2, dtype=np.int64)
    queries = vectors[:100] + 0.05
    want = exact_search(queries, vectors[half], half, 10, "l2").labels
    for _ in range(3):
        res = col.query(query_embeddings=queries, n_results=10, where={"half": True}, include=[])
        assert all(len(ids) == 10 for ids in res["ids"])
        assert all(int(i[1:]) % 2 == 0 for ids in res["ids"] for i in ids)
        assert _recall(res["ids"], want) >= 0.95
    assert col._engine._selections.block_bytes == 0  # no block: 50% > 20%
    cluster = col.query(query_embeddings=queries[:1], n_results=10, where={"cluster": 7})
    col.query(query_embeddings=queries[:1], n_results=10, where={"cluster": 7})
    assert len(cluster["ids"][0]) == 10
    assert col._engine._selections.block_bytes > 0  # about 1/60 of the records: kept


def test_a_write_retires_the_cached_block_of_a_filter(data) -> None:
    vectors, _ = data
    col = _collection(data, _no_copy())
    query = vectors[1:2] + 0.05
    for _ in range(2):
        col.query(query_embeddings=query, n_results=1, where={"half": True}, include=[])
    col.add(ids=["new"], embeddings=query, metadatas=[{"half": True}])
    for _ in range(2):  # the new record is found both before and after the block is rebuilt
        res = col.query(query_embeddings=query, n_results=1, where={"half": True}, include=[])
        assert res["ids"] == [["new"]]


def test_filters_beyond_the_block_budget_stay_on_the_graph(data) -> None:
    vectors, _ = data
    col = _collection(data, _no_copy(exact_cache_max_bytes=1_000))
    for _ in range(3):
        res = col.query(query_embeddings=vectors[:5], n_results=10, where={"half": True})
        assert all(len(ids) == 10 for ids in res["ids"])
    assert col._engine._selections.block_bytes == 0


def test_a_filter_on_a_small_collection_keeps_its_candidates_for_the_next_query() -> None:
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((1_000, DIM)).astype(np.float32)
    col = vectorhouse.Client().create_collection("small", embedding_function=None)
    col.add(
        ids=[f"r{i}" for i in range(1_000)],
        embeddings=vectors,
        metadatas=[{"half": i % 2 == 0} for i in range(1_000)],
    )
    half = np.arange(0, 1_000, 2, dtype=np.int64)
    want = exact_search(vectors[:3], vectors[half], half, 5, "l2").labels
    for _ in range(2):
        res = col.query(query_embeddings=vectors[:3], n_results=5, where={"half": True}, include=[])
        assert res["ids"] == [[f"r{x}" for x in w] for w in want]
    assert col._engine._selections.block_bytes >= len(half) * DIM * 4
