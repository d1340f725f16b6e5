"""Index work off the query path: draining the exact tail, and compaction rebuilds.

When a process finds more vectors written by others than it inserts into its graph in
the query itself (``Settings.index_tail_inline_max``), it takes them out of the graph
(their graph vectors may be stale) and keeps them as the collection's *tail*: an exact
in-memory index that every query searches beside the graph, merging the two results
(:func:`merge`). So results are complete and exact for the tail at every moment. One
background thread per client (:class:`IndexWorker`) moves the tail into the graph a few
hundred vectors at a time, holding the engine's lock (exclusive of readers too) only
for each small step, and advances the index's watermark once the tail is empty. A
crash at any point loses only memory: the saved graph's watermark is never past what
the graph holds, and the tail is read from SQLite again on the next open.

A graph whose deleted slots pass ``Settings.index_rebuild_deleted_fraction`` is rebuilt
by the same thread: it reads the records from SQLite in batches (under the lock, one
batch at a time), inserts them into a new graph outside the lock while the old graph
keeps serving, then swaps the new one in and catches it up like a loaded file.

    >>> import numpy as np
    >>> a = SearchResult([np.array([1, 5])], [np.array([0.1, 0.5], np.float32)])
    >>> b = SearchResult([np.array([9])], [np.array([0.2], np.float32)])
    >>> merge(a, b, 2).labels[0].tolist()
    [1, 9]
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING

import numpy as np

from vectorhouse.errors import IndexLoadError
from vectorhouse.index.base import SearchResult

if TYPE_CHECKING:
    from vectorhouse.engine.engine import Engine
    from vectorhouse.engine.state import IndexState

log = logging.getLogger("vectorhouse")

_STEP_S = 0.05
"""Aim for steps of about this long under the lock (the step size adapts)."""
_MIN_STEP, _MAX_STEP = 8, 4096
_YIELD_S = 0.005
"""Pause after each step, at least this long (and half the step), so that queries
waiting for the lock get it: a released lock is not handed to its waiters in order."""
_REBUILD_BATCH = 2_000
_LOCK_POLL_S = 0.1
_IDLE_EXIT_S = 5.0
"""The thread ends after this long without work; the next :meth:`IndexWorker.wake`
starts a new one (so idle clients hold no thread, and no engine alive)."""


_WORKERS: weakref.WeakSet[IndexWorker] = weakref.WeakSet()


@atexit.register
def _stop_workers() -> None:
    """At interpreter exit, let each background thread finish its step first: a thread
    killed inside the graph library's parallel insert aborts the process."""
    for worker in list(_WORKERS):
        worker.stop(timeout=60.0)


def merge(a: SearchResult, b: SearchResult, k: int) -> SearchResult:
    """Per query, the ``k`` nearest of two results over disjoint labels (ties by label)."""
    labels, distances = [], []
    for la, da, lb, db in zip(a.labels, a.distances, b.labels, b.distances, strict=True):
        lab = np.concatenate([la, lb])
        dis = np.concatenate([da, db]).astype(np.float32)
        order = np.lexsort((lab, dis))[:k]
        labels.append(lab[order])
        distances.append(dis[order])
    return SearchResult(labels, distances)


class IndexWorker:
    """The background thread of one engine; started on the first work, stopped by
    :meth:`stop` (the engine's ``close``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._wake = threading.Event()
        self._life = threading.Lock()  # guards starting and ending the thread
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._step = 32
        self._last_step_s = 0.0
        self.busy = False
        """Whether a job is in progress (for :meth:`Engine.wait_for_index`)."""
        _WORKERS.add(self)

    def wake(self) -> None:
        """Make sure the thread runs and looks for work."""
        with self._life:
            if self._stopped:
                return
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="vectorhouse-index", daemon=True
                )
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (it finishes its current step) and wait for it."""
        self._stopped = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        idle_since = time.monotonic()
        while not self._stopped:
            try:
                worked = self._one_job()
            except Exception:  # the index stays correct (tail searched exactly); retry later
                log.exception("background index work failed; it is retried later")
                worked = False
                time.sleep(1.0)
            if not worked:
                self._wake.wait(1.0)
                with self._life:  # a wake() after the wait is seen here, not lost
                    if self._wake.is_set():
                        self._wake.clear()
                    elif time.monotonic() - idle_since > _IDLE_EXIT_S:
                        self._thread = None
                        return
            else:
                idle_since = time.monotonic()
                time.sleep(max(_YIELD_S, self._last_step_s / 2))

    def _acquire(self) -> bool:
        lock = self.engine.lock
        while not self._stopped:
            if lock.acquire(timeout=_LOCK_POLL_S):
                if self._stopped or self.engine.closed:
                    lock.release()
                    return False
                # Each step changes the index: readers wait for it (and it for them).
                lock.exclusive.acquire_exclusive()
                return True
        return False

    def _one_job(self) -> bool:
        """Do one step of the first job found; whether there was any."""
        if not self._acquire():
            return False
        try:
            engine = self.engine
            job: tuple[str, IndexState] | None = None
            own: tuple[str, IndexState] | None = None
            threshold = engine.settings.index_rebuild_deleted_fraction
            for cid, state in engine._indexes.items():
                if state.tail is not None and state.index.is_view:
                    own = own or (cid, state)
                elif state.tail is not None:
                    self.busy = True
                    self._drain_step(cid, state)
                    return True
                if state.index.deleted_fraction > threshold and job is None:
                    job = (cid, state)
            if job is None and own is None:
                self.busy = False
                return False
            self.busy = True
        finally:
            self.engine.lock.release()
        if own is not None:
            self._own(*own)
        elif job is not None:
            self._rebuild(*job)
        return True

    def _own(self, cid: str, state: IndexState) -> None:
        """Read a memory-mapped graph into memory (outside the lock) so that the tail can
        go into it; if its file is gone or unreadable, rebuild from storage instead."""
        view = state.index
        try:
            owned = view.own()
        except IndexLoadError as exc:
            log.warning("%s; rebuilding the index from storage", exc)
            self._rebuild(cid, state)
            return
        if not self._acquire():
            return
        try:
            if self.engine._indexes.get(cid) is state and state.index is view:
                owned.remove(view.hidden())  # removed while it was being read
                state.index = owned
        finally:
            self.engine.lock.release()

    def _drain_step(self, cid: str, state: IndexState) -> None:
        """Under the lock: move up to one step's worth of the tail into the graph."""
        assert state.tail is not None
        moved = min(self._step, len(state.tail))
        started = time.perf_counter()
        state.drain(keep=len(state.tail) - moved)
        elapsed = time.perf_counter() - started
        if state.tail is None:
            self.engine._save_if_due(cid)
        # Size the next step to take about _STEP_S at this step's rate (an update in
        # place costs several times a new insert), growing at most twofold.
        self._last_step_s = elapsed
        fit = int(_STEP_S * max(moved, 1) / max(elapsed, 1e-6))
        self._step = max(_MIN_STEP, min(_MAX_STEP, fit, 2 * self._step))

    def _rebuild(self, cid: str, old: IndexState) -> None:
        """Build a graph without deleted slots while ``old`` serves, then swap it in."""
        engine = self.engine
        if not self._acquire():
            return
        try:
            if engine._indexes.get(cid) is not old:
                return
            row = engine.store.collection_by_id(cid)
            if row is None or row.dimension is None:
                return
            log.info("rebuilding the index of %r to drop deleted entries", row.name)
            start_seq, params = row.last_seq, old.index.params
            fresh = engine._new_state(params, start_seq, with_copy=False)
        finally:
            engine.lock.release()
        after = 0
        while True:
            if not self._acquire():
                return
            try:
                if engine._indexes.get(cid) is not old:
                    return  # dropped, replaced or re-parameterised meanwhile
                labels, vectors = engine.store.vectors_after_rowid(
                    cid, after, row.dimension, _REBUILD_BATCH
                )
            finally:
                engine.lock.release()
            if len(labels) == 0:
                break
            fresh.index.add(labels, vectors)  # private to this thread: no lock needed
            after = int(labels[-1])
        if not self._acquire():
            return
        try:
            current = engine.collection_by_id(cid) if cid in engine._indexes else None
            if current is None or engine._indexes.get(cid) is not old:
                return
            fresh.flat, fresh.small = old.flat, old.small
            fresh.unsaved = max(1, len(fresh.index))
            engine._indexes[cid] = fresh
            engine._catch_up(current, fresh)
            engine._save_if_due(cid)
        finally:
            engine.lock.release()
