"""Cached filter results, and the exact-search blocks of repeated filters.

A ``where`` / ``where_document`` / ``ids`` selection is resolved to the sorted rowids of
the records it passes, and kept until the collection is written to (the cache key holds
the collection's write sequence). Applications tend to repeat a filter (a user's or a
tenant's records, one source, one category), so the cache pays off twice:

* the rowid array keeps its identity, which lets the HNSW index reuse the filter set it
  built for it;
* once a filter is used a second time, the planner may read its candidates' vectors
  once and keep them as an :class:`~vectorhouse.index.flat.ExactBlock`, so later
  queries with that filter are exact and cost one matrix-vector product. Blocks live
  within a byte budget (``Settings.exact_cache_max_bytes``), least recently used first
  out.

    >>> import numpy as np
    >>> cache = SelectionCache(max_entries=2, max_block_bytes=1 << 20)
    >>> sel = cache.put(("c", 1, "f"), np.array([3, 5]))
    >>> cache.get(("c", 1, "f")) is sel, sel.uses
    (True, 2)
    >>> _ = cache.put(("c", 2, "f"), np.array([3]))   # a newer write drops older entries
    >>> cache.get(("c", 1, "f")) is None
    True
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from vectorhouse.index.base import Labels
from vectorhouse.index.flat import ExactBlock

Key = tuple[str, int, Any]
"""``(collection id, its last write sequence, the filter)``."""


@dataclass
class Selection:
    """The records one filter passes, and how often it has been used."""

    rowids: Labels
    uses: int = 1
    block: ExactBlock | None = None


class SelectionCache:
    """An LRU map from :data:`Key` to :class:`Selection`, with a byte budget for blocks;
    safe to use from parallel readers."""

    def __init__(self, max_entries: int, max_block_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_block_bytes = max_block_bytes
        self._entries: OrderedDict[Key, Selection] = OrderedDict()
        self._block_bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Key, *, use: bool = True) -> Selection | None:
        """The cached selection of ``key`` (counting this use unless ``use`` is False),
        or None."""
        with self._lock:
            sel = self._entries.get(key)
            if sel is not None:
                self._entries.move_to_end(key)
                sel.uses += use
            return sel

    def put(self, key: Key, rowids: Labels, *, uses: int = 1) -> Selection:
        """Cache a newly resolved filter; entries of older writes to the collection go.
        (Two readers resolving the same filter at once: the first one's entry stays.)"""
        cid, seq = key[0], key[1]
        with self._lock:
            sel = self._entries.get(key)
            if sel is not None:
                return sel
            for old in [k for k in self._entries if k[0] == cid and k[1] < seq]:
                self._drop(old)
            sel = self._entries[key] = Selection(rowids, uses)
            while len(self._entries) > self.max_entries:
                self._drop(next(iter(self._entries)))
            return sel

    def fits(self, nbytes: int) -> bool:
        """Whether a block of ``nbytes`` may be kept at all."""
        return nbytes <= self.max_block_bytes

    def attach(self, sel: Selection, block: ExactBlock) -> None:
        """Keep ``block`` on ``sel``, dropping the least recently used blocks to make room."""
        with self._lock:
            if sel.block is not None or not self.fits(block.nbytes):
                return
            for other in list(self._entries.values()):
                if self._block_bytes + block.nbytes <= self.max_block_bytes:
                    break
                if other.block is not None:
                    self._block_bytes -= other.block.nbytes
                    other.block = None
            sel.block = block
            self._block_bytes += block.nbytes

    def forget(self, cid: str) -> None:
        """Drop every entry of collection ``cid`` (deleted)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == cid]:
                self._drop(key)

    @property
    def block_bytes(self) -> int:
        """Bytes held by blocks now."""
        return self._block_bytes

    def _drop(self, key: Key) -> None:
        sel = self._entries.pop(key)
        if sel.block is not None:
            self._block_bytes -= sel.block.nbytes
