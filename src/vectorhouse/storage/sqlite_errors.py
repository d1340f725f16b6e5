"""SQLite errors translated once, where they arrive: every statement the store runs
goes through :class:`TranslatingConnection`, so a ``sqlite3`` exception never leaves
the storage layer; it becomes a :class:`~vectorhouse.errors.StorageError` subclass
whose message says what to do.

    >>> import sqlite3
    >>> conn = sqlite3.connect(":memory:", factory=TranslatingConnection)
    >>> try:
    ...     conn.execute("SELECT * FROM missing")
    ... except StorageError as exc:
    ...     print(type(exc).__name__, "-", exc)
    StorageError - database error: no such table: missing
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

try:
    import resource
except ImportError:  # Windows has no file size limits of this kind
    resource = None  # type: ignore[assignment]

from vectorhouse.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    DiskFullError,
    ReadOnlyDatabaseError,
    StorageError,
    StorageIOError,
)

__all__ = ["TranslatingConnection", "TranslatingCursor", "translate"]

# SQLite's primary result codes (the low byte of an extended code).
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26
_BY_TEXT = (
    ("database is locked", _BUSY),
    ("is locked", _LOCKED),
    ("readonly database", _READONLY),
    ("disk i/o error", _IOERR),
    ("malformed", _CORRUPT),
    ("disk is full", _FULL),
    ("unable to open database file", _CANTOPEN),
    ("file is not a database", _NOTADB),
)
_LOW_SPACE_BYTES = 16 * 1024 * 1024


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if isinstance(code, int):
        return code & 0xFF
    text = str(exc).lower()
    for needle, primary in _BY_TEXT:
        if needle in text:
            return primary
    return None


def _looks_full(path: str | None) -> bool:
    """Whether a failed write was most likely a full disk or a file size limit."""
    if resource is not None:
        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY:
            return True
    if not path or path == ":memory:":
        return False
    try:
        return shutil.disk_usage(Path(path).parent).free < _LOW_SPACE_BYTES
    except OSError:
        return False


def translate(exc: sqlite3.Error, context: str = "", path: str | None = None) -> StorageError:
    """The :class:`StorageError` that ``exc`` stands for, with what to do about it.

    >>> import sqlite3
    >>> translate(sqlite3.DatabaseError("file is not a database")).code
    'database_corrupt'
    >>> translate(sqlite3.OperationalError("database or disk is full")).code
    'disk_full'
    """
    text = str(exc)
    where = f"{context}: " if context else ""
    code = _primary_code(exc)
    if code in (_BUSY, _LOCKED):
        return DatabaseLockedError(
            f"{where}another process held the database's write lock too long ({text});"
            " retry, or raise Settings(busy_timeout_s=...)"
        )
    if code in (_CORRUPT, _NOTADB):
        return DatabaseCorruptError(
            f"{where}the database file is damaged or is not a vectorhouse database ({text});"
            " restore it from a backup, or export what is still readable"
            " (vectorhouse export) into a new one"
        )
    if code == _FULL or (code == _IOERR and _looks_full(path)):
        return DiskFullError(
            f"{where}no room left to write the database ({text}); nothing of this call was"
            " stored: free disk space (or raise the file size limit), then retry"
        )
    if code == _READONLY:
        return ReadOnlyDatabaseError(
            f"{where}the database cannot be written ({text}); make the database file, its"
            " -wal and -shm files and their folder writable by this process, then retry"
        )
    if code == _IOERR:
        return StorageIOError(
            f"{where}the operating system failed to read or write the database ({text});"
            " check the disk and the file system, then retry"
        )
    if code == _CANTOPEN:
        return StorageError(
            f"{where}the database file cannot be opened ({text}); check that its folder"
            " exists and is readable and writable by this process"
        )
    return StorageError(f"{where or 'database error: '}{text}")


class TranslatingCursor(sqlite3.Cursor):
    """A cursor whose every call raises :class:`StorageError` instead of ``sqlite3`` errors."""

    def _path(self) -> str | None:
        return getattr(self.connection, "path", None)

    def execute(self, sql: str, parameters: Any = (), /) -> TranslatingCursor:
        try:
            super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise translate(exc, path=self._path()) from exc
        return self

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> TranslatingCursor:
        try:
            super().executemany(sql, parameters)
        except sqlite3.Error as exc:
            raise translate(exc, path=self._path()) from exc
        return self

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise translate(exc, path=self._path()) from exc

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        try:
            return super().fetchmany(self.arraysize if size is None else size)
        except sqlite3.Error as exc:
            raise translate(exc, path=self._path()) from exc

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise translate(exc, path=self._path()) from exc

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            raise translate(exc, path=self._path()) from exc


class TranslatingConnection(sqlite3.Connection):
    """A connection whose statements raise :class:`StorageError` subclasses.

    ``path`` is the database file (used to tell a full disk from other I/O errors).
    """

    path: str | None = None

    def execute(self, sql: str, parameters: Any = (), /) -> TranslatingCursor:
        cursor = self.cursor(TranslatingCursor)
        assert isinstance(cursor, TranslatingCursor)
        return cursor.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> TranslatingCursor:
        cursor = self.cursor(TranslatingCursor)
        assert isinstance(cursor, TranslatingCursor)
        return cursor.executemany(sql, parameters)

    def commit(self) -> None:
        try:
            super().commit()
        except sqlite3.Error as exc:
            raise translate(exc, path=self.path) from exc

    def rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            super().rollback()
