"""Checks shared by the reliability suite: query results against numpy brute force
(tie-aware), the index's own content (searched through the graph), and a deterministic
registered embedding function for re-embedding.

The brute force here is plain numpy over what ``get(include=["embeddings"])`` returns,
independent of the project's own exact index.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import vectorhouse
from vectorhouse.embeddings.base import EmbeddingFunction, register

GRAPH_ONLY = vectorhouse.Settings(exact_search_max_candidates=0, exact_copy_max_vectors=0)
"""Settings that send every unfiltered query through the loaded graph (no exact path),
so that a query shows what the index holds."""

ATOL = 1e-4
RTOL = 1e-4


def distances(queries: np.ndarray, vectors: np.ndarray, space: str) -> np.ndarray:
    """Chroma's distances of every query to every vector: squared l2, 1 - cosine
    similarity, 1 - inner product."""
    q = np.asarray(queries, dtype=np.float64)
    v = np.asarray(vectors, dtype=np.float64)
    if space == "l2":
        return ((q[:, None, :] - v[None, :, :]) ** 2).sum(axis=2)
    if space == "cosine":
        qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-30)
        vn = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-30)
        return 1.0 - qn @ vn.T
    if space == "ip":
        return 1.0 - q @ v.T
    raise ValueError(space)


def assert_knn_equal(
    got_ids: Sequence[str],
    got_distances: Sequence[float],
    ids: Sequence[str],
    exact: np.ndarray,
    k: int,
    what: str,
) -> None:
    """One query's result equals exact search over ``ids`` (``exact``: their distances),
    ties at the k-th distance allowing either record."""
    want = min(k, len(ids))
    assert len(got_ids) == want, f"{what}: {len(got_ids)} results, expected {want}"
    assert len(set(got_ids)) == len(got_ids), f"{what}: a record returned twice"
    position = {rid: p for p, rid in enumerate(ids)}
    unknown = [rid for rid in got_ids if rid not in position]
    assert not unknown, f"{what}: returned records that do not exist: {unknown[:5]}"
    if not want:
        return
    true = np.array([exact[position[rid]] for rid in got_ids])
    np.testing.assert_allclose(got_distances, true, rtol=RTOL, atol=ATOL, err_msg=what)
    assert all(a <= b + ATOL for a, b in itertools.pairwise(got_distances)), (
        f"{what}: not nearest first"
    )
    kth = np.sort(exact)[want - 1]
    tol = ATOL + RTOL * abs(kth)
    must = {ids[p] for p in np.flatnonzero(exact < kth - tol)}
    missing = must - set(got_ids)
    assert not missing, f"{what}: missed nearer records {sorted(missing)[:5]}"
    too_far = [rid for rid, d in zip(got_ids, true, strict=True) if d > kth + tol]
    assert not too_far, f"{what}: returned records beyond the k-th distance: {too_far[:5]}"


def assert_queries_exact(
    col: vectorhouse.Collection,
    ids: Sequence[str],
    vectors: np.ndarray,
    metadatas: Sequence[Mapping[str, Any] | None] | None,
    space: str,
    rng: np.random.Generator,
    *,
    dim: int,
    k: int = 10,
    n_queries: int = 4,
    where_key: str | None = None,
) -> None:
    """Queries (plain, and filtered on ``where_key`` when given) equal numpy brute force
    over ``ids``/``vectors``, the records ``get`` returned."""
    queries = rng.standard_normal((n_queries, dim)).astype(np.float32)
    if not len(ids):
        assert col.query(query_embeddings=queries, n_results=k)["ids"] == [[]] * n_queries
        return
    exact = distances(queries, vectors, space)
    res = col.query(query_embeddings=queries, n_results=k, include=["distances"])
    for row in range(n_queries):
        assert_knn_equal(res["ids"][row], res["distances"][row], ids, exact[row], k, f"query {row}")
    if where_key is None or metadatas is None:
        return
    value = (metadatas[int(rng.integers(len(ids)))] or {}).get(where_key)
    keep = [p for p, m in enumerate(metadatas) if (m or {}).get(where_key) == value]
    res = col.query(
        query_embeddings=queries[:2], n_results=k, where={where_key: value}, include=["distances"]
    )
    sub_ids = [ids[p] for p in keep]
    for row in range(2):
        assert_knn_equal(
            res["ids"][row],
            res["distances"][row],
            sub_ids,
            exact[row][keep],
            k,
            f"query {row} where {where_key}={value!r}",
        )


def assert_graph_holds(
    path: Path, name: str, ids: Sequence[str], vectors: np.ndarray, space: str, seed: int
) -> None:
    """Through the graph alone, a query for every record returns exactly the stored
    records at their exact distances: the index holds what storage holds."""
    rng = np.random.default_rng(seed)
    with vectorhouse.PersistentClient(path=path, settings=GRAPH_ONLY) as client:
        col = client.get_collection(name)
        if not len(ids):
            assert col.count() == 0
            return
        queries = rng.standard_normal((2, vectors.shape[1])).astype(np.float32)
        exact = distances(queries, vectors, space)
        res = col.query(query_embeddings=queries, n_results=len(ids), include=["distances"])
        for row in range(2):
            assert_knn_equal(
                res["ids"][row],
                res["distances"][row],
                ids,
                exact[row],
                len(ids),
                f"graph query {row}",
            )


@register
class GenerationEmbeddingFunction(EmbeddingFunction):
    """Deterministic vectors from a text and a generation number: each generation is a
    different "model", for re-embedding."""

    def __init__(self, generation: int = 0, dim: int = 8) -> None:
        self.generation = generation
        self.dim = dim

    def __call__(self, input: list[str]) -> list[np.ndarray]:
        return [self.vector(text) for text in input]

    def vector(self, text: str) -> np.ndarray:
        digest = hashlib.sha256(f"{self.generation}|{text}".encode()).digest()
        seed = int.from_bytes(digest[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)

    @staticmethod
    def name() -> str:
        return "reliability-generation"

    def get_config(self) -> dict[str, Any]:
        return {"generation": self.generation, "dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> GenerationEmbeddingFunction:
        return GenerationEmbeddingFunction(int(config["generation"]), int(config["dim"]))
