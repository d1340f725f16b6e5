"""The engine's two locks: many readers beside one writer, in one process.

Reads run on their own SQLite connections (one per thread, each in a WAL snapshot), so
SQLite lets them run beside a write in progress. What they share with writers is the
in-memory index state, and that is guarded here:

* :class:`SharedExclusive` is a readers-writer lock. Readers hold it *shared* for the
  whole of a read (snapshot, index search, reading the records). Whoever changes the
  in-memory index holds it *exclusive*; a writer takes it only for the end of its
  write: SQLite's COMMIT and applying the write to the index. So a reader sees the
  records and the index of the same moment: never a record whose vector the index has
  not got yet, never half a batch. A waiting writer stops new readers from starting, so
  it is not starved.
* :class:`WriterLock` is the engine's ``lock``: one writer at a time (the re-entrant
  lock of the store's transactions). Leaving its outermost ``with`` releases the
  exclusive lock if the scope took it.

    >>> rw = SharedExclusive()
    >>> with rw.shared():
    ...     rw.readers
    1
    >>> rw.acquire_exclusive(); rw.owned(); rw.release_exclusive(); rw.owned()
    True
    False
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from types import TracebackType


class SharedExclusive:
    """A readers-writer lock. Taking the exclusive side again while holding it does
    nothing (it is released once, by :meth:`release_exclusive`), and a thread that
    holds it may also "read" (it excludes everyone else already)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self.readers = 0
        self._owner: int | None = None
        self._waiting = 0

    def owned(self) -> bool:
        """Whether the calling thread holds the exclusive side."""
        return self._owner == threading.get_ident()

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the shared side (not re-entrant: the engine tracks nesting itself)."""
        if self.owned():
            yield
            return
        with self._cond:
            while self._owner is not None or self._waiting:
                self._cond.wait()
            self.readers += 1
        try:
            yield
        finally:
            with self._cond:
                self.readers -= 1
                if self.readers == 0:
                    self._cond.notify_all()

    def acquire_exclusive(self) -> None:
        """Wait until no reader and no other writer holds the lock, then hold it (the
        holder's further calls do nothing)."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                return
            self._waiting += 1
            try:
                while self._owner is not None or self.readers:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._owner = me

    def release_exclusive(self) -> None:
        """Release the caller's exclusive hold, if it has one."""
        with self._cond:
            if self._owner == threading.get_ident():
                self._owner = None
                self._cond.notify_all()


class WriterLock:
    """One writer at a time (``with engine.lock:``); see the module docstring.

    >>> lock = WriterLock(threading.RLock(), SharedExclusive())
    >>> with lock:
    ...     lock.exclusive.acquire_exclusive()   # as a commit does
    ...     inside = lock.exclusive.owned()
    >>> inside, lock.exclusive.owned(), lock.held()
    (True, False, False)
    """

    def __init__(self, mutex: threading.RLock, exclusive: SharedExclusive) -> None:
        self.mutex = mutex
        self.exclusive = exclusive
        self._local = threading.local()

    def held(self) -> bool:
        """Whether the calling thread is inside this lock."""
        return getattr(self._local, "depth", 0) > 0

    def acquire(self, timeout: float = -1) -> bool:
        """Enter (waiting at most ``timeout`` seconds when given); whether it did."""
        if not self.mutex.acquire(timeout=timeout):
            return False
        self._local.depth = getattr(self._local, "depth", 0) + 1
        return True

    def release(self) -> None:
        """Leave; the outermost exit also releases the exclusive side if held."""
        self._local.depth -= 1
        try:
            if self._local.depth == 0:
                self.exclusive.release_exclusive()
        finally:
            self.mutex.release()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    @contextlib.contextmanager
    def exclusively(self) -> Iterator[None]:
        """Be the writer and exclude readers too (to change in-memory state)."""
        with self:
            self.exclusive.acquire_exclusive()
            yield
