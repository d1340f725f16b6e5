"""Exact nearest-neighbour search with numpy: the flat index and :func:`exact_search`.

The flat index is the reference every approximate backend is tested against, and the
engine uses :func:`exact_search` for small candidate sets (a selective ``where``).

Search is done in two steps. A float32 matrix product over blocks of queries ranks
every candidate and ``np.argpartition`` keeps the best ``k``, plus every candidate
within a small rounding tolerance of the ``k``-th. Then the distances of those few
are recomputed in float64 straight from the vectors, and they are ordered by
``(distance, label)``. So returned distances do not suffer from the cancellation of
``|q|^2 + |v|^2 - 2 q.v``, and ties are broken by the smaller label, every time.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vectorhouse.index.base import (
    Distances,
    IndexLoadError,
    IndexParams,
    Labels,
    SearchResult,
    Vectors,
)

_BLOCK_CELLS = 1 << 22
"""At most this many query x candidate distances are held at once (16 MiB of float32)."""

_EMPTY_LABELS: Labels = np.empty(0, np.int64)
_EMPTY_DISTANCES: Distances = np.empty(0, np.float32)


def normalize_rows(vectors: Vectors) -> Vectors:
    """Return ``vectors`` scaled to unit length; an all-zero row stays zero (norm taken as 1).

    >>> normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(vectors / norms, dtype=np.float32)


def exact_search(
    queries: Vectors, vectors: Vectors, labels: Labels, k: int, space: str
) -> SearchResult:
    """Exact ``k`` nearest ``labels`` of each query among ``vectors`` (row ``i`` is ``labels[i]``).

    Rows hold ``min(k, len(labels))`` entries, nearest first, ties by smaller label.

    >>> vecs = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], np.float32)
    >>> res = exact_search(vecs[:1], vecs, np.array([10, 11, 12]), 2, "l2")
    >>> res.labels[0].tolist(), res.distances[0].tolist()
    ([10, 11], [0.0, 1.0])
    """
    return ExactBlock.build(labels, vectors, space).search(queries, k)


def exact_rank(
    query: Vectors, vectors: Vectors, labels: Labels, k: int, space: str
) -> tuple[Labels, Distances]:
    """The ``k`` nearest of a few candidates to one query, with the distances exact
    search gives them (float64, from the vectors), ties by smaller label.

    >>> vecs = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], np.float32)
    >>> lab, dist = exact_rank(vecs[1], vecs, np.array([10, 11, 12]), 2, "l2")
    >>> lab.tolist(), dist.tolist()
    ([11, 10], [0.0, 1.0])
    """
    if len(labels) == 0:
        return _EMPTY_LABELS.copy(), _EMPTY_DISTANCES.copy()
    if space == "cosine":
        query = normalize_rows(query[None, :])[0]
        vectors = normalize_rows(vectors)
    dist = _exact_distances(query, vectors, space)
    order = np.lexsort((labels, dist))[:k]
    return np.asarray(labels[order], np.int64), dist[order].astype(np.float32)


class ExactBlock:
    """Candidates prepared once (normalised for cosine, squared norms computed) so that
    repeated exact searches over the same set skip that work.

    >>> vecs = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    >>> block = ExactBlock.build(np.array([7, 8]), vecs, "cosine")
    >>> block.search(np.array([[2.0, 0.1]], np.float32), 1).labels[0].tolist()
    [8]
    """

    def __init__(
        self, labels: Labels, vectors: Vectors, sqnorms: npt.NDArray[np.float32], space: str
    ) -> None:
        self.labels = labels
        self.vectors = vectors
        self.sqnorms = sqnorms
        self.space = space

    @classmethod
    def build(cls, labels: Labels, vectors: Vectors, space: str) -> ExactBlock:
        """Prepare ``vectors`` (row ``i`` is ``labels[i]``) for exact search in ``space``."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if space == "cosine":
            vectors = normalize_rows(vectors)
        sqnorms = np.einsum("ij,ij->i", vectors, vectors)
        return cls(np.asarray(labels, dtype=np.int64), vectors, sqnorms, space)

    @property
    def nbytes(self) -> int:
        """Memory held by the prepared arrays."""
        return int(self.labels.nbytes + self.vectors.nbytes + self.sqnorms.nbytes)

    def search(self, queries: Vectors, k: int) -> SearchResult:
        """Exact ``k`` nearest labels of each query, nearest first, ties by smaller label."""
        queries = np.asarray(queries, dtype=np.float32)
        if self.space == "cosine":
            queries = normalize_rows(queries)
        return _search(queries, self.vectors, self.sqnorms, self.labels, k, self.space)


def _search(
    queries: Vectors,
    vectors: Vectors,
    sqnorms: npt.NDArray[np.float32],
    labels: Labels,
    k: int,
    space: str,
) -> SearchResult:
    """Exact search over prepared (already normalised for cosine) vectors."""
    n_queries, count = len(queries), len(vectors)
    k = min(k, count)
    if k <= 0:
        return SearchResult(
            [_EMPTY_LABELS.copy() for _ in range(n_queries)],
            [_EMPTY_DISTANCES.copy() for _ in range(n_queries)],
        )
    max_sqnorm = float(sqnorms.max())
    # Rounding of the float32 ranking step is far below this; candidates inside it are
    # re-ranked exactly, so the k-th place and its ties are decided in float64.
    slack = 1e-5 * max(1.0, float(np.sqrt(vectors.shape[1])))
    out_labels: list[Labels] = []
    out_distances: list[Distances] = []
    block = max(1, _BLOCK_CELLS // count)
    for start in range(0, n_queries, block):
        q = queries[start : start + block]
        # One query is a matrix-vector product: as a 1-row matrix product, multi-threaded
        # BLAS spends far longer starting and syncing threads than computing.
        dots = (vectors @ q[0])[None, :] if len(q) == 1 else q @ vectors.T
        q_sq = np.einsum("ij,ij->i", q, q)
        if space == "l2":
            ranked = q_sq[:, None] + sqnorms[None, :] - 2.0 * dots
            scales = q_sq + max_sqnorm
        else:
            ranked = -dots
            scales = np.sqrt(q_sq * max_sqnorm)
        if k < count:
            part = np.argpartition(ranked, k - 1, axis=1)[:, :k]
            kth = np.take_along_axis(ranked, part, axis=1).max(axis=1)
        for row in range(len(q)):
            if k < count:
                limit = kth[row] + slack * max(1.0, float(scales[row]))
                cand = np.flatnonzero(ranked[row] <= limit)
            else:
                cand = np.arange(count)
            dist = _exact_distances(q[row], vectors[cand], space)
            order = np.lexsort((labels[cand], dist))[:k]
            out_labels.append(labels[cand[order]])
            out_distances.append(dist[order].astype(np.float32))
    return SearchResult(out_labels, out_distances)


def _exact_distances(query: Vectors, vectors: Vectors, space: str) -> npt.NDArray[np.float64]:
    """Distances from one query to a few vectors, in float64, row by row the same way."""
    q = query.astype(np.float64)
    v = vectors.astype(np.float64)
    if space == "l2":
        diff = v - q
        return np.asarray((diff * diff).sum(axis=1))
    return np.asarray(1.0 - (v * q).sum(axis=1))


class FlatIndex:
    """An exact in-memory index: a growable float32 matrix plus a label -> row map.

    >>> index = FlatIndex(IndexParams(space="l2", dim=2))
    >>> index.add(np.array([1, 2]), np.array([[0, 0], [3, 4]], np.float32))
    >>> res = index.search(np.array([[3, 3]], np.float32), k=1)
    >>> res.labels[0].tolist(), res.distances[0].tolist()
    ([2], [1.0])
    """

    def __init__(self, params: IndexParams, capacity: int = 64) -> None:
        self.params = params
        self._data: Vectors = np.empty((max(capacity, 1), params.dim), np.float32)
        self._sqnorms: npt.NDArray[np.float32] = np.empty(len(self._data), np.float32)
        self._labels: Labels = np.empty(len(self._data), np.int64)
        self._pos: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._pos)

    @property
    def deleted_fraction(self) -> float:
        """Always 0: removal compacts the matrix at once."""
        return 0.0

    def _grow(self, needed: int) -> None:
        capacity = len(self._data)
        if needed <= capacity:
            return
        capacity = max(needed, capacity * 2)
        n = len(self._pos)
        for name in ("_data", "_sqnorms", "_labels"):
            old = getattr(self, name)
            new = np.empty((capacity, *old.shape[1:]), old.dtype)
            new[:n] = old[:n]
            setattr(self, name, new)

    def add(self, labels: Labels, vectors: Vectors) -> None:
        """Insert vectors; a label already present gets its new vector."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.params.space == "cosine":
            vectors = normalize_rows(vectors)
        self._grow(len(self._pos) + len(labels))
        rows = np.empty(len(labels), np.intp)
        for i, label in enumerate(labels.tolist()):
            row = self._pos.get(label)
            if row is None:
                row = self._pos[label] = len(self._pos)
                self._labels[row] = label
            rows[i] = row
        self._data[rows] = vectors
        self._sqnorms[rows] = np.einsum("ij,ij->i", vectors, vectors)

    def remove(self, labels: Labels) -> None:
        """Remove labels (absent ones are ignored), moving the last row into each hole."""
        for label in labels.tolist():
            row = self._pos.pop(label, None)
            if row is None:
                continue
            last = len(self._pos)
            if row != last:
                moved = int(self._labels[last])
                self._data[row] = self._data[last]
                self._sqnorms[row] = self._sqnorms[last]
                self._labels[row] = moved
                self._pos[moved] = row

    def _rows_of(self, allowed: Labels) -> npt.NDArray[np.intp]:
        """Rows of the present labels among ``allowed`` (each once)."""
        n = len(self._pos)
        allowed = np.unique(allowed)
        if len(allowed) * 8 < n:
            got = (self._pos.get(label) for label in allowed.tolist())
            return np.fromiter((r for r in got if r is not None), np.intp)
        return np.flatnonzero(np.isin(self._labels[:n], allowed))

    def search(self, queries: Vectors, k: int, allowed: Labels | None = None) -> SearchResult:
        """Exact ``k`` nearest labels per query (only among ``allowed``), ties by label."""
        queries = np.asarray(queries, dtype=np.float32)
        if self.params.space == "cosine":
            queries = normalize_rows(queries)
        n = len(self._pos)
        if allowed is None:
            data, sqnorms, labels = self._data[:n], self._sqnorms[:n], self._labels[:n]
        else:
            rows = self._rows_of(allowed)
            data, sqnorms, labels = self._data[rows], self._sqnorms[rows], self._labels[rows]
        return _search(queries, data, sqnorms, labels, k, self.params.space)

    def block(self, allowed: Labels) -> ExactBlock:
        """The present labels among ``allowed`` as an :class:`ExactBlock` (a copy), for
        repeated searches over the same subset.

        >>> index = FlatIndex(IndexParams(space="l2", dim=1))
        >>> index.add(np.array([1, 2, 3]), np.array([[0], [5], [9]], np.float32))
        >>> index.block(np.array([3, 2, 7])).search(np.array([[8]], np.float32), 1).labels
        [array([3])]
        """
        rows = self._rows_of(allowed)
        return ExactBlock(
            self._labels[rows], self._data[rows], self._sqnorms[rows], self.params.space
        )

    def stored_form(self, vectors: Vectors) -> Vectors:
        """``vectors`` as this index keeps them: normalised in the cosine space.

        >>> FlatIndex(IndexParams(space="cosine", dim=2)).stored_form(
        ...     np.array([[3, 4]], np.float32)).tolist()
        [[0.6000000238418579, 0.800000011920929]]
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        return normalize_rows(vectors) if self.params.space == "cosine" else vectors

    def get_vectors(self, labels: Labels) -> Vectors:
        """The stored vectors of ``labels`` (all present); normalised in the cosine space."""
        rows = np.fromiter((self._pos[label] for label in labels.tolist()), np.intp, len(labels))
        return self._data[rows]

    def contains(self, labels: Labels) -> npt.NDArray[np.bool_]:
        """Whether each label is present."""
        pos = self._pos
        return np.fromiter((label in pos for label in labels.tolist()), np.bool_, len(labels))

    def labels(self) -> Labels:
        """All labels, sorted ascending."""
        return np.sort(self._labels[: len(self._pos)])

    def save(self, path: Path) -> None:
        """Write labels and vectors as an ``.npz`` archive to exactly ``path``."""
        n = len(self._pos)
        with open(path, "wb") as fh:
            np.savez(
                fh,
                labels=self._labels[:n],
                vectors=self._data[:n],
                space=np.array(self.params.space),
            )

    @classmethod
    def load(cls, path: Path, params: IndexParams) -> FlatIndex:
        """Read a file written by :meth:`save`; :class:`IndexLoadError` if it is unusable."""
        try:
            with np.load(path, allow_pickle=False) as archive:
                labels = np.asarray(archive["labels"])
                vectors = np.asarray(archive["vectors"])
                space = str(archive["space"])
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise IndexLoadError(f"cannot read flat index file {path}: {exc}") from exc
        if space != params.space:
            raise IndexLoadError(f"{path} holds a {space!r} index, not {params.space!r}")
        if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[1] != params.dim:
            raise IndexLoadError(
                f"{path} holds vectors of shape {vectors.shape}, not dim {params.dim}"
            )
        if labels.dtype != np.int64 or labels.shape != (len(vectors),):
            raise IndexLoadError(f"{path} holds labels that do not match its vectors")
        ordered = np.sort(labels)
        if bool((ordered[1:] == ordered[:-1]).any()):
            raise IndexLoadError(f"{path} holds duplicate labels")
        index = cls(params, capacity=len(labels))
        index._data[: len(labels)] = vectors
        index._sqnorms[: len(labels)] = np.einsum("ij,ij->i", vectors, vectors)
        index._labels[: len(labels)] = labels
        index._pos = {label: row for row, label in enumerate(labels.tolist())}
        return index
