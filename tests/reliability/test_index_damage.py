"""Every damaged-index case of issue 12, end to end on a real persistent database.

A child process fills the database and exits (its index saved); the test damages the
files in between, reopens the database in this process and requires correct results
(SQLite is the truth: get, queries equal brute force, and a query for every record
through the graph alone returns exactly the stored records) with exactly one logged
warning, and a second reopen without any (the index was rebuilt and saved).

Cases: the graph file of another collection, of another database, an index newer than
the database (the database restored from an older backup), labels pointing at records
that are gone, vectors altered inside the graph, manifests holding any JSON value, and a
read-only index folder. Last, a damaged SQLite file must raise ``StorageError``, never a
raw ``sqlite3`` error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from vhcheck import GRAPH_ONLY, assert_graph_holds, assert_queries_exact

import vectorhouse

pytestmark = pytest.mark.reliability

DIM = 16
SEED = 1234
DB_FILE = "vectorhouse.sqlite3"

FILL = r"""
import sys
import numpy as np
import vectorhouse

path, name = sys.argv[1], sys.argv[2]
first, n, seed = (int(a) for a in sys.argv[3:6])
with vectorhouse.PersistentClient(path=path) as client:
    # ef_search above the record count: a search through the graph is exhaustive, so
    # results through a rebuilt graph are exact whatever order its inserts ran in.
    col = client.get_or_create_collection(
        name, embedding_function=None, metadata={"hnsw:search_ef": 600}
    )
    for start in range(first, first + n, 100):
        ids = range(start, min(start + 100, first + n))
        col.add(
            ids=[f"r{k}" for k in ids],
            embeddings=np.stack(
                [np.random.default_rng([seed, k]).standard_normal(DIM) for k in ids]
            ).astype(np.float32),
            documents=[f"document {k}" for k in ids],
            metadatas=[{"k": k, "part": k % 3} for k in ids],
        )
    col.query(query_embeddings=np.zeros((1, DIM), np.float32), n_results=1)
""".replace("DIM", str(DIM))


def fill(path: Path, first: int, n: int, *, name: str = "docs", seed: int = SEED) -> None:
    """Add records r{first} ... to collection ``name`` in a child process (which saves its
    index on exit)."""
    done = subprocess.run(
        [sys.executable, "-c", FILL, str(path), name, str(first), str(n), str(seed)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def vectors_of(keys: list[int], seed: int = SEED) -> np.ndarray:
    return np.stack([np.random.default_rng([seed, k]).standard_normal(DIM) for k in keys]).astype(
        np.float32
    )


def collection_id(path: Path, name: str = "docs") -> str:
    conn = sqlite3.connect(path / DB_FILE)
    try:
        (cid,) = conn.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    return str(cid)


def index_files(path: Path, cid: str) -> tuple[Path, Path]:
    """The graph and manifest of a collection's one saved generation."""
    (graph,) = sorted((path / "index").glob(f"{cid}.*.usearch"))
    return graph, graph.with_suffix(".json")


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def check_reopen(
    path: Path, keys: list[int], caplog: pytest.LogCaptureFixture, *, warnings: int = 1
) -> None:
    """Reopen: exactly ``keys`` with their vectors, queries exact, ``warnings`` logged
    warnings; then the database takes a write and reads it back."""
    caplog.clear()
    ids = [f"r{k}" for k in keys]
    vectors = vectors_of(keys)
    with (
        caplog.at_level(logging.WARNING, logger="vectorhouse"),
        vectorhouse.PersistentClient(path=path, settings=GRAPH_ONLY) as client,
    ):
        col = client.get_collection("docs")
        got = col.get(include=["embeddings", "metadatas"])
        assert sorted(got["ids"]) == sorted(ids)
        order = [ids.index(rid) for rid in got["ids"]]
        np.testing.assert_array_equal(got["embeddings"], vectors[order])
        rng = np.random.default_rng(SEED)
        assert_queries_exact(
            col, got["ids"], vectors[order], got["metadatas"], "l2", rng, dim=DIM, where_key="part"
        )
        # Each record's own vector finds it first, through the graph.
        sample = [int(p) for p in rng.choice(len(ids), min(20, len(ids)), replace=False)]
        own = col.query(query_embeddings=vectors[sample], n_results=1)
        assert [row[0] for row in own["ids"]] == [ids[p] for p in sample]
        col.add(ids=["new"], embeddings=np.full((1, DIM), 9.0, np.float32))
        assert col.query(query_embeddings=np.full((1, DIM), 9.0), n_results=1)["ids"] == [["new"]]
        col.delete(ids=["new"])
        assert col.count() == len(ids)
    found = warnings_of(caplog)
    assert len(found) == warnings, f"expected {warnings} warning(s), got {found}"
    assert_graph_holds(path, "docs", ids, vectors, "l2", SEED)


def check_rebuilt(path: Path, keys: list[int], caplog: pytest.LogCaptureFixture) -> None:
    """The damage is handled with one warning, and the next open is clean."""
    check_reopen(path, keys, caplog, warnings=1)
    check_reopen(path, keys, caplog, warnings=0)


def test_an_undamaged_database_reopens_with_its_index_and_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "db"
    fill(path, 0, 300)
    check_reopen(path, list(range(300)), caplog, warnings=0)


def test_graph_file_of_another_collection_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "db"
    fill(path, 0, 300, name="other", seed=SEED + 1)
    fill(path, 0, 300)
    docs, other = collection_id(path), collection_id(path, "other")
    own_graph, own_manifest = index_files(path, docs)
    graph, manifest = index_files(path, other)
    own_graph.unlink()
    own_manifest.unlink()
    shutil.copy(graph, path / "index" / graph.name.replace(other, docs))
    shutil.copy(manifest, path / "index" / manifest.name.replace(other, docs))
    check_rebuilt(path, list(range(300)), caplog)


def test_graph_file_of_another_database_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, foreign = tmp_path / "db", tmp_path / "foreign"
    fill(path, 0, 300)
    fill(path, 300, 100)  # this database is further along than the foreign one
    fill(foreign, 0, 300, seed=SEED + 7)
    docs, theirs = collection_id(path), collection_id(foreign)
    for own in index_files(path, docs):
        own.unlink()
    for src in index_files(foreign, theirs):
        shutil.copy(src, path / "index" / src.name.replace(theirs, docs))
    check_rebuilt(path, list(range(400)), caplog)


def test_index_newer_than_a_database_restored_from_backup_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, backup = tmp_path / "db", tmp_path / "backup"
    fill(path, 0, 300)
    backup.mkdir()
    for f in path.glob(f"{DB_FILE}*"):
        shutil.copy(f, backup / f.name)
    fill(path, 300, 200)  # the index now holds 500 records, the backup 300
    for f in path.glob(f"{DB_FILE}*"):
        f.unlink()
    for f in backup.iterdir():
        shutil.copy(f, path / f.name)
    check_rebuilt(path, list(range(300)), caplog)


def test_index_labels_of_records_removed_behind_its_back_are_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "db"
    fill(path, 0, 300)
    conn = sqlite3.connect(path / DB_FILE)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(
            "DELETE FROM records WHERE id IN (SELECT 'r' || value FROM json_each(?))",
            (str(list(range(0, 300, 2))),),
        )
        conn.commit()
    finally:
        conn.close()
    check_rebuilt(path, list(range(1, 300, 2)), caplog)


def test_vectors_altered_inside_the_graph_file_are_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "db"
    fill(path, 0, 300)
    graph, _ = index_files(path, collection_id(path))
    data = bytearray(graph.read_bytes())
    altered = 0
    for k, vector in enumerate(vectors_of(list(range(300)))):
        if k % 3:
            continue
        half = vector.astype(np.float16)
        at = data.find(half.tobytes())
        assert at >= 0, "the graph file should hold the vectors in float16"
        data[at : at + half.nbytes] = (half[::-1] * 2).tobytes()
        altered += 1
    graph.write_bytes(bytes(data))  # same size: only the contents say it is wrong
    assert altered == 100
    check_rebuilt(path, list(range(300)), caplog)


@pytest.mark.parametrize(
    "manifest_text",
    ["null", "[]", "42", '"text"', "{}", '{"seq": "x", "size": [], "params": 3}', "{not json"],
)
def test_a_manifest_holding_any_json_value_means_a_rebuild(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, manifest_text: str
) -> None:
    path = tmp_path / "db"
    fill(path, 0, 300)
    _, manifest = index_files(path, collection_id(path))
    manifest.write_text(manifest_text)
    check_rebuilt(path, list(range(300)), caplog)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` read-only, even for root (a read-only bind mount)."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)
        return
    bind = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if bind.returncode != 0:
        pytest.skip(f"cannot make a folder read-only as root: mount --bind failed: {bind.stderr!r}")
    try:
        ro = subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True, check=False
        )
        if ro.returncode != 0:
            pytest.skip(f"cannot remount read-only: {ro.stderr!r}")
        yield
    finally:
        done = subprocess.run(["umount", str(folder)], check=False, capture_output=True)
        if done.returncode != 0:  # still busy: detach it, so no read-only folder is left
            subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize("index_file", ["valid", "damaged"])
def test_a_read_only_index_folder_works_read_only_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, index_file: str
) -> None:
    path = tmp_path / "db"
    fill(path, 0, 300)
    fill(path, 300, 20)  # a second generation: the first one was pruned
    graph, _ = index_files(path, collection_id(path))
    if index_file == "damaged":  # unusable, and it cannot be removed: rebuilt in memory
        graph.write_bytes(b"\0" * graph.stat().st_size)
    keys = list(range(320))
    with read_only(path / "index"):
        with pytest.raises(OSError):
            (path / "index" / "probe").write_text("x")
        # Each open warns once that the index cannot be saved (check_reopen writes),
        # plus once for an unusable file; calls after the first never warn again.
        want = 1 if index_file == "valid" else 2
        check_reopen(path, keys, caplog, warnings=want)
        check_reopen(path, keys, caplog, warnings=want)


def test_a_damaged_database_file_raises_storage_error_not_a_raw_sqlite_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db"
    fill(path, 0, 2000)
    db = path / DB_FILE
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(size // 2)
        f.write(np.random.default_rng(SEED).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    raised: list[BaseException] = []

    def attempt(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            assert isinstance(exc, vectorhouse.StorageError), (
                f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
            )
            assert str(exc)
            raised.append(exc)
            return None

    client = attempt(lambda: vectorhouse.PersistentClient(path=path))
    if client is not None:
        col = attempt(lambda: client.get_collection("docs"))
        if col is not None:
            attempt(col.count)
            attempt(lambda: col.get(include=["embeddings", "documents", "metadatas"]))
            query = np.zeros((1, DIM))
            attempt(lambda: col.query(query_embeddings=query, n_results=5, where={"part": 1}))
            attempt(lambda: col.get(where_document={"$contains": "document 1"}))
        attempt(client.close)
    assert raised, "8 KiB of garbage in the middle of the database went unnoticed"
