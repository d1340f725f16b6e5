"""Issue 11.4: every ``where`` operator or shape chromadb 1.5.9 rejects is rejected,
except the deliberate extensions listed in docs/compatibility.md (each pinned below
with the reason). Every case runs on chromadb in the same test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import vectorhouse

from .conftest import chroma_error

REJECTED_BY_BOTH: list[Any] = [
    {"k": {"$gt": "x"}},
    {"k": {"$gt": True}},
    {"k": {"$in": []}},
    {"k": {"$nin": []}},
    {"k": {"$in": 1}},
    {"k": {"$in": [1, "a"]}},
    {"$and": []},
    {"$or": []},
    {"$and": {"k": 1}},
    {"$and": [{"k": 1}, {}]},
    {"k": {"$foo": 1}},
    {"k": {"$regex": "a"}},
    {"$foo": 1},
    {"$not": {"k": 1}},
    {"k": None},
    {"k": [1, 2]},
    {"k": {}},
    {"k": {"$eq": [1]}},
    {"k": {"$ne": None}},
    {"k": {"$contains": [1]}},
    {1: 2},
    [{"k": 1}],
    "k",
]


@pytest.mark.parametrize("where", REJECTED_BY_BOTH, ids=str)
def test_where_that_chroma_rejects_is_rejected(
    where: Any, vh_client: Any, chroma_collection: Callable[..., Any]
) -> None:
    chroma = chroma_collection()
    chroma.add(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"k": 1}])
    exc = chroma_error(lambda: chroma.get(where=where))
    assert isinstance(exc, (ValueError, TypeError)) or "Invalid where" in str(exc)
    if isinstance(vh_client, vectorhouse.HttpClient) and where == {1: 2}:
        return  # JSON has only string keys: it reaches the server as {"1": 2}, a valid filter
    col = vh_client.create_collection("where", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"k": 1}])
    with pytest.raises(vectorhouse.InvalidFilterError):
        col.get(where=where)
    with pytest.raises(vectorhouse.InvalidFilterError):
        col.query(query_embeddings=[[1.0, 0.0]], where=where)
    with pytest.raises(vectorhouse.InvalidFilterError):
        col.delete(where=where)
    assert col.count() == 1


# Deliberate extensions: accepted by vectorhouse, rejected by chromadb 1.5.9. Each
# reads unambiguously and means what it would mean spelled out in Chroma's syntax.
EXTENSIONS: list[tuple[Any, Any]] = [
    # several keys in one dict: an implicit $and, as in MongoDB
    ({"k": 1, "j": 2}, {"$and": [{"k": 1}, {"j": 2}]}),
    # several operators on one key: a range without repeating the key
    ({"k": {"$gt": 0, "$lt": 5}}, {"$and": [{"k": {"$gt": 0}}, {"k": {"$lt": 5}}]}),
    # $and / $or of one filter: generated filters need no special case for one term
    ({"$and": [{"k": 1}]}, {"k": 1}),
    ({"$or": [{"k": 1}]}, {"k": 1}),
    # ints and floats mixed in $in: both are numbers
    ({"k": {"$in": [1, 2.5]}}, {"$or": [{"k": 1}, {"k": 2.5}]}),
]


@pytest.mark.parametrize(("extended", "spelled_out"), EXTENSIONS, ids=str)
def test_documented_extension_means_its_chroma_spelling(
    extended: Any, spelled_out: Any, vh_client: Any, chroma_collection: Callable[..., Any]
) -> None:
    metadatas = [{"k": 1, "j": 2}, {"k": 3, "j": 2}, {"k": 2.5}, {"k": 7}]
    ids = ["a", "b", "c", "d"]
    chroma = chroma_collection()
    chroma.add(ids=ids, embeddings=[[1.0, 0.0]] * 4, metadatas=metadatas)
    assert isinstance(chroma_error(lambda: chroma.get(where=extended)), ValueError)
    col = vh_client.create_collection("extended", embedding_function=None)
    col.add(ids=ids, embeddings=[[1.0, 0.0]] * 4, metadatas=metadatas)
    assert col.get(where=extended)["ids"] == chroma.get(where=spelled_out)["ids"]
