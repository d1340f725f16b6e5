"""Checks of a loaded graph against storage, before the graph is trusted.

A graph file can agree with its manifest and still not describe this database: a copy
whose labels point at records that are gone, or whose vectors were altered inside the
file. After a loaded graph has caught up with storage, :func:`graph_problem` compares
the number of live labels with the number of records, and a sample of labels with their
records: each must exist and its vector must equal the stored one as the graph keeps it
(normalised in the ``cosine`` space, and in the graph's precision: see
``stored_form``).

    >>> import numpy as np
    >>> from vectorhouse.index.flat import FlatIndex
    >>> from vectorhouse.index.base import IndexParams
    >>> index = FlatIndex(IndexParams("l2", 2))
    >>> index.add(np.array([1]), np.array([[1.0, 2.0]], np.float32))
    >>> vectors_differ(index, np.array([1]), np.array([[1.0, 2.0]], np.float32))
    0
"""

from __future__ import annotations

import random

import numpy as np
import numpy.typing as npt

from vectorhouse.index.base import Labels, VectorIndex
from vectorhouse.storage.store import CollectionRow, Store

SAMPLE = 256
"""Labels compared with storage when a graph is loaded (all of them in smaller graphs):
evenly spaced from a random start, so that every part of the graph is looked at."""

_TOLERANCE = 1e-5
"""Conversions to the graph's precision may round differently in the last place."""


def graph_problem(
    store: Store,
    row: CollectionRow,
    index: VectorIndex,
    *,
    pending: int = 0,
    start: int | None = None,
) -> str | None:
    """Why ``index`` (caught up with storage, except for ``pending`` records not yet in
    the graph) does not match ``row``'s records, or None when the sample agrees.

    >>> from vectorhouse.index.flat import FlatIndex
    >>> from vectorhouse.index.base import IndexParams
    >>> from vectorhouse.storage.connection import open_connection
    >>> store = Store(open_connection(":memory:"))
    >>> row = CollectionRow("c", "n", None, {}, 2, 0)
    >>> index = FlatIndex(IndexParams("l2", 2))
    >>> index.add(np.array([7]), np.ones((1, 2), np.float32))
    >>> graph_problem(store, row, index)
    'the graph holds 1 records, the database 0'
    """
    count = store.count(row.id)
    if len(index) + pending != count:
        return f"the graph holds {len(index) + pending} records, the database {count}"
    # In the graph's own order (cheaper than sorted), evenly spaced from a random start.
    labels = getattr(index, "unsorted_labels", index.labels)()
    if len(labels) > SAMPLE:
        step = len(labels) // SAMPLE
        first = random.randrange(step) if start is None else start % step
        labels = labels[first::step][:SAMPLE]
    labels = np.sort(labels)
    if len(labels) == 0:
        return None
    found, vectors = store.vectors_of(row.id, row.dimension or 0, labels.tolist())
    if len(found) != len(labels):
        missing = np.setdiff1d(labels, found)
        return (
            f"{len(missing)} of {len(labels)} sampled labels point at records that do not"
            f" exist (e.g. {int(missing[0])})"
        )
    wrong = vectors_differ(index, found, vectors)
    if wrong:
        return f"{wrong} of {len(labels)} sampled vectors differ from the stored ones"
    return None


def vectors_differ(index: VectorIndex, labels: Labels, stored: npt.NDArray[np.float32]) -> int:
    """How many of ``labels`` have a vector in ``index`` other than ``stored``."""
    got = index.get_vectors(labels)
    want = index.stored_form(stored)
    bad = ~np.isclose(got, want, rtol=_TOLERANCE, atol=_TOLERANCE).all(axis=1)
    return int(bad.sum())
