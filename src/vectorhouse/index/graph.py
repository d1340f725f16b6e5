"""The approximate index: an HNSW graph of half-precision vectors, from usearch.

usearch ships wheels for every platform (no compiler needed to install vectorhouse),
keeps its vectors as float16 inside the graph, and opens a saved file as a
memory-mapped *view*: opening costs milliseconds whatever the size, and the pages are
shared with the operating system's cache instead of copied into the process.

The float32 vectors stay in SQLite, the truth: the graph's float16 copy only steers the
search, and the engine re-ranks the graph's candidates with the stored float32 vectors
(so returned distances are exact). Spaces are Chroma's: ``l2`` is usearch's ``l2sq``,
``ip`` is ``1 - dot`` and ``cosine`` is ``ip`` over vectors normalised before they go in
(an all-zero vector stays zero, so its distances are 1, never NaN). Values beyond
float16's range are clipped before they go in; re-ranking makes their distances exact.

A view cannot be changed (usearch crashes the process if asked to), so this class never
asks it: a removal from a view is kept in a set of hidden labels, filtered out of every
result, and an insertion first reads the file into memory (:meth:`GraphIndex.own`),
which the engine does off the query path.

Loading checks the file's header (:func:`usearch.index.Index.metadata`) against the
expected dimension, space and precision and its counts against its size before usearch
maps it; the engine has already compared its size and checksum with the manifest.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from usearch.compiled import MetricKind, ScalarKind
from usearch.index import Index

from vectorhouse.index.base import (
    Distances,
    IndexLoadError,
    IndexParams,
    Labels,
    SearchResult,
    Vectors,
)
from vectorhouse.index.flat import normalize_rows

DTYPE = "f16"
"""How the graph stores vectors (the float32 truth is in SQLite)."""

_F16_MAX = 65_000.0
_PARALLEL_MIN_NODES = 10_000
_PARALLEL_MIN_BATCH = 256
_OVERSAMPLE = 3
"""A filtered search asks the graph for this many times the neighbours that would hold
``k`` passing labels if the filter were spread evenly."""
_COUNT_EXACTLY_MAX = 4_096
"""Filters passing at most this many labels have them counted in the graph (a label
given twice, or not in the graph, would make the search ask for too few neighbours)."""
_METRICS = {"l2": MetricKind.L2sq, "cosine": MetricKind.Cos, "ip": MetricKind.IP}
_EMPTY_LABELS: Labels = np.empty(0, np.int64)
_EMPTY_DISTANCES: Distances = np.empty(0, np.float32)


class GraphIndex:
    """An HNSW graph over int64 labels, with replace, remove, filtered search and
    save/load (loaded files are memory-mapped).

    >>> index = GraphIndex(IndexParams(space="l2", dim=2))
    >>> index.add(np.array([1, 2, 3]), np.array([[0, 0], [3, 4], [9, 9]], np.float32))
    >>> index.remove(np.array([3]))
    >>> res = index.search(np.array([[3, 3]], np.float32), k=5)
    >>> res.labels[0].tolist(), res.distances[0].tolist(), len(index)
    ([2, 1], [1.0, 18.0], 2)

    ``threads`` is the number of usearch threads for inserts (0: one per core); queries
    use one thread each (callers run queries in parallel threads).
    """

    def __init__(
        self,
        params: IndexParams,
        *,
        threads: int = 0,
        _graph: Index | None = None,
        _path: Path | None = None,
        _tombstones: int = 0,
    ) -> None:
        self.params = params
        self.threads = threads
        self._path = _path
        """The file this index is a read-only view of (None when it is owned)."""
        self._hidden: set[int] = set()
        """Labels removed from a view (a view itself cannot change)."""
        self._hidden_array: Labels = _EMPTY_LABELS
        self._tombstones = _tombstones
        self._graph = _new_graph(params) if _graph is None else _graph
        self._search_lock = threading.Lock()
        """Parallel searches set the graph's ``expansion_search`` before searching."""

    # -- state ----------------------------------------------------------------------

    @property
    def is_view(self) -> bool:
        """Whether this is a read-only memory-mapped view of a saved file."""
        return self._path is not None

    def __len__(self) -> int:
        return len(self._graph) - len(self._hidden)

    @property
    def deleted_count(self) -> int:
        """Graph slots held by removed labels (reused by later inserts)."""
        return self._tombstones + len(self._hidden)

    @property
    def deleted_fraction(self) -> float:
        """Share of graph slots held by removed labels (0 for an empty index)."""
        used = len(self._graph) + self._tombstones
        return self.deleted_count / used if used else 0.0

    def hidden(self) -> Labels:
        """Labels removed from this view (empty for an owned index), sorted."""
        return self._hidden_array

    def stored_form(self, vectors: Vectors) -> Vectors:
        """``vectors`` as the graph keeps them (normalised for cosine, then float16).

        >>> index = GraphIndex(IndexParams(space="l2", dim=1))
        >>> index.stored_form(np.array([[1 / 3]], np.float32)).tolist()
        [[0.333251953125]]
        """
        cosine = self.params.space == "cosine"
        return _prepare(vectors, normalise=cosine).astype(np.float16).astype(np.float32)

    # -- changes --------------------------------------------------------------------

    def own(self) -> GraphIndex:
        """This index as an owned, changeable copy in memory (itself when it is one).

        Reads the whole file; the engine calls it off the query path. Raises
        :class:`IndexLoadError` when the file cannot be read any more.
        """
        if self._path is None:
            return self
        graph = _new_graph(self.params)
        try:
            graph.load(str(self._path))
        except (OSError, RuntimeError, ValueError) as exc:
            raise IndexLoadError(f"cannot read index file {self._path}: {exc}") from exc
        owned = GraphIndex(self.params, threads=self.threads, _graph=graph)
        owned._tombstones = self._tombstones
        if self._hidden:
            owned.remove(self._hidden_array)
        return owned

    def _make_owned(self) -> None:
        if self._path is not None:
            owned = self.own()
            self._graph, self._path = owned._graph, None
            self._hidden, self._hidden_array = set(), _EMPTY_LABELS
            self._tombstones = owned._tombstones

    def add(self, labels: Labels, vectors: Vectors, *, normalised: bool = False) -> None:
        """Insert vectors; a present label is replaced by its new vector.

        ``normalised``: the vectors are already unit length as :class:`FlatIndex` keeps
        them in the cosine space. Normalising them again could move a component by a
        float32 step, and that one to another float16, so that the graph would no
        longer hold :meth:`stored_form` of the stored vector."""
        if len(labels) == 0:
            return
        self._make_owned()
        keys = np.asarray(labels, dtype=np.uint64)
        present = np.asarray(self._graph.contains(keys), np.bool_)
        if present.any():
            self._graph.remove(keys[present])
        new = int(len(keys) - present.sum())
        reused = min(self._tombstones, new)
        self._tombstones -= reused
        # Inserted in parallel, the nodes of a small graph miss links to each other
        # (recall fell to 0.97 at 200 nodes): small graphs and batches get one thread.
        small = (
            len(self._graph) + len(keys) < _PARALLEL_MIN_NODES or len(keys) < _PARALLEL_MIN_BATCH
        )
        threads = 1 if small else self.threads
        normalise = self.params.space == "cosine" and not normalised
        self._graph.add(keys, _prepare(vectors, normalise=normalise), threads=threads)

    def remove(self, labels: Labels) -> None:
        """Remove labels; absent or already removed ones are ignored."""
        if len(labels) == 0:
            return
        keys = np.asarray(labels, dtype=np.uint64)
        present = np.asarray(self._graph.contains(keys), np.bool_)
        if self._path is not None:
            fresh = [int(k) for k in keys[present].tolist() if k not in self._hidden]
            if fresh:
                self._hidden.update(fresh)
                self._hidden_array = np.sort(np.fromiter(self._hidden, np.int64))
            return
        if present.any():
            self._tombstones += int(self._graph.remove(np.unique(keys[present])))

    # -- reads ----------------------------------------------------------------------

    def contains(self, labels: Labels) -> npt.NDArray[np.bool_]:
        """Whether each label is present and not removed."""
        if len(labels) == 0:
            return np.zeros(0, np.bool_)
        found = np.asarray(self._graph.contains(np.asarray(labels, dtype=np.uint64)), np.bool_)
        if self._hidden:
            found &= ~np.isin(labels, self._hidden_array)
        return found

    def labels(self) -> Labels:
        """All live labels, sorted ascending."""
        return np.sort(self.unsorted_labels())

    def unsorted_labels(self) -> Labels:
        """All live labels, in the graph's own order (cheaper than :meth:`labels`)."""
        keys = np.asarray(self._graph.keys, dtype=np.uint64).view(np.int64)
        if self._hidden:
            keys = keys[~np.isin(keys, self._hidden_array)]
        return keys

    def get_vectors(self, labels: Labels) -> Vectors:
        """The graph's vectors of ``labels`` (all present), as :meth:`stored_form`."""
        if len(labels) == 0:
            return np.empty((0, self.params.dim), np.float32)
        # Read as kept (float16: no conversion inside the library, several times faster).
        got = self._graph.get(np.asarray(labels, dtype=np.uint64), dtype=DTYPE)
        assert isinstance(got, tuple)
        return np.vstack([np.asarray(v) for v in got]).astype(np.float32)

    def search(self, queries: Vectors, k: int, allowed: Labels | None = None) -> SearchResult:
        """Approximate ``k`` nearest live labels per query, only among ``allowed`` if
        given.

        The graph is searched with ``ef = max(params.ef_search, k)``. With ``allowed``,
        the graph is asked for more neighbours in proportion to how few labels pass, and
        the result is filtered; a row is shorter than ``min(k, candidates)`` when too few
        passing labels were among them, and the engine then searches exactly.
        Distances are the graph's (float16) ones; the engine re-ranks with float32.
        """
        queries = _prepare(queries, normalise=self.params.space == "cosine")
        live = len(self)
        candidates = live if allowed is None else self._passing(allowed)
        if allowed is not None and len(allowed) > 1 and bool((allowed[1:] < allowed[:-1]).any()):
            allowed = np.sort(allowed)
        k = min(k, candidates, live)
        if k <= 0 or len(queries) == 0:
            return SearchResult(
                [_EMPTY_LABELS for _ in range(len(queries))],
                [_EMPTY_DISTANCES for _ in range(len(queries))],
            )
        want = k + len(self._hidden)
        if allowed is not None and candidates < live:
            want = min(live, math.ceil(k * live / max(candidates, 1) * _OVERSAMPLE) + 16)
            want += len(self._hidden)
        want = min(want, len(self._graph))
        graph = self._graph
        with self._search_lock:
            graph.expansion_search = max(self.params.ef_search, want)  # type: ignore[misc]
            # A batch (queries combined from several threads) uses every core: the
            # library holds the interpreter lock while it searches, so its own threads
            # are the only way two queries run at once (2 queries on 2 cores: 1.7x).
            found = graph.search(queries, want, threads=0 if len(queries) >= 2 else 1)
        keys = np.atleast_2d(found.keys).astype(np.int64)
        dist = np.atleast_2d(found.distances).astype(np.float32)
        counts = np.atleast_1d(np.asarray(getattr(found, "counts", keys.shape[1])))
        if self.params.space == "cosine":
            # Chroma's convention: a zero vector's distance to anything is 1.
            dist[~queries.any(axis=1)] = 1.0
        out_labels: list[Labels] = []
        out_distances: list[Distances] = []
        for row in range(len(queries)):
            lab, dis = keys[row, : counts[row]], dist[row, : counts[row]]
            keep = np.ones(len(lab), np.bool_)
            if self._hidden:
                keep &= ~np.isin(lab, self._hidden_array)
            if allowed is not None:
                keep &= _in_sorted(lab, allowed)
            lab, dis = lab[keep], dis[keep]
            order = np.lexsort((lab, dis))[:k]
            out_labels.append(lab[order])
            out_distances.append(dis[order])
        return SearchResult(out_labels, out_distances)

    def _passing(self, allowed: Labels) -> int:
        """How many live labels ``allowed`` holds: counted exactly for a short list (the
        graph is asked), else its length (the engine's lists are live records, each once)."""
        if len(allowed) > _COUNT_EXACTLY_MAX:
            return len(allowed)
        unique = np.unique(allowed)
        present = unique[np.asarray(self._graph.contains(unique), dtype=np.bool_)]
        if self._hidden:
            present = present[~np.isin(present, self._hidden_array)]
        return len(present)

    def close(self) -> None:
        """Release a view's memory map now (it is released when the object goes, too):
        a closed client leaves no file of its index folder mapped."""
        if self._path is not None:
            self._graph.reset()  # type: ignore[no-untyped-call]
            self._graph = _new_graph(self.params)
            self._path, self._hidden, self._hidden_array = None, set(), _EMPTY_LABELS

    # -- files ----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the graph to ``path`` (the caller makes it atomic)."""
        self._make_owned()
        self._graph.save(str(path))

    @classmethod
    def load(cls, path: Path, params: IndexParams, *, threads: int = 0) -> GraphIndex:
        """Open a file written by :meth:`save` as a memory-mapped view, after checking
        its header fits ``params``.

        Raises :class:`IndexLoadError` (a ``ValueError``) for a missing, truncated or
        foreign file, or one of another dimension, space or precision.
        """
        meta = _read_metadata(path)
        problem = _metadata_problem(meta, params, path)
        if problem is not None:
            raise IndexLoadError(f"index file {path} is unusable: {problem}")
        try:
            graph = Index.restore(str(path), view=True)
        except (OSError, RuntimeError, ValueError) as exc:
            raise IndexLoadError(f"usearch cannot open {path}: {exc}") from exc
        if graph is None or len(graph) != meta["count_present"]:
            raise IndexLoadError(f"index file {path} changed while it was being opened")
        return cls(
            params,
            threads=threads,
            _graph=graph,
            _path=path,
            _tombstones=int(meta["count_deleted"]),
        )


def vector_region(path: Path) -> tuple[int, int]:
    """Where a saved graph's block of vectors starts and ends in its file (``(0, 0)``
    when the file is not a graph with vectors, or cannot be read).

    The file is a matrix (rows and bytes per row, as 32- or 64-bit numbers, then the
    rows), then the graph's header and links.

    >>> vector_region(Path("/nonexistent"))
    (0, 0)
    """
    try:
        meta = Index.metadata(str(path))
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(16)
    except (OSError, RuntimeError, ValueError):
        return (0, 0)
    if not isinstance(meta, dict) or not meta.get("matrix_included"):
        return (0, 0)
    wide = bool(meta.get("matrix_uses_64_bit_dimensions"))
    width = 8 if wide else 4
    if len(head) < 2 * width:
        return (0, 0)
    rows = int.from_bytes(head[:width], "little")
    row_bytes = int.from_bytes(head[width : 2 * width], "little")
    end = 2 * width + rows * row_bytes
    return (2 * width, end) if end <= size else (0, 0)


def _new_graph(params: IndexParams) -> Index:
    return Index(
        ndim=params.dim,
        metric=_METRICS[params.space],
        dtype=DTYPE,
        connectivity=params.M,
        expansion_add=params.ef_construction,
        expansion_search=params.ef_search,
    )


def _prepare(vectors: Vectors, *, normalise: bool) -> Vectors:
    """Vectors as they go into the graph: normalised if asked (the cosine space),
    clipped to float16's range."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if normalise:
        vectors = normalize_rows(vectors)
    if vectors.size and float(np.abs(vectors).max()) > _F16_MAX:
        vectors = np.clip(vectors, -_F16_MAX, _F16_MAX)
    return np.ascontiguousarray(vectors)


def _in_sorted(values: Labels, sorted_labels: Labels) -> npt.NDArray[np.bool_]:
    """Whether each of ``values`` is in the sorted array ``sorted_labels``."""
    if len(sorted_labels) == 0:
        return np.zeros(len(values), np.bool_)
    pos = np.searchsorted(sorted_labels, values)
    pos[pos == len(sorted_labels)] = 0
    return np.asarray(sorted_labels[pos] == values, np.bool_)


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IndexLoadError(f"index file {path} is unusable: {exc}") from exc
    try:
        meta = Index.metadata(str(path))
    except (OSError, RuntimeError, ValueError) as exc:
        raise IndexLoadError(f"index file {path} is unusable: {exc}") from exc
    if not isinstance(meta, dict):
        raise IndexLoadError(f"index file {path} is unusable: not a usearch index ({size} bytes)")
    meta = dict(meta)
    meta["size"] = size
    return meta


def _metadata_problem(meta: dict[str, Any], params: IndexParams, path: Path) -> str | None:
    """Why a file's header does not fit ``params`` (or its size), or None."""
    if not meta.get("matrix_included", False):
        return "the file holds no vectors"
    if meta.get("dimensions") != params.dim:
        return f"vectors have dimension {meta.get('dimensions')}, expected {params.dim}"
    if meta.get("kind_metric") != _METRICS[params.space]:
        return f"built for metric {meta.get('kind_metric')}, expected {params.space}"
    if meta.get("kind_scalar") != ScalarKind.F16:
        return f"stores {meta.get('kind_scalar')} values, expected {DTYPE}"
    if meta.get("kind_key") != ScalarKind.U64:
        return "keys are not 64-bit"
    present, deleted = meta.get("count_present"), meta.get("count_deleted")
    if not isinstance(present, int) or not isinstance(deleted, int):
        return "counts missing from the header"
    if present < 0 or deleted < 0:
        return "negative counts in the header"
    # Each slot holds at least its float16 vector and its key.
    if (present + deleted) * (2 * params.dim + 8) > meta["size"]:
        return f"{meta['size']} bytes cannot hold the {present + deleted} vectors it promises"
    return None
