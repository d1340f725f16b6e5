"""A full disk: writes fail with a clear ``StorageError``, nothing acknowledged is lost,
and the next call after space is freed works.

Two ways to fill it: a 2 MiB tmpfs (needs root to mount; skipped with the reason
otherwise), and ``RLIMIT_FSIZE`` (``ulimit -f``) in a child process, which needs no
privileges, so the case is always covered.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from vhcheck import assert_graph_holds, assert_queries_exact

import vectorhouse

pytestmark = pytest.mark.reliability

DIM = 32
BATCH = 20
SEED = 99
MAX_BATCHES = 400


def batch(b: int) -> dict[str, Any]:
    rng = np.random.default_rng([SEED, b])
    return {
        "ids": [f"b{b}-{i}" for i in range(BATCH)],
        "embeddings": rng.standard_normal((BATCH, DIM)).astype(np.float32),
        "documents": [f"batch {b} record {i} " + "x" * 1000 for i in range(BATCH)],
        "metadatas": [{"b": b, "i": i} for i in range(BATCH)],
    }


def check_batches(path: Path, batches: list[int]) -> None:
    """Exactly ``batches`` are stored, whole, and queries are exact over them."""
    ids = [f"b{b}-{i}" for b in batches for i in range(BATCH)]
    with vectorhouse.PersistentClient(path=path) as client:
        col = client.get_collection("full")
        got = col.get(include=["embeddings", "documents", "metadatas"])
        assert sorted(got["ids"]) == sorted(ids)
        for b in batches:
            want = batch(b)
            part = col.get(ids=want["ids"], include=["embeddings", "documents", "metadatas"])
            np.testing.assert_array_equal(part["embeddings"], want["embeddings"])
            assert part["documents"] == want["documents"]
            assert part["metadatas"] == want["metadatas"]
        vectors = np.asarray(got["embeddings"], dtype=np.float32)
        rng = np.random.default_rng(SEED)
        assert_queries_exact(
            col, got["ids"], vectors, got["metadatas"], "l2", rng, dim=DIM, where_key="b"
        )
    assert_graph_holds(path, "full", got["ids"], vectors, "l2", SEED)


@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a {size} tmpfs here ({done.stderr.decode().strip() or 'not root'});"
            " the RLIMIT_FSIZE test covers a full disk instead"
        )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_tmpfs_gives_storage_error_keeps_acknowledged_writes_and_recovers(
    tmp_path: Path,
) -> None:
    with small_tmpfs(tmp_path / "fs", "2m") as fs:
        filler = fs / "filler"
        filler.write_bytes(b"\0" * 300_000)  # removed later: the space that gets freed
        path = fs / "db"
        client = vectorhouse.PersistentClient(path=path)
        col = client.create_collection("full", embedding_function=None)
        acked: list[int] = []
        error: Exception | None = None
        for b in range(MAX_BATCHES):
            try:
                col.add(**batch(b))
            except Exception as exc:
                error = exc
                break
            acked.append(b)
        assert error is not None, f"{MAX_BATCHES} batches fitted in 2 MiB"
        assert isinstance(error, vectorhouse.StorageError), f"{type(error).__name__}: {error}"
        assert re.search(r"full|space", str(error), re.I), str(error)
        # Reads still work, and every acknowledged batch is there.
        assert col.count() == BATCH * len(acked)
        # Space freed: the next call works.
        filler.unlink()
        col.add(**batch(MAX_BATCHES))
        assert col.count() == BATCH * (len(acked) + 1)
        client.close()
        check_batches(path, [*acked, MAX_BATCHES])
        print(f"\n{len(acked)} batches acknowledged before the disk was full: {error}")


CHILD = r"""
import json, resource, signal, sys
sys.path.insert(0, sys.argv[2])
import numpy as np
import vectorhouse
from test_disk_full import MAX_BATCHES, batch

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
path = sys.argv[1]
client = vectorhouse.PersistentClient(path=path)
col = client.create_collection("full", embedding_function=None)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (1_500_000, hard))
error = None
for b in range(MAX_BATCHES):
    try:
        col.add(**batch(b))
    except Exception as exc:
        error = exc
        break
    print(json.dumps({"acked": b}), flush=True)
report = {"error": None if error is None else {
    "type": type(error).__name__,
    "vectorhouse": isinstance(error, vectorhouse.VectorhouseError),
    "storage": isinstance(error, vectorhouse.StorageError),
    "message": str(error),
}}
report["count_while_full"] = col.count()
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space freed
try:
    col.add(**batch(MAX_BATCHES))
    report["after"] = "ok"
except Exception as exc:
    report["after"] = f"{type(exc).__name__}: {exc}"
client.close()
print(json.dumps(report), flush=True)
"""


def test_a_file_size_limit_gives_storage_error_keeps_acknowledged_writes_and_recovers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    acked = [line["acked"] for line in lines if "acked" in line]
    report = lines[-1]
    error = report["error"]
    assert error is not None, f"{MAX_BATCHES} batches fitted under the file size limit"
    print(f"\n{len(acked)} batches acknowledged before the limit: {error}")
    assert error["storage"], f"{error['type']}: {error['message']}"
    assert "cannot rollback" not in error["message"], error["message"]
    assert report["count_while_full"] == BATCH * len(acked)
    assert report["after"] == "ok"
    check_batches(path, [*acked, MAX_BATCHES])
