"""A collection's in-memory index: the graph, its watermark, its exact tail and copy.

>>> import numpy as np
>>> from vectorhouse.index.base import IndexParams
>>> from vectorhouse.index.graph import GraphIndex
>>> state = IndexState(GraphIndex(IndexParams("l2", 2)), watermark=0)
>>> state.add_to_tail(np.array([1]), np.ones((1, 2), np.float32), 10, through=3)
>>> state.live, len(state.index), state.synced
(1, 0, 3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vectorhouse.index.base import Labels
from vectorhouse.index.flat import FlatIndex
from vectorhouse.index.graph import GraphIndex


@dataclass
class IndexState:
    """The graph reflects every write up to ``watermark`` (and may hold later ones);
    with a ``tail``, graph and tail together reflect every write up to ``through``."""

    index: GraphIndex
    watermark: int
    unsaved: int = 0
    flat: FlatIndex | None = None
    """An exact copy of the vectors, made on the first exact search of a small collection."""
    small: bool = False
    """Whether the collection is small enough to keep ``flat``."""
    from_file: bool = False
    """Loaded from a file and not yet checked against storage."""
    tail: FlatIndex | None = None
    """Vectors written after ``watermark`` not in the graph yet; searched exactly."""
    through: int = 0
    """With a tail: the latest write that graph and tail together reflect."""
    wrote: bool = False
    """Whether this process wrote vectors to the collection (its close then finishes
    inserting them into the graph, so that the saved graph has them)."""

    @property
    def synced(self) -> int:
        """The latest write this state reflects."""
        return self.through if self.tail is not None else self.watermark

    @property
    def live(self) -> int:
        """Records in the graph and the tail together."""
        return len(self.index) + (0 if self.tail is None else len(self.tail))

    def set_synced(self, seq: int) -> None:
        """Record that this state now reflects every write up to ``seq``."""
        if self.tail is not None:
            self.through = seq
        else:
            self.watermark = seq

    def add(self, labels: Labels, vectors: npt.NDArray[np.float32], mirror_max: int) -> None:
        """Insert into the graph (a label in the tail leaves it: the graph is newer)."""
        self.index.add(labels, vectors)
        if self.tail is not None:
            self.tail.remove(labels)
        self._mirror(labels, vectors, mirror_max)

    def drain(self, keep: int = 0) -> None:
        """Insert the tail into the graph but for ``keep`` vectors (0: all of it, and
        then advance the watermark)."""
        if self.tail is None or (keep > 0 and len(self.tail) <= keep):
            return
        labels = self.tail.labels()[: max(0, len(self.tail) - keep)]
        if len(labels):
            self.index = self.index.own()
            self.index.add(labels, self.tail.get_vectors(labels), normalised=True)
            self.tail.remove(labels)
            self.unsaved += len(labels)
        if len(self.tail) == 0:
            self.tail = None
            self.watermark = self.through

    def add_to_tail(
        self, labels: Labels, vectors: npt.NDArray[np.float32], mirror_max: int, through: int
    ) -> None:
        """Keep vectors in the exact tail; their older graph entries stop being used."""
        if self.tail is None:
            self.tail = FlatIndex(self.index.params, capacity=len(labels))
            self.through = through
        self.index.remove(labels)
        self.tail.add(labels, vectors)
        self._mirror(labels, vectors, mirror_max)

    def _mirror(self, labels: Labels, vectors: npt.NDArray[np.float32], mirror_max: int) -> None:
        if self.live > mirror_max:
            self.small, self.flat = False, None  # grown past where an exact copy pays off
        elif self.flat is not None:
            self.flat.add(labels, vectors)

    def remove(self, labels: Labels) -> None:
        """Remove labels from the graph, the tail and the copy."""
        self.index.remove(labels)
        if self.tail is not None:
            self.tail.remove(labels)
        if self.flat is not None:
            self.flat.remove(labels)
