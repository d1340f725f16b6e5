"""Several processes, and several threads, on one database.

Writers in separate processes add their own records and upsert a shared set while the
other writes; nothing acknowledged is lost and no record mixes two writes. A write
committed by one process is what the other process's very next read sees, its loaded
index included. One client shared by eight threads stays consistent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorhouse
from vectorhouse.index.flat import exact_search

DIM = 8
NAME = "shared"
SEED = 7
TIMEOUT_S = 60
SHARED = 12

WRITER = rf"""
import pathlib, sys, time
import numpy as np
import vectorhouse

path, me, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
DIM, SEED, SHARED = {DIM}, {SEED}, {SHARED}
client = vectorhouse.PersistentClient(
    path=path, settings=vectorhouse.Settings(index_save_every=150)
)
col = client.get_or_create_collection("{NAME}", embedding_function=None)
# Start together: each writer waits until the other one is ready too.
pathlib.Path(path, f"ready{{me}}").touch()
deadline = time.monotonic() + 30
while not pathlib.Path(path, f"ready{{1 - me}}").exists() and time.monotonic() < deadline:
    time.sleep(0.001)
for batch in range(batches):
    rng = np.random.default_rng([SEED, me, batch])
    ids = [f"w{{me}}-{{batch}}-{{i}}" for i in range(10)]
    vectors = rng.standard_normal((10, DIM)).astype(np.float32)
    col.add(ids=ids, embeddings=vectors, metadatas=[{{"writer": me, "batch": batch}}] * 10)
    print("add", batch, time.monotonic(), flush=True)
    shared = sorted(rng.choice(SHARED, 3, replace=False).tolist())
    col.upsert(
        ids=[f"s{{j}}" for j in shared],
        embeddings=rng.standard_normal((3, DIM)).astype(np.float32),
        metadatas=[{{"writer": me, "batch": batch}}] * 3,
        documents=[f"w{{me}} b{{batch}}"] * 3,
    )
    print("upsert", batch, *shared, flush=True)
    # Read your own writes, through the index: the filtered search is exact over the
    # index's own vectors, so it fails if the index missed this batch.
    this_batch = {{"$and": [{{"writer": me}}, {{"batch": batch}}]}}
    got = col.query(query_embeddings=vectors, n_results=1, where=this_batch)
    assert [r[0] for r in got["ids"]] == ids, got["ids"]
    assert col.count() >= 10 * (batch + 1)
    col.query(query_embeddings=vectors[:2], n_results=5)
client.close()
"""

AGENT = rf"""
import json, sys
import vectorhouse

client = vectorhouse.PersistentClient(path=sys.argv[1])
col = client.get_collection("{NAME}")
for line in sys.stdin:
    command = json.loads(line)
    op = command.pop("op")
    getattr(col, op)(**command)
    print("done", op, flush=True)
client.close()
"""


def writer_batch(me: int, batch: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """What writer ``me`` wrote in ``batch`` (the same draws as WRITER): the vectors it
    added, and the shared ids it upserted with their vectors."""
    rng = np.random.default_rng([SEED, me, batch])
    added = rng.standard_normal((10, DIM)).astype(np.float32)
    shared = [f"s{j}" for j in sorted(rng.choice(SHARED, 3, replace=False).tolist())]
    return added, shared, rng.standard_normal((3, DIM)).astype(np.float32)


def finish(proc: subprocess.Popen[str], what: str) -> str:
    """Wait for a child (killing it if it hangs); return its stdout, raise on failure."""
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{what} hung for {TIMEOUT_S} s; stderr:\n{err}")
    assert proc.returncode == 0, f"{what} failed with {proc.returncode}; stderr:\n{err}"
    return out


def assert_index_matches(col: vectorhouse.Collection, rng: np.random.Generator) -> None:
    """Queries for every record return exactly the stored records at exact distances."""
    got = col.get(include=["embeddings"])
    ids, vectors = got["ids"], got["embeddings"]
    assert vectors is not None
    queries = rng.standard_normal((2, DIM)).astype(np.float32)
    res = col.query(query_embeddings=queries, n_results=len(ids), include=["distances"])
    want = exact_search(queries, vectors, np.arange(len(ids)), len(ids), "l2")
    for row in range(len(queries)):
        assert sorted(res["ids"][row]) == sorted(ids)
        np.testing.assert_allclose(res["distances"][row], want.distances[row], rtol=1e-5, atol=1e-4)


def test_two_writer_processes_lose_nothing_and_never_mix_two_writes(tmp_path: Path) -> None:
    path = tmp_path / "db"
    batches = 60
    with vectorhouse.PersistentClient(path=path) as client:
        client.create_collection(NAME, embedding_function=None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(me), str(batches)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me in (0, 1)
    ]
    outputs = [finish(proc, f"writer {me}") for me, proc in enumerate(procs)]

    # The last value each writer gave each shared id: the final value is one of these.
    last_write: dict[str, dict[int, int]] = {}
    spans = []
    for me, out in enumerate(outputs):
        lines = [line.split() for line in out.splitlines()]
        adds = [words for words in lines if words[0] == "add"]
        assert [int(words[1]) for words in adds] == list(range(batches))
        spans.append((float(adds[0][2]), float(adds[-1][2])))
        for words in lines:
            if words[0] == "upsert":
                for j in words[2:]:
                    last_write.setdefault(f"s{j}", {})[me] = int(words[1])
    assert max(start for start, _ in spans) < min(end for _, end in spans), "no overlap"

    with vectorhouse.PersistentClient(path=path) as client:
        col = client.get_collection(NAME)
        assert col.count() == 2 * batches * 10 + len(last_write)
        for me in (0, 1):
            ids = [f"w{me}-{b}-{i}" for b in range(batches) for i in range(10)]
            got = col.get(ids=ids, include=["embeddings", "metadatas"])
            assert got["ids"] == ids
            want = np.concatenate([writer_batch(me, b)[0] for b in range(batches)])
            np.testing.assert_array_equal(got["embeddings"], want)
            assert got["metadatas"] == [
                {"writer": me, "batch": b} for b in range(batches) for _ in range(10)
            ]
        shared = col.get(ids=sorted(last_write), include=["embeddings", "metadatas", "documents"])
        for rid, vector, meta, doc in zip(
            shared["ids"],
            shared["embeddings"],
            shared["metadatas"],
            shared["documents"],
            strict=True,
        ):
            me, batch = meta["writer"], meta["batch"]
            assert last_write[rid][me] == batch, f"{rid} holds an overwritten value"
            assert doc == f"w{me} b{batch}", f"{rid} mixes two writes"
            _, shared_ids, upserted = writer_batch(me, batch)
            np.testing.assert_array_equal(vector, upserted[shared_ids.index(rid)])
        assert_index_matches(col, np.random.default_rng(SEED))


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[tuple[vectorhouse.Collection, Any]]:
    """This process's collection (index loaded), and ``send`` to make another process
    write to the same collection; ``send`` returns once that write committed."""
    path = tmp_path / "db"
    client = vectorhouse.PersistentClient(path=path)
    col = client.create_collection(NAME, embedding_function=None)
    proc = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None

    def send(op: str, **kwargs: Any) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"op": op, **kwargs}) + "\n")
        proc.stdin.flush()
        reply = proc.stdout.readline()
        if reply != f"done {op}\n":
            proc.kill()
            pytest.fail(f"the other process failed on {op}: {proc.communicate()[1]}")

    try:
        yield col, send
    finally:
        finish(proc, "the other process")  # closes its stdin: it exits
        client.close()


def test_other_process_writes_are_visible_to_the_very_next_read(
    agent: tuple[vectorhouse.Collection, Any],
) -> None:
    col, send = agent
    rng = np.random.default_rng(SEED)
    model: dict[str, np.ndarray] = {}

    def check(probe: str | None = None) -> None:
        assert col.count() == len(model)
        got = col.get(include=["embeddings"])
        assert sorted(got["ids"]) == sorted(model)
        if not model:
            return
        for rid, vector in zip(got["ids"], got["embeddings"], strict=True):
            np.testing.assert_array_equal(vector, model[rid])
        assert_index_matches(col, rng)
        if probe is not None and probe in model:
            near = col.query(query_embeddings=[model[probe]], n_results=1, include=["distances"])
            assert near["ids"] == [[probe]] and near["distances"][0][0] == pytest.approx(0.0)

    def vectors(n: int) -> np.ndarray:
        return rng.standard_normal((n, DIM)).astype(np.float32)

    # This process writes first, so its index is loaded and has a watermark.
    first = vectors(20)
    col.add(ids=[f"p{i}" for i in range(20)], embeddings=first)
    model.update(zip([f"p{i}" for i in range(20)], first, strict=True))
    check("p0")
    for step in range(12):
        ids = [f"o{step}-{i}" for i in range(5)]
        added = vectors(5)
        send("add", ids=ids, embeddings=added.tolist())
        model.update(zip(ids, added, strict=True))
        check(ids[0])

        # The other process moves one of this process's records: the new vector is found.
        moved = f"p{step}"
        new = vectors(1)
        send("upsert", ids=[moved], embeddings=new.tolist())
        model[moved] = new[0]
        check(moved)

        # The other process deletes: gone from count, get and every query, at once.
        gone = [f"o{step}-0", f"p{step + 1}"]
        gone_vectors = [model[g] for g in gone]
        send("delete", ids=gone)
        for g in gone:
            del model[g]
        check()
        res = col.query(query_embeddings=gone_vectors, n_results=len(model))
        assert not set(gone) & {rid for row in res["ids"] for rid in row}

        # Interleave a write of this process between the other's (watermarks diverge).
        mine = f"q{step}"
        own = vectors(1)
        col.add(ids=[mine], embeddings=own)
        model[mine] = own[0]
        check(mine)

    send("delete", where={"x": {"$ne": 1}})  # every record: none has "x"
    model.clear()
    check()
    assert col.query(query_embeddings=vectors(1), n_results=3)["ids"] == [[]]


@pytest.mark.parametrize("kind", ["memory", "persistent"])
def test_one_client_shared_by_eight_threads_stays_consistent(tmp_path: Path, kind: str) -> None:
    settings = vectorhouse.Settings(index_save_every=200)
    client = (
        vectorhouse.Client(settings)
        if kind == "memory"
        else vectorhouse.PersistentClient(path=tmp_path / "db", settings=settings)
    )
    col = client.create_collection(NAME, embedding_function=None)
    models: list[dict[str, np.ndarray]] = [{} for _ in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)
    stop_at = time.monotonic() + 2.5

    def work(me: int) -> None:
        rng = np.random.default_rng([SEED, me])
        mine = models[me]
        counter = 0
        try:
            start.wait()
            while time.monotonic() < stop_at:
                op = rng.integers(6)
                if op <= 1 or not mine:
                    ids = [f"t{me}-{counter + i}" for i in range(int(rng.integers(1, 6)))]
                    counter += len(ids)
                    vecs = rng.standard_normal((len(ids), DIM)).astype(np.float32)
                    col.add(ids=ids, embeddings=vecs, metadatas=[{"thread": me}] * len(ids))
                    mine.update(zip(ids, vecs, strict=True))
                elif op == 2:
                    victims = rng.choice(sorted(mine), min(len(mine), 2), replace=False).tolist()
                    assert col.delete(ids=victims) == {"deleted": len(victims)}
                    for v in victims:
                        del mine[v]
                elif op == 3:
                    rid = sorted(mine)[int(rng.integers(len(mine)))]
                    vec = rng.standard_normal((1, DIM)).astype(np.float32)
                    col.upsert(ids=[rid], embeddings=vec, metadatas=[{"thread": me}])
                    mine[rid] = vec[0]
                elif op == 4:
                    # Only this thread touches its records: they must be exactly its model.
                    got = col.get(where={"thread": me}, include=["embeddings"])
                    assert sorted(got["ids"]) == sorted(mine)
                    for rid, vec in zip(got["ids"], got["embeddings"], strict=True):
                        np.testing.assert_array_equal(vec, mine[rid])
                    assert col.count() >= len(mine)
                else:
                    rid = sorted(mine)[int(rng.integers(len(mine)))]
                    near = col.query(
                        query_embeddings=[mine[rid]], n_results=3, where={"thread": me}
                    )
                    assert near["ids"][0][0] == rid
                    col.query(query_embeddings=[mine[rid]], n_results=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(me,)) for me in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]

    model = {rid: vec for mine in models for rid, vec in mine.items()}
    assert sum(len(m) for m in models) > 100
    try:
        assert col.count() == len(model)
        got = col.get(include=["embeddings"])
        assert sorted(got["ids"]) == sorted(model)
        for rid, vec in zip(got["ids"], got["embeddings"], strict=True):
            np.testing.assert_array_equal(vec, model[rid])
        assert_index_matches(col, np.random.default_rng(SEED))
    finally:
        client.close()
