"""``Client.check()`` and ``vectorhouse check``: is the database whole, and do the
derived structures agree with it?

Five kinds of check, each a list of :class:`CheckFinding`:

- ``sqlite``: ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``. SQLite is
  the truth, so nothing here can repair it: a finding says to restore a backup.
- ``count``: per collection, the number of records kept in its row (by triggers, for
  ``count()`` and the open-time check of a saved graph) equals ``count(*)``.
- ``index``: per collection, the newest saved index file (identity, checksum, structure,
  then every label and vector it holds against the records), and the graph this client
  has in memory, if any (every record present, nothing else, every vector equal).
- ``lexical``: per collection, its BM25 table (engine/lexical.py) holds one entry per
  record with a document (a collection made before lexical search has none until its
  first lexical or hybrid query: that is not a problem).
- ``full_text``: each entry of :data:`FULL_TEXT_CHECKS` (the trigram table behind
  ``$contains`` today; other full-text tables add an entry).

With ``repair=True`` a wrong kept count is set from ``count(*)``, the index of each
collection with a problem is rebuilt from the records and saved, and each full-text or
BM25 table that disagrees is rebuilt.

    >>> from vectorhouse.storage.connection import open_connection
    >>> from vectorhouse.storage.store import Store
    >>> from vectorhouse.engine.engine import Engine
    >>> report = run_check(Engine(Store(open_connection(":memory:")), index_dir=None))
    >>> report.ok, [f.check for f in report.findings]
    (True, ['sqlite', 'full_text'])
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vectorhouse.engine import lexical
from vectorhouse.engine.consistency import vectors_differ
from vectorhouse.engine.index_files import Expected
from vectorhouse.errors import StorageError
from vectorhouse.index.base import IndexParams, Labels, VectorIndex
from vectorhouse.storage.store import CollectionRow

if TYPE_CHECKING:
    from vectorhouse.engine.engine import Engine

_BATCH = 10_000


@dataclass(frozen=True)
class CheckFinding:
    """One check's outcome.

    >>> CheckFinding("sqlite", "database", True, "integrity ok").problem
    False
    """

    check: str
    """``sqlite``, ``count``, ``index``, ``lexical`` or ``full_text``."""
    subject: str
    """What was checked: ``database``, a collection's name, a table's name."""
    ok: bool
    detail: str
    repaired: bool = False

    @property
    def problem(self) -> bool:
        """Whether this is a problem that is still there."""
        return not self.ok and not self.repaired


@dataclass(frozen=True)
class CheckReport:
    """Every finding of one check run.

    >>> report = CheckReport((CheckFinding("index", "docs", False, "bad", repaired=True),))
    >>> report.ok, report.found_problems
    (True, True)
    """

    findings: tuple[CheckFinding, ...]

    @property
    def ok(self) -> bool:
        """No problem is left (none found, or all repaired)."""
        return not any(f.problem for f in self.findings)

    @property
    def found_problems(self) -> bool:
        """Whether any check failed (repaired or not)."""
        return any(not f.ok for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view.

        >>> CheckReport(()).to_dict()
        {'ok': True, 'found_problems': False, 'findings': []}
        """
        return {
            "ok": self.ok,
            "found_problems": self.found_problems,
            "findings": [asdict(f) for f in self.findings],
        }


@dataclass(frozen=True)
class FullTextCheck:
    """A full-text table derived from ``records``: how to check it, how to rebuild it."""

    table: str
    check_sql: str
    """Raises ``sqlite3.DatabaseError`` when the table disagrees with its content."""
    rebuild_sql: str


FULL_TEXT_CHECKS: list[FullTextCheck] = [
    FullTextCheck(
        "documents_fts",
        "INSERT INTO documents_fts (documents_fts, rank) VALUES ('integrity-check', 1)",
        "INSERT INTO documents_fts (documents_fts) VALUES ('rebuild')",
    ),
]
"""The full-text tables :func:`run_check` verifies; append an entry for a new one."""


def run_check(engine: Engine, *, repair: bool = False) -> CheckReport:
    """Run every check (and repair what can be repaired) under the engine's lock."""
    with engine.lock.exclusively():
        engine._check_open()
        findings = [_sqlite(engine)]
        if findings[0].ok:
            for name in engine.store.collection_names():
                row = engine.store.collection_by_name(name)
                if row is not None:
                    findings.append(_count(engine, row, repair))
                    findings.extend(_index(engine, row, repair))
                    findings.append(_lexical(engine, row, repair))
        for check in FULL_TEXT_CHECKS:
            findings.append(_full_text(engine, check, repair))
    return CheckReport(tuple(findings))


def _sqlite(engine: Engine) -> CheckFinding:
    conn = engine.store.conn
    try:
        messages = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
    except (sqlite3.DatabaseError, StorageError) as exc:
        messages, orphans = [str(exc.__cause__ or exc)], []
    if messages == ["ok"] and not orphans:
        return CheckFinding("sqlite", "database", True, "integrity_check ok")
    detail = "; ".join(messages[:5]) if messages != ["ok"] else ""
    if orphans:
        detail += f"{'; ' if detail else ''}{len(orphans)} rows refer to missing rows"
    return CheckFinding(
        "sqlite",
        "database",
        False,
        f"{detail}. SQLite is the source of truth and cannot be repaired here: restore"
        " a backup, or `vectorhouse export` what is still readable into a new database",
    )


def _count(engine: Engine, row: CollectionRow, repair: bool) -> CheckFinding:
    kept, counted = engine.store.count(row.id), engine.store.counted(row.id)
    if kept == counted:
        return CheckFinding("count", row.name, True, f"{counted:,} records")
    if repair:
        with engine.store.tx.atomic():
            engine.store.recount(row.id)
    return CheckFinding(
        "count",
        row.name,
        False,
        f"the collection's kept count says {kept:,} records, the table holds {counted:,}",
        repaired=repair,
    )


def _index(engine: Engine, row: CollectionRow, repair: bool) -> list[CheckFinding]:
    from vectorhouse.engine.engine import index_params

    if row.dimension is None:
        return [CheckFinding("index", row.name, True, "no vectors yet")]
    params = index_params(row)
    rowids, vseqs = engine.store.vector_seqs(row.id)
    problems: list[str] = []
    notes: list[str] = []
    if engine.files is not None:
        loaded = engine.files.inspect(
            Expected(engine.files.database_id, row.id, params, row.last_seq)
        )
        if loaded is None:
            if len(rowids):
                notes.append("no index file saved yet (it is built from the records on open)")
        elif loaded.index is None:
            problems.append(loaded.problem or "index file unusable")
        else:
            # Records whose vector changed after the file's watermark are replayed on
            # open; every other record must be in the file with its vector, and the
            # file must hold nothing else but records deleted or changed since.
            settled = rowids[vseqs <= loaded.watermark]
            changed = rowids[vseqs > loaded.watermark]
            gone = engine.store.deleted_since(row.id, loaded.watermark)
            problem = _agreement(
                engine, row, loaded.index, None, settled, np.union1d(changed, gone)
            )
            if problem:
                problems.append(f"index file: {problem}")
            else:
                behind = "" if loaded.watermark >= row.last_seq else ", writes after it replay"
                notes.append(f"index file agrees ({len(loaded.index):,} vectors{behind})")
    state = engine._indexes.get(row.id)
    if state is not None:
        state = engine._synced_state(row)
        assert state is not None
        problem = _agreement(engine, row, state.index, state.tail, rowids, np.empty(0, np.int64))
        if problem:
            problems.append(f"in memory: {problem}")
        else:
            notes.append("the graph in memory agrees")
    if not problems:
        if repair and engine.files is not None and len(rowids) and not _saved(engine, row):
            _rebuild(engine, row, params)
            notes.append("index file saved")
        return [CheckFinding("index", row.name, True, "; ".join(notes) or "empty")]
    if repair:
        _rebuild(engine, row, params)
    return [CheckFinding("index", row.name, False, "; ".join(problems), repaired=repair)]


def _saved(engine: Engine, row: CollectionRow) -> bool:
    return engine.files is not None and engine.files.latest(row.id) is not None


def _agreement(
    engine: Engine,
    row: CollectionRow,
    index: VectorIndex,
    tail: VectorIndex | None,
    expected: Labels,
    may_hold: Labels,
) -> str | None:
    """Why ``index`` (plus ``tail``) does not hold exactly the records ``expected`` with
    their stored vectors (labels in ``may_hold`` may be there or not), or None."""
    held = index.labels() if tail is None else np.union1d(index.labels(), tail.labels())
    missing = np.setdiff1d(expected, held)
    extra = np.setdiff1d(np.setdiff1d(held, expected), may_hold)
    if len(missing) or len(extra):
        return (
            f"{len(missing):,} records are missing from the graph and {len(extra):,}"
            f" labels point at records that do not exist"
        )
    wrong = 0
    for start in range(0, len(expected), _BATCH):
        labels = expected[start : start + _BATCH]
        found, vectors = engine.store.vectors_of(row.id, row.dimension or 0, labels.tolist())
        in_tail = np.zeros(len(found), np.bool_) if tail is None else tail.contains(found)
        if (~in_tail).any():
            wrong += vectors_differ(index, found[~in_tail], vectors[~in_tail])
        if tail is not None and in_tail.any():
            wrong += vectors_differ(tail, found[in_tail], vectors[in_tail])
    if wrong:
        return f"{wrong:,} vectors differ from the stored ones"
    return None


def _rebuild(engine: Engine, row: CollectionRow, params: IndexParams) -> None:
    """Build the collection's graph from its records, all of it now, and save it."""
    assert row.dimension is not None
    state = engine._new_state(params, 0, with_copy=engine._small(row.id))
    mirror_max = engine.settings.exact_copy_max_vectors
    for labels, vectors in engine.store.vectors_since(row.id, 0, row.dimension):
        state.add(labels, vectors, mirror_max)
    state.watermark = row.last_seq
    state.unsaved = max(1, len(state.index))
    engine._indexes[row.id] = state
    if engine.files is not None:
        engine.files.remove_all(row.id)
        engine._save(row.id)


def _lexical(engine: Engine, row: CollectionRow, repair: bool) -> CheckFinding:
    from vectorhouse.engine.engine import lexical_config

    conn = engine.store.conn
    if not lexical.exists(conn, row.id):
        return CheckFinding(
            "lexical", row.name, True, "no BM25 table yet (the first lexical query builds it)"
        )
    indexed, expected = lexical.indexed_count(conn, row.id), lexical.document_count(conn, row.id)
    if indexed == expected:
        return CheckFinding("lexical", row.name, True, f"BM25 table holds all {expected} documents")
    problem = f"BM25 table holds {indexed} documents, the records {expected}"
    if not repair:
        return CheckFinding("lexical", row.name, False, problem)
    with engine.store.tx.atomic():
        engine.term_counts.clear()
        lexical.rebuild(conn, row.id, lexical_config(row.configuration))
    return CheckFinding("lexical", row.name, False, f"{problem}; rebuilt", repaired=True)


def _full_text(engine: Engine, check: FullTextCheck, repair: bool) -> CheckFinding:
    conn = engine.store.conn
    try:
        with engine.store.tx.atomic():
            conn.execute(check.check_sql)
    except (sqlite3.DatabaseError, StorageError) as exc:
        problem = f"disagrees with the records ({exc.__cause__ or exc})"
    else:
        return CheckFinding("full_text", check.table, True, "agrees with the records")
    if not repair:
        return CheckFinding("full_text", check.table, False, problem)
    with engine.store.tx.atomic():
        conn.execute(check.rebuild_sql)
    return CheckFinding("full_text", check.table, False, f"{problem}; rebuilt", repaired=True)
