"""A writer killed with SIGKILL loses nothing it acknowledged and leaves no half batch.

A child process adds batches of 200 records (``b{batch}-{i}``, contents derived from the
batch number) to a persistent collection and prints each batch number once ``add``
returned. The test kills it at seeded points, reopens the database and checks that
every acknowledged batch is there, that every batch there is whole, that the contents
are exactly what was written, and that queries agree with exact search over what
``get`` returns. The index is saved every 500 changes, so kills also land around index
saves; a second test kills the writer at chosen steps inside an index save.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import vectorhouse
from crashkit import CRASH_ENV, TESTS_DIR, run_until_killed
from vectorhouse.index.flat import exact_search

DIM = 8
BATCH = 200
SEED = 20240611
NAME = "crash"
SAVE_EVERY = 500

WRITER = rf"""
import sys
import numpy as np
import vectorhouse

sys.path.insert(0, {str(TESTS_DIR)!r})
import crashkit

path, start = sys.argv[1], int(sys.argv[2])
DIM, BATCH, SEED = {DIM}, {BATCH}, {SEED}
# Die (as by SIGKILL) at the n-th call of one step of an index save, when told to.
crashkit.crash_hook_from_env()

client = vectorhouse.PersistentClient(
    path=path, settings=vectorhouse.Settings(index_save_every={SAVE_EVERY})
)
col = client.get_or_create_collection("{NAME}", embedding_function=None)
batch = start
while True:
    rng = np.random.default_rng([SEED, batch])
    col.add(
        ids=[f"b{{batch}}-{{i}}" for i in range(BATCH)],
        embeddings=rng.standard_normal((BATCH, DIM)).astype(np.float32),
        documents=[f"document {{batch}}-{{i}}" for i in range(BATCH)],
        metadatas=[{{"batch": batch, "i": i}} for i in range(BATCH)],
    )
    print(batch, flush=True)
    if batch % 4 == 0:
        col.query(query_embeddings=rng.standard_normal((1, DIM)), n_results=3)
    batch += 1
"""


def batch_vectors(batch: int) -> np.ndarray:
    return np.random.default_rng([SEED, batch]).standard_normal((BATCH, DIM)).astype(np.float32)


CRASH_POINTS = {
    "_fsync": "vectorhouse.engine.index_files:_fsync",
    "_unlink": "vectorhouse.engine.index_files:IndexFiles._unlink",
}


def run_writer(
    path: Path,
    start: int,
    *,
    kill_after: int | None,
    delay_s: float = 0.0,
    crash_at: str = "none",
    timeout_s: float = 60.0,
) -> list[int]:
    """Run the writer from batch ``start``; SIGKILL it once ``kill_after`` batches were
    acknowledged (plus ``delay_s``), or wait for it to die by itself (``crash_at``).
    Returns the acknowledged batch numbers."""
    env = dict(os.environ)
    env.pop(CRASH_ENV, None)
    if crash_at != "none":
        target, nth = crash_at.split(":")
        env[CRASH_ENV] = f"{CRASH_POINTS[target]}:{nth}"
    lines = run_until_killed(
        [sys.executable, "-c", WRITER, str(path), str(start)],
        path.with_name(f"writer-{start}.stderr"),
        kill_after=kill_after,
        delay_s=delay_s,
        timeout_s=timeout_s,
        env=env,
    )
    return [int(line) for line in lines]


def check_database(path: Path, acked: list[int], rng: np.random.Generator) -> int:
    """Reopen ``path`` and check it against the acknowledged batches; returns the number
    of batches present."""
    with vectorhouse.PersistentClient(path=path) as client:
        col = client.get_collection(NAME)
        got = col.get(include=["embeddings", "documents", "metadatas"])
        by_batch: dict[int, list[int]] = defaultdict(list)
        for rid in got["ids"]:
            batch, i = rid[1:].split("-")
            by_batch[int(batch)].append(int(i))
        present = sorted(by_batch)
        # Writes are sequential: the batches present are 0..m-1, each one whole.
        assert present == list(range(len(present)))
        for batch in present:
            assert by_batch[batch] == list(range(BATCH)), f"batch {batch} is partial"
        assert set(acked) <= set(present), f"acknowledged {sorted(set(acked) - set(present))} lost"
        assert col.count() == BATCH * len(present)

        # Contents are exactly what was written (ids come back in insertion order).
        assert got["ids"] == [f"b{b}-{i}" for b in present for i in range(BATCH)]
        want = np.concatenate([batch_vectors(b) for b in present])
        np.testing.assert_array_equal(got["embeddings"], want)
        assert got["documents"] == [f"document {b}-{i}" for b in present for i in range(BATCH)]
        assert got["metadatas"] == [{"batch": b, "i": i} for b in present for i in range(BATCH)]

        check_queries(col, got["ids"], want, rng)
    return len(present)


def check_queries(
    col: vectorhouse.Collection, ids: list[str], vectors: np.ndarray, rng: np.random.Generator
) -> None:
    labels = np.arange(len(ids), dtype=np.int64)
    queries = rng.standard_normal((8, DIM)).astype(np.float32)
    # Asking for every record makes the index return all of its live entries: the index
    # must hold exactly the stored records, with their stored vectors.
    everything = col.query(query_embeddings=queries[:2], n_results=len(ids), include=["distances"])
    full = exact_search(queries[:2], vectors, labels, len(ids), "l2")
    for row in range(2):
        assert sorted(everything["ids"][row]) == sorted(ids)
        np.testing.assert_allclose(
            everything["distances"][row], full.distances[row], rtol=1e-5, atol=1e-4
        )
    # Top 10: nearest first, with exact distances; HNSW over thousands of records may
    # miss a neighbour now and then, so the sets must agree to a recall of 0.95.
    got = col.query(query_embeddings=queries, n_results=10, include=["distances"])
    want = exact_search(queries, vectors, labels, 10, "l2")
    position = {rid: p for p, rid in enumerate(ids)}
    hits = 0
    for row, query in enumerate(queries):
        rows = [position[rid] for rid in got["ids"][row]]
        true = ((vectors[rows] - query) ** 2).sum(axis=1)
        np.testing.assert_allclose(got["distances"][row], true, rtol=1e-5, atol=1e-4)
        assert got["distances"][row] == sorted(got["distances"][row])
        hits += len(set(rows) & set(want.labels[row].tolist()))
    assert hits >= 0.95 * 10 * len(queries)
    # Each record's own vector finds it first, in every batch (replayed ones included).
    sample = [b * BATCH + int(rng.integers(BATCH)) for b in range(len(ids) // BATCH)]
    own = col.query(query_embeddings=vectors[sample], n_results=1, include=["distances"])
    assert [r[0] for r in own["ids"]] == [ids[p] for p in sample]


def test_sigkilled_writer_loses_no_acknowledged_batch_and_leaves_none_half_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db"
    rng = np.random.default_rng(SEED)
    present = 0
    for _ in range(5):
        kill_after = int(rng.integers(2, 9))
        acked = run_writer(
            path, present, kill_after=kill_after, delay_s=float(rng.uniform(0, 0.08))
        )
        assert acked == list(range(present, present + len(acked)))
        present = check_database(path, acked + list(range(present)), rng)
    assert present >= 5 * 2


@pytest.mark.parametrize(
    "crash_at",
    [
        "_fsync:1",  # the new graph is written to its temporary file
        "_fsync:2",  # the graph is in place, its manifest in a temporary file
        "_fsync:3",  # the second save: a generation already exists
        "_unlink:1",  # the second generation is complete; the first is being pruned
    ],
)
def test_writer_killed_inside_an_index_save_recovers(tmp_path: Path, crash_at: str) -> None:
    path = tmp_path / "db"
    rng = np.random.default_rng(SEED)
    acked = run_writer(path, 0, kill_after=None, crash_at=crash_at)
    # 500 changes are due after the third batch, so the first save is in that batch's
    # add() and the second in the sixth's.
    assert len(acked) == (2 if crash_at in ("_fsync:1", "_fsync:2") else 5)
    present = check_database(path, acked, rng)
    assert present == len(acked) + 1
    # The database goes on: a later writer adds to it and everything checks out again.
    more = run_writer(path, present, kill_after=3)
    check_database(path, list(range(present)) + more, rng)


def test_index_files_left_by_a_crashed_save_do_not_pile_up(tmp_path: Path) -> None:
    path = tmp_path / "db"
    run_writer(path, 0, kill_after=None, crash_at="_fsync:2")
    with vectorhouse.PersistentClient(path=path) as client:
        col = client.get_collection(NAME)
        col.add(ids=["extra"], embeddings=np.zeros((1, DIM), np.float32))
    # One generation: its graph and its manifest, nothing else.
    files = sorted(p.name for p in (path / "index").iterdir())
    assert len(files) == 2, files
