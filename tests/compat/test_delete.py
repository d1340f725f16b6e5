"""Issue 11.2: ``delete(ids=None, where=None, where_document=None, limit=None)`` as in
Chroma 1.5.9: ``limit`` needs a filter, ``limit=0`` deletes nothing, the first
``limit`` matching records in ``get`` order are deleted, and the count is returned."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import vectorhouse

from .conftest import chroma_error


def _fill(col: Any) -> None:
    col.add(
        ids=["a", "b", "c", "d", "e"],
        embeddings=[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0], [0.0, 2.0]],
        documents=["red", "blue", "red", "blue", "red"],
        metadatas=[{"k": 1}, {"k": 2}, {"k": 1}, {"k": 2}, {"k": 1}],
    )
    # Reorder nothing but make insertion order differ from id order and rowid gaps.
    col.delete(ids=["c"])
    col.add(ids=["c"], embeddings=[[1.0, 1.0]], documents=["red"], metadatas=[{"k": 1}])
    col.upsert(ids=["a"], embeddings=[[3.0, 0.0]], documents=["red"])


CASES: list[dict[str, Any]] = [
    {"where": {"k": 1}, "limit": 2},
    {"where": {"k": 1}, "limit": 0},
    {"where": {"k": 2}, "limit": 1},
    {"where_document": {"$contains": "red"}, "limit": 1},
    {"where": {"k": 1}, "limit": 10},
    {"ids": ["e", "c", "a"], "where": {"k": 1}, "limit": 2},
    {"where": {"k": 1}},
]


@pytest.mark.parametrize("kwargs", CASES, ids=[str(c) for c in CASES])
def test_delete_with_limit_deletes_the_first_matches_as_chroma(
    kwargs: dict[str, Any], vh_client: Any, chroma_collection: Callable[..., Any]
) -> None:
    chroma = chroma_collection()
    _fill(chroma)
    ours = vh_client.create_collection("limited", embedding_function=None)
    _fill(ours)
    assert ours.get()["ids"] == chroma.get()["ids"]
    chroma_answer = chroma.delete(**kwargs)
    answer = ours.delete(**kwargs)
    assert ours.get()["ids"] == chroma.get()["ids"]
    # Chroma 1.5.9 returns the count from the local client (None over HTTP); we always do.
    expected = 5 - len(chroma.get()["ids"])
    if chroma_answer is not None:
        assert chroma_answer == {"deleted": expected}
    assert answer == {"deleted": expected}


BAD: list[tuple[dict[str, Any], str]] = [
    ({"ids": ["a"], "limit": 1}, "limit can only be specified when a where or where_document"),
    ({"limit": 1}, "At least one of ids, where, or where_document must be provided in delete"),
    ({"where": {"k": 1}, "limit": -1}, "limit must be a non-negative integer in delete"),
    ({}, "At least one of ids, where, or where_document must be provided in delete"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_delete_raises_what_chroma_raises(
    kwargs: dict[str, Any], message: str, vh_client: Any, chroma_collection: Callable[..., Any]
) -> None:
    chroma = chroma_collection()
    _fill(chroma)
    exc = chroma_error(lambda: chroma.delete(**kwargs))
    assert isinstance(exc, ValueError) and message in str(exc)
    ours = vh_client.create_collection("bad", embedding_function=None)
    _fill(ours)
    with pytest.raises(vectorhouse.InvalidArgumentError, match=message):
        ours.delete(**kwargs)
    assert ours.count() == 5
