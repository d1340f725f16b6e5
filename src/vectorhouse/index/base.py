"""The small interface every vector index backend implements.

An index maps integer labels (the ``rowid`` of a record in storage) to vectors and
answers nearest-neighbour queries. It stores labels and vectors only: ids, documents
and metadata live in storage. Inputs are trusted: the engine passes float32 arrays of
the right dimension and labels that are valid for the operation.

Distances follow Chroma's definitions for each space:

- ``l2``: squared Euclidean distance,
- ``cosine``: ``1 - cos(a, b)`` (a zero vector counts as having norm 1, so its
  distance to anything is 1, never NaN),
- ``ip``: ``1 - dot(a, b)``.

An index file that cannot be used (missing, truncated, garbage, built with other
parameters) raises :class:`IndexLoadError`, a :class:`ValueError`; the engine then
rebuilds the index from storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from vectorhouse.errors import IndexLoadError as IndexLoadError

if TYPE_CHECKING:
    from typing_extensions import Self

Labels = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]
Distances = npt.NDArray[np.float32]

SPACES: tuple[str, ...] = ("l2", "cosine", "ip")


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

    >>> import numpy as np
    >>> r = SearchResult([np.array([7], np.int64)], [np.array([0.5], np.float32)])
    >>> int(r.labels[0][0]), float(r.distances[0][0])
    (7, 0.5)
    """

    labels: list[Labels]
    distances: list[Distances]


class VectorIndex(Protocol):
    """What the engine needs from an index backend.

    >>> from vectorhouse.index import FlatIndex, GraphIndex
    >>> params = IndexParams("l2", 2)
    >>> backends: list[VectorIndex] = [FlatIndex(params), GraphIndex(params)]
    >>> [len(index) for index in backends]
    [0, 0]
    """

    params: IndexParams

    def add(self, labels: Labels, vectors: Vectors) -> None:
        """Insert vectors; a label already present is replaced by its new vector."""

    def remove(self, labels: Labels) -> None:
        """Remove labels; labels not present are ignored."""

    def search(self, queries: Vectors, k: int, allowed: Labels | None = None) -> SearchResult:
        """Return up to ``k`` nearest labels per query, only among ``allowed`` if given.

        Approximate backends may return fewer than ``min(k, candidates)`` rows; the
        engine then falls back to exact search.
        """

    def stored_form(self, vectors: Vectors) -> Vectors:
        """``vectors`` as :meth:`get_vectors` would return them once added (normalised
        in the ``cosine`` space, in the index's own precision)."""

    def get_vectors(self, labels: Labels) -> Vectors:
        """Return the stored vectors of ``labels`` (all present), as used for distances.

        In the ``cosine`` space these are the normalised vectors.
        """

    def contains(self, labels: Labels) -> npt.NDArray[np.bool_]:
        """Whether each label is present (and not removed)."""

    def labels(self) -> Labels:
        """All live labels, sorted ascending (for consistency checks against storage)."""

    @property
    def deleted_fraction(self) -> float:
        """Share of the index's slots held by removed labels; high means: rebuild."""

    def save(self, path: Path) -> None:
        """Write the index to ``path`` (the caller makes the write atomic)."""

    @classmethod
    def load(cls, path: Path, params: IndexParams) -> Self:
        """Read an index written by :meth:`save`; raise :class:`IndexLoadError` if unusable."""

    def __len__(self) -> int:
        """The number of live (not removed) labels."""
