"""Storage is the truth; index files are caches that are replayed, rebuilt, never fatal."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

import numpy as np
import pytest

import vectorhouse
from vectorhouse.index.flat import exact_search


def _vectors(rng: np.random.Generator, n: int, dim: int = 16) -> np.ndarray:
    return rng.standard_normal((n, dim)).astype(np.float32)


def _fill(path: Path, vectors: np.ndarray, *, close: bool = True) -> vectorhouse.PersistentClient:
    client = vectorhouse.PersistentClient(path=path)
    col = client.create_collection("docs", embedding_function=None)
    col.add(
        ids=[f"r{i}" for i in range(len(vectors))],
        embeddings=vectors,
        documents=[f"document number {i}" for i in range(len(vectors))],
    )
    col.query(query_embeddings=vectors[:1], n_results=1)
    if close:
        client.close()
    return client


def _index_files(path: Path) -> list[Path]:
    return sorted((path / "index").glob("*.usearch"))


def _assert_exact(col: vectorhouse.Collection, vectors: np.ndarray, live: list[int]) -> None:
    labels = np.array(live, dtype=np.int64)
    queries = vectors[:5]
    want = exact_search(queries, vectors[labels], labels, 5, "l2")
    got = col.query(query_embeddings=queries, n_results=5, include=["distances"])
    for row, ids in enumerate(got["ids"]):
        assert ids == [f"r{x}" for x in want.labels[row]]


def test_data_survives_reopen_and_index_is_loaded_not_rebuilt(
    db_path: Path, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = _vectors(rng, 500)
    _fill(db_path, vectors)
    assert len(_index_files(db_path)) == 1
    with (
        caplog.at_level(logging.WARNING, logger="vectorhouse"),
        vectorhouse.PersistentClient(path=db_path) as client,
    ):
        col = client.get_collection("docs")
        assert col.count() == 500
        _assert_exact(col, vectors, list(range(500)))
    assert not caplog.records


def test_writes_after_the_last_save_are_replayed_on_open(
    db_path: Path, rng: np.random.Generator
) -> None:
    vectors = _vectors(rng, 400)
    _fill(db_path, vectors[:300])
    saved = _index_files(db_path)
    client = vectorhouse.PersistentClient(path=db_path)
    col = client.get_collection("docs")
    # Simulate a process that wrote and then died before saving its index.
    col.add(ids=[f"r{i}" for i in range(300, 400)], embeddings=vectors[300:])
    col.delete(ids=["r0", "r1"])
    client._engine._indexes.clear()
    client._engine.store.close()
    assert _index_files(db_path) == saved
    with vectorhouse.PersistentClient(path=db_path) as reopened:
        col = reopened.get_collection("docs")
        assert col.count() == 398
        _assert_exact(col, vectors, list(range(2, 400)))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete"])
def test_lost_or_corrupt_index_file_is_rebuilt_with_a_warning(
    db_path: Path, rng: np.random.Generator, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    vectors = _vectors(rng, 300)
    _fill(db_path, vectors)
    (graph,) = _index_files(db_path)
    if damage == "truncate":
        graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])
    elif damage == "garbage":
        graph.write_bytes(rng.integers(0, 256, graph.stat().st_size, dtype=np.uint8).tobytes())
    else:
        graph.unlink()
    with (
        caplog.at_level(logging.WARNING, logger="vectorhouse"),
        vectorhouse.PersistentClient(path=db_path) as client,
    ):
        _assert_exact(client.get_collection("docs"), vectors, list(range(300)))
    assert any("rebuil" in r.getMessage() for r in caplog.records)
    assert len(_index_files(db_path)) == 1


def test_deleted_text_leaves_no_trace_in_database_files(db_path: Path) -> None:
    secret = "zebra-quartz-unique-secret-8812"
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.create_collection("docs", embedding_function=None)
        col.add(
            ids=["keep", "gone"],
            embeddings=[[1.0, 0.0], [0.0, 1.0]],
            documents=["ordinary text", secret],
            metadatas=[{"k": 1}, {"tag": secret}],
        )
        col.delete(ids=["gone"])
    blob = b"".join(p.read_bytes() for p in db_path.rglob("*") if p.is_file())
    assert secret.encode() not in blob
    assert b"ordinary text" in blob


def test_two_clients_on_one_path_see_each_others_writes(
    db_path: Path, rng: np.random.Generator
) -> None:
    vectors = _vectors(rng, 50)
    with (
        vectorhouse.PersistentClient(path=db_path) as a,
        vectorhouse.PersistentClient(path=db_path) as b,
    ):
        col_a = a.create_collection("docs", embedding_function=None)
        col_a.add(ids=["x0"], embeddings=vectors[:1])
        col_b = b.get_collection("docs")
        assert col_b.query(query_embeddings=vectors[:1], n_results=5)["ids"] == [["x0"]]
        col_b.add(ids=[f"x{i}" for i in range(1, 50)], embeddings=vectors[1:])
        col_a.delete(ids=["x1"])
        assert col_a.count() == 49 and col_b.count() == 49
        got_b = col_b.query(query_embeddings=vectors[1:2], n_results=50)["ids"][0]
        got_a = col_a.query(query_embeddings=vectors[1:2], n_results=50)["ids"][0]
        assert "x1" not in got_b and len(got_b) == 49
        assert sorted(got_a) == sorted(got_b)


def test_deleted_collection_is_gone_for_the_other_client(db_path: Path) -> None:
    with (
        vectorhouse.PersistentClient(path=db_path) as a,
        vectorhouse.PersistentClient(path=db_path) as b,
    ):
        a.create_collection("docs", embedding_function=None).add(ids=["x"], embeddings=[[1.0]])
        col_b = b.get_collection("docs")
        a.delete_collection("docs")
        with pytest.raises(vectorhouse.CollectionNotFoundError):
            col_b.count()
        assert not list((db_path / "index").glob("*.usearch"))


def test_deleted_text_is_gone_from_files_while_the_client_is_open(db_path: Path) -> None:
    secret = "walrus-quokka-unique-secret-4471"
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.create_collection("docs", embedding_function=None)
        col.add(ids=["gone"], embeddings=[[0.0, 1.0]], documents=[secret])
        col.delete(ids=["gone"])
        blob = b"".join(p.read_bytes() for p in db_path.rglob("*") if p.is_file())
        assert secret.encode() not in blob


def test_a_dropped_client_saves_its_index_and_others_are_untouched(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    vectors = _vectors(rng, 50)
    kept = vectorhouse.PersistentClient(path=tmp_path / "kept")
    kept_col = kept.create_collection("docs", embedding_function=None)
    kept_col.add(ids=[f"k{i}" for i in range(50)], embeddings=vectors)
    kept_col.query(query_embeddings=vectors[:1], n_results=1)

    dropped = vectorhouse.PersistentClient(path=tmp_path / "dropped")
    col = dropped.create_collection("docs", embedding_function=None)
    col.add(ids=[f"d{i}" for i in range(50)], embeddings=vectors)
    col.query(query_embeddings=vectors[:1], n_results=1)
    del col, dropped
    gc.collect()
    assert len(_index_files(tmp_path / "dropped")) == 1
    assert not _index_files(tmp_path / "kept")
    kept._engine.flush()
    assert len(_index_files(tmp_path / "kept")) == 1
    kept.close()
