"""The same calls on the embedded engine and on the Milvus backend (milvus-lite, exact
FLAT index) give the same results: ids, order, documents, metadata, embeddings, and
distances within 1e-5. Seeded random records; every filter operator."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import vectorhouse
from vectorhouse import NotSupportedError

DIM = 8
WORDS = ["jazz", "blue", "note", "50%", "under_score", "back\\slash", 'say "hi"', "émoji 🎉"]
GENRES = ["jazz", "rock", "pop"]


def _records(seed: int, n: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    ids = [f"id{i:04d}" for i in range(n)]
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    documents: list[str | None] = []
    metadatas: list[dict[str, Any] | None] = []
    for i in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(1, 4)), replace=False)
        documents.append(None if i % 11 == 0 else " ".join(words))
        if i % 13 == 0:
            metadatas.append(None)
            continue
        meta: dict[str, Any] = {"year": int(rng.integers(1990, 2030))}
        if i % 3:
            meta["genre"] = str(rng.choice(GENRES))
        if i % 4:
            meta["score"] = float(np.round(rng.uniform(0, 10), 3))
        if i % 5 == 0:
            meta["live"] = bool(rng.integers(0, 2))
        if i % 7 == 0:
            meta["tags"] = [str(t) for t in rng.choice(GENRES, size=2, replace=False)]
        if i % 9 == 0:
            meta["nums"] = [int(x) for x in rng.integers(0, 5, size=3)]
        if i % 17 == 0:
            meta["year"] = str(meta["year"])  # the same key with another type
        metadatas.append(meta)
    return {"ids": ids, "embeddings": vectors, "documents": documents, "metadatas": metadatas}


def _fill(client: vectorhouse.Client, space: str) -> vectorhouse.Collection:
    col = client.create_collection(
        f"cong-{space}", embedding_function=None, metadata={"hnsw:space": space}
    )
    data = _records(7, 240)
    half = 160
    col.add(**{k: v[:half] for k, v in data.items()})
    col.add(**{k: v[half:] for k, v in data.items()})
    more = _records(8, 20)
    col.upsert(
        ids=[f"id{i:04d}" for i in range(0, 40, 2)],
        embeddings=more["embeddings"],
        metadatas=[{"genre": "blues", "score": None} for _ in range(20)],
    )
    col.update(
        ids=["id0003", "id0005", "nope"],
        embeddings=more["embeddings"][:3],
        documents=["blue note", "jazz 50%", "x"],
    )
    col.delete(ids=["id0100", "id0101"])
    col.delete(where={"year": {"$lt": 1992}})
    return col


WHERE: list[Any] = [
    {"genre": "jazz"},
    {"genre": {"$ne": "jazz"}},
    {"year": {"$gt": 2010}},
    {"year": {"$gte": 2010, "$lte": 2020}},
    {"year": {"$lt": 2000.5}},
    {"score": {"$lte": 3.25}},
    {"live": True},
    {"live": {"$ne": False}},
    {"genre": {"$in": ["rock", "pop"]}},
    {"genre": {"$nin": ["rock", "pop"]}},
    {"year": {"$in": [2001, 2002.0, 2003]}},
    {"tags": {"$contains": "rock"}},
    {"tags": {"$not_contains": "rock"}},
    {"nums": {"$contains": 3}},
    {"year": "2005"},
    {"$and": [{"genre": "blues"}, {"year": {"$gt": 2000}}]},
    {"$or": [{"live": True}, {"tags": {"$contains": "pop"}}, {"score": {"$gt": 9}}]},
    {"$or": [{"$and": [{"genre": "jazz"}, {"live": False}]}, {"year": {"$nin": [2020, 2021]}}]},
]

WHERE_DOCUMENT: list[Any] = [
    {"$contains": "jazz"},
    {"$not_contains": "jazz"},
    {"$contains": "50%"},
    {"$contains": "under_score"},
    {"$contains": '"hi"'},
    {"$contains": "🎉"},
    {"$regex": "^blue"},
    {"$not_regex": "note"},
    {"$or": [{"$contains": "blue"}, {"$contains": "rock"}]},
]


@pytest.fixture(scope="module")
def readonly_milvus(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A milvus-lite database of its own for the read-only tests of this module."""
    server_manager = pytest.importorskip("milvus_lite.server_manager")
    uri = str(tmp_path_factory.mktemp("milvus_ro") / "milvus.db")
    client = vectorhouse.MilvusClient(uri=uri, index_type="FLAT")
    yield client
    client.close()
    server_manager.server_manager_instance.release_server(uri)


@pytest.fixture(scope="module", params=["l2", "cosine", "ip"])
def pair(request: pytest.FixtureRequest, readonly_milvus: vectorhouse.Client) -> Any:
    """The same records in an embedded and a Milvus collection, in one distance space."""
    embedded = vectorhouse.Client()
    yield _fill(embedded, request.param), _fill(readonly_milvus, request.param)
    embedded.close()


@pytest.fixture(params=["l2", "cosine"])
def fresh_pair(request: pytest.FixtureRequest, milvus_client: vectorhouse.Client) -> Any:
    """Like ``pair``, for tests that write."""
    embedded = vectorhouse.Client()
    yield _fill(embedded, request.param), _fill(milvus_client, request.param)
    embedded.close()


def _assert_same_query(a: Any, b: Any) -> None:
    assert len(a["ids"]) == len(b["ids"])
    for ids_a, ids_b, d_a, d_b in zip(
        a["ids"], b["ids"], a["distances"], b["distances"], strict=True
    ):
        np.testing.assert_allclose(d_a, d_b, atol=1e-5)
        for pos, (x, y) in enumerate(zip(ids_a, ids_b, strict=True)):
            if x != y:  # only a tie may swap two records
                assert abs(d_a[pos] - d_b[pos]) < 1e-5, (ids_a, ids_b)
        assert len(ids_a) == len(ids_b)
    for field in ("documents", "metadatas"):
        if a[field] is not None:
            same = [list(x) == list(y) for x, y in zip(a["ids"], b["ids"], strict=True)]
            if all(same):
                assert a[field] == b[field]


def test_get_returns_the_same_records_in_the_same_order(pair: Any) -> None:
    emb, mil = pair
    assert emb.count() == mil.count()
    a = emb.get(include=["documents", "metadatas", "embeddings"])
    b = mil.get(include=["documents", "metadatas", "embeddings"])
    assert a["ids"] == b["ids"]
    assert a["documents"] == b["documents"]
    assert a["metadatas"] == b["metadatas"]
    np.testing.assert_array_equal(a["embeddings"], b["embeddings"])


@pytest.mark.parametrize("where", WHERE, ids=[str(w) for w in WHERE])
def test_where_selects_the_same_records(pair: Any, where: Any) -> None:
    emb, mil = pair
    assert emb.get(where=where, include=[])["ids"] == mil.get(where=where, include=[])["ids"]


@pytest.mark.parametrize("doc", WHERE_DOCUMENT, ids=[str(w) for w in WHERE_DOCUMENT])
def test_where_document_selects_the_same_records(pair: Any, doc: Any) -> None:
    emb, mil = pair
    a = emb.get(where_document=doc, include=["documents"])
    assert a == mil.get(where_document=doc, include=["documents"])


def test_queries_give_the_same_ids_order_and_distances(pair: Any) -> None:
    emb, mil = pair
    queries = np.random.default_rng(3).normal(size=(5, DIM)).astype(np.float32)
    for where in [None, *WHERE[:8]]:
        kwargs = {"query_embeddings": queries, "n_results": 7, "where": where}
        _assert_same_query(emb.query(**kwargs), mil.query(**kwargs))
    for doc in WHERE_DOCUMENT[:4]:
        kwargs = {"query_embeddings": queries, "n_results": 5, "where_document": doc}
        _assert_same_query(emb.query(**kwargs), mil.query(**kwargs))
    ids = ["id0007", "id0003", "id0200", "missing"]
    kwargs = {"query_embeddings": queries[:2], "n_results": 10, "ids": ids}
    _assert_same_query(emb.query(**kwargs), mil.query(**kwargs))


def test_limit_offset_and_ids_order_agree(pair: Any) -> None:
    emb, mil = pair
    for limit, offset in [(5, 0), (10, 37), (1000, 200), (0, 3)]:
        a = emb.get(limit=limit, offset=offset, where={"year": {"$gt": 2000}}, include=[])
        assert a == mil.get(limit=limit, offset=offset, where={"year": {"$gt": 2000}}, include=[])
    ids = ["id0150", "id0009", "gone", "id0001"]
    assert emb.get(ids=ids, offset=1, limit=2) == mil.get(ids=ids, offset=1, limit=2)
    assert emb.peek(3)["ids"] == mil.peek(3)["ids"]


def test_filtered_get_past_one_result_page_agrees(milvus_client: vectorhouse.Client) -> None:
    # More matches than one Milvus query returns (16,384): the rest come in pages.
    n = 17_000
    rng = np.random.default_rng(3)
    ids = [f"r{i:05d}" for i in rng.permutation(n)]  # insertion order is not id order
    vectors = rng.normal(size=(n, 2)).astype(np.float32)
    metadatas = [{"even": int(i[1:]) % 2 == 0} for i in ids]
    cols = []
    for client in (vectorhouse.Client(), milvus_client):
        col = client.create_collection("pages", embedding_function=None)
        for start in range(0, n, 5_000):
            s = slice(start, start + 5_000)
            col.add(ids=ids[s], embeddings=vectors[s], metadatas=metadatas[s])
        cols.append(col)
    emb, mil = cols
    assert mil.get(include=[])["ids"] == ids
    for kwargs in (
        {"where": {"even": True}},
        {"where": {"even": {"$in": [True, False]}}, "offset": 16_380, "limit": 10},
        {"where": {"even": {"$ne": True}}, "offset": 8_000},
    ):
        got = mil.get(include=[], **kwargs)["ids"]
        assert got == emb.get(include=[], **kwargs)["ids"]
    assert len(got) == n // 2 - 8_000


def test_deletes_by_filter_count_the_same(fresh_pair: Any) -> None:
    emb, mil = fresh_pair
    for where in ({"genre": "pop"}, {"tags": {"$contains": "jazz"}}):
        assert emb.delete(where=where) == mil.delete(where=where)
    doc = {"$contains": "note"}
    assert emb.delete(where_document=doc) == mil.delete(where_document=doc)
    assert emb.get(include=[])["ids"] == mil.get(include=[])["ids"]


def test_regex_that_milvus_cannot_express_is_not_supported(
    milvus_client: vectorhouse.Client,
) -> None:
    col = milvus_client.create_collection("rx1", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 2.0]], documents=["abc"])
    with pytest.raises(NotSupportedError, match=r"\$regex 'a.c'"):
        col.get(where_document={"$regex": "a.c"})
    assert col.get(where_document={"$regex": "^ab"})["ids"] == ["a"]
    with pytest.raises(NotSupportedError, match="backslash"):
        col.get(where_document={"$contains": "a\\b"})


def test_lexical_and_hybrid_search_are_not_supported_on_milvus(
    milvus_client: vectorhouse.Client,
) -> None:
    col = milvus_client.create_collection("lex1", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 2.0]], documents=["quartz"])
    for mode in ("lexical", "hybrid"):
        with pytest.raises(NotSupportedError, match="BM25"):
            col.query(query_texts=["quartz"], query_embeddings=[[1.0, 2.0]], mode=mode)
    with pytest.raises(NotSupportedError, match="BM25"):
        col.search(vectorhouse.Search().rank(vectorhouse.Knn(query="quartz", key="document")))
    assert col.query(query_embeddings=[[1.0, 2.0]], n_results=1)["ids"] == [["a"]]


def test_add_of_existing_ids_skips_them_on_both_backends(milvus_client: vectorhouse.Client) -> None:
    for client in (vectorhouse.Client(), milvus_client):
        col = client.create_collection("skip", embedding_function=None)
        col.add(ids=["a"], embeddings=[[1.0, 2.0]])
        col.add(ids=["a", "b"], embeddings=[[9.0, 9.0], [3.0, 4.0]])
        got = col.get(include=["embeddings"])
        assert got["ids"] == ["a", "b"]
        assert np.asarray(got["embeddings"]).tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_errors_are_the_same_classes_on_both_backends(milvus_uri: str) -> None:
    strict = vectorhouse.Settings(allow_reset=True, strict_add_ids=True)
    milvus = vectorhouse.MilvusClient(uri=milvus_uri, index_type="FLAT", settings=strict)
    for client in (vectorhouse.Client(strict), milvus):
        col = client.create_collection("err", embedding_function=None)
        col.add(ids=["a"], embeddings=[[1.0, 2.0]])
        with pytest.raises(vectorhouse.IDAlreadyExistsError):
            col.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [3.0, 4.0]])
        assert col.count() == 1
        with pytest.raises(vectorhouse.DimensionMismatchError):
            col.add(ids=["c"], embeddings=[[1.0, 2.0, 3.0]])
        with pytest.raises(vectorhouse.InvalidFilterError, match=r"at \$and\[0\]\.k"):
            col.get(where={"$and": [{"k": {"$gt": "x"}}, {"j": 1}]})
        with pytest.raises(vectorhouse.CollectionExistsError):
            client.create_collection("err")
        with pytest.raises(vectorhouse.CollectionNotFoundError):
            client.get_collection("missing")
    milvus.delete_collection("err")
    milvus.close()


def test_unreachable_milvus_server_raises_server_unavailable() -> None:
    with pytest.raises(vectorhouse.ServerUnavailableError):
        vectorhouse.MilvusClient(uri="http://127.0.0.1:9", timeout=2)


def test_default_model_same_model_rule_holds_on_milvus(
    milvus_client: vectorhouse.Client, milvus_uri: str, fake_ef: Any
) -> None:
    col = milvus_client.create_collection("auto", metadata={"hnsw:space": "cosine"})
    col.add(
        ids=["doc1", "doc2", "doc3"],
        documents=["I love Python programming", "JavaScript is fun", "I enjoy cooking pasta"],
    )
    res = col.query(query_texts=["coding in Python"], n_results=2)
    assert res["documents"] == [["I love Python programming", "JavaScript is fun"]]
    with vectorhouse.MilvusClient(uri=milvus_uri) as other:
        again = other.get_collection("auto")
        assert again.embedding_function.name() == "default"
        assert again.configuration_json["fingerprint"]["dimension"] == 384
        with pytest.raises(vectorhouse.EmbeddingFunctionConflictError):
            other.get_collection("auto", embedding_function=fake_ef)
        embedded = vectorhouse.Client().create_collection("auto", metadata={"hnsw:space": "cosine"})
        embedded.add(ids=["doc1"], documents=["I love Python programming"])
        a = embedded.query(query_texts=["coding in Python"], n_results=1)
        b = again.query(query_texts=["coding in Python"], n_results=1, ids=["doc1"])
        assert abs(a["distances"][0][0] - b["distances"][0][0]) < 1e-5


def test_importing_vectorhouse_imports_neither_pymilvus_nor_ray() -> None:
    code = (
        "import sys, vectorhouse, vectorhouse.cli;"
        "print(sorted(m for m in ('pymilvus', 'ray', 'milvus_lite') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
