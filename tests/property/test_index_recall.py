"""GraphIndex against the exact FlatIndex: recall@10 on 20,000 vectors in each space, and a
state machine of adds, replaces, removes, (filtered) searches and reopening as a
memory-mapped view on small indexes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from vectorhouse.index import FlatIndex, GraphIndex, IndexParams, SearchResult

N, DIM, N_QUERIES, K = 20_000, 64, 300, 10
MIN_RECALL = 0.95


def embedding_like(n: int, space: str, rng: np.random.Generator) -> np.ndarray:
    """Vectors around 100 centres with wide spread (recall is far from trivially 1);
    for ``ip`` the norms vary between 0.7 and 1.3, like real embedding models give."""
    centres = rng.normal(size=(100, DIM))
    x = centres[rng.integers(0, 100, n)] + rng.normal(scale=1.5, size=(n, DIM))
    if space == "ip":
        x *= rng.uniform(0.7, 1.3, size=(n, 1)) / np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def recall(got: SearchResult, want: SearchResult) -> float:
    hits = sum(
        len(set(g.tolist()) & set(w.tolist())) for g, w in zip(got.labels, want.labels, strict=True)
    )
    return hits / sum(len(w) for w in want.labels)


@pytest.mark.slow
@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_recall_at_10_against_exact_search(space: str) -> None:
    rng = np.random.default_rng(42)
    data = embedding_like(N + N_QUERIES, space, rng)
    vectors, queries = data[:N], data[N:]
    labels = rng.choice(2**40, size=N, replace=False).astype(np.int64)
    params = IndexParams(space, DIM)
    hnsw, flat = GraphIndex(params), FlatIndex(params)
    hnsw.add(labels, vectors)
    flat.add(labels, vectors)
    r_plain = recall(hnsw.search(queries, K), flat.search(queries, K))

    # Remove 10%, give 5% new vectors: the graph keeps deleted nodes and repairs updates.
    gone = labels[rng.choice(N, N // 10, replace=False)]
    moved = labels[rng.choice(N, N // 20, replace=False)]
    fresh = embedding_like(len(moved), space, rng)
    for index in (hnsw, flat):
        index.remove(gone)
        index.add(moved, fresh)
    r_churn = recall(hnsw.search(queries, K), flat.search(queries, K))

    allowed = labels[rng.choice(N, N // 10, replace=False)]
    r_filtered = recall(hnsw.search(queries, K, allowed), flat.search(queries, K, allowed))
    print(
        f"{space}: recall@10 {r_plain:.4f}, after churn {r_churn:.4f}, 10% filter {r_filtered:.4f}"
    )
    assert min(r_plain, r_churn, r_filtered) >= MIN_RECALL


class GraphAgainstFlat(RuleBasedStateMachine):
    """Adds, replaces, removes, searches and reopening as a view on a few dozen labels,
    checked against the exact index. Every returned label must be live and allowed, with
    its distance (computed on float16 vectors: the engine re-ranks with float32), nearest
    first. While no label has been replaced, a search with ef >= n visits the whole graph
    and must agree with exact search. A replacement can cut a node off the graph, so
    after one a row may come back short (the engine's cue to search exactly) or miss a
    neighbour."""

    @initialize(space=st.sampled_from(["l2", "cosine", "ip"]), seed=st.integers(0, 2**32 - 1))
    def start(self, space: str, seed: int) -> None:
        params = IndexParams(space, 4, ef_search=100)
        self.rng = np.random.default_rng(seed)
        self.hnsw, self.flat = GraphIndex(params), FlatIndex(params)
        self.replaced = False
        self.folder = Path(tempfile.mkdtemp(prefix="graph-sm-"))
        self.saves = 0

    @rule()
    def reopen_as_view(self) -> None:
        self.saves += 1
        path = self.folder / f"{self.saves}.usearch"
        self.hnsw.save(path)
        self.hnsw = GraphIndex.load(path, self.hnsw.params)
        assert self.hnsw.is_view

    @rule(labels=st.lists(st.integers(0, 60), min_size=1, max_size=20), zero=st.booleans())
    def add(self, labels: list[int], zero: bool) -> None:
        arr = np.array(list(dict.fromkeys(labels)), np.int64)
        self.replaced |= bool(self.hnsw.contains(arr).any())
        vectors = self.rng.normal(size=(len(arr), 4)).astype(np.float32)
        if zero:
            vectors[0] = 0
        self.hnsw.add(arr, vectors)
        self.flat.add(arr, vectors)

    @rule(labels=st.lists(st.integers(0, 70), max_size=15))
    def remove(self, labels: list[int]) -> None:
        self.hnsw.remove(np.array(labels, np.int64))
        self.flat.remove(np.array(labels, np.int64))

    @rule(k=st.integers(0, 70), allowed=st.none() | st.lists(st.integers(0, 70), max_size=30))
    def search(self, k: int, allowed: list[int] | None) -> None:
        queries = self.rng.normal(size=(3, 4)).astype(np.float32)
        allow = None if allowed is None else np.array(allowed, np.int64)
        got, want = self.hnsw.search(queries, k, allow), self.flat.search(queries, k, allow)
        candidates = set(self.flat.labels().tolist())
        if allowed is not None:
            candidates &= set(allowed)
        for query, g_lab, g_dist, w_dist in zip(
            queries, got.labels, got.distances, want.distances, strict=True
        ):
            assert set(g_lab.tolist()) <= candidates and len(set(g_lab.tolist())) == len(g_lab)
            assert len(g_lab) <= len(w_dist) == min(k, len(candidates))
            assert np.all(np.diff(g_dist) >= 0)
            exact = np.sort(self.flat.search(query[None], len(g_lab), g_lab).distances[0])
            np.testing.assert_allclose(np.sort(g_dist), exact, atol=2e-2, rtol=2e-2)
            if not self.replaced:
                np.testing.assert_allclose(g_dist, w_dist, atol=2e-2, rtol=2e-2)

    @invariant()
    def same_contents(self) -> None:
        assert len(self.hnsw) == len(self.flat)
        live = self.flat.labels()
        assert self.hnsw.labels().tolist() == live.tolist()
        probe = np.arange(-1, 72, dtype=np.int64)
        assert self.hnsw.contains(probe).tolist() == self.flat.contains(probe).tolist()
        np.testing.assert_allclose(
            self.hnsw.get_vectors(live),
            self.hnsw.stored_form(self.flat.get_vectors(live)),
            atol=1e-3,
        )
        slots = len(self.hnsw) + self.hnsw.deleted_count
        assert self.hnsw.deleted_fraction == (self.hnsw.deleted_count / slots if slots else 0)


TestGraphAgainstFlat = GraphAgainstFlat.TestCase
TestGraphAgainstFlat.settings = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    derandomize=True,  # the same cases every run, as the other property tests
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.parametrize("allowed", [[0, 0], [0, 5], [1, 1, 9], [5, 6], [0, 1]])
def test_a_filter_naming_a_label_twice_or_absent_labels_still_gets_full_rows(
    allowed: list[int],
) -> None:
    rng = np.random.default_rng(3)
    params = IndexParams("l2", 4)
    for seed in range(30):
        hnsw, flat = GraphIndex(params), FlatIndex(params)
        vectors = np.random.default_rng(seed).normal(size=(2, 4)).astype(np.float32)
        for index in (hnsw, flat):
            index.add(np.array([0, 1]), vectors)
        queries = rng.normal(size=(3, 4)).astype(np.float32)
        got = hnsw.search(queries, 1, np.array(allowed, np.int64))
        want = flat.search(queries, 1, np.array(allowed, np.int64))
        assert [g.tolist() for g in got.labels] == [w.tolist() for w in want.labels]
