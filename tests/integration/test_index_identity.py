"""An index file is used only when it is this collection's, of this database, not ahead
of it and unaltered; anything else is rebuilt from storage with exactly one warning."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import vectorhouse
from vectorhouse.engine.index_files import FORMAT
from vectorhouse.index.flat import exact_search

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _vectors(seed: int, n: int, dim: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def _fill(path: Path, vectors: np.ndarray, name: str = "docs") -> str:
    with vectorhouse.PersistentClient(path=path) as client:
        col = client.get_or_create_collection(name, embedding_function=None)
        col.add(ids=[f"r{i}" for i in range(len(vectors))], embeddings=vectors)
        col.query(query_embeddings=vectors[:1], n_results=1)
        return str(col.id)


def _files(path: Path, cid: str) -> tuple[Path, Path]:
    (graph,) = (path / "index").glob(f"{cid}.*.usearch")
    return graph, graph.with_suffix(".json")


def _assert_exact(
    col: vectorhouse.Collection, vectors: np.ndarray, live: list[int], space: str = "l2"
) -> None:
    labels = np.array(live, dtype=np.int64)
    queries = vectors[:5] + 0.01
    want = exact_search(queries, vectors[labels], labels, len(live), space)
    got = col.query(query_embeddings=queries, n_results=len(live) + 5, include=["distances"])
    for row, ids in enumerate(got["ids"]):
        assert ids == [f"r{x}" for x in want.labels[row]]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _reopen_expecting_one_rebuild(
    path: Path,
    vectors: np.ndarray,
    live: list[int],
    caplog: pytest.LogCaptureFixture,
    *,
    says: str,
    space: str = "l2",
) -> None:
    """Open, query exactly, expect one rebuild warning; a second open warns no more."""
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger="vectorhouse"),
        vectorhouse.PersistentClient(path=path) as client,
    ):
        _assert_exact(client.get_collection("docs"), vectors, live, space)
    (message,) = _warnings(caplog)
    assert "rebuilding it from storage" in message and says in message, message
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger="vectorhouse"),
        vectorhouse.PersistentClient(path=path) as client,
    ):
        _assert_exact(client.get_collection("docs"), vectors, live, space)
    assert _warnings(caplog) == []


@pytest.mark.parametrize("copied", ["graph only", "graph and manifest"])
def test_another_collections_graph_file_is_not_used(
    db_path: Path, caplog: pytest.LogCaptureFixture, copied: str
) -> None:
    mine, theirs = _vectors(1, 200), _vectors(2, 200)
    cid = _fill(db_path, mine, "docs")
    other = _fill(db_path, theirs, "other")
    graph, manifest = _files(db_path, cid)
    other_graph, other_manifest = _files(db_path, other)
    shutil.copyfile(other_graph, graph)
    if copied == "graph and manifest":
        shutil.copyfile(other_manifest, manifest)
    says = "checksum" if copied == "graph only" else "collection id"
    _reopen_expecting_one_rebuild(db_path, mine, list(range(200)), caplog, says=says)


def test_another_databases_graph_file_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mine, theirs = _vectors(1, 200), _vectors(2, 200)
    cid = _fill(tmp_path / "mine", mine)
    other = _fill(tmp_path / "theirs", theirs)
    graph, manifest = _files(tmp_path / "mine", cid)
    other_graph, other_manifest = _files(tmp_path / "theirs", other)
    # The other database's graph, under this collection's name and id: only the
    # database id tells them apart.
    meta = json.loads(other_manifest.read_text())
    meta["collection_id"] = cid
    graph.unlink()
    manifest.unlink()
    target = graph.with_name(other_graph.name.replace(other, cid))
    shutil.copyfile(other_graph, target)
    target.with_suffix(".json").write_text(json.dumps(meta))
    _reopen_expecting_one_rebuild(
        tmp_path / "mine", mine, list(range(200)), caplog, says="database id"
    )


def test_an_index_newer_than_a_restored_database_is_not_used(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = _vectors(3, 300)
    _fill(db_path, vectors[:200])
    backup = db_path.parent / "backup.sqlite3"
    shutil.copyfile(db_path / "vectorhouse.sqlite3", backup)
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.get_collection("docs")
        col.add(ids=[f"r{i}" for i in range(200, 300)], embeddings=vectors[200:])
        col.delete(ids=["r0", "r1"])
    shutil.copyfile(backup, db_path / "vectorhouse.sqlite3")
    _reopen_expecting_one_rebuild(db_path, vectors, list(range(200)), caplog, says="ahead")


def test_labels_pointing_at_missing_records_are_not_used(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = _vectors(4, 300)
    _fill(db_path, vectors)
    with contextlib.closing(sqlite3.connect(db_path / "vectorhouse.sqlite3")) as conn, conn:
        conn.execute(
            f"DELETE FROM records WHERE id IN ({','.join('?' * 30)})",
            [f"r{i}" for i in range(0, 300, 10)],
        )
    live = [i for i in range(300) if i % 10]
    _reopen_expecting_one_rebuild(db_path, vectors, live, caplog, says="graph holds 300")


def test_vectors_altered_inside_the_graph_are_not_used(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = _vectors(5, 300)
    _fill(db_path, vectors)
    client = vectorhouse.PersistentClient(path=db_path)
    col = client.get_collection("docs")
    col.count()
    engine = client._engine
    with engine.lock.exclusively():
        state = engine._synced_state(engine.collection_by_id(str(col.id)))
    assert state is not None and engine.files is not None
    # Change 7 vectors in the graph only, and save it with a manifest that is right in
    # every other respect (identity, size, checksum).
    labels = state.index.labels()[::43]
    state.index.add(labels, state.index.get_vectors(labels) + 0.5)
    engine.files.remove_all(str(col.id))
    engine.files.save(str(col.id), state.watermark, state.index)
    engine._indexes.clear()
    engine.store.close()
    _reopen_expecting_one_rebuild(
        db_path, vectors, list(range(300)), caplog, says="sampled vectors differ"
    )


MANIFESTS = {
    "null": b"null",
    "empty list": b"[]",
    "string": b'"an index"',
    "number": b"12",
    "huge int": b"1" + b"0" * 5000,
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "empty object": b"{}",
    "format only": b'{"format": 2}',
    "format as text": b'{"format": "2"}',
    "format true": b'{"format": true}',
    "format huge": b'{"format": 100000000000000000000000000000000000000}',
    "not utf-8": b"\xff\xfe\x00",
    "not json": b"{format: 2",
    "oversized": b'{"pad": "' + b"x" * 100_000 + b'"}',
}


@pytest.mark.parametrize("content", MANIFESTS.values(), ids=MANIFESTS.keys())
def test_any_manifest_content_leads_to_a_rebuild_not_an_error(
    db_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    vectors = _vectors(6, 100)
    cid = _fill(db_path, vectors)
    _, manifest = _files(db_path, cid)
    manifest.write_bytes(content)
    _reopen_expecting_one_rebuild(db_path, vectors, list(range(100)), caplog, says="index file")


@pytest.mark.parametrize("field", ["seq", "size", "dimension", "params", "database_id"])
def test_manifest_fields_of_the_wrong_type_or_range_lead_to_a_rebuild(
    db_path: Path, caplog: pytest.LogCaptureFixture, field: str
) -> None:
    vectors = _vectors(7, 100)
    cid = _fill(db_path, vectors)
    _, manifest = _files(db_path, cid)
    meta = json.loads(manifest.read_text())
    meta[field] = {"seq": 10**40, "size": -1, "dimension": True, "params": None}.get(field, [])
    manifest.write_text(json.dumps(meta))
    _reopen_expecting_one_rebuild(db_path, vectors, list(range(100)), caplog, says="index file")


def test_an_index_written_by_the_first_release_is_rebuilt_once_in_the_new_format(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Made by vectorhouse 0.1.0 (schema 2, index format 1): 60 cosine vectors.
    path = tmp_path / "db"
    shutil.copytree(FIXTURES / "release_0_db", path)
    vectors = np.load(FIXTURES / "release_0_vectors.npy")
    _reopen_expecting_one_rebuild(
        path, vectors, list(range(60)), caplog, says="index format 1", space="cosine"
    )
    (manifest,) = (path / "index").glob("*.json")
    meta = json.loads(manifest.read_text())
    with vectorhouse.PersistentClient(path=path) as client:
        assert meta["format"] == FORMAT
        assert meta["database_id"] == client._engine.store.database_id()


def test_an_hnswlib_index_of_the_previous_release_is_rebuilt_once_as_a_graph_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Made by the release before index v2 (index format 2, an hnswlib .hnsw graph):
    # 80 l2 vectors of dimension 16.
    path = tmp_path / "db"
    shutil.copytree(FIXTURES / "release_1_db", path)
    vectors = np.load(FIXTURES / "release_1_vectors.npy")
    _reopen_expecting_one_rebuild(path, vectors, list(range(80)), caplog, says="index format 2")
    assert not list((path / "index").glob("*.hnsw"))  # the old graph file is gone
    (graph,) = (path / "index").glob("*.usearch")
    (manifest,) = (path / "index").glob("*.json")
    assert json.loads(manifest.read_text())["format"] == FORMAT == 3
    assert graph.stat().st_size > 0


def test_every_database_gets_its_own_lasting_id(tmp_path: Path) -> None:
    ids = []
    for name in ("a", "b", "a"):
        with vectorhouse.PersistentClient(path=tmp_path / name) as client:
            ids.append(client._engine.store.database_id())
    assert ids[0] == ids[2] != ids[1]
    assert len(ids[0]) == 32 and int(ids[0], 16) >= 0


# -- a read-only index folder --------------------------------------------------------


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` read-only, also for root (through the immutable attribute)."""
    folder.chmod(0o555)
    immutable = False
    try:
        probe = folder / ".probe"
        try:
            probe.write_bytes(b"")
        except OSError:
            pass
        else:
            probe.unlink()
            done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
            if done.returncode != 0:
                pytest.skip("cannot make a folder read-only for this user")
            immutable = True
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_a_read_only_index_folder_serves_and_warns_once_saying_why(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = _vectors(8, 400)
    _fill(db_path, vectors[:100])
    settings = vectorhouse.Settings(index_save_every=20)
    with _read_only(db_path / "index"):
        with (
            caplog.at_level(logging.WARNING, logger="vectorhouse"),
            vectorhouse.PersistentClient(path=db_path, settings=settings) as client,
        ):
            col = client.get_collection("docs")
            _assert_exact(col, vectors, list(range(100)))
            assert _warnings(caplog) == []
            for start in range(100, 400, 50):  # every batch is due for a save
                col.add(
                    ids=[f"r{i}" for i in range(start, start + 50)],
                    embeddings=vectors[start : start + 50],
                )
                _assert_exact(col, vectors, list(range(start + 50)))
        (message,) = _warnings(caplog)
        assert "could not save the index" in message
        assert "not permitted" in message or "denied" in message, message
        assert "No such file" not in message
        caplog.clear()
        # Damaged and read-only: rebuilt in memory, said once; the save warning once.
        graph = sorted((db_path / "index").glob("*.usearch"))[0]
        with _writable_file(graph):
            graph.write_bytes(b"garbage" * 100)
        with (
            caplog.at_level(logging.WARNING, logger="vectorhouse"),
            vectorhouse.PersistentClient(path=db_path, settings=settings) as client,
        ):
            _assert_exact(client.get_collection("docs"), vectors, list(range(400)))
        rebuilt, save = _warnings(caplog)
        assert "rebuilding it from storage" in rebuilt and "could not save" in save


@contextlib.contextmanager
def _writable_file(path: Path) -> Iterator[None]:
    folder = path.parent
    subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    folder.chmod(0o755)
    try:
        yield
    finally:
        folder.chmod(0o555)
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
