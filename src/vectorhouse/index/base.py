"""The small interface every vector index backend implements.

An index maps integer labels (the ``rowid`` of a record in storage) to vectors and
answers nearest-neighbour queries. It stores labels and vectors only: ids, documents
and metadata live in storage. Inputs are trusted: the engine passes float32 arrays of
the right dimension and labels that are valid for the operation.

Distances follow Chroma's definitions for each space:

- ``l2``: squared Euclidean distance,
- ``cosine``: ``1 - cos(a, b)``,
- ``ip``: ``1 - dot(a, b)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

Labels = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class IndexParams:
    """How an index is built: space, dimension and HNSW graph parameters.

    >>> IndexParams(space="cosine", dim=384).M
    16
    """

    space: str
    dim: int
    M: int = 16
    ef_construction: int = 100
    ef_search: int = 100


@dataclass(frozen=True)
class SearchResult:
    """Nearest neighbours of each query: ``labels[i]`` and ``distances[i]`` for query ``i``.

    Rows hold at most ``k`` entries, nearest first; a row may be shorter when fewer
    labels are available, so these are lists of 1-D arrays, not one 2-D array.
    """

    labels: list[Labels]
    distances: list[npt.NDArray[np.float32]]


class VectorIndex(Protocol):
    """What the engine needs from an index backend."""

    params: IndexParams

    def add(self, labels: Labels, vectors: Vectors) -> None:
        """Insert vectors; a label already present is replaced by its new vector."""

    def remove(self, labels: Labels) -> None:
        """Remove labels; labels not present are ignored."""

    def search(
        self, queries: Vectors, k: int, allowed: Labels | None = None
    ) -> SearchResult:
        """Return up to ``k`` nearest labels per query, only among ``allowed`` if given.

        Approximate backends may return fewer than ``min(k, candidates)`` rows; the
        engine then falls back to exact search.
        """

    def get_vectors(self, labels: Labels) -> Vectors:
        """Return the stored vectors of ``labels`` (all present), as used for distances."""

    def contains(self, labels: Labels) -> npt.NDArray[np.bool_]:
        """Whether each label is present (and not removed)."""

    def save(self, path: Path) -> None:
        """Write the index to ``path`` (the caller makes the write atomic)."""

    def __len__(self) -> int:
        """The number of live (not removed) labels."""
