"""The approximate index: an HNSW graph from hnswlib 0.8.

hnswlib's spaces give Chroma's distances as they are: ``l2`` is the squared Euclidean
distance, ``ip`` is ``1 - dot`` and ``cosine`` normalises stored vectors and queries
(an all-zero vector stays zero, so its distances are 1, never NaN) and then is ``ip``.

Bookkeeping hnswlib does not expose cheaply is kept here: the set of live labels and
the set of removed ones (removal only marks a graph node deleted; its slot stays used
until a rebuild). A removed label that is added again takes its old slot back, in
place. ``allow_replace_deleted`` is never used: reusing the slot of one label for
another breaks that bookkeeping.

:meth:`HnswIndex.load` checks a file's header and graph structure with numpy before
hnswlib reads it, since hnswlib trusts the file and a corrupt one can crash the process.
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import hnswlib
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

_MIN_CAPACITY = 64
_GROWTH = 1.5

_Filter = Callable[[int], bool]


class HnswIndex:
    """An HNSW graph over int64 labels, with replace, remove, filtered search and save/load.

    >>> index = HnswIndex(IndexParams(space="l2", dim=2))
    >>> index.add(np.array([1, 2, 3]), np.array([[0, 0], [3, 4], [9, 9]], np.float32))
    >>> index.remove(np.array([3]))
    >>> res = index.search(np.array([[3, 3]], np.float32), k=5)
    >>> res.labels[0].tolist(), res.distances[0].tolist(), len(index)
    ([2, 1], [1.0, 18.0], 2)

    ``num_threads`` is used for queries, ``add_threads`` for inserts (hnswlib's own
    threads; ``-1`` means one per core). Filtered queries call back into Python for each
    candidate, so more than one query thread rarely helps them.
    """

    def __init__(
        self,
        params: IndexParams,
        capacity: int = _MIN_CAPACITY,
        *,
        num_threads: int = 1,
        add_threads: int = 1,
        seed: int = 100,
        _loaded: hnswlib.Index | None = None,
    ) -> None:
        self.params = params
        self.num_threads = num_threads
        self.add_threads = add_threads
        self._live: set[int] = set()
        self._deleted: set[int] = set()
        self._version = 0  # bumped by every add/remove: invalidates _last_filter
        self._last_filter: tuple[Labels, int, _Filter | None, int] | None = None
        if _loaded is not None:
            self._index = _loaded
        else:
            self._index = hnswlib.Index(space=params.space, dim=params.dim)
            self._index.init_index(
                max_elements=max(capacity, 1),
                M=params.M,
                ef_construction=params.ef_construction,
                random_seed=seed,
            )

    def __len__(self) -> int:
        return len(self._live)

    @property
    def deleted_count(self) -> int:
        """Graph slots held by removed labels."""
        return len(self._deleted)

    @property
    def deleted_fraction(self) -> float:
        """Share of graph slots held by removed labels (0 for an empty index)."""
        used = len(self._live) + len(self._deleted)
        return len(self._deleted) / used if used else 0.0

    @property
    def capacity(self) -> int:
        """Slots allocated in the graph; it grows by half when full."""
        return int(self._index.get_max_elements())

    def add(self, labels: Labels, vectors: Vectors) -> None:
        """Insert vectors; a present or removed label is updated in place."""
        if len(labels) == 0:
            return
        label_list = labels.tolist()
        live, deleted = self._live, self._deleted
        new = {label for label in label_list if label not in live and label not in deleted}
        needed = len(live) + len(deleted) + len(new)
        if needed > self.capacity:
            self._index.resize_index(max(needed, int(self.capacity * _GROWTH)))
        self._index.add_items(
            np.asarray(vectors, dtype=np.float32),
            np.asarray(labels, dtype=np.uint64),
            num_threads=self.add_threads,
        )
        deleted.difference_update(label_list)
        live.update(label_list)
        self._version += 1

    def remove(self, labels: Labels) -> None:
        """Mark present labels deleted; absent or already removed ones are ignored."""
        live = self._live
        for label in labels.tolist():
            if label in live:
                self._index.mark_deleted(label)
                live.discard(label)
                self._deleted.add(label)
        self._version += 1

    def contains(self, labels: Labels) -> npt.NDArray[np.bool_]:
        """Whether each label is present and not removed."""
        live = self._live
        return np.fromiter((label in live for label in labels.tolist()), np.bool_, len(labels))

    def labels(self) -> Labels:
        """All live labels, sorted ascending."""
        return np.sort(np.fromiter(self._live, np.int64, len(self._live)))

    def get_vectors(self, labels: Labels) -> Vectors:
        """The stored vectors of ``labels`` (all present).

        In the cosine space hnswlib keeps only the normalised vectors, so these are unit
        length (or zero): right for computing distances, not the caller's originals.
        """
        if len(labels) == 0:
            return np.empty((0, self.params.dim), np.float32)
        got = self._index.get_items(np.asarray(labels, dtype=np.uint64), return_type="numpy")
        return np.asarray(got, dtype=np.float32)

    def search(self, queries: Vectors, k: int, allowed: Labels | None = None) -> SearchResult:
        """Approximate ``k`` nearest live labels per query, only among ``allowed`` if given.

        ``ef`` is ``max(params.ef_search, k)``. A row is shorter than
        ``min(k, live candidates)`` when the graph search found fewer (rare: a filter
        that cuts the graph apart); the engine then falls back to exact search.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        flt: _Filter | None = None
        candidates = len(self._live)
        if allowed is not None:
            flt, candidates = self._filter_for(allowed)
        k = min(k, candidates)
        if k <= 0 or len(queries) == 0:
            return SearchResult(
                [np.empty(0, np.int64) for _ in range(len(queries))],
                [np.empty(0, np.float32) for _ in range(len(queries))],
            )
        self._index.set_ef(max(self.params.ef_search, k))
        try:
            found, dist = self._index.knn_query(
                queries, k=k, num_threads=self.num_threads, filter=flt
            )
        except RuntimeError:
            # hnswlib raises for the whole batch when any row is short; redo one by one.
            rows = [self._query_one(q, k, flt) for q in queries]
            return SearchResult([r[0] for r in rows], [r[1] for r in rows])
        out_labels: list[Labels] = []
        out_distances: list[Distances] = []
        for row_labels, row_dist in zip(found, dist, strict=True):
            lab, dis = _sorted_row(row_labels, row_dist)
            out_labels.append(lab)
            out_distances.append(dis)
        return SearchResult(out_labels, out_distances)

    def _filter_for(self, allowed: Labels) -> tuple[_Filter | None, int]:
        """hnswlib's filter callable for ``allowed`` and how many live labels pass it.

        The engine passes the same array object for a repeated filter until anything is
        written, so the set is built once per filter, not once per query.
        """
        cached = self._last_filter
        if cached is not None and cached[0] is allowed and cached[1] == self._version:
            return cached[2], cached[3]
        live = self._live
        present = {label for label in allowed.tolist() if label in live}
        flt = present.__contains__ if len(present) < len(live) else None
        self._last_filter = (allowed, self._version, flt, len(present))
        return flt, len(present)

    def _query_one(self, query: Vectors, k: int, flt: _Filter | None) -> tuple[Labels, Distances]:
        """One query, asking for fewer results each time hnswlib finds too few."""
        while k > 0:
            try:
                found, dist = self._index.knn_query(query[None, :], k=k, num_threads=1, filter=flt)
            except RuntimeError:
                k //= 2
                continue
            return _sorted_row(found[0], dist[0])
        return np.empty(0, np.int64), np.empty(0, np.float32)

    def save(self, path: Path) -> None:
        """Write the graph with hnswlib's ``save_index`` (the caller makes it atomic)."""
        self._index.save_index(str(path))

    @classmethod
    def load(
        cls,
        path: Path,
        params: IndexParams,
        *,
        num_threads: int = 1,
        add_threads: int = 1,
    ) -> HnswIndex:
        """Read a file written by :meth:`save` after checking it fits ``params``.

        Raises :class:`IndexLoadError` (a ``ValueError``) for a missing, truncated or
        corrupt file, or one built with another dimension, ``M`` or ``ef_construction``.
        The space is not recorded in the file; the caller must pass the one it was built
        with.
        """
        info = _read_file_info(path, params)
        capacity = max(info.count + info.count // 4, info.count + _MIN_CAPACITY)
        index = hnswlib.Index(space=params.space, dim=params.dim)
        try:
            index.load_index(str(path), max_elements=capacity)
        except (RuntimeError, MemoryError) as exc:
            raise IndexLoadError(f"hnswlib cannot load {path}: {exc}") from exc
        if int(index.element_count) != info.count:
            raise IndexLoadError(f"{path} changed while it was being loaded")
        loaded = cls(params, num_threads=num_threads, add_threads=add_threads, _loaded=index)
        loaded._live = set(info.labels[~info.deleted].tolist())
        loaded._deleted = set(info.labels[info.deleted].tolist())
        return loaded


def _sorted_row(
    labels: npt.NDArray[np.uint64], distances: npt.NDArray[np.float32]
) -> tuple[Labels, Distances]:
    """One result row as int64 labels, nearest first and ties by smaller label."""
    lab = labels.astype(np.int64)
    dis = np.asarray(distances, dtype=np.float32)
    order = np.lexsort((lab, dis))
    return lab[order], dis[order]


# hnswlib's saveIndex: offsetLevel0_, max_elements_, cur_element_count,
# size_data_per_element_, label_offset_, offsetData_ (size_t), maxlevel_ (int),
# enterpoint_node_ (uint32), maxM_, maxM0_, M_ (size_t), mult_ (double),
# ef_construction_ (size_t); then cur_element_count level-0 records of
# size_data_per_element_ bytes ([uint32 count|flags][maxM0_ uint32 links][vector]
# [uint64 label]); then per element a uint32 byte size and its upper-level link lists,
# one [uint32 count][maxM_ uint32 links] block per level.
_HEADER = struct.Struct("<QQQQQQiIQQQdQ")
_ROWS_PER_CHUNK = 1 << 16


@dataclass(frozen=True)
class _FileInfo:
    """What the structural check of an index file found."""

    count: int
    labels: Labels
    deleted: npt.NDArray[np.bool_]


def _read_file_info(path: Path, params: IndexParams) -> _FileInfo:
    """Check that ``path`` is an hnswlib 0.8 index fitting ``params`` that hnswlib can
    read safely (every size, count and neighbour id in range); return its labels."""

    def bad(reason: str) -> IndexLoadError:
        return IndexLoadError(f"index file {path} is unusable: {reason}")

    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(_HEADER.size)
    except OSError as exc:
        raise bad(str(exc)) from exc
    if len(head) < _HEADER.size:
        raise bad(f"{size} bytes is shorter than the {_HEADER.size}-byte header")
    fields = _HEADER.unpack(head)
    level0_offset, max_elements, count, per_element, label_offset, data_offset = fields[:6]
    max_level, entry_point, max_m, max_m0, m, mult, ef_construction = fields[6:]
    if level0_offset != 0 or m < 2 or max_m != m or max_m0 != 2 * m:
        raise bad("not an hnswlib index (header fields out of place)")
    if data_offset != 4 + 4 * max_m0 or per_element != label_offset + 8:
        raise bad("not an hnswlib index (inconsistent record layout)")
    if not math.isclose(mult, 1.0 / math.log(m), rel_tol=1e-9):
        raise bad("not an hnswlib index (level multiplier does not match M)")
    if label_offset != data_offset + 4 * params.dim:
        file_dim = (label_offset - data_offset) / 4
        raise bad(f"vectors have dimension {file_dim:g}, expected {params.dim}")
    if m != params.M or ef_construction != max(params.ef_construction, params.M):
        raise bad(
            f"built with M={m}, ef_construction={ef_construction}; expected "
            f"M={params.M}, ef_construction={params.ef_construction}"
        )
    level0_end = _HEADER.size + count * per_element
    if count > max_elements or size < level0_end + 4 * count:
        raise bad(f"{size} bytes cannot hold the {count} elements its header promises")
    if count == 0:
        if size != _HEADER.size:
            raise bad("unexpected bytes after an empty index")
        return _FileInfo(0, np.empty(0, np.int64), np.empty(0, np.bool_))
    if max_level < 0 or entry_point >= count:
        raise bad("entry point out of range")
    if (size - level0_end) % 4:
        raise bad("upper-level link lists are not whole")
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    words = np.ndarray((count, per_element // 4), "<u4", mm, _HEADER.size)
    for start in range(0, count, _ROWS_PER_CHUNK):
        block = words[start : start + _ROWS_PER_CHUNK]
        if not _links_ok((block[:, 0] & 0xFFFF).astype(np.uint32), block[:, 1 : 1 + max_m0], count):
            raise bad("level-0 links out of range")
    labels = np.array(
        np.ndarray((count,), "<i8", mm, _HEADER.size + label_offset, (per_element,)), np.int64
    )
    deleted = (words[:, 0] >> 16 & 1).astype(np.bool_)
    ordered = np.sort(labels)
    if ordered[0] < 0 or bool((ordered[1:] == ordered[:-1]).any()):
        raise bad("labels are negative or repeated")
    tail = np.ndarray(((size - level0_end) // 4,), "<u4", mm, level0_end)
    levels = _check_upper_levels(tail, count, max_m, max_level, bad)
    if levels[entry_point] != max_level:
        raise bad("entry point is not on the top level")
    return _FileInfo(count, labels, deleted)


def _links_ok(counts: npt.NDArray[np.uint32], links: npt.NDArray[np.uint32], count: int) -> bool:
    """Whether each list's count fits and its first ``counts[i]`` links are ids < count."""
    if len(counts) and int(counts.max()) > links.shape[1]:
        return False
    used = np.arange(links.shape[1]) < counts[:, None]
    return not bool(((links >= count) & used).any())


def _check_upper_levels(
    tail: npt.NDArray[np.uint32],
    count: int,
    max_m: int,
    max_level: int,
    bad: Callable[[str], IndexLoadError],
) -> npt.NDArray[np.int64]:
    """Walk the per-element upper-level lists; return each element's level."""
    block_words = max_m + 1
    nonzero = np.flatnonzero(tail).tolist()
    owners: list[int] = []
    starts: list[int] = []
    n_levels: list[int] = []
    pos = element = 0
    while element < count:
        # Sizes of 0 (elements only on level 0) are the common case: skip runs of them.
        i = bisect_left(nonzero, pos)
        nxt = nonzero[i] if i < len(nonzero) else len(tail)
        if nxt - pos >= count - element:
            pos += count - element
            break
        element += nxt - pos
        if nxt >= len(tail):
            raise bad("truncated in the upper-level link lists")
        n_bytes = int(tail[nxt])
        if n_bytes % (4 * block_words) or n_bytes // (4 * block_words) > max_level:
            raise bad("upper-level link list of impossible size")
        owners.append(element)
        starts.append(nxt + 1)
        n_levels.append(n_bytes // (4 * block_words))
        pos = nxt + 1 + n_bytes // 4
        element += 1
    if pos != len(tail):
        raise bad("size does not match its link lists (truncated or trailing bytes)")
    levels = np.zeros(count, np.int64)
    levels[owners] = n_levels
    if not owners:
        return levels
    per = np.array(n_levels, np.int64)
    first = np.repeat(np.cumsum(per) - per, per)
    depth = np.arange(int(per.sum())) - first  # 0 for level 1, ...
    row_start = np.repeat(np.array(starts, np.int64), per) + depth * block_words
    rows = tail[row_start[:, None] + np.arange(block_words)]
    lists = rows[:, 1:]
    if not _links_ok(rows[:, 0] & 0xFFFF, lists, count):
        raise bad("upper-level links out of range")
    used = np.arange(max_m) < (rows[:, 0] & 0xFFFF)[:, None]
    below = levels[np.where(used, lists, 0)] < (depth + 1)[:, None]
    if bool((below & used).any()):
        raise bad("a link points to an element that is not on that level")
    return levels
