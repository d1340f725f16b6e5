"""Opening the SQLite database: pragmas, schema migrations, and nested transactions.

>>> conn = open_connection(":memory:")
>>> schema_version(conn) == len(MIGRATIONS)
True
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

from vectorhouse.errors import DatabaseLockedError, StorageError
from vectorhouse.storage.sqlite_errors import TranslatingConnection, translate

log = logging.getLogger(__name__)

MIGRATIONS: tuple[str, ...] = (
    "0001_initial.sql",
    "0002_embedding_cache_and_reembed.sql",
    "0003_database_identity.sql",
    "0004_record_counts.sql",
)
"""Schema migrations in order; ``PRAGMA user_version`` counts how many were applied."""


def _migration_sql(name: str) -> str:
    return (resources.files("vectorhouse.storage") / "migrations" / name).read_text("utf-8")


def schema_version(conn: sqlite3.Connection) -> int:
    """The number of migrations applied to ``conn``'s database.

    >>> schema_version(sqlite3.connect(":memory:"))
    0
    """
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def open_connection(path: str | Path, *, busy_timeout_s: float = 10.0) -> sqlite3.Connection:
    """Open (creating if needed) a database at ``path`` and bring its schema up to date.

    ``":memory:"`` opens a private in-memory database. The connection is in autocommit
    mode; writes go through :class:`Transactions`.

    >>> open_connection(":memory:").execute("SELECT count(*) FROM collections").fetchone()
    (0,)
    """
    try:
        conn = _connect(str(path), busy_timeout_s)
        if str(path) != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA cache_size = -65536")
        _migrate(conn)
    except sqlite3.Error as exc:
        raise translate(exc, f"cannot open database {path}") from exc
    except StorageError as exc:
        if isinstance(exc, DatabaseLockedError):
            raise type(exc)(f"database {path} is locked: {exc}") from exc
        raise type(exc)(f"cannot open database {path}: {exc}") from exc
    return conn


def open_read_connection(path: str, *, busy_timeout_s: float = 10.0) -> sqlite3.Connection:
    """A connection for reads (and the temporary tables they use) to a database that
    :func:`open_connection` opened (and migrated) already: one per reading thread, so
    that reads run in their own WAL snapshots beside each other and beside a write.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "db.sqlite3")
    >>> _ = open_connection(path)
    >>> open_read_connection(path).execute("SELECT count(*) FROM collections").fetchone()
    (0,)
    """
    try:
        conn = _connect(path, busy_timeout_s)
        conn.execute("PRAGMA cache_size = -16384")
    except sqlite3.Error as exc:
        raise translate(exc, f"cannot open database {path}") from exc
    return conn


def _connect(path: str, busy_timeout_s: float) -> TranslatingConnection:
    """An autocommit connection usable from any thread, whose errors are translated,
    waiting up to ``busy_timeout_s`` for another writer's lock."""
    conn = sqlite3.connect(
        path,
        timeout=busy_timeout_s,
        isolation_level=None,
        check_same_thread=False,
        factory=TranslatingConnection,
    )
    assert isinstance(conn, TranslatingConnection)
    conn.path = path
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    if schema_version(conn) >= len(MIGRATIONS):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = schema_version(conn)
        for number, name in enumerate(MIGRATIONS[current:], start=current + 1):
            for statement in _split_statements(_migration_sql(name)):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _split_statements(script: str) -> Iterator[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            buffer = ""
            if statement:
                yield statement
    if buffer.strip():
        yield buffer.strip()


class Transactions:
    """All-or-nothing writes that nest: the outer level is ``BEGIN IMMEDIATE``, inner
    levels are savepoints. One instance per connection; safe across threads because
    the caller holds ``lock`` for the whole transaction.

    >>> conn = open_connection(":memory:")
    >>> tx = Transactions(conn)
    >>> with tx.atomic():
    ...     with tx.atomic():
    ...         _ = conn.execute("UPDATE counters SET value = 7 WHERE name = 'seq'")
    >>> conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
    (7,)
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock = threading.RLock()
        self._depth = 0
        self._writes = 0
        self.before_commit: Callable[[], None] | None = None
        """Called right before the outermost COMMIT (the engine takes its exclusive
        lock there, so that readers never see a commit the index has not got yet)."""

    @property
    def active(self) -> bool:
        """Whether a transaction is open."""
        return self._depth > 0

    @property
    def writing(self) -> bool:
        """Whether a write transaction (:meth:`atomic`) is open: reads inside it may see
        changes not committed yet.

        >>> tx = Transactions(open_connection(":memory:"))
        >>> with tx.snapshot():
        ...     reading = tx.writing
        >>> with tx.atomic():
        ...     writing = tx.writing
        >>> reading, writing, tx.writing
        (False, True, False)
        """
        return self._writes > 0

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run reads against one consistent snapshot (a deferred transaction).

        Inside a write transaction this is a no-op: the writer already sees one state.
        """
        with self.lock:
            if self._depth > 0:
                yield
                return
            self.conn.execute("BEGIN")
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self.conn.in_transaction:
                    self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Run the block in a transaction (or a savepoint inside one)."""
        with self.lock:
            self._writes += 1
            try:
                with self._atomic():
                    yield
            finally:
                self._writes -= 1

    @contextlib.contextmanager
    def _atomic(self) -> Iterator[None]:
        with self.lock:
            depth = self._depth
            name = f"vh_sp_{depth}"
            self.conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if depth == 0:
                    _rollback(self.conn)
                elif self.conn.in_transaction:
                    # SQLite rolls a whole transaction back by itself on some errors (a
                    # full disk, an I/O error); then there is no savepoint left to undo.
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                raise
            self._depth -= 1
            try:
                if depth == 0 and self.before_commit is not None:
                    self.before_commit()
                self.conn.execute("COMMIT" if depth == 0 else f"RELEASE {name}")
            except StorageError:
                if depth == 0:
                    _rollback(self.conn)
                raise


def _rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already undone it itself.

    After a full disk or an I/O error SQLite may have rolled the transaction back
    already; a second ROLLBACK would then fail with "cannot rollback - no transaction
    is active" and hide the error that matters. A rollback that fails keeps the first
    error too: the transaction is gone either way.
    """
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except StorageError as exc:
        log.warning("rolling back a failed transaction failed too: %s", exc)
