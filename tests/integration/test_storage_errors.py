"""A damaged database, a full disk and a read-only database surface as StorageError
subclasses that say what to do; nothing acknowledged is lost, and the next call
after the cause is gone works."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import vectorhouse
from vectorhouse.api.client import DATABASE_FILE
from vectorhouse.storage import connection as connection_module
from vectorhouse.storage.sqlite_errors import TranslatingConnection


def _build(path: Path, batches: int = 10) -> None:
    rng = np.random.default_rng(3)
    with vectorhouse.PersistentClient(path=path) as client:
        col = client.create_collection("docs", embedding_function=None)
        for b in range(batches):
            col.add(
                ids=[f"{b}-{j}" for j in range(100)],
                embeddings=rng.random((100, 8)).tolist(),
                documents=[f"text {b} {j}" for j in range(100)],
                metadatas=[{"k": j} for j in range(100)],
            )


def test_garbage_in_the_middle_of_the_file_is_a_database_corrupt_error(tmp_path: Path) -> None:
    _build(tmp_path)
    db = tmp_path / DATABASE_FILE
    size = db.stat().st_size
    with db.open("r+b") as f:
        f.seek(size // 2)
        f.write(np.random.default_rng(0).bytes(8192))
    with pytest.raises(vectorhouse.DatabaseCorruptError, match="restore it from a backup"):
        client = vectorhouse.PersistentClient(path=tmp_path)
        col = client.get_collection("docs")
        col.get(where={"k": {"$gt": 3}}, include=["documents", "metadatas"])
        col.query(query_embeddings=[[0.5] * 8], n_results=5)


def test_a_file_that_is_not_a_database_is_a_database_corrupt_error(tmp_path: Path) -> None:
    (tmp_path / DATABASE_FILE).write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(vectorhouse.DatabaseCorruptError, match="cannot open database"):
        vectorhouse.PersistentClient(path=tmp_path)


_DISK_FULL_CHILD = textwrap.dedent(
    """
    import os, resource, signal, sys
    import numpy as np
    import vectorhouse
    path = sys.argv[1]
    db = os.path.join(path, "vectorhouse.sqlite3")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
    client = vectorhouse.PersistentClient(path=path)
    col = client.get_collection("docs")
    acknowledged = col.count()
    limit = os.path.getsize(db) + 16384
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    rng = np.random.default_rng(1)
    error = None
    for i in range(200):
        try:
            col.add(ids=[f"x{i}-{j}" for j in range(100)],
                    embeddings=rng.random((100, 8)).tolist(), documents=["y" * 400] * 100)
        except vectorhouse.VectorhouseError as exc:
            error = exc
            break
        acknowledged += 100
    print(type(error).__name__, "|", error)
    print("count", col.count(), "acknowledged", acknowledged)
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    col.add(ids=["after"], embeddings=[[0.1] * 8])
    print("after", col.count())
    client.close()
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_full_disk_is_a_disk_full_error_that_loses_nothing_and_passes(tmp_path: Path) -> None:
    _build(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", _DISK_FULL_CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    name, message = lines[0].split(" | ", 1)
    assert name == "DiskFullError"
    assert "free disk space" in message
    assert "cannot rollback" not in out.stdout + out.stderr
    count, acknowledged = int(lines[1].split()[1]), int(lines[1].split()[3])
    assert count == acknowledged  # the failed batch left nothing, the others are all there
    assert lines[2] == f"after {acknowledged + 1}"
    with vectorhouse.PersistentClient(path=tmp_path) as client:
        assert client.get_collection("docs").count() == acknowledged + 1


def test_a_read_only_database_is_a_read_only_database_error_and_reads_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build(tmp_path, batches=1)
    with vectorhouse.PersistentClient(path=tmp_path) as client:
        client.get_collection("docs").count()  # leaves the database fully migrated
    real_connect = sqlite3.connect

    def read_only(database: str, *args: object, **kwargs: object) -> sqlite3.Connection:
        return real_connect(f"file:{database}?mode=ro", *args, uri=True, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(connection_module.sqlite3, "connect", read_only)
    client = vectorhouse.PersistentClient(path=tmp_path)
    col = client.get_collection("docs")
    assert col.count() == 100
    with pytest.raises(vectorhouse.ReadOnlyDatabaseError, match="writable"):
        col.add(ids=["new"], embeddings=[[0.0] * 8])
    assert col.count() == 100
    assert col.get(ids=["0-1"])["documents"] == ["text 0 1"]
    client.close()


def test_sqlite_errors_never_leave_the_storage_layer_untranslated() -> None:
    conn = sqlite3.connect(":memory:", factory=TranslatingConnection)
    conn.execute("CREATE TABLE t (x)")
    with pytest.raises(vectorhouse.StorageError, match="no such table"):
        conn.execute("SELECT * FROM missing").fetchall()
    with pytest.raises(vectorhouse.StorageError):
        conn.executemany("INSERT INTO nope VALUES (?)", [(1,)])
