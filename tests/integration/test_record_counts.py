"""Each collection's number of records is kept in its row by triggers: ``count()`` reads
it, and opening a saved graph compares the graph with it. It must equal ``count(*)``
after every kind of write, by this library or by any other SQLite client."""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import vectorhouse
from vectorhouse.storage.connection import MIGRATIONS, schema_version

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _vectors(seed: int, n: int, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def _counted(path: Path) -> dict[str, int]:
    """Each collection's records, counted row by row by a plain SQLite connection."""
    with contextlib.closing(sqlite3.connect(path / "vectorhouse.sqlite3")) as conn:
        rows = conn.execute(
            "SELECT c.name, (SELECT count(*) FROM records r WHERE r.collection_id = c.id)"
            " FROM collections c"
        ).fetchall()
    return dict(rows)


def test_count_follows_every_kind_of_write(db_path: Path) -> None:
    with vectorhouse.PersistentClient(path=db_path) as client:
        a = client.create_collection("aaa", embedding_function=None)
        b = client.create_collection("bbb", embedding_function=None)
        a.add(ids=[f"r{i}" for i in range(50)], embeddings=_vectors(1, 50))
        b.add(ids=[f"r{i}" for i in range(20)], embeddings=_vectors(2, 20))
        steps = [
            lambda: a.upsert(ids=[f"r{i}" for i in range(40, 60)], embeddings=_vectors(3, 20)),
            lambda: a.update(ids=["r1", "r2"], embeddings=_vectors(4, 2)),
            lambda: a.delete(ids=["r0", "r1", "missing"]),
            lambda: b.delete(where={"$and": [{"x": {"$ne": 1}}, {"x": {"$ne": 2}}]}),
            lambda: b.add(ids=["again"], embeddings=_vectors(5, 1)),
            lambda: client.delete_collection("aaa"),
        ]
        expected = [{"aaa": 60, "bbb": 20}, {"aaa": 60, "bbb": 20}, {"aaa": 58, "bbb": 20}]
        expected += [{"aaa": 58, "bbb": 0}, {"aaa": 58, "bbb": 1}, {"bbb": 1}]
        for step, want in zip(steps, expected, strict=True):
            step()
            got = {c.name: c.count() for c in client.list_collections()}
            assert got == want == _counted(db_path)


def test_a_failed_batch_leaves_the_count_as_it_was(db_path: Path) -> None:
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.create_collection("docs", embedding_function=None)
        col.add(ids=["r0", "r1"], embeddings=_vectors(1, 2))
        with pytest.raises(vectorhouse.errors.VectorhouseError):
            col.add(ids=["r2", "r3"], embeddings=_vectors(2, 2)[:, :4])  # wrong dimension
        assert col.count() == 2 == _counted(db_path)["docs"]


def test_records_deleted_by_another_sqlite_client_are_counted_and_the_graph_rebuilt(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = _vectors(7, 100, dim=16)
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.create_collection("docs", embedding_function=None)
        col.add(ids=[f"r{i}" for i in range(100)], embeddings=vectors)
        col.query(query_embeddings=vectors[:1], n_results=1)
    # Behind the library's back: no tombstone, no new write sequence.
    with contextlib.closing(sqlite3.connect(db_path / "vectorhouse.sqlite3")) as conn, conn:
        conn.execute("DELETE FROM records WHERE id IN ('r3', 'r4')")
    with (
        caplog.at_level(logging.WARNING, logger="vectorhouse"),
        vectorhouse.PersistentClient(path=db_path) as client,
    ):
        col = client.get_collection("docs")
        assert col.count() == 98
        got = col.query(query_embeddings=vectors[3:5], n_results=100)["ids"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    (message,) = warnings
    assert "the graph holds 100 records, the database 98" in message
    assert all(len(row) == 98 and "r3" not in row and "r4" not in row for row in got)


def test_a_database_of_the_previous_schema_gets_its_counts_on_first_open(
    tmp_path: Path,
) -> None:
    # Made by the release before kept counts (schema 3): 80 l2 vectors of dimension 16.
    path = tmp_path / "db"
    shutil.copytree(FIXTURES / "release_1_db", path)
    with contextlib.closing(sqlite3.connect(path / "vectorhouse.sqlite3")) as conn:
        assert schema_version(conn) == 3
    with vectorhouse.PersistentClient(path=path) as client:
        assert client.get_collection("docs").count() == 80
    with contextlib.closing(sqlite3.connect(path / "vectorhouse.sqlite3")) as conn:
        assert schema_version(conn) == len(MIGRATIONS) == 4
    assert _counted(path) == {"docs": 80}


def test_count_through_the_default_model(tmp_path: Path) -> None:
    with vectorhouse.PersistentClient(path=tmp_path / "db") as client:
        col = client.create_collection("notes")
        col.add(ids=["a", "b", "c"], documents=["red apples", "green pears", "blue sky"])
        col.upsert(ids=["c", "d"], documents=["grey sky", "yellow bananas"])
        col.delete(ids=["a"])
        assert col.count() == 3
        assert col.query(query_texts=["fruit"], n_results=5)["ids"][0][0] in {"b", "d"}
    assert _counted(tmp_path / "db") == {"notes": 3}
