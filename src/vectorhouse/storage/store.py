"""The SQLite store: the source of truth for collections and records.

Everything here trusts its inputs: the API edge validated them. Methods that write
must run inside ``store.tx.atomic()``; the engine opens that transaction.

    >>> from vectorhouse.storage.connection import open_connection
    >>> store = Store(open_connection(":memory:"))
    >>> with store.tx.atomic():
    ...     seq = store.next_seq()
    ...     store.create_collection("c1", "docs", None, {}, seq)
    >>> store.collection_by_name("docs").id
    'c1'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vectorhouse.errors import StorageError
from vectorhouse.filters.sql import register_functions
from vectorhouse.storage.connection import Transactions, open_read_connection
from vectorhouse.storage.filter_sets import filter_expression

Node = Any  # a parsed filter (vectorhouse.filters.parse.Node)
_JSON_IDS = "SELECT value FROM json_each(?)"


@dataclass(frozen=True)
class CollectionRow:
    """A collection as stored."""

    id: str
    name: str
    metadata: dict[str, Any] | None
    configuration: dict[str, Any]
    dimension: int | None
    last_seq: int


@dataclass
class RecordRows:
    """Records read from storage, in one order; a column not asked for is None."""

    rowids: list[int]
    ids: list[str]
    documents: list[str | None] | None
    metadatas: list[dict[str, Any] | None] | None
    embeddings: npt.NDArray[np.float32] | None


def dumps(value: Any) -> str:
    """JSON text for storage: compact, exact, no NaN.

    >>> dumps({"a": 1, "b": [1.5, True]})
    '{"a":1,"b":[1.5,true]}'
    """
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def embedding_blob(vector: npt.NDArray[np.float32]) -> bytes:
    """A vector as stored: little-endian float32 bytes.

    >>> len(embedding_blob(np.zeros(3, dtype=np.float32)))
    12
    """
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def blobs_to_array(blobs: Sequence[bytes], dim: int) -> npt.NDArray[np.float32]:
    """Stack stored vectors into one ``(len(blobs), dim)`` float32 array.

    >>> blobs_to_array([embedding_blob(np.ones(2, dtype=np.float32))], 2).tolist()
    [[1.0, 1.0]]
    """
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    flat = np.frombuffer(b"".join(blobs), dtype="<f4")
    return flat.reshape(len(blobs), dim).astype(np.float32, copy=False)


def metadata_rows(rowid: int, metadata: Mapping[str, Any]) -> Iterator[tuple[Any, ...]]:
    """The ``record_metadata`` rows for one record's metadata (lists: one row per item).

    >>> for row in metadata_rows(7, {"a": 1, "b": True, "t": ["x", "y"]}):
    ...     print(row)
    (7, 'a', None, 1, None, 0)
    (7, 'b', None, None, 1, 0)
    (7, 't', 'x', None, None, 1)
    (7, 't', 'y', None, None, 1)
    """
    for key, value in metadata.items():
        if value is None:
            continue
        if isinstance(value, list):
            for item in value:
                yield (rowid, key, *_typed(item), 1)
        else:
            yield (rowid, key, *_typed(value), 0)


def text_hash(text: str) -> int:
    """The stored hash of a document: sha256's first 8 bytes as a signed integer.

    >>> text_hash("hello") == text_hash("hello") != text_hash("hello!")
    True
    """
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big", signed=True)


def _selection(
    conn: sqlite3.Connection,
    collection_id: str,
    rowids: Sequence[int] | None,
    ids: Sequence[str] | None,
    node: Node | None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (over ``records r``) selecting records by rowids, ids and filter."""
    # With rowids given, `+` keeps SQLite from scanning the collection's index
    # instead of looking the rowids up directly.
    scope = "+r.collection_id" if rowids is not None else "r.collection_id"
    sql = f"{scope} = ?"
    args: list[Any] = [collection_id]
    if rowids is not None:
        sql += f" AND r.rowid IN ({_JSON_IDS})"
        args.append(dumps([int(x) for x in rowids]))
    if ids is not None:
        sql += f" AND r.id IN ({_JSON_IDS})"
        args.append(dumps(list(ids)))
    if node is not None:
        expr, params = filter_expression(conn, collection_id, node)
        sql += f" AND ({expr})"
        args.extend(params)
    return sql, args


def _typed(value: Any) -> tuple[Any, Any, Any]:
    if isinstance(value, bool):
        return (None, None, int(value))
    if isinstance(value, (int, float)):
        return (None, value, None)
    return (value, None, None)


class Store:
    """Reads and writes of collections and records over one SQLite connection, and
    reads on a connection per thread (:meth:`reading`) when the database is a file."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.main = conn
        self.tx = Transactions(conn)
        register_functions(conn)
        path = str(getattr(conn, "path", ""))
        self._path = None if path in ("", ":memory:") else path
        self._busy_timeout_s = int(conn.execute("PRAGMA busy_timeout").fetchone()[0]) / 1000
        self._bound = threading.local()
        self._readers: weakref.WeakSet[sqlite3.Connection] = weakref.WeakSet()
        self._readers_lock = threading.Lock()

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection this thread uses: its read connection inside :meth:`reading`,
        else the main one (writes, and every read of an in-memory database)."""
        bound: sqlite3.Connection | None = getattr(self._bound, "conn", None)
        return self.main if bound is None else bound

    @property
    def path(self) -> str | None:
        """The database file (None for an in-memory database)."""
        return self._path

    @property
    def parallel_reads(self) -> bool:
        """Whether reads can run on their own connections (a database file)."""
        return self._path is not None

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Run this thread's reads in one snapshot on its own read connection (opened
        on first use, kept for the thread's life). Only for a database file.

        >>> import tempfile, os
        >>> from vectorhouse.storage.connection import open_connection
        >>> store = Store(open_connection(os.path.join(tempfile.mkdtemp(), "d.sqlite3")))
        >>> with store.reading():
        ...     store.conn is store.main, store.count_collections()
        (False, 0)
        """
        assert self._path is not None
        conn: sqlite3.Connection | None = getattr(self._bound, "reader", None)
        if conn is None:
            conn = open_read_connection(self._path, busy_timeout_s=self._busy_timeout_s)
            register_functions(conn)
            self._bound.reader = conn
            with self._readers_lock:
                self._readers.add(conn)
        conn.execute("BEGIN")
        self._bound.conn = conn
        try:
            yield
        finally:
            self._bound.conn = None
            if conn.in_transaction:
                conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connections (no read may be running)."""
        with self._readers_lock:
            readers = list(self._readers)
            self._readers.clear()
        for conn in readers:
            conn.close()
        self.main.close()

    def purge_log(self, busy_timeout_ms: int) -> None:
        """Best effort: fold the write-ahead log into the database and empty it, so text
        that was deleted does not linger in the log file. Gives up quickly when another
        connection is busy (the log is then emptied by a later call or on close)."""
        try:
            self.conn.execute("PRAGMA busy_timeout = 50")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except (sqlite3.Error, StorageError):
            pass
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")

    def database_id(self) -> str:
        """The random id this database was given when it was created.

        >>> from vectorhouse.storage.connection import open_connection
        >>> len(Store(open_connection(":memory:")).database_id())
        32
        """
        row = self.conn.execute(
            "SELECT value FROM database_info WHERE key = 'database_id'"
        ).fetchone()
        return str(row[0])

    # -- sequence -------------------------------------------------------------------

    def next_seq(self) -> int:
        """Allocate the next write sequence number (inside a transaction)."""
        row = self.conn.execute(
            "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value"
        ).fetchone()
        return int(row[0])

    # -- collections ----------------------------------------------------------------

    def create_collection(
        self,
        collection_id: str,
        name: str,
        metadata: Mapping[str, Any] | None,
        configuration: Mapping[str, Any],
        seq: int,
    ) -> None:
        """Insert a collection row."""
        self.conn.execute(
            "INSERT INTO collections (id, name, metadata, configuration, dimension,"
            " created_seq, last_seq) VALUES (?, ?, ?, ?, NULL, ?, ?)",
            (
                collection_id,
                name,
                None if metadata is None else dumps(dict(metadata)),
                dumps(dict(configuration)),
                seq,
                seq,
            ),
        )

    def _collection(self, where: str, arg: str) -> CollectionRow | None:
        row = self.conn.execute(
            "SELECT id, name, metadata, configuration, dimension, last_seq"
            f" FROM collections WHERE {where} = ?",
            (arg,),
        ).fetchone()
        if row is None:
            return None
        return CollectionRow(
            id=row[0],
            name=row[1],
            metadata=_loads(row[2]),
            configuration=json.loads(row[3]),
            dimension=row[4],
            last_seq=row[5],
        )

    def collection_by_name(self, name: str) -> CollectionRow | None:
        """The collection called ``name``, or None."""
        return self._collection("name", name)

    def collection_by_id(self, collection_id: str) -> CollectionRow | None:
        """The collection with ``collection_id``, or None."""
        return self._collection("id", collection_id)

    def collection_names(self, limit: int | None = None, offset: int = 0) -> list[str]:
        """Collection names in creation order."""
        rows = self.conn.execute(
            "SELECT name FROM collections ORDER BY created_seq LIMIT ? OFFSET ?",
            (-1 if limit is None else limit, offset),
        ).fetchall()
        return [r[0] for r in rows]

    def count_collections(self) -> int:
        """How many collections exist."""
        return int(self.conn.execute("SELECT count(*) FROM collections").fetchone()[0])

    def update_collection(
        self,
        collection_id: str,
        *,
        seq: int,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        configuration: Mapping[str, Any] | None = None,
        dimension: int | None = None,
    ) -> None:
        """Change a collection's name, metadata, configuration or dimension."""
        sets: list[str] = ["last_seq = ?"]
        args: list[Any] = [seq]
        if name is not None:
            sets.append("name = ?")
            args.append(name)
        if metadata is not None:
            sets.append("metadata = ?")
            args.append(dumps(dict(metadata)))
        if configuration is not None:
            sets.append("configuration = ?")
            args.append(dumps(dict(configuration)))
        if dimension is not None:
            sets.append("dimension = ?")
            args.append(dimension)
        self.conn.execute(
            f"UPDATE collections SET {', '.join(sets)} WHERE id = ?", (*args, collection_id)
        )

    def delete_collection(self, collection_id: str) -> None:
        """Delete a collection and every record in it."""
        self.conn.execute("DELETE FROM records WHERE collection_id = ?", (collection_id,))
        self.conn.execute("DELETE FROM deletions WHERE collection_id = ?", (collection_id,))
        self.conn.execute("DELETE FROM collections WHERE id = ?", (collection_id,))

    # -- records: lookups -----------------------------------------------------------

    def rowids_for(self, collection_id: str, ids: Sequence[str]) -> dict[str, int]:
        """Map the given ids that exist to their rowids."""
        if not ids:
            return {}
        rows = self.conn.execute(
            f"SELECT id, rowid FROM records WHERE collection_id = ? AND id IN ({_JSON_IDS})",
            (collection_id, dumps(list(ids))),
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def count(self, collection_id: str) -> int:
        """The number of records in a collection."""
        row = self.conn.execute(
            "SELECT record_count FROM collections WHERE id = ?", (collection_id,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def counted(self, collection_id: str) -> int:
        """The number of records in a collection, counted row by row (what
        :meth:`count` reads from the collection's kept count must equal this)."""
        row = self.conn.execute(
            "SELECT count(*) FROM records WHERE collection_id = ?", (collection_id,)
        ).fetchone()
        return int(row[0])

    def recount(self, collection_id: str) -> None:
        """Set a collection's kept count of records from :meth:`counted`."""
        self.conn.execute(
            "UPDATE collections SET record_count ="
            " (SELECT count(*) FROM records WHERE collection_id = ?) WHERE id = ?",
            (collection_id, collection_id),
        )

    def filter_rowids(
        self,
        collection_id: str,
        node: Node | None,
        ids: Sequence[str] | None = None,
    ) -> npt.NDArray[np.int64]:
        """Rowids of the records matching a filter (and, if given, among ``ids``)."""
        where, args = _selection(self.conn, collection_id, None, ids, node)
        rows = self.conn.execute(
            f"SELECT r.rowid FROM records r WHERE {where} ORDER BY r.rowid", args
        ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def read(
        self,
        collection_id: str,
        *,
        dimension: int | None,
        rowids: Sequence[int] | None = None,
        ids: Sequence[str] | None = None,
        node: Node | None = None,
        limit: int | None = None,
        offset: int = 0,
        documents: bool = True,
        metadatas: bool = True,
        embeddings: bool = False,
    ) -> RecordRows:
        """Read records selected by rowids, ids and/or a filter, in rowid order."""
        cols = ["r.rowid", "r.id"]
        if documents:
            cols.append("r.document")
        if metadatas:
            cols.append("r.metadata")
        if embeddings:
            cols.append("r.embedding")
        where, args = _selection(self.conn, collection_id, rowids, ids, node)
        sql = f"SELECT {', '.join(cols)} FROM records r WHERE {where}"
        sql += " ORDER BY r.rowid LIMIT ? OFFSET ?"
        args.extend([-1 if limit is None else limit, offset])
        rows = self.conn.execute(sql, args).fetchall()
        col = 2
        out = RecordRows(
            rowids=[r[0] for r in rows],
            ids=[r[1] for r in rows],
            documents=None,
            metadatas=None,
            embeddings=None,
        )
        if documents:
            out.documents = [r[col] for r in rows]
            col += 1
        if metadatas:
            out.metadatas = [_loads(r[col]) for r in rows]
            col += 1
        if embeddings:
            out.embeddings = blobs_to_array([r[col] for r in rows], dimension or 0)
        return out

    def vectors_of(
        self, collection_id: str, dimension: int, rowids: Sequence[int] | None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """``(rowids, vectors)`` of the records among ``rowids`` that exist (all records
        when None), in rowid order."""
        rows = self.read(
            collection_id,
            dimension=dimension,
            rowids=rowids,
            documents=False,
            metadatas=False,
            embeddings=True,
        )
        assert rows.embeddings is not None
        return np.asarray(rows.rowids, dtype=np.int64), rows.embeddings

    def vectors_since(
        self, collection_id: str, seq: int, dim: int, batch: int = 50_000
    ) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]:
        """Yield ``(rowids, vectors)`` batches of vectors written after ``seq``."""
        cursor = self.conn.execute(
            "SELECT rowid, embedding FROM records WHERE collection_id = ? AND vector_seq > ?",
            (collection_id, seq),
        )
        while True:
            rows = cursor.fetchmany(batch)
            if not rows:
                return
            labels = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield labels, blobs_to_array([r[1] for r in rows], dim)

    def vectors_after_rowid(
        self, collection_id: str, after: int, dim: int, limit: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Up to ``limit`` ``(rowids, vectors)`` of records with a rowid above ``after``,
        in rowid order (for rebuilding an index one batch at a time)."""
        rows = self.conn.execute(
            "SELECT rowid, embedding FROM records WHERE collection_id = ? AND rowid > ?"
            " ORDER BY rowid LIMIT ?",
            (collection_id, after, limit),
        ).fetchall()
        labels = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return labels, blobs_to_array([r[1] for r in rows], dim)

    def vector_seqs(
        self, collection_id: str
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Every record's rowid and the seq of its vector's last change, by rowid."""
        rows = self.conn.execute(
            "SELECT rowid, vector_seq FROM records WHERE collection_id = ? ORDER BY rowid",
            (collection_id,),
        ).fetchall()
        data = np.array(rows, dtype=np.int64).reshape(len(rows), 2)
        return data[:, 0].copy(), data[:, 1].copy()

    def deleted_since(self, collection_id: str, seq: int) -> npt.NDArray[np.int64]:
        """Rowids deleted after ``seq``."""
        rows = self.conn.execute(
            "SELECT rowid FROM deletions WHERE collection_id = ? AND seq > ?",
            (collection_id, seq),
        ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    # -- records: writes ------------------------------------------------------------

    def insert(
        self,
        collection_id: str,
        ids: Sequence[str],
        embeddings: npt.NDArray[np.float32],
        documents: Sequence[str | None],
        metadatas: Sequence[Mapping[str, Any] | None],
        seq: int,
        doc_hashes: Sequence[int | None] | None = None,
    ) -> npt.NDArray[np.int64]:
        """Insert new records; returns their rowids in input order."""
        hashes = doc_hashes if doc_hashes is not None else [None] * len(ids)
        self.conn.executemany(
            "INSERT INTO records (collection_id, id, document, metadata, embedding, seq,"
            " vector_seq, doc_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    collection_id,
                    rid,
                    doc,
                    None if meta is None else dumps(dict(meta)),
                    embedding_blob(vec),
                    seq,
                    seq,
                    h,
                )
                for rid, doc, meta, vec, h in zip(
                    ids, documents, metadatas, embeddings, hashes, strict=True
                )
            ),
        )
        mapping = self.rowids_for(collection_id, ids)
        rowids = np.array([mapping[i] for i in ids], dtype=np.int64)
        self._insert_metadata(rowids, metadatas)
        return rowids

    def _insert_metadata(
        self,
        rowids: Sequence[int] | npt.NDArray[np.int64],
        metadatas: Sequence[Mapping[str, Any] | None],
    ) -> None:
        self.conn.executemany(
            "INSERT INTO record_metadata (record, key, str_value, num_value, bool_value,"
            " is_list) VALUES (?, ?, ?, ?, ?, ?)",
            (
                row
                for rowid, meta in zip(rowids, metadatas, strict=True)
                if meta
                for row in metadata_rows(int(rowid), meta)
            ),
        )

    def update(
        self,
        rowids: Sequence[int],
        seq: int,
        *,
        embeddings: npt.NDArray[np.float32] | None = None,
        documents: Sequence[str | None] | None = None,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        doc_hashes: Sequence[int | None] | None = None,
    ) -> None:
        """Overwrite the given fields of existing records (metadata already merged).

        ``doc_hashes`` goes with ``embeddings``: the hash of the text each vector was
        computed from by the collection's function, or None for supplied vectors.
        """
        sets = ["seq = ?"]
        columns: list[Sequence[Any]] = []
        if embeddings is not None:
            sets += ["embedding = ?", "vector_seq = ?", "doc_hash = ?"]
            columns.append([embedding_blob(v) for v in embeddings])
            columns.append([seq] * len(rowids))
            columns.append(list(doc_hashes) if doc_hashes is not None else [None] * len(rowids))
        if documents is not None:
            sets.append("document = ?")
            columns.append(list(documents))
        if metadatas is not None:
            sets.append("metadata = ?")
            columns.append([None if m is None else dumps(dict(m)) for m in metadatas])
        self.conn.executemany(
            f"UPDATE records SET {', '.join(sets)} WHERE rowid = ?",
            ((seq, *vals, rowid) for rowid, *vals in zip(rowids, *columns, strict=True)),
        )
        if metadatas is not None:
            self.conn.execute(
                f"DELETE FROM record_metadata WHERE record IN ({_JSON_IDS})",
                (dumps([int(r) for r in rowids]),),
            )
            self._insert_metadata(rowids, metadatas)

    def delete(self, collection_id: str, rowids: Sequence[int], seq: int) -> None:
        """Delete records by rowid, leaving a tombstone for index catch-up."""
        if not len(rowids):
            return
        payload = dumps([int(r) for r in rowids])
        self.conn.execute(
            "INSERT INTO deletions (collection_id, rowid, seq)"
            " SELECT ?, value, ? FROM json_each(?)",
            (collection_id, seq, payload),
        )
        self.conn.execute(f"DELETE FROM records WHERE rowid IN ({_JSON_IDS})", (payload,))

    # -- embedding reuse ------------------------------------------------------------

    def embedded_texts(
        self, collection_id: str, texts: Sequence[str], dim: int
    ) -> dict[str, npt.NDArray[np.float32]]:
        """Vectors the collection's function already computed for any of ``texts``."""
        hashes = sorted({text_hash(t) for t in texts})
        if not hashes:
            return {}
        rows = self.conn.execute(
            "SELECT document, embedding FROM records WHERE collection_id = ?"
            f" AND doc_hash IN ({_JSON_IDS})",
            (collection_id, dumps(hashes)),
        ).fetchall()
        wanted = set(texts)
        return {doc: blobs_to_array([blob], dim)[0] for doc, blob in rows if doc in wanted}

    # -- re-embedding ---------------------------------------------------------------

    def reembed_run(self, collection_id: str) -> dict[str, Any] | None:
        """The function config of an unfinished re-embedding run, or None."""
        row = self.conn.execute(
            "SELECT function FROM reembed_runs WHERE collection_id = ?", (collection_id,)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def start_reembed_run(self, collection_id: str, function: Mapping[str, Any]) -> None:
        """Record a new run (dropping vectors staged by a run for another function)."""
        self.conn.execute("DELETE FROM reembed_staging WHERE collection_id = ?", (collection_id,))
        self.conn.execute(
            "INSERT OR REPLACE INTO reembed_runs (collection_id, function) VALUES (?, ?)",
            (collection_id, dumps(dict(function))),
        )

    def records_to_reembed(
        self, collection_id: str, limit: int
    ) -> list[tuple[int, str, str | None, int]]:
        """``(rowid, id, document, seq)`` of records with no up-to-date staged vector."""
        rows = self.conn.execute(
            "SELECT r.rowid, r.id, r.document, r.seq FROM records r"
            " LEFT JOIN reembed_staging s"
            " ON s.collection_id = r.collection_id AND s.rowid = r.rowid"
            " WHERE r.collection_id = ? AND r.document IS NOT NULL"
            " AND (s.rowid IS NULL OR s.seq < r.seq)"
            " ORDER BY r.rowid LIMIT ?",
            (collection_id, limit),
        ).fetchall()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def stage_vectors(
        self,
        collection_id: str,
        rows: Sequence[tuple[int, int]],
        vectors: npt.NDArray[np.float32],
        hashes: Sequence[int | None],
    ) -> None:
        """Stage re-embedded vectors for ``(rowid, seq)`` rows."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO reembed_staging (collection_id, rowid, seq, embedding,"
            " doc_hash) VALUES (?, ?, ?, ?, ?)",
            (
                (collection_id, rowid, seq, embedding_blob(vec), h)
                for (rowid, seq), vec, h in zip(rows, vectors, hashes, strict=True)
            ),
        )

    def finish_reembed_run(self, collection_id: str, seq: int) -> None:
        """Swap staged vectors in for every record, then forget the run."""
        self.conn.execute(
            "UPDATE records SET embedding = s.embedding, doc_hash = s.doc_hash,"
            " vector_seq = ?, seq = ? FROM reembed_staging s"
            " WHERE s.collection_id = ? AND records.rowid = s.rowid",
            (seq, seq, collection_id),
        )
        self.conn.execute("DELETE FROM reembed_staging WHERE collection_id = ?", (collection_id,))
        self.conn.execute("DELETE FROM reembed_runs WHERE collection_id = ?", (collection_id,))
