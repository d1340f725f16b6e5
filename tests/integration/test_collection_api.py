"""The Chroma-shaped collection API, through every client kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vectorhouse
from vectorhouse import Client


def _seed(col: vectorhouse.Collection) -> None:
    col.add(
        ids=["doc1", "doc2", "doc3"],
        embeddings=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        documents=["I love Python programming", "I enjoy cooking pasta", None],
        metadatas=[{"source": "manual", "year": 2024}, {"source": "web", "tags": ["food"]}, None],
    )


def test_query_returns_chroma_shaped_result(client: Client) -> None:
    col = client.get_or_create_collection("my_docs", metadata={"hnsw:space": "cosine"})
    _seed(col)
    res = col.query(
        query_embeddings=[[0.9, 0.1, 0.0]],
        n_results=1,
        where={"year": {"$gte": 2020}},
        include=["documents", "metadatas", "distances"],
    )
    assert list(res) == [
        "ids",
        "embeddings",
        "documents",
        "uris",
        "included",
        "data",
        "metadatas",
        "distances",
    ]
    assert res["ids"] == [["doc1"]]
    assert res["documents"] == [["I love Python programming"]]
    assert res["metadatas"] == [[{"source": "manual", "year": 2024}]]
    assert res["embeddings"] is None
    assert res["included"] == ["documents", "metadatas", "distances"]
    hit = res.hits[0][0]
    assert hit.id == "doc1" and hit.document == "I love Python programming"


def test_get_default_include_is_metadatas_and_documents(client: Client) -> None:
    col = client.create_collection("docs")
    _seed(col)
    res = col.get()
    assert res["ids"] == ["doc1", "doc2", "doc3"]
    assert res["included"] == ["metadatas", "documents"]
    assert res["embeddings"] is None
    assert res["documents"] == ["I love Python programming", "I enjoy cooking pasta", None]
    assert res["metadatas"][2] is None
    assert [r.id for r in res.records] == ["doc1", "doc2", "doc3"]


def test_embeddings_come_back_as_float32_arrays(client: Client) -> None:
    col = client.create_collection("docs")
    _seed(col)
    got = col.get(ids=["doc2"], include=["embeddings"])["embeddings"]
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    assert got.tolist() == [[0.0, 1.0, 0.0]]
    q = col.query(query_embeddings=[[0, 1, 0]], n_results=2, include=["embeddings"])
    assert q["embeddings"][0].dtype == np.float32 and q["embeddings"][0].shape == (2, 3)


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ("l2", [1.0**2 + 1.0**2, 1.0**2 + 0.0**2]),
        ("ip", [1 - 2.0, 1 - 1.0]),
        ("cosine", [1 - 2 / np.sqrt(5), 1 - 1 / np.sqrt(2)]),
    ],
)
def test_distances_follow_chroma_definitions(
    client: Client, space: str, expected: list[float]
) -> None:
    col = client.create_collection("spaces", metadata={"hnsw:space": space})
    col.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [1.0, 1.0]])
    res = col.query(query_embeddings=[[0.0, 1.0]], n_results=2, include=["distances"])
    by_id = dict(zip(res["ids"][0], res["distances"][0], strict=True))
    assert by_id["a"] == pytest.approx(expected[0], abs=1e-5)
    assert by_id["b"] == pytest.approx(expected[1], abs=1e-5)


def test_space_can_be_chosen_by_configuration(client: Client) -> None:
    col = client.create_collection("cfg", configuration={"hnsw": {"space": "ip", "ef_search": 50}})
    assert col.configuration_json["hnsw"]["space"] == "ip"
    assert col.configuration_json["hnsw"]["ef_search"] == 50


def test_n_results_larger_than_count_returns_all(client: Client) -> None:
    col = client.create_collection("docs")
    _seed(col)
    res = col.query(query_embeddings=[[1, 0, 0], [0, 0, 1]], n_results=10)
    assert [len(r) for r in res["ids"]] == [3, 3]
    assert res["ids"][1][0] == "doc3"


def test_query_on_empty_collection_returns_empty_lists(client: Client) -> None:
    col = client.create_collection("empty")
    res = col.query(query_embeddings=[[1.0, 2.0]], n_results=3)
    assert res["ids"] == [[]] and res["distances"] == [[]]


def test_filtered_query_returns_only_matching_records(client: Client) -> None:
    col = client.create_collection("docs")
    _seed(col)
    res = col.query(query_embeddings=[[0, 0, 1]], n_results=5, where={"source": "web"})
    assert res["ids"] == [["doc2"]]
    res = col.query(
        query_embeddings=[[0, 0, 1]], n_results=5, where_document={"$contains": "Python"}
    )
    assert res["ids"] == [["doc1"]]
    res = col.query(
        query_embeddings=[[0, 0, 1]], n_results=5, where={"tags": {"$contains": "food"}}
    )
    assert res["ids"] == [["doc2"]]


def test_upsert_overwrites_and_merges_metadata(client: Client) -> None:
    col = client.create_collection("docs")
    _seed(col)
    col.upsert(
        ids=["doc2", "doc4"], embeddings=[[0, 2, 0], [1, 1, 1]], metadatas=[{"w": 1}, {"n": 4}]
    )
    res = col.get(ids=["doc2", "doc4"], include=["metadatas", "documents", "embeddings"])
    assert res["metadatas"] == [{"source": "web", "tags": ["food"], "w": 1}, {"n": 4}]
    assert res["documents"] == ["I enjoy cooking pasta", None]
    assert res["embeddings"].tolist() == [[0, 2, 0], [1, 1, 1]]
    assert col.query(query_embeddings=[[0, 1, 0]], n_results=1)["ids"] == [["doc2"]]


def test_update_changes_only_given_fields_and_none_removes_a_key(client: Client) -> None:
    col = client.create_collection("docs")
    _seed(col)
    col.update(ids=["doc1"], metadatas=[{"year": None, "lang": "en"}])
    col.update(ids=["doc1"], documents=["new text"], embeddings=[[0, 0, 5]])
    res = col.get(ids=["doc1"], include=["metadatas", "documents", "embeddings"])
    assert res["metadatas"] == [{"source": "manual", "lang": "en"}]
    assert res["documents"] == ["new text"]
    assert col.query(query_embeddings=[[0, 0, 1]], n_results=1, where={"lang": "en"})["ids"] == [
        ["doc1"]
    ]


def test_update_of_missing_id_is_skipped(client: Client) -> None:
    col = client.create_collection("docs")
    _seed(col)
    col.update(ids=["nope"], metadatas=[{"a": 1}])
    assert col.count() == 3
    assert col.get(ids=["nope"])["ids"] == []


def test_delete_by_ids_where_and_where_document(client: Client) -> None:
    col = client.create_collection("docs")
    _seed(col)
    assert col.delete(ids=["doc3"]) == {"deleted": 1}
    assert col.delete(where={"source": "web"}) == {"deleted": 1}
    assert col.delete(where_document={"$contains": "zzz"}) == {"deleted": 0}
    assert col.get()["ids"] == ["doc1"]
    res = col.query(query_embeddings=[[0, 0, 1]], n_results=5)
    assert res["ids"] == [["doc1"]]


def test_delete_without_selection_is_refused(client: Client) -> None:
    col = client.create_collection("docs")
    with pytest.raises(ValueError, match="At least one of ids, where, or where_document"):
        col.delete()


def test_get_limit_offset_and_ids_order(client: Client) -> None:
    col = client.create_collection("docs")
    _seed(col)
    assert col.get(limit=1, offset=1)["ids"] == ["doc2"]
    # insertion order, whatever the order of ids (as Chroma 1.5.9; see tests/compat)
    assert col.get(ids=["doc3", "missing", "doc1"])["ids"] == ["doc1", "doc3"]
    assert col.get(ids="doc2")["ids"] == ["doc2"]


def test_peek_includes_embeddings(client: Client) -> None:
    col = client.create_collection("docs")
    _seed(col)
    res = col.peek(limit=2)
    assert res["ids"] == ["doc1", "doc2"] and res["embeddings"].shape == (2, 3)


def test_modify_renames_and_replaces_metadata(client: Client) -> None:
    col = client.create_collection("docs", metadata={"a": 1})
    col.modify(name="docs2", metadata={"b": 2})
    assert col.name == "docs2" and col.metadata == {"b": 2}
    assert client.get_collection("docs2").metadata == {"b": 2}
    with pytest.raises(vectorhouse.CollectionNotFoundError):
        client.get_collection("docs")


def test_modify_cannot_change_space(client: Client) -> None:
    col = client.create_collection("docs", metadata={"hnsw:space": "cosine"})
    with pytest.raises(ValueError, match="distance space"):
        col.modify(metadata={"hnsw:space": "l2"})


def test_collection_equality_and_identity(client: Client) -> None:
    col = client.create_collection("docs")
    again = client.get_collection("docs")
    assert col == again and hash(col) == hash(again)
    assert col != client.create_collection("other")
    assert str(col.id) == str(again.id)


def test_client_collection_management(client: Client) -> None:
    client.create_collection("one")
    client.get_or_create_collection("two", metadata={"x": 1})
    again = client.get_or_create_collection("two", metadata={"x": 2})
    assert again.metadata == {"x": 1}
    assert [c.name for c in client.list_collections()] == ["one", "two"]
    assert client.count_collections() == 2
    client.delete_collection("one")
    assert [c.name for c in client.list_collections()] == ["two"]
    with pytest.raises(vectorhouse.CollectionExistsError):
        client.create_collection("two")
    with pytest.raises(vectorhouse.CollectionNotFoundError):
        client.delete_collection("one")
    assert client.heartbeat() > 0
    assert client.get_version() == vectorhouse.__version__
    assert client.get_max_batch_size() > 0
    assert client.reset() is True
    assert client.count_collections() == 0


def test_reset_needs_allow_reset() -> None:
    with pytest.raises(vectorhouse.ResetNotAllowedError):
        vectorhouse.Client().reset()


def test_closed_client_refuses_calls(client: Client) -> None:
    col = client.create_collection("docs")
    client.close()
    with pytest.raises(vectorhouse.ClientClosedError):
        col.count()
    with pytest.raises(vectorhouse.ClientClosedError):
        client.list_collections()


def test_documents_are_embedded_through_the_collection_function(client: Client, fake_ef) -> None:
    col = client.create_collection("texts", embedding_function=fake_ef)
    col.add(ids=["a", "b", "c"], documents=["python code", "cooking pasta", "python snakes"])
    res = col.query(query_texts=["python code"], n_results=1)
    assert res["ids"] == [["a"]]
    assert client.get_collection("texts").embedding_function.name() == "fake-test"


def test_texts_without_an_embedding_function_are_refused(client: Client) -> None:
    col = client.create_collection("raw", embedding_function=None)
    with pytest.raises(vectorhouse.InvalidArgumentError, match="no embedding function"):
        col.add(ids=["a"], documents=["text"])
    col.add(ids=["a"], embeddings=[[1.0]], documents=["text"])
    with pytest.raises(vectorhouse.InvalidArgumentError, match="no embedding function"):
        col.query(query_texts=["text"])


@pytest.mark.parametrize("persistent", [False, True])
def test_large_batch_is_one_atomic_call(
    persistent: bool, tmp_path: Path, rng: np.random.Generator
) -> None:
    # Strict add (an opt-in since add skips existing ids by default, as Chroma does):
    # one existing id makes the whole 40,000-record call write nothing.
    strict = vectorhouse.Settings(strict_add_ids=True)
    client = (
        vectorhouse.PersistentClient(path=str(tmp_path / "strict"), settings=strict)
        if persistent
        else vectorhouse.Client(settings=strict)
    )
    col = client.create_collection("big")
    n = 40_000
    ids = [f"id{i}" for i in range(n)]
    col.add(ids=ids, embeddings=rng.random((n, 4), dtype=np.float32))
    assert col.count() == n
    bad = rng.random((n, 4), dtype=np.float32)
    with pytest.raises(vectorhouse.IDAlreadyExistsError):
        col.add(ids=[f"new{i}" for i in range(n - 1)] + ["id5"], embeddings=bad)
    assert col.count() == n
    assert col.delete(ids=ids[:35_000]) == {"deleted": 35_000}
    assert col.count() == 5_000


def test_none_document_or_metadata_in_upsert_keeps_what_is_stored(client: Client) -> None:
    col = client.create_collection("docs")
    _seed(col)
    col.upsert(
        ids=["doc1", "doc2", "new"],
        embeddings=[[1, 1, 0], [0, 1, 1], [1, 1, 1]],
        documents=[None, "replaced", None],
        metadatas=[None, {"k": 1}, None],
    )
    res = col.get(ids=["doc1", "doc2", "new"])
    assert res["documents"] == ["I love Python programming", "replaced", None]
    assert res["metadatas"] == [
        {"source": "manual", "year": 2024},
        {"source": "web", "tags": ["food"], "k": 1},
        None,
    ]
