"""Combining concurrent one-vector queries into batches.

Threads that query the same collection at the same moment mostly wait for the
interpreter lock: of a query's time, only SQLite runs without it; the graph library
holds it while it searches, and the rest (checking, planning, building the result) is
Python. A batch of queries shares that part: one snapshot, one graph call (on every
core: the library's own threads are what runs two searches at once), one read of the
records. So the first thread to arrive runs its query at once, as if alone; threads
that arrive while it runs queue up, and when it is done one of them runs the queued
queries as one batch for all of them (flat combining). A thread alone never waits.

Queries are batched only with queries of the same shape (``key``: collection,
n_results, filter, include...). If a batch fails, each of its queries runs again on
its own, so that every caller gets its own result or error.

    >>> import numpy as np
    >>> calls = []
    >>> def run(key, vectors):
    ...     calls.append(len(vectors))
    ...     return [float(v.sum()) * key for v in vectors]
    >>> combiner = QueryCombiner(run)
    >>> combiner.submit(10, np.ones(3)), calls
    (30.0, [1])
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Run = Callable[[Any, npt.NDArray[Any]], Sequence[Any]]


class _Waiter:
    __slots__ = ("alone", "done", "error", "event", "lead", "result", "vector")

    def __init__(self, vector: npt.NDArray[Any]) -> None:
        self.vector = vector
        self.event = threading.Event()
        self.done = False
        self.lead = False
        self.alone = False
        self.result: Any = None
        self.error: BaseException | None = None


class QueryCombiner:
    """Runs ``run(key, vectors)`` (a list of results, one per vector) for queries
    submitted from many threads, batching those that arrive while one runs."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._pending: dict[Hashable, list[_Waiter]] = {}
        self._busy = False

    def submit(self, key: Hashable, vector: npt.NDArray[Any]) -> Any:
        """The result of one query (raises its error)."""
        me = _Waiter(vector)
        with self._lock:
            self._pending.setdefault(key, []).append(me)
            me.lead = not self._busy
            self._busy = True
        while not me.done:
            if me.lead:
                me.lead = False
                self._lead()
                continue
            me.event.wait()
            me.event.clear()
            if me.alone:
                return self._run(key, vector[None, :])[0]
        if me.error is not None:
            raise me.error
        return me.result

    def _lead(self) -> None:
        """Run every queued query, batch by batch, then hand over to a queued thread."""
        with self._lock:
            taken, self._pending = self._pending, {}
        finished: list[_Waiter] = []
        try:
            for key, waiters in taken.items():
                if len(waiters) == 1:
                    try:
                        waiters[0].result = self._run(key, waiters[0].vector[None, :])[0]
                    except Exception as exc:  # this caller's own error
                        waiters[0].error = exc
                    waiters[0].done = True
                    finished.append(waiters[0])
                    continue
                try:
                    results = self._run(key, np.stack([w.vector for w in waiters]))
                except Exception:
                    for w in waiters:  # each runs its own again, for its own error
                        w.alone = True
                    continue
                for w, result in zip(waiters, results, strict=True):
                    w.result, w.done = result, True
                    finished.append(w)
        finally:
            for waiters in taken.values():
                for w in waiters:
                    if not w.done:
                        w.alone = True  # interrupted (or failed) batch: run alone
            with self._lock:
                queued = next(iter(self._pending.values()), None)
                if queued:
                    queued[0].lead = True
                    queued[0].event.set()
                else:
                    self._busy = False
            for waiters in taken.values():
                for w in waiters:
                    w.event.set()
