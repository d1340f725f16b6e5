"""The flat index and exact_search against a float64 brute force, in every space."""

from __future__ import annotations

import numpy as np
import pytest

from vectorhouse.index import FlatIndex, IndexParams, SearchResult, exact_search, normalize_rows
from vectorhouse.index import flat as flat_module

SPACES = ["l2", "cosine", "ip"]


def brute_force(
    queries: np.ndarray, vectors: np.ndarray, labels: np.ndarray, space: str
) -> np.ndarray:
    """All distances, float64, straight from the definitions."""
    q = queries.astype(np.float64)
    v = vectors.astype(np.float64)
    if space == "l2":
        return np.asarray(((q[:, None, :] - v[None, :, :]) ** 2).sum(-1))
    if space == "cosine":
        qn = np.linalg.norm(q, axis=1, keepdims=True)
        vn = np.linalg.norm(v, axis=1, keepdims=True)
        qn[qn == 0] = 1
        vn[vn == 0] = 1
        return np.asarray(1 - (q / qn) @ (v / vn).T)
    return np.asarray(1 - q @ v.T)


def assert_exact(
    res: SearchResult,
    queries: np.ndarray,
    vectors: np.ndarray,
    labels: np.ndarray,
    k: int,
    space: str,
    tol: float = 1e-4,
) -> None:
    """Each row is the k best by (distance, label), with distances within ``tol``."""
    dist = brute_force(queries, vectors, labels, space)
    assert len(res.labels) == len(queries)
    for i in range(len(queries)):
        order = np.lexsort((labels, dist[i]))[: min(k, len(labels))]
        got_labels, got_dist = res.labels[i], res.distances[i]
        assert got_labels.dtype == np.int64 and got_dist.dtype == np.float32
        assert len(got_labels) == len(order), f"query {i}"
        np.testing.assert_allclose(got_dist, dist[i][order], atol=tol, rtol=tol)
        assert np.all(np.diff(got_dist) >= 0)
        # Labels may differ only among candidates tied within rounding.
        want = dict(zip(labels.tolist(), dist[i].tolist(), strict=True))
        for lab, d in zip(got_labels.tolist(), got_dist.tolist(), strict=True):
            assert abs(want[lab] - d) <= tol * max(1.0, abs(d)), (i, lab)
        if len(order):
            assert set(got_labels.tolist()) >= {
                lab for lab in labels[order].tolist() if want[lab] < dist[i][order][-1] - tol
            }


def random_data(
    space: str, n: int = 300, d: int = 16, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, d)).astype(np.float32)
    if space == "ip":
        vectors *= rng.uniform(0.5, 1.5, size=(n, 1)).astype(np.float32)
    labels = rng.choice(10**12, size=n, replace=False).astype(np.int64)
    queries = rng.normal(size=(7, d)).astype(np.float32)
    return vectors, labels, queries


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("k", [1, 10, 299, 300, 1000])
def test_flat_search_is_exact(space: str, k: int) -> None:
    vectors, labels, queries = random_data(space)
    index = FlatIndex(IndexParams(space, 16), capacity=1)
    index.add(labels, vectors)
    assert_exact(index.search(queries, k), queries, vectors, labels, k, space)


@pytest.mark.parametrize("space", SPACES)
def test_exact_search_function_matches_brute_force(space: str) -> None:
    vectors, labels, queries = random_data(space, seed=1)
    res = exact_search(queries, vectors, labels, 10, space)
    assert_exact(res, queries, vectors, labels, 10, space)


@pytest.mark.parametrize("space", SPACES)
def test_allowed_restricts_to_present_allowed_labels(space: str) -> None:
    vectors, labels, queries = random_data(space, seed=2)
    index = FlatIndex(IndexParams(space, 16))
    index.add(labels, vectors)
    rng = np.random.default_rng(3)
    for size in (1, 5, 30, 250):
        pick = rng.choice(len(labels), size=size, replace=False)
        absent = np.array([-5, 10**13], np.int64)  # never added
        allowed = np.concatenate([labels[pick], labels[pick[:2]], absent])  # with repeats
        res = index.search(queries, 10, allowed=allowed)
        assert_exact(res, queries, vectors[pick], labels[pick], 10, space)


def test_allowed_with_nothing_present_gives_empty_rows() -> None:
    index = FlatIndex(IndexParams("l2", 2))
    index.add(np.array([1, 2]), np.ones((2, 2), np.float32))
    res = index.search(np.zeros((3, 2), np.float32), 5, allowed=np.array([7], np.int64))
    assert [r.tolist() for r in res.labels] == [[], [], []]
    res = index.search(np.zeros((1, 2), np.float32), 5, allowed=np.array([], np.int64))
    assert res.labels[0].size == 0 and res.distances[0].size == 0


def test_empty_index_and_zero_k() -> None:
    index = FlatIndex(IndexParams("cosine", 3))
    res = index.search(np.ones((2, 3), np.float32), 4)
    assert [r.size for r in res.labels] == [0, 0]
    index.add(np.array([1]), np.ones((1, 3), np.float32))
    assert index.search(np.ones((1, 3), np.float32), 0).labels[0].size == 0
    assert index.search(np.empty((0, 3), np.float32), 3).labels == []


@pytest.mark.parametrize("space", SPACES)
def test_ties_are_broken_by_smaller_label(space: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # 40 copies of one vector and 40 of another, labels shuffled; tiny blocks so the
    # tie straddles the argpartition cut in every block of queries.
    monkeypatch.setattr(flat_module, "_BLOCK_CELLS", 100)
    rng = np.random.default_rng(4)
    base = rng.normal(size=(2, 8)).astype(np.float32)
    vectors = np.repeat(base, 40, axis=0)
    labels = rng.permutation(np.arange(1000, 1080)).astype(np.int64)
    index = FlatIndex(IndexParams(space, 8))
    index.add(labels, vectors)
    queries = np.concatenate([base[:1], base[:1] * 2, base[1:]])
    res = index.search(queries, 7)
    for row, query_base in zip(res.labels, [0, 0, 1], strict=True):
        tied = np.sort(labels[query_base * 40 : query_base * 40 + 40])
        assert row.tolist() == tied[:7].tolist()
    res2 = exact_search(queries, vectors, labels, 7, space)
    assert [r.tolist() for r in res2.labels] == [r.tolist() for r in res.labels]


def test_cosine_zero_vector_has_distance_one_not_nan() -> None:
    index = FlatIndex(IndexParams("cosine", 3))
    index.add(np.array([1, 2]), np.array([[0, 0, 0], [1, 0, 0]], np.float32))
    res = index.search(np.array([[0, 0, 0], [2, 0, 0]], np.float32), 2)
    assert res.distances[0].tolist() == [1.0, 1.0]
    assert res.labels[1].tolist() == [2, 1]
    np.testing.assert_allclose(res.distances[1], [0.0, 1.0], atol=1e-6)
    assert not np.isnan(normalize_rows(np.zeros((1, 3), np.float32))).any()


def test_l2_distance_of_identical_vectors_is_zero() -> None:
    vectors = np.array([[1000.5, -2000.25, 3.0]], np.float32)
    res = exact_search(vectors, vectors, np.array([9]), 1, "l2")
    assert res.distances[0].tolist() == [0.0]


def test_remove_swaps_last_row_in_and_bookkeeping_holds() -> None:
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(50, 4)).astype(np.float32)
    labels = np.arange(100, 150, dtype=np.int64)
    index = FlatIndex(IndexParams("l2", 4), capacity=2)
    index.add(labels, vectors)
    gone = np.array([100, 149, 120, 120, 7], np.int64)  # first, last, middle, repeat, absent
    index.remove(gone)
    keep = ~np.isin(labels, gone)
    assert len(index) == 47
    assert index.labels().tolist() == labels[keep].tolist()
    assert index.contains(np.array([100, 101, 149, 7])).tolist() == [False, True, False, False]
    np.testing.assert_array_equal(index.get_vectors(labels[keep]), vectors[keep])
    assert_exact(index.search(vectors[:5], 50), vectors[:5], vectors[keep], labels[keep], 50, "l2")
    index.remove(labels)
    assert len(index) == 0 and index.search(vectors[:1], 3).labels[0].size == 0
    assert index.deleted_fraction == 0.0


def test_add_replaces_existing_label() -> None:
    index = FlatIndex(IndexParams("ip", 2))
    index.add(np.array([1, 2]), np.array([[1, 0], [0, 1]], np.float32))
    index.add(np.array([2, 3]), np.array([[5, 0], [0, 2]], np.float32))
    assert len(index) == 3
    np.testing.assert_array_equal(index.get_vectors(np.array([2])), [[5, 0]])
    res = index.search(np.array([[1, 0]], np.float32), 3)
    assert res.labels[0].tolist() == [2, 1, 3]
    assert res.distances[0].tolist() == [-4.0, 0.0, 1.0]


def test_cosine_get_vectors_are_normalised() -> None:
    index = FlatIndex(IndexParams("cosine", 2))
    index.add(np.array([1]), np.array([[3, 4]], np.float32))
    np.testing.assert_allclose(index.get_vectors(np.array([1])), [[0.6, 0.8]], rtol=1e-6)


def test_large_labels_round_trip() -> None:
    big = np.array([2**62 + 1, 2**40, 1], np.int64)
    index = FlatIndex(IndexParams("l2", 1))
    index.add(big, np.array([[0], [1], [2]], np.float32))
    assert index.search(np.array([[0]], np.float32), 3).labels[0].tolist() == big.tolist()
    assert index.search(np.array([[0]], np.float32), 1, allowed=big[1:]).labels[0].tolist() == [
        2**40
    ]
