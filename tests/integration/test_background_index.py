"""Catching up with other processes' writes and compaction rebuilds happen off the query
path: the not-yet-inserted tail is searched exactly, so results stay complete."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest

import vectorhouse
from vectorhouse.engine.consistency import graph_problem
from vectorhouse.engine.engine import Engine
from vectorhouse.engine.state import IndexState
from vectorhouse.index.base import IndexParams
from vectorhouse.index.flat import exact_search
from vectorhouse.index.graph import GraphIndex

DIM = 32
GRAPH = vectorhouse.Settings(exact_copy_max_vectors=0, exact_search_max_candidates=0)
"""Queries go to the graph (and its tail), never to an exact copy of a small collection."""


def _vectors(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def _ids(start: int, stop: int) -> list[str]:
    return [f"r{i}" for i in range(start, stop)]


def _state(client: vectorhouse.PersistentClient, name: str = "docs") -> IndexState:
    engine: Engine = client._engine
    return engine._indexes[str(client.get_collection(name).id)]


def _assert_exact(col: vectorhouse.Collection, truth: dict[int, np.ndarray], k: int = 10) -> None:
    labels = np.array(sorted(truth), dtype=np.int64)
    vectors = np.stack([truth[int(x)] for x in labels])
    queries = _vectors(99, 4)
    want = exact_search(queries, vectors, labels, k, "l2")
    got = col.query(query_embeddings=queries, n_results=k, include=["distances"])
    for row, ids in enumerate(got["ids"]):
        assert ids == [f"r{x}" for x in want.labels[row]]
        np.testing.assert_allclose(got["distances"][row], want.distances[row], rtol=1e-4)


def test_a_reader_catches_up_on_a_big_foreign_write_without_inserting_it_in_the_query(
    db_path: Path,
) -> None:
    first, more = _vectors(1, 300), _vectors(2, 20_000)
    truth = {i: v for i, v in enumerate(np.concatenate([first, more]))}
    with (
        vectorhouse.PersistentClient(path=db_path) as writer,
        vectorhouse.PersistentClient(path=db_path, settings=GRAPH) as reader,
    ):
        wcol = writer.create_collection("docs", embedding_function=None)
        wcol.add(ids=_ids(0, 300), embeddings=first)
        rcol = reader.get_collection("docs")
        rcol.query(query_embeddings=first[:1], n_results=1)
        reader._engine._worker.stop()  # hold the tail still, to look at it
        wcol.add(ids=_ids(300, 20_300), embeddings=more)
        started = time.perf_counter()
        _assert_exact(rcol, truth)
        assert time.perf_counter() - started < 1.5  # inserting 20,000 vectors takes seconds
        state = _state(reader)
        assert state.tail is not None and len(state.tail) == 20_000
        assert len(state.index) == 300 and state.watermark < state.through
        # Filtered queries see the tail too.
        got = rcol.query(query_embeddings=more[:1], n_results=3, ids=["r301", "r5", "r300"])
        assert got["ids"][0][0] == "r300" and sorted(got["ids"][0]) == ["r300", "r301", "r5"]


def test_the_background_thread_drains_the_tail_into_the_graph(db_path: Path) -> None:
    first, more = _vectors(3, 200), _vectors(4, 3_000)
    truth = {i: v for i, v in enumerate(np.concatenate([first, more]))}
    with (
        vectorhouse.PersistentClient(path=db_path) as writer,
        vectorhouse.PersistentClient(path=db_path, settings=GRAPH) as reader,
    ):
        wcol = writer.create_collection("docs", embedding_function=None)
        wcol.add(ids=_ids(0, 200), embeddings=first)
        rcol = reader.get_collection("docs")
        rcol.count()
        _assert_exact(rcol, {i: first[i] for i in range(200)})
        wcol.add(ids=_ids(200, 3_200), embeddings=more)
        _assert_exact(rcol, truth)
        assert reader._engine.wait_for_index(60)
        state = _state(reader)
        assert state.tail is None and len(state.index) == 3_200
        assert state.watermark == reader._engine.collection_by_id(str(rcol.id)).last_seq
        _assert_exact(rcol, truth)


def test_foreign_updates_and_deletes_are_exact_while_the_tail_is_pending(db_path: Path) -> None:
    base = _vectors(5, 2_000)
    truth = {i: v for i, v in enumerate(base)}
    with (
        vectorhouse.PersistentClient(path=db_path) as writer,
        vectorhouse.PersistentClient(path=db_path, settings=GRAPH) as reader,
    ):
        wcol = writer.create_collection("docs", embedding_function=None)
        wcol.add(ids=_ids(0, 2_000), embeddings=base)
        rcol = reader.get_collection("docs")
        _assert_exact(rcol, truth)
        reader._engine.wait_for_index(60)
        reader._engine._worker.stop()
        moved = _vectors(6, 1_000)  # the first 1,000 get new vectors: a stale graph entry
        wcol.upsert(ids=_ids(0, 1_000), embeddings=moved)
        wcol.delete(ids=_ids(1_000, 1_100))
        for i in range(1_000):
            truth[i] = moved[i]
        for i in range(1_000, 1_100):
            del truth[i]
        _assert_exact(rcol, truth, k=25)
        assert len(_state(reader).tail or ()) == 1_000
        hit = rcol.query(query_embeddings=moved[7:8], n_results=1, include=["distances"])
        assert hit["ids"] == [["r7"]] and hit["distances"][0][0] == pytest.approx(0, abs=1e-4)
        assert rcol.count() == 1_900


def test_a_compaction_rebuild_runs_in_the_background_while_the_old_graph_serves(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = _vectors(7, 3_000)
    truth = {i: v for i, v in enumerate(vectors)}
    settings = GRAPH
    with vectorhouse.PersistentClient(path=db_path, settings=settings) as client:
        col = client.create_collection("docs", embedding_function=None)
        col.add(ids=_ids(0, 3_000), embeddings=vectors)
        assert client._engine.wait_for_index()  # the batch is in the graph
        client._engine._worker.stop()  # no rebuild yet: look at the old graph serving
        col.delete(ids=_ids(0, 1_500))
        for i in range(1_500):
            del truth[i]
        before = _state(client)
        _assert_exact(col, truth)
        assert _state(client) is before and before.index.deleted_fraction > 0.3
    with (
        caplog.at_level(logging.INFO, logger="vectorhouse"),
        vectorhouse.PersistentClient(path=db_path, settings=settings) as client,
    ):
        col = client.get_collection("docs")
        _assert_exact(col, truth)
        assert client._engine.wait_for_index(60)
        after = _state(client)
        assert after.index.deleted_fraction == 0 and len(after.index) == 1_500
        _assert_exact(col, truth)
    assert any("drop deleted entries" in r.getMessage() for r in caplog.records)


def test_writes_during_a_rebuild_are_not_lost(db_path: Path) -> None:
    vectors = _vectors(8, 4_000)
    truth = {i: v for i, v in enumerate(vectors[:2_000])}
    settings = GRAPH
    with vectorhouse.PersistentClient(path=db_path, settings=settings) as client:
        col = client.create_collection("docs", embedding_function=None)
        col.add(ids=_ids(0, 2_000), embeddings=vectors[:2_000])
        col.delete(ids=_ids(0, 1_000))
        for i in range(1_000):
            del truth[i]
        col.query(query_embeddings=vectors[:1], n_results=1)  # wakes the rebuild
        for start in range(2_000, 4_000, 250):  # writes race the rebuild
            col.add(ids=_ids(start, start + 250), embeddings=vectors[start : start + 250])
            col.delete(ids=[f"r{start}"])
            truth.update({i: vectors[i] for i in range(start + 1, start + 250)})
            _assert_exact(col, truth)
        assert client._engine.wait_for_index(60)
        _assert_exact(col, truth)
        assert _state(client).index.deleted_fraction < 0.3


def test_a_graph_saved_with_a_pending_tail_reopens_exact_and_without_warnings(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, more = _vectors(9, 300), _vectors(10, 2_000)
    truth = {i: v for i, v in enumerate(np.concatenate([first, more]))}
    with (
        vectorhouse.PersistentClient(path=db_path) as writer,
        vectorhouse.PersistentClient(path=db_path, settings=GRAPH) as reader,
    ):
        wcol = writer.create_collection("docs", embedding_function=None)
        wcol.add(ids=_ids(0, 300), embeddings=first)
        rcol = reader.get_collection("docs")
        rcol.count()
        rcol.query(query_embeddings=first[:1], n_results=1)
        reader._engine._worker.stop()
        wcol.add(ids=_ids(300, 2_300), embeddings=more)
        writer._engine._indexes.clear()  # the writer dies without saving its graph
        writer._engine.store.close()
        writer._engine.closed = True
        _assert_exact(rcol, truth)
        state = _state(reader)
        state.unsaved = 1
        reader._engine.flush()  # saved at the graph's watermark, not the tail's
        (manifest,) = (db_path / "index").glob("*.json")
        assert json.loads(manifest.read_text())["seq"] == state.watermark < state.through
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger="vectorhouse"),
        vectorhouse.PersistentClient(path=db_path) as client,
    ):
        _assert_exact(client.get_collection("docs"), truth)
    assert not caplog.records


def test_without_background_work_the_query_does_it_all(db_path: Path) -> None:
    first, more = _vectors(11, 100), _vectors(12, 1_500)
    truth = {i: v for i, v in enumerate(np.concatenate([first, more]))}
    settings = vectorhouse.Settings(index_background=False)
    with (
        vectorhouse.PersistentClient(path=db_path) as writer,
        vectorhouse.PersistentClient(path=db_path, settings=settings) as reader,
    ):
        wcol = writer.create_collection("docs", embedding_function=None)
        wcol.add(ids=_ids(0, 100), embeddings=first)
        rcol = reader.get_collection("docs")
        rcol.count()
        wcol.add(ids=_ids(100, 1_600), embeddings=more)
        _assert_exact(rcol, truth)
        state = _state(reader)
        assert state.tail is None and len(state.index) == 1_600
        assert reader._engine._worker._thread is None


def test_a_big_add_returns_before_the_graph_has_it_and_queries_still_see_it(
    db_path: Path,
) -> None:
    vectors = _vectors(21, 3_000)
    truth = {i: v for i, v in enumerate(vectors)}
    with vectorhouse.PersistentClient(path=db_path, settings=GRAPH) as client:
        col = client.create_collection("docs", embedding_function=None)
        client._engine._worker.stop()  # nothing drains: the graph stays behind
        col.add(ids=_ids(0, 3_000), embeddings=vectors)
        state = _state(client)
        assert state.tail is not None and len(state.tail) == 3_000 and len(state.index) == 0
        _assert_exact(col, truth)  # the records not yet in the graph are searched exactly
    with vectorhouse.PersistentClient(path=db_path, settings=GRAPH) as client:
        _assert_exact(client.get_collection("docs"), truth)
        state = _state(client)  # close() finished the graph before saving it
        assert state.tail is None and len(state.index) == 3_000 and state.index.is_view


def test_vectors_waiting_for_the_graph_stay_within_their_memory_budget(db_path: Path) -> None:
    vectors = _vectors(22, 4_000)
    truth = {i: v for i, v in enumerate(vectors)}
    budget = 1_000 * DIM * 4  # room for 1,000 waiting vectors
    settings = vectorhouse.Settings(
        exact_copy_max_vectors=0, exact_search_max_candidates=0, index_tail_max_bytes=budget
    )
    with vectorhouse.PersistentClient(path=db_path, settings=settings) as client:
        col = client.create_collection("docs", embedding_function=None)
        client._engine._worker.stop()
        for start in range(0, 4_000, 1_000):
            col.add(ids=_ids(start, start + 1_000), embeddings=vectors[start : start + 1_000])
            state = _state(client)
            assert state.tail is not None and len(state.tail) <= 1_000
            assert len(state.index) + len(state.tail) == start + 1_000
            _assert_exact(col, {i: truth[i] for i in range(start + 1_000)})


def test_vectors_drained_from_the_tail_are_kept_as_a_direct_insert_keeps_them() -> None:
    # The tail holds cosine vectors normalised; normalising them again on the way into
    # the graph moved some by a float32 step, and a few then rounded to another float16:
    # the graph no longer matched storage, and the check on reopening rebuilt it.
    raw = np.random.default_rng(5).standard_normal((2_000, 384)).astype(np.float32) * 3
    labels = np.arange(1, len(raw) + 1, dtype=np.int64)
    params = IndexParams("cosine", 384)
    state = IndexState(GraphIndex(params), watermark=0)
    state.add_to_tail(labels, raw, mirror_max=0, through=1)
    state.drain()
    np.testing.assert_array_equal(
        state.index.get_vectors(labels), state.index.stored_form(raw), strict=True
    )


def test_a_cosine_collection_loaded_in_bulk_reopens_without_a_rebuild(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = np.random.default_rng(6).standard_normal((3_000, 384)).astype(np.float32)
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.create_collection(
            "docs", embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        col.add(ids=_ids(0, 3_000), embeddings=vectors)  # past the inline limit: the tail
    for start in range(3):  # each reopening checks another sample
        caplog.clear()
        with (
            caplog.at_level(logging.WARNING, logger="vectorhouse"),
            vectorhouse.PersistentClient(path=db_path) as client,
        ):
            col = client.get_collection("docs")
            engine: Engine = client._engine
            assert col.query(query_embeddings=vectors[:1], n_results=1)["ids"] == [["r0"]]
            row = engine.store.collection_by_id(str(col.id))
            assert row is not None
            state = _state(client)
            assert state.tail is None
            for offset in range(16):
                assert graph_problem(engine.store, row, state.index, start=offset) is None
        assert not caplog.records, start
