"""The lexical index: BM25 over a collection's documents with SQLite FTS5.

Each collection has its own FTS5 table, ``lexical_<id>``, over ``records`` (external
content: the text is stored once, in ``records``), so BM25's document count and average
length are the collection's own. Triggers on ``records`` keep it in step inside the
same write transaction as the records themselves; records without a document are not
indexed. The tokenizer is chosen when the collection is created and recorded in its
configuration under ``"lexical"``: Unicode-aware words (``unicode61``, lowercased,
diacritics removed), optionally Porter-stemmed.

Scores are FTS5's ``bm25()`` (k1 = 1.2, b = 0.75), negated as FTS5 does: lower is better.

    >>> from vectorhouse.storage.connection import open_connection
    >>> conn = open_connection(":memory:")
    >>> _ = conn.execute(
    ...     "INSERT INTO collections (id, name, configuration, dimension, created_seq, last_seq)"
    ...     " VALUES ('c', 'n', '{}', 1, 0, 0)")
    >>> create(conn, "c", DEFAULT_CONFIG)
    >>> for rid, doc in [("a", "error E1042 in the parser"), ("b", "the parser is fine")]:
    ...     _ = conn.execute(
    ...         "INSERT INTO records (collection_id, id, document, embedding, seq, vector_seq)"
    ...         " VALUES ('c', ?, ?, x'', 0, 0)", (rid, doc))
    >>> rowids, scores = search(conn, "c", "E1042", 5)
    >>> rowids.tolist()
    [1]
"""

from __future__ import annotations

import functools
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vectorhouse.errors import StorageError
from vectorhouse.filters.sql import to_sql
from vectorhouse.storage.store import dumps

if TYPE_CHECKING:
    from vectorhouse.engine.postings import PostingsCache

Node = Any  # a parsed filter

DEFAULT_CONFIG: dict[str, Any] = {"tokenizer": "unicode61", "stemming": "none"}
"""The lexical settings a collection gets unless its configuration says otherwise."""

STEMMERS = ("none", "porter")

_WORD = re.compile(r"[^\W_]+")


def table_name(collection_id: str) -> str:
    """The FTS5 table of a collection (its id without dashes, so a plain identifier).

    >>> table_name("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    'lexical_1b4e28ba2fa111d2883f0016d3cca427'
    """
    hexid = collection_id.replace("-", "")
    assert hexid.isalnum(), collection_id
    return f"lexical_{hexid}"


def tokenize_spec(config: Mapping[str, Any]) -> str:
    """The FTS5 ``tokenize`` option for lexical settings.

    >>> tokenize_spec({"tokenizer": "unicode61", "stemming": "porter"})
    'porter unicode61 remove_diacritics 2'
    """
    base = "unicode61 remove_diacritics 2"
    return f"porter {base}" if config.get("stemming") == "porter" else base


def query_terms(text: str) -> list[str]:
    """The distinct words of a query, in order (FTS5 lowercases and stems them itself).

    >>> query_terms("Why does ERR_CONN_RESET happen? err")
    ['Why', 'does', 'ERR', 'CONN', 'RESET', 'happen', 'err']
    """
    return list(dict.fromkeys(_WORD.findall(text)))


def match_expression(text: str) -> str | None:
    """The FTS5 query for ``text``: any of its words (None when it has no words).

    >>> match_expression('say "hi" there')
    '"say" OR "hi" OR "there"'
    >>> match_expression("?!") is None
    True
    """
    return _any_of(query_terms(text))


def _any_of(terms: Sequence[str]) -> str | None:
    """The FTS5 query matching any of ``terms`` (None when there are none)."""
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def exists(conn: sqlite3.Connection, collection_id: str) -> bool:
    """Whether the collection has its lexical table."""
    return table_exists(conn, table_name(collection_id))


def table_exists(conn: sqlite3.Connection, table: str) -> bool:
    """Whether the database has a table of that name."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return row is not None


def create(conn: sqlite3.Connection, collection_id: str, config: Mapping[str, Any]) -> None:
    """Create the collection's lexical table and its triggers, and index the documents
    already stored (inside the caller's transaction)."""
    t = table_name(collection_id)
    cid = collection_id.replace("'", "''")
    conn.execute(
        f"CREATE VIRTUAL TABLE {t} USING fts5(document, content='records',"
        f" content_rowid='rowid', tokenize='{tokenize_spec(config)}')"
    )
    conn.execute(
        f"CREATE TRIGGER {t}_ai AFTER INSERT ON records"
        f" WHEN new.collection_id = '{cid}' AND new.document IS NOT NULL BEGIN"
        f" INSERT INTO {t} (rowid, document) VALUES (new.rowid, new.document); END"
    )
    conn.execute(
        f"CREATE TRIGGER {t}_ad AFTER DELETE ON records"
        f" WHEN old.collection_id = '{cid}' AND old.document IS NOT NULL BEGIN"
        f" INSERT INTO {t} ({t}, rowid, document) VALUES ('delete', old.rowid, old.document);"
        " END"
    )
    conn.execute(
        f"CREATE TRIGGER {t}_au AFTER UPDATE OF document ON records"
        f" WHEN new.collection_id = '{cid}' BEGIN"
        f" INSERT INTO {t} ({t}, rowid, document) SELECT 'delete', old.rowid, old.document"
        " WHERE old.document IS NOT NULL;"
        f" INSERT INTO {t} (rowid, document) SELECT new.rowid, new.document"
        " WHERE new.document IS NOT NULL; END"
    )
    conn.execute(
        f"INSERT INTO {t} (rowid, document) SELECT rowid, document FROM records"
        " WHERE collection_id = ? AND document IS NOT NULL",
        (collection_id,),
    )


def drop(conn: sqlite3.Connection, collection_id: str) -> None:
    """Drop the collection's lexical table and triggers, if it has them."""
    t = table_name(collection_id)
    for suffix in ("ai", "ad", "au"):
        conn.execute(f"DROP TRIGGER IF EXISTS {t}_{suffix}")
    conn.execute(f"DROP TABLE IF EXISTS {t}")


def rebuild(conn: sqlite3.Connection, collection_id: str, config: Mapping[str, Any]) -> int:
    """Drop and re-create the collection's lexical table from its records (inside the
    caller's transaction); returns how many documents it indexed."""
    drop(conn, collection_id)
    create(conn, collection_id, config)
    return indexed_count(conn, collection_id)


def indexed_count(conn: sqlite3.Connection, collection_id: str) -> int:
    """How many documents the lexical table holds (0 when there is none): the row count
    FTS5 keeps for BM25, read from its ``averages`` record."""
    if not exists(conn, collection_id):
        return 0
    return _row_count(conn, table_name(collection_id))


def _row_count(conn: sqlite3.Connection, table: str) -> int:
    row = conn.execute(f"SELECT block FROM {table}_data WHERE id = 1").fetchone()
    if row is None or not row[0]:
        return 0
    return _varint(bytes(row[0]))


def document_count(conn: sqlite3.Connection, collection_id: str) -> int:
    """How many of the collection's records have a document (what should be indexed)."""
    row = conn.execute(
        "SELECT count(*) FROM records WHERE collection_id = ? AND document IS NOT NULL",
        (collection_id,),
    ).fetchone()
    return int(row[0])


def _folded(term: str) -> str:
    """A word as ``unicode61 remove_diacritics 2`` indexes it (without stemming)."""
    decomposed = unicodedata.normalize("NFKD", term.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class TermCounts:
    """How many documents hold each query term, per lexical table, remembered while the
    table is unchanged: looking a term up in ``fts5vocab`` reads its whole doclist,
    which for the common words every query is checked for costs more than anything else
    but the search itself.

    An entry is valid for one version of the table: its ``averages`` record (document
    and token counts) and its ``structure`` record (whose cookie FTS5 bumps on every
    change to the index), plus the database's schema version (dropping and re-creating
    the table changes it). Reads inside a write transaction do not use it: there FTS5
    may hold changes it has not written to those records yet.

    >>> counts = TermCounts(max_terms=2)
    >>> counts.known("t", b"v1"), counts.known("t", b"v1") is counts.known("t", b"v1")
    ({}, True)
    >>> counts.known("t", b"v1")["a"] = 3; counts.known("t", b"v2")
    {}
    """

    def __init__(self, max_terms: int = 20_000, max_tables: int = 64) -> None:
        self.max_terms = max_terms
        self.max_tables = max_tables
        self._tables: dict[str, tuple[bytes, dict[str, int]]] = {}

    def known(self, table: str, version: bytes) -> dict[str, int]:
        """The counts remembered for ``table`` at ``version`` (a dict to add to)."""
        entry = self._tables.pop(table, None)  # re-inserted last: most recently used
        if entry is None or entry[0] != version or len(entry[1]) > self.max_terms:
            entry = (version, {})
        self._tables[table] = entry
        while len(self._tables) > self.max_tables:
            del self._tables[next(iter(self._tables))]
        return entry[1]

    def clear(self) -> None:
        """Forget everything."""
        self._tables.clear()


def _version(conn: sqlite3.Connection, table: str) -> tuple[bytes, int]:
    """The table's version for :class:`TermCounts` and its document count."""
    averages, structure, schema = conn.execute(
        f"SELECT (SELECT block FROM {table}_data WHERE id = 1),"
        f" (SELECT block FROM {table}_data WHERE id = 10), schema_version"
        " FROM pragma_schema_version"
    ).fetchone()
    averages = bytes(averages or b"")
    structure = bytes(structure or b"")
    version = b"%d:%d:" % (schema, len(averages)) + averages + structure
    return version, _varint(averages) if averages else 0


def _informative_terms(
    conn: sqlite3.Connection, table: str, terms: list[str], counts: TermCounts | None = None
) -> list[str]:
    """The query terms less those found in more than half of the documents.

    FTS5 floors such a term's BM25 weight (idf) at 1e-6, so it barely moves a score,
    but a document holding only such terms still matches: "a", "the" and "to" make a
    query match most of the collection and cost a score for each. Leaving them out
    keeps the ranking of the other documents (their scores change by under 1e-6 per
    term) and drops only near-zero tails. A query with no other term keeps them all.
    On a stemmed table the unstemmed word is looked up, so a term whose stem differs
    is simply kept. ``counts``, when given, remembers the terms' document counts.
    """
    if len(terms) < 2:
        return terms
    folded = [_folded(t) for t in terms]
    if counts is None:
        rows = dict(_vocabulary(conn, table, folded))
        if not rows:
            return terms
        n_docs = _row_count(conn, table)
    else:
        version, n_docs = _version(conn, table)
        known = counts.known(table, version)
        missing = [f for f in dict.fromkeys(folded) if f not in known]
        if missing:
            found = dict(_vocabulary(conn, table, missing))
            known.update({f: found.get(f, 0) for f in missing})
        rows = {f: known[f] for f in folded}
    half = n_docs / 2
    common = {term for term, doc in rows.items() if doc > half}
    kept = [t for t, f in zip(terms, folded, strict=True) if f not in common]
    return kept or terms


def _vocabulary(conn: sqlite3.Connection, table: str, folded: list[str]) -> list[tuple[str, int]]:
    """``(term, documents)`` of those of the (folded) terms the table holds."""
    vocab = f"temp.{table}_vocab"
    sql = f"SELECT term, doc FROM {vocab} WHERE term IN (SELECT value FROM json_each(?))"
    try:
        return conn.execute(sql, (dumps(folded),)).fetchall()
    except (sqlite3.OperationalError, StorageError):  # no vocabulary view on this connection yet
        conn.execute(f"CREATE VIRTUAL TABLE {vocab} USING fts5vocab(main, {table}, row)")
        return conn.execute(sql, (dumps(folded),)).fetchall()


def _varint(data: bytes) -> int:
    """SQLite's big-endian varint at the start of ``data``.

    >>> _varint(bytes([0x81, 0x00]))
    128
    """
    return varints(data, 1)[0]


def varints(data: bytes, n: int) -> list[int]:
    """The first ``n`` of SQLite's big-endian varints in ``data`` (0 for missing ones),
    as FTS5 writes its record counts and sizes.

    >>> varints(bytes([0x81, 0x00, 0x05]), 3)
    [128, 5, 0]
    """
    out, i = [], 0
    for _ in range(n):
        value = 0
        for j in range(9):
            if i >= len(data):
                break
            byte = data[i]
            i += 1
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        out.append(value)
    return out


def in_memory(
    conn: sqlite3.Connection,
    collection_id: str,
    text: str,
    k: int,
    node: Node | None = None,
    ids: Sequence[str] | None = None,
    counts: TermCounts | None = None,
    postings: PostingsCache | None = None,
    allowed: Callable[[], npt.NDArray[np.int64]] | None = None,
) -> Callable[[], tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] | None:
    """:func:`search`'s ranking from the postings in memory, when they hold the table's
    current version: a function that gives it without using ``conn`` (so another
    thread can run it); None otherwise. A query with a filter (``node``, ``ids``) needs
    ``allowed``, which gives the rowids passing it (called only when the postings are
    used)."""
    filtered = node is not None or ids is not None
    if postings is None or counts is None or (filtered and allowed is None) or k <= 0:
        return None
    words = query_terms(text)
    if not words:
        return None
    t = table_name(collection_id)
    found = postings.get(t, *_version(conn, t))
    terms = found.terms(words, conn) if found is not None else None
    if found is None or terms is None:
        return None
    rows = allowed() if filtered and allowed is not None else None
    return functools.partial(found.rank, words, terms, k, rows)


def search(
    conn: sqlite3.Connection,
    collection_id: str,
    text: str,
    k: int,
    node: Node | None = None,
    ids: Sequence[str] | None = None,
    counts: TermCounts | None = None,
    postings: PostingsCache | None = None,
    allowed: Callable[[], npt.NDArray[np.int64]] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The ``k`` best BM25 matches for ``text`` among the records passing the filter:
    ``(rowids, scores)``, best first, scores as FTS5's ``bm25()`` (lower is better).
    ``counts`` (outside write transactions only) remembers term document counts;
    ``postings`` (likewise), when it holds the table's current version, ranks in memory
    (:mod:`vectorhouse.engine.postings`) with the same result: see :func:`in_memory`."""
    t = table_name(collection_id)
    terms = query_terms(text)
    if not terms or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    fast = in_memory(conn, collection_id, text, k, node, ids, counts, postings, allowed)
    if fast is not None:
        return fast()
    expr = _any_of(_informative_terms(conn, t, terms, counts))
    sql = f"SELECT f.rowid, bm25({t}) AS s FROM {t} f"
    args: list[Any] = [expr]
    conditions = [f"{t} MATCH ?"]
    if node is not None or ids is not None:
        sql += " JOIN records r ON r.rowid = f.rowid"
        if ids is not None:
            conditions.append("r.id IN (SELECT value FROM json_each(?))")
            args.append(dumps(list(ids)))
        if node is not None:
            where, params = to_sql(node)
            conditions.append(f"({where})")
            args.extend(params)
    sql += " WHERE " + " AND ".join(conditions) + " ORDER BY s, f.rowid LIMIT ?"
    args.append(k)
    rows = conn.execute(sql, args).fetchall()
    rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    return rowids, scores
