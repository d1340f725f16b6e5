"""BM25 postings in memory: the ranking of FTS5's ``bm25()`` without scoring each
match in SQL.

FTS5 answers ``MATCH 'a OR b' ORDER BY bm25() LIMIT k`` by computing the score of every
matching row, one function call per row; at 120,000 documents a query with a few
ordinary words matches tens of thousands and takes milliseconds. :class:`Postings` is
a copy of one version of a collection's lexical table in arrays: for each term the
rows that hold it and how often, and each row's length in tokens, all read from the
FTS5 table itself (its ``fts5vocab`` instances and ``docsize``), so the terms are
FTS5's own. A query adds up each term's contribution over its rows with numpy, in the
same order and arithmetic as ``bm25()`` (``k1 = 1.2``, ``b = 0.75``, idf floored at
``1e-6``), and ranks like the SQL: best score first, then smaller rowid.

The copy is derived and never the truth. It answers only while the table is the one it
was read from (FTS5's ``averages`` and ``structure`` records and the schema version,
as :class:`~vectorhouse.engine.lexical.TermCounts` checks): any write, by this process
or another, changes that, and the query goes to FTS5 while :class:`PostingsCache`
reads the new version in a background thread. Query words are made terms by FTS5's own
tokenizer (:func:`tokens`; plain ASCII words on an unstemmed table are just
lowercased). It is used over collections of at least ``Settings.lexical_postings_min_documents``
documents; a filtered query ranks among the rowids the filter passes (as the dense
planner resolves them).

    >>> import numpy as np
    >>> p = Postings("unicode61 remove_diacritics 2", b"v1", 4, np.array([10, 11, 12, 13]),
    ...              np.full(4, 3.0), 3.0, {"fox": 0, "red": 1}, np.array([0, 1, 2]),
    ...              np.array([1, 3], np.int32), np.array([1.0, 2.0], np.float32))
    >>> rowids, scores = p.search(["red", "Fox"], 5)
    >>> rowids.tolist(), np.round(scores, 4).tolist()
    ([13, 11], [-1.165, -0.8473])
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from vectorhouse.engine.lexical import _folded, _version, table_exists, tokenize_spec, varints
from vectorhouse.errors import VectorhouseError
from vectorhouse.storage.connection import open_read_connection

log = logging.getLogger("vectorhouse")

K1 = 1.2
B = 0.75
_MIN_IDF = 1e-6
_TERMS_PER_CHUNK = 4_096
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_TOKENIZE = re.compile(r"tokenize\s*=\s*'((?:[^']|'')*)'")
_MAX_WORDS = 100_000
_WORDS: dict[tuple[str, str], str | None] = {}
"""Words FTS5 tokenized, per tokenizer: ``(tokenize, word) -> term`` (None: not one token)."""

Ranked = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]
T = TypeVar("T")


class Postings:
    """One version of a lexical table as arrays (see the module's docstring).

    ``rowids`` are the table's rows in ascending order and ``lengths`` their sizes in
    tokens; term ``t`` (``lookup[t]``) is held by rows ``positions[starts[t]:starts[t+1]]``
    (indexes into ``rowids``), ``frequencies`` times each.
    """

    def __init__(
        self,
        tokenize: str,
        version: bytes,
        n_rows: int,
        rowids: npt.NDArray[np.int64],
        lengths: npt.NDArray[np.float64],
        average_length: float,
        lookup: dict[str, int],
        starts: npt.NDArray[np.int64],
        positions: npt.NDArray[np.int32],
        frequencies: npt.NDArray[np.float32],
    ) -> None:
        self.tokenize = tokenize
        # The default tokenizer makes a plain ASCII word its lowercase; others are asked.
        self.plain = tokenize == tokenize_spec({})
        self.version = version
        self.n_rows = n_rows
        self.rowids = rowids
        # k1 * (1 - b + b * D / avgdl), per row, evaluated as bm25() does.
        self.norm = K1 * (1 - B + B * lengths / average_length) if n_rows else lengths
        self.lookup = lookup
        self.starts = starts
        self.positions = positions
        self.frequencies = frequencies

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays and the term lookup (roughly)."""
        arrays = (self.rowids, self.norm, self.starts, self.positions, self.frequencies)
        return sum(a.nbytes for a in arrays) + 100 * len(self.lookup)

    def search(
        self,
        words: Sequence[str],
        k: int,
        conn: sqlite3.Connection | None = None,
        allowed: npt.NDArray[np.int64] | None = None,
    ) -> Ranked | None:
        """The ``k`` best rows for a query's words (as
        :func:`~vectorhouse.engine.lexical.query_terms` splits them), ``(rowids, scores)``
        as :func:`~vectorhouse.engine.lexical.search` returns them: :meth:`terms` then
        :meth:`rank`. None when the words need FTS5's tokenizer and ``conn`` is None, or
        a word is not one token to it."""
        terms = self.terms(words, conn)
        return None if terms is None else self.rank(words, terms, k, allowed)

    def terms(self, words: Sequence[str], conn: sqlite3.Connection | None) -> list[str] | None:
        """The term FTS5 makes of each word with the table's tokenizer: plain ASCII words
        lowercased on an unstemmed table, others asked of FTS5 itself on ``conn``
        (remembered); None where a word is not exactly one token, or there is no
        ``conn`` to ask."""
        if self.plain and all(_ASCII_WORD.fullmatch(w) for w in words):
            return [w.lower() for w in words]
        if conn is None:
            return None
        return tokens(conn, self.tokenize, words)

    def rank(
        self,
        words: Sequence[str],
        terms: Sequence[str],
        k: int,
        allowed: npt.NDArray[np.int64] | None = None,
    ) -> Ranked:
        """The ranking of :meth:`search` for words and their terms (no connection needed:
        it can run in another thread), among the rows ``allowed`` (ascending rowids)
        when given. The scores stay the whole table's, as FTS5's are under a filter."""
        phrases = [self.lookup.get(t) for t in terms]
        if len(words) >= 2:  # lexical._informative_terms: leave out words in most rows
            common = [self._rows(self.lookup.get(_folded(w))) > self.n_rows / 2 for w in words]
            kept = [j for j, c in enumerate(common) if not c]
            if kept:
                phrases = [phrases[j] for j in kept]
        scores = np.zeros(len(self.rowids), dtype=np.float64)
        for term in phrases:
            if term is None:
                continue
            n = self._rows(term)
            idf = math.log((self.n_rows - n + 0.5) / (n + 0.5))
            if idf <= 0.0:
                idf = _MIN_IDF
            rows = self.positions[self.starts[term] : self.starts[term + 1]]
            f = self.frequencies[self.starts[term] : self.starts[term + 1]].astype(np.float64)
            scores[rows] += idf * ((f * (K1 + 1.0)) / (f + self.norm[rows]))
        if allowed is None:
            found = np.flatnonzero(scores > 0.0)  # every match scores above 0
        else:
            at = np.searchsorted(self.rowids, allowed)
            inside = at < len(self.rowids)
            at = at[inside][self.rowids[at[inside]] == allowed[inside]]
            found = at[scores[at] > 0.0]
        negated = -scores[found]
        if len(found) > k > 0:
            kth = negated[np.argpartition(negated, k - 1)[:k]].max()
            within = np.flatnonzero(negated <= kth)  # ties at the k-th score included
            found, negated = found[within], negated[within]
        order = np.lexsort((self.rowids[found], negated))[:k]
        return self.rowids[found[order]], negated[order]

    def _rows(self, term: int | None) -> int:
        """How many rows hold a term (0 for None)."""
        return 0 if term is None else int(self.starts[term + 1] - self.starts[term])

    @classmethod
    def read(cls, conn: sqlite3.Connection, table: str) -> Postings | None:
        """The table as the caller's read transaction sees it; None for a table whose
        parts disagree (damaged)."""
        sql = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        spec = _TOKENIZE.search(str(sql[0])) if sql is not None else None
        if spec is None:
            return None
        version, n_rows = _version(conn, table)
        averages = conn.execute(f"SELECT block FROM {table}_data WHERE id = 1").fetchone()
        n_tokens = varints(bytes(averages[0] or b""), 2)[1] if averages else 0
        ids, lengths = _docsizes(conn, table)
        if len(ids) != n_rows:
            return None
        vocab = f"temp.{table}_instances"
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {vocab} USING fts5vocab(main, {table}, instance)"
        )
        lookup: dict[str, int] = {}
        starts: list[npt.NDArray[np.int64]] = [np.zeros(1, np.int64)]
        positions: list[npt.NDArray[np.int32]] = []
        frequencies: list[npt.NDArray[np.float32]] = []
        total = 0
        cursor = conn.execute(
            f"SELECT term, count(*), group_concat(doc) FROM {vocab} GROUP BY term"
        )
        while chunk := cursor.fetchmany(_TERMS_PER_CHUNK):
            pos, freq, per_term = _chunk(chunk, ids)
            if pos is None:
                return None
            for term, _, _ in chunk:
                lookup[term] = len(lookup)
            starts.append(total + np.cumsum(per_term))
            total += len(pos)
            positions.append(pos)
            frequencies.append(freq)
        return cls(
            spec.group(1).replace("''", "'"),
            version,
            n_rows,
            ids,
            lengths,
            n_tokens / n_rows if n_rows else 0.0,
            lookup,
            np.concatenate(starts),
            np.concatenate(positions) if positions else np.zeros(0, np.int32),
            np.concatenate(frequencies) if frequencies else np.zeros(0, np.float32),
        )


def estimated_bytes(conn: sqlite3.Connection, table: str, n_rows: int) -> int:
    """About how much memory :meth:`Postings.read` would hold for the table of
    ``n_rows`` rows (from its term and posting counts, read through ``fts5vocab``)."""
    vocab = f"temp.{table}_rows"
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {vocab} USING fts5vocab(main, {table}, row)")
    terms, postings = conn.execute(
        f"SELECT count(*), coalesce(sum(doc), 0) FROM {vocab}"
    ).fetchone()
    return 8 * int(postings) + 108 * int(terms) + 16 * n_rows


def _chunk(
    rows: list[tuple[str, int, str]], ids: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int32] | None, npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Postings of some terms from ``(term, instances, 'doc,doc,...')`` rows: each term's
    rows (positions in ``ids``) and frequencies, and how many rows each term has."""
    counts = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    docs = np.fromstring(",".join(r[2] for r in rows), dtype=np.int64, sep=",")
    term = np.repeat(np.arange(len(rows)), counts)
    if len(docs) and np.any((np.diff(docs) < 0) & (np.diff(term) == 0)):
        order = np.lexsort((docs, term))  # a term's instances come grouped, maybe unsorted
        docs = docs[order]
    first = np.ones(len(docs), dtype=bool)
    first[1:] = (docs[1:] != docs[:-1]) | (term[1:] != term[:-1])
    run = np.flatnonzero(first)
    freq = np.diff(np.append(run, len(docs))).astype(np.float32)
    doc = docs[run]
    pos = np.searchsorted(ids, doc)
    if len(pos) and (pos.max() >= len(ids) or np.any(ids[pos] != doc)):
        return None, freq, counts  # a row without a size: the table is damaged
    per_term = np.bincount(term[run], minlength=len(rows)).astype(np.int64)
    return pos.astype(np.int32), freq, per_term


def _docsizes(
    conn: sqlite3.Connection, table: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Each row's id and its size in tokens (the table has one column), ascending."""
    rows = conn.execute(f"SELECT id, sz FROM {table}_docsize ORDER BY id").fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    sizes = np.fromiter(
        (varints(bytes(r[1]), 1)[0] if r[1] else 0 for r in rows),
        dtype=np.float64,
        count=len(rows),
    )
    return ids, sizes


def tokens(conn: sqlite3.Connection, tokenize: str, words: Sequence[str]) -> list[str] | None:
    """The term FTS5's tokenizer ``tokenize`` makes of each word (as in a query's
    quoted phrase), asked of FTS5 itself through a temporary table on ``conn`` and
    remembered; None if a word is not exactly one token (or FTS5 cannot be asked).

    >>> import sqlite3
    >>> tokens(sqlite3.connect(":memory:"), "porter unicode61 remove_diacritics 2",
    ...        ["Running", "Crème"])
    ['run', 'creme']
    """
    missing = list(dict.fromkeys(w for w in words if (tokenize, w) not in _WORDS))
    if missing:
        try:
            found = _tokenized(conn, tokenize, missing)
        except (sqlite3.Error, VectorhouseError) as exc:
            log.debug("could not tokenize query words: %s", exc)
            return None
        if len(_WORDS) + len(found) > _MAX_WORDS:
            _WORDS.clear()
        _WORDS.update({(tokenize, w): t for w, t in found.items()})
    terms = [_WORDS.get((tokenize, w)) for w in words]
    return None if any(t is None for t in terms) else [t for t in terms if t is not None]


def _tokenized(conn: sqlite3.Connection, tokenize: str, words: list[str]) -> dict[str, str | None]:
    """Each word's one term from FTS5 (None: none, or several)."""
    name = f"vh_words_{zlib.crc32(tokenize.encode()):08x}"
    quoted = tokenize.replace("'", "''")
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{name} USING fts5(w, tokenize='{quoted}')"
    )
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{name}_i USING fts5vocab(temp, {name}, instance)"
    )
    conn.execute(f"DELETE FROM temp.{name}")
    conn.executemany(
        f"INSERT INTO temp.{name} (rowid, w) VALUES (?, ?)", list(enumerate(words, start=1))
    )
    per_word: dict[int, list[str]] = {}
    for doc, term in conn.execute(f"SELECT doc, term FROM temp.{name}_i"):
        per_word.setdefault(int(doc), []).append(str(term))
    conn.execute(f"DELETE FROM temp.{name}")
    out: dict[str, str | None] = {}
    for i, word in enumerate(words, start=1):
        got = per_word.get(i, [])
        out[word] = got[0] if len(got) == 1 else None
    return out


_POOL: tuple[int, ThreadPoolExecutor] | None = None  # (the process that made it, pool)
_POOL_LOCK = threading.Lock()


def _forget_pool() -> None:
    """In a forked child: the parent's pool threads are not there; start afresh."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def in_background(fn: Callable[[], T]) -> Future[T]:
    """Run ``fn`` in a small shared thread pool (at once, in this thread, on a machine
    with one core), so that a query's BM25 ranking overlaps its dense search.

    >>> in_background(lambda: 6 * 7).result()
    42
    """
    global _POOL
    if (os.cpu_count() or 1) < 2:
        done: Future[T] = Future()
        try:
            done.set_result(fn())
        except Exception as exc:  # handed to the caller by result(), as the pool does
            done.set_exception(exc)
        return done
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid():  # (a forked child makes its own)
            workers = min(4, os.cpu_count() or 1)
            _POOL = (
                os.getpid(),
                ThreadPoolExecutor(workers, thread_name_prefix="vectorhouse-bm25"),
            )
        pool = _POOL[1]
    return pool.submit(fn)


class PostingsCache:
    """The :class:`Postings` of a client's lexical tables, read in a background thread
    (one at a time, and busy at most half the time: after a read that took ``t``
    seconds, the next starts no sooner than ``t`` later) when a query finds none for
    the table's current version. Tables beyond ``max_tables`` or ``max_bytes`` in all
    are forgotten, least recently used first; a table that alone would hold more than
    ``max_bytes`` is not read, and FTS5 answers for it.

    >>> import tempfile, os
    >>> from vectorhouse.storage.connection import open_connection
    >>> path = os.path.join(tempfile.mkdtemp(), "d.sqlite3")
    >>> _ = open_connection(path)
    >>> cache = PostingsCache(path, min_documents=10)
    >>> cache.get("lexical_x", b"v1", n_rows=5) is None  # too small: FTS5 answers
    True
    >>> cache.close()
    """

    def __init__(
        self,
        path: str,
        *,
        min_documents: int,
        max_bytes: int = 1 << 30,
        max_tables: int = 8,
        busy_timeout_s: float = 10.0,
    ) -> None:
        self.path = path
        self.min_documents = min_documents
        self.max_bytes = max_bytes
        self.max_tables = max_tables
        self.busy_timeout_s = busy_timeout_s
        # table -> (the version read, its postings or None: FTS5 answers for it)
        self._tables: dict[str, tuple[bytes, Postings | None]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._not_before = 0.0
        self._closed = False

    def get(self, table: str, version: bytes, n_rows: int) -> Postings | None:
        """The postings of ``table`` at ``version``, or None (and a read of that version
        started, unless one is running or too soon)."""
        if n_rows < self.min_documents or n_rows == 0:
            return None
        with self._lock:
            held = self._tables.get(table)
            if held is not None and held[0] == version:
                self._tables[table] = self._tables.pop(table)  # most recently used last
                return held[1]
            if self._thread is None and not self._closed and time.monotonic() >= self._not_before:
                self._thread = threading.Thread(
                    target=self._read, args=(table,), name="vectorhouse-postings", daemon=True
                )
                self._thread.start()
        return None

    def _read(self, table: str) -> None:
        started = time.monotonic()
        postings: Postings | None = None
        version: bytes | None = None
        try:
            with _reading(self.path, self.busy_timeout_s) as conn:
                if table_exists(conn, table):
                    version, n_rows = _version(conn, table)
                    # Too large for the memory allowed: FTS5 answers for this version.
                    if estimated_bytes(conn, table, n_rows) <= self.max_bytes:
                        postings = Postings.read(conn, table)
            if postings is not None and postings.nbytes > self.max_bytes:
                postings = None
        except (VectorhouseError, MemoryError, ValueError) as exc:
            log.debug("could not read the postings of %s: %s", table, exc)
            version = None
        with self._lock:
            self._thread = None
            self._not_before = time.monotonic() + (time.monotonic() - started)
            if self._closed or version is None:
                return
            self._tables.pop(table, None)
            self._tables[table] = (version, postings)
            self._evict()

    def _evict(self) -> None:
        """Drop the least recently used tables beyond the limits (under the lock)."""

        def held() -> int:
            return sum(p.nbytes for _, p in self._tables.values() if p is not None)

        while len(self._tables) > 1 and (
            len(self._tables) > self.max_tables or held() > self.max_bytes
        ):
            del self._tables[next(iter(self._tables))]

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the read in progress, if any, to finish."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def close(self) -> None:
        """Forget everything and wait for the read in progress (before the database
        closes)."""
        with self._lock:
            self._closed = True
            self._tables.clear()
        self.wait()


@contextlib.contextmanager
def _reading(path: str, busy_timeout_s: float) -> Iterator[sqlite3.Connection]:
    """A read connection of its own, in one read transaction, closed afterwards."""
    conn = open_read_connection(path, busy_timeout_s=busy_timeout_s)
    try:
        conn.execute("BEGIN")
        yield conn
        conn.execute("COMMIT")
    finally:
        conn.close()
