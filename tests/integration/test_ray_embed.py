"""Batch embedding on Ray in local mode (2 CPUs, no dashboard): the vectors are those
of the embedded path, into embedded and Milvus collections; Ray is shut down after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import vectorhouse
import vectorhouse.ray
from vectorhouse import DefaultEmbeddingFunction
from vectorhouse.cli import main

ray = pytest.importorskip("ray")

# Ray's own modules warn about their deprecated settings on import and first use.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

WORDS = [
    "vector",
    "database",
    "index",
    "query",
    "filter",
    "embedding",
    "model",
    "python",
    "text",
    "search",
    "cluster",
    "node",
    "batch",
    "actor",
    "ray",
    "milvus",
    "record",
    "metadata",
    "document",
    "distance",
    "cosine",
    "nearest",
    "neighbour",
    "graph",
    "storage",
    "write",
    "read",
    "replica",
    "shard",
    "token",
    "sentence",
    "paragraph",
    "chapter",
    "library",
    "network",
    "memory",
    "disk",
    "thread",
    "process",
    "queue",
    "lock",
    "latency",
    "throughput",
    "result",
    "ranking",
]


def _texts(n: int, seed: int = 5) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 14)))) for _ in range(n)]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_embed_into_gives_the_embedded_paths_vectors_for_5000_texts(local_ray: Any) -> None:
    texts = _texts(5_000)
    rows = [{"id": f"t{i}", "text": t, "n": i % 7} for i, t in enumerate(texts)]
    col = vectorhouse.Client().create_collection("ray_docs")
    seen: list[int] = []
    written = vectorhouse.ray.embed_into(
        local_ray.data.from_items(rows),
        col,
        metadata_columns=["n"],
        batch_size=250,
        concurrency=2,
        progress=seen.append,
    )
    assert written == 5_000 == col.count()
    assert seen[-1] == 5_000
    got = col.get(include=["embeddings", "documents", "metadatas"])
    order = {rid: i for i, rid in enumerate(got["ids"])}
    want = np.asarray(DefaultEmbeddingFunction()(texts), dtype=np.float32)
    mine = got["embeddings"][[order[f"t{i}"] for i in range(5_000)]]
    cos = np.sum(mine * want, axis=1) / (
        np.linalg.norm(mine, axis=1) * np.linalg.norm(want, axis=1)
    )
    assert float(cos.min()) >= 0.9999
    assert got["documents"][order["t42"]] == texts[42]
    assert got["metadatas"][order["t42"]] == {"n": 0}
    # the collection answers text queries with its own model as usual
    res = col.query(query_texts=[texts[7]], n_results=1)
    assert res["ids"] == [["t7"]]


def test_embed_into_writes_into_a_milvus_collection_and_can_run_again(
    local_ray: Any, milvus_client: vectorhouse.Client
) -> None:
    texts = _texts(120, seed=9)
    rows = [{"id": f"m{i}", "text": t} for i, t in enumerate(texts)]
    col = milvus_client.create_collection("ray_milvus", metadata={"hnsw:space": "cosine"})
    for _ in range(2):  # a second run overwrites, nothing is duplicated
        assert vectorhouse.ray.embed_into(rows, col, batch_size=50, concurrency=1) == 120
    assert col.count() == 120
    res = col.query(query_texts=[texts[3]], n_results=1, include=["distances"])
    assert res["ids"] == [["m3"]]
    assert res["distances"][0][0] < 1e-5


def test_ray_embedding_function_splits_calls_and_keeps_order(local_ray: Any) -> None:
    texts = _texts(37, seed=11)
    fn = vectorhouse.ray.RayEmbeddingFunction(DefaultEmbeddingFunction(), concurrency=2)
    try:
        got = fn(texts)
    finally:
        fn.close()
    want = np.asarray(DefaultEmbeddingFunction()(texts), dtype=np.float32)
    np.testing.assert_allclose(got, want, atol=1e-5)
    col = vectorhouse.Client().create_collection("wrapped")
    assert col.embedding_function.get_config() == fn.get_config()


def test_embed_into_refuses_a_collection_without_a_rebuildable_function(local_ray: Any) -> None:
    col = vectorhouse.Client().create_collection("raw", embedding_function=None)
    with pytest.raises(vectorhouse.InvalidArgumentError, match="no embedding function"):
        vectorhouse.ray.embed_into([{"id": "a", "text": "x"}], col)
    with pytest.raises(vectorhouse.InvalidArgumentError, match="concurrency"):
        vectorhouse.ray.embed_into([], col, concurrency=0)


def test_cli_ingest_with_ray_stores_the_same_vectors_as_without(
    local_ray: Any, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i, text in enumerate(_texts(6, seed=13)):
        (docs / f"note{i}.md").write_text(f"# Note {i}\n\n{text}\n", encoding="utf-8")
    runner = CliRunner()
    for db, extra in ((tmp_path / "plain", []), (tmp_path / "ray", ["--ray", "--ray-actors", "2"])):
        args = ["ingest", str(docs), "--db", str(db), "-c", "notes", "--base", str(docs), *extra]
        result = runner.invoke(main, args, prog_name="vectorhouse")
        assert result.exit_code == 0, (result.output, result.exception)
    with (
        vectorhouse.PersistentClient(path=tmp_path / "plain") as a,
        vectorhouse.PersistentClient(path=tmp_path / "ray") as b,
    ):
        want = a.get_collection("notes").get(include=["embeddings"])
        got = b.get_collection("notes").get(include=["embeddings"])
    assert got["ids"] == want["ids"] and len(got["ids"]) == 6
    np.testing.assert_allclose(got["embeddings"], want["embeddings"], atol=1e-5)
