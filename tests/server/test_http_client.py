"""``HttpClient`` / ``AsyncHttpClient`` against a real server: the embedded API, the same
answers and the same errors."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorhouse
from conftest import FakeEmbeddingFunction
from vectorhouse.api import http_client as http_client_module
from vectorhouse.server import RunningServer, running_server

from .conftest import TOKEN


def _plain(value: Any) -> Any:
    """Results with arrays turned into lists, for comparing embedded and HTTP answers."""
    if isinstance(value, np.ndarray):
        return np.round(value.astype(np.float64), 6).tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 5)
    return value


def _scenario(client: Any, name: str) -> list[Any]:
    """The same calls on any client; what each returned."""
    col = client.create_collection(
        name, metadata={"hnsw:space": "cosine", "owner": "me"}, embedding_function=None
    )
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    ids = [f"id{i}" for i in range(40)]
    metas = [
        {"i": i, "even": i % 2 == 0, "tags": ["a", "b"] if i % 3 else ["c"]} for i in range(40)
    ]
    docs = [f"document number {i}" for i in range(40)]
    out: list[Any] = []
    col.add(ids=ids, embeddings=vectors, metadatas=metas, documents=docs)
    out.append(col.count())
    out.append(col.get(ids=["id3", "id1"], include=["embeddings", "metadatas", "documents"]))
    out.append(col.get(where={"$and": [{"i": {"$gte": 10}}, {"even": True}]}, limit=3, offset=1))
    out.append(col.get(where_document={"$contains": "number 1"}, include=["documents"]))
    out.append(col.get(where={"tags": {"$contains": "c"}}, include=[]))
    out.append(
        col.query(
            query_embeddings=vectors[:3] + 0.01,
            n_results=4,
            where={"i": {"$lt": 30}},
            include=["distances", "documents", "metadatas", "embeddings"],
        )
    )
    out.append(col.query(query_embeddings=vectors[5].tolist(), n_results=2, ids=["id5", "id6"]))
    col.upsert(ids=["id0", "new"], embeddings=vectors[:2], metadatas=[{"i": -1}, {"i": 99}])
    col.update(ids=["id1", "missing"], documents=["changed", "x"], embeddings=vectors[:2])
    out.append(col.get(ids=["id0", "new", "id1"], include=["metadatas", "documents"]))
    out.append(col.delete(where={"i": {"$gt": 35}}))
    out.append(col.delete(ids=["id2", "nope"]))
    out.append(col.count())
    out.append(col.peek(limit=2))
    col.modify(metadata={"owner": "you", "hnsw:space": "cosine"})
    out.append((col.name, col.metadata))
    col.modify(name=name + "-renamed")
    out.append(col.name)
    out.append([c.name for c in client.list_collections()])
    out.append(client.get_collection(name + "-renamed").count())
    client.delete_collection(name + "-renamed")
    out.append(client.count_collections())
    return _plain(out)


def test_the_same_calls_give_the_same_answers_as_the_embedded_client(
    bare_server: RunningServer,
) -> None:
    with vectorhouse.HttpClient(port=bare_server.port) as remote:
        assert _scenario(remote, "scenario") == _scenario(vectorhouse.Client(), "scenario")


_BAD_CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    ("missing collection", lambda c: c.get_collection("nope")),
    ("existing collection", lambda c: c.create_collection("base")),
    ("bad name", lambda c: c.create_collection("a")),
    # An id already stored is no error any more (add skips it, as Chroma does); the
    # strict opt-in's error over HTTP is in tests/compat/test_add_existing.py.
    ("delete limit without filter", lambda c: c.get_collection("base").delete(ids=["a"], limit=1)),
    (
        "duplicate ids",
        lambda c: c.get_collection("base").upsert(ids=["x", "x"], embeddings=[[1, 2]] * 2),
    ),
    ("wrong dimension", lambda c: c.get_collection("base").add(ids=["z"], embeddings=[[1, 2, 3]])),
    ("non-string id", lambda c: c.get_collection("base").add(ids=[5], embeddings=[[1, 2]])),
    ("bad filter", lambda c: c.get_collection("base").get(where={"k": {"$gt": "x"}})),
    ("bad include", lambda c: c.get_collection("base").get(include=["vectors"])),
    (
        "nan embedding",
        lambda c: c.get_collection("base").add(ids=["n"], embeddings=[[float("nan"), 1]]),
    ),
    (
        "bad metadata",
        lambda c: c.get_collection("base").add(
            ids=["m"], embeddings=[[1, 2]], metadatas=[{"k": {}}]
        ),
    ),
    (
        "n_results zero",
        lambda c: c.get_collection("base").query(query_embeddings=[[1, 2]], n_results=0),
    ),
    (
        "both queries",
        lambda c: c.get_collection("base").query(query_embeddings=[[1, 2]], query_texts=["x"]),
    ),
    ("delete nothing", lambda c: c.get_collection("base").delete()),
    ("images", lambda c: c.get_collection("base").add(ids=["i"], images=["img"])),
    ("reset not allowed", lambda c: c.reset()),
    ("space change", lambda c: c.get_collection("base").modify(metadata={"hnsw:space": "ip"})),
]


@pytest.fixture(scope="module")
def shared_bare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("bare")) as running:
        yield running


@pytest.mark.parametrize("call", [c for _, c in _BAD_CALLS], ids=[n for n, _ in _BAD_CALLS])
def test_bad_calls_raise_the_embedded_clients_errors(
    shared_bare_server: RunningServer, call: Callable[[Any], Any]
) -> None:
    raised = []
    embedded = vectorhouse.Client()
    with vectorhouse.HttpClient(port=shared_bare_server.port) as remote:
        for client in (embedded, remote):
            col = client.create_collection("base", embedding_function=None)
            try:
                col.add(ids=["a"], embeddings=[[1.0, 2.0]], metadatas=[{"k": 1}])
                with pytest.raises(vectorhouse.VectorhouseError) as info:
                    call(client)
                raised.append((type(info.value), str(info.value)))
            finally:
                client.delete_collection("base")
    assert raised[1] == raised[0]


def test_heartbeat_version_and_batch_size_come_from_the_server(
    http_client: vectorhouse.HttpClient,
) -> None:
    assert http_client.heartbeat() > 0
    assert http_client.get_version() == vectorhouse.__version__
    assert http_client.get_max_batch_size() == vectorhouse.Settings().max_batch_size
    assert repr(http_client) == f"HttpClient({http_client.url})"


def test_collections_are_found_by_name_and_by_id(
    http_client: vectorhouse.HttpClient, name: str
) -> None:
    col = http_client.get_or_create_collection(name, metadata={"k": 1}, embedding_function=None)
    again = http_client.get_or_create_collection(name, metadata={"k": 2})
    assert again == col and again.metadata == {"k": 1}
    by_id = http_client.get_collection_by_id(col.id)
    assert (by_id.name, by_id.id, by_id.dimension) == (name, col.id, None)
    col.add(ids=["a"], embeddings=[[1.0, 2.0, 3.0]])
    assert http_client.get_collection(name).dimension == 3
    assert name in [c.name for c in http_client.list_collections()]
    assert http_client.list_collections(limit=1, offset=0)[0].name != ""
    assert col.configuration_json["hnsw"]["space"] == "l2"
    http_client.delete_collection(name)
    with pytest.raises(vectorhouse.CollectionNotFoundError):
        col.count()
    with pytest.raises(vectorhouse.InvalidArgumentError, match="UUID"):
        http_client.get_collection_by_id("not-a-uuid")


def test_the_server_embeds_texts_with_the_default_model(
    http_client: vectorhouse.HttpClient, name: str
) -> None:
    col = http_client.create_collection(name)
    assert col.configuration_json["embedding_function"]["name"] == "default"
    texts = ["I love Python programming", "JavaScript is fun", "I enjoy cooking pasta"]
    col.add(ids=["a", "b", "c"], documents=texts)
    res = col.query(query_texts=["coding in Python"], n_results=2)
    assert res["documents"] == [["I love Python programming", "JavaScript is fun"]]
    stored = col.get(ids=["c"], include=["embeddings"])["embeddings"]
    local = np.asarray(vectorhouse.DefaultEmbeddingFunction()(["I enjoy cooking pasta"]))
    assert stored.shape == (1, 384)
    np.testing.assert_allclose(stored, local, atol=1e-5)


def test_a_function_passed_to_the_client_embeds_locally(
    http_client: vectorhouse.HttpClient, name: str
) -> None:
    fake = FakeEmbeddingFunction(dim=8)
    col = http_client.create_collection(name, embedding_function=fake)
    assert col.embedding_function is fake
    assert col.configuration_json["embedding_function"] == {
        "type": "known",
        "name": "fake-test",
        "config": {"dim": 8},
    }
    col.add(ids=["a", "b"], documents=["red apple", "blue sky"])
    assert fake.calls == 1 and col.dimension is None
    hit = col.query(query_texts=["apple"], n_results=1)["ids"]
    assert hit == [["a"]] and fake.calls == 2

    # The server stores the function's record but does not run it.
    plain = http_client.get_collection(name)
    assert plain.embedding_function is None
    with pytest.raises(vectorhouse.EmbeddingError, match="does not run the embedding function"):
        plain.add(ids=["c"], documents=["green grass"])
    assert http_client.get_collection(name, embedding_function=fake).count() == 2
    with pytest.raises(vectorhouse.EmbeddingFunctionConflictError):
        http_client.get_collection(name, embedding_function=vectorhouse.DefaultEmbeddingFunction())


def test_a_collection_opened_without_a_function_refuses_texts(
    http_client: vectorhouse.HttpClient, name: str
) -> None:
    col = http_client.create_collection(name, embedding_function=None)
    local = vectorhouse.Client().create_collection(name, embedding_function=None)
    for c in (col, local):
        with pytest.raises(vectorhouse.InvalidArgumentError, match="has no embedding function"):
            c.add(ids=["a"], documents=["hello"])
    opened = http_client.get_collection(name, embedding_function=None)
    with pytest.raises(vectorhouse.InvalidArgumentError, match="has no embedding function"):
        opened.query(query_texts=["hello"])


def test_a_wrong_token_raises_authentication_error(server: RunningServer) -> None:
    with vectorhouse.HttpClient(port=server.port, headers={"Authorization": "Bearer no"}) as c:
        with pytest.raises(vectorhouse.AuthenticationError, match="wrong bearer token"):
            c.list_collections()
        assert c.heartbeat() > 0  # open, for health checks
    with vectorhouse.HttpClient(port=server.port) as c, pytest.raises(PermissionError):
        c.count_collections()
    with vectorhouse.HttpClient(port=server.port, headers={"X-Chroma-Token": TOKEN}) as c:
        assert c.count_collections() >= 0


def test_an_unreachable_server_is_retried_then_reported(
    monkeypatch: pytest.MonkeyPatch, unused_port: int
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(http_client_module, "_sleep", waits.append)
    with vectorhouse.HttpClient(port=unused_port, retries=3) as c:
        with pytest.raises(vectorhouse.ServerUnavailableError, match="cannot reach") as info:
            c.create_collection("x")  # not idempotent, but it never reached a server
        assert isinstance(info.value, ConnectionError)
    assert waits == [0.1, 0.2, 0.4]


def test_concurrent_writers_through_one_client_lose_nothing(
    http_client: vectorhouse.HttpClient, name: str
) -> None:
    col = http_client.create_collection(name, embedding_function=None)
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for b in range(10):
                ids = [f"w{w}-b{b}-{i}" for i in range(5)]
                col.add(ids=ids, embeddings=np.full((5, 4), w + b / 10, dtype=np.float32))
                col.query(query_embeddings=[[w, w, w, w]], n_results=3)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert col.count() == 8 * 10 * 5


def test_async_client_has_the_same_api(server: RunningServer, name: str) -> None:
    async def main() -> list[Any]:
        client = await vectorhouse.AsyncHttpClient(port=server.port, headers=server.headers)
        async with client:
            col = await client.create_collection(name, embedding_function=FakeEmbeddingFunction())
            await col.add(
                ids=["a", "b"], documents=["red apple", "blue sky"], metadatas=[{"k": 1}, None]
            )
            await col.upsert(ids=["c"], embeddings=[[0.0] * 15 + [1.0]])
            await col.update(ids=["c"], metadatas=[{"k": 3}])
            found = await col.query(query_texts=["apple"], n_results=1)
            got = await col.get(where={"k": 3})
            peeked = await col.peek(1)
            deleted = await col.delete(ids=["b"])
            await col.modify(metadata={"m": 1})
            listed = [c.name for c in await client.list_collections()]
            same = await client.get_collection_by_id(col.id)
            await client.delete_collection(name)
            with pytest.raises(vectorhouse.CollectionNotFoundError):
                await client.get_collection(name)
            return [
                found["ids"],
                got["ids"],
                len(peeked["ids"]),
                deleted,
                col.metadata,
                name in listed,
                same.name,
                await client.heartbeat() > 0,
                await client.get_version(),
                await client.count_collections() >= 1,
            ]

    assert asyncio.run(main()) == [
        [["a"]],
        ["c"],
        1,
        {"deleted": 1},
        {"m": 1},
        True,
        name,
        True,
        vectorhouse.__version__,
        True,
    ]


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_reset_works_when_the_server_allows_it(tmp_path: Path) -> None:
    env = {**os.environ, "VECTORHOUSE_ALLOW_RESET": "true"}
    with (
        running_server(tmp_path / "db", env=env) as srv,
        vectorhouse.HttpClient(port=srv.port) as c,
    ):
        c.create_collection("one")
        c.create_collection("two")
        assert c.reset() is True
        assert c.count_collections() == 0


def test_a_silent_server_times_out_and_only_safe_calls_are_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(http_client_module, "_sleep", waits.append)
    with socket.socket() as silent:  # accepts connections (in the kernel), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        with vectorhouse.HttpClient(port=port, timeout=0.2, retries=2) as c:
            with pytest.raises(vectorhouse.ServerUnavailableError, match="timed out"):
                c.count_collections()
            assert waits == [0.1, 0.2]
            waits.clear()
            with pytest.raises(vectorhouse.ServerUnavailableError, match="timed out"):
                c.create_collection("x")  # it may have been done: not repeated
            assert waits == []
