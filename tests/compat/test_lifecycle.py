"""Issue 11.8: the collection lifecycle (create / get / get_or_create / modify /
rename / delete / list, with metadata and configuration) raises wherever chromadb
1.5.9 raises. Every case runs on chromadb first, in the same test, to pin that it
does raise there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import vectorhouse

from .conftest import chroma_error


def _make(client: Any, name: str, **kwargs: Any) -> Any:
    return client.create_collection(name, embedding_function=None, **kwargs)


RAISES: dict[str, tuple[Callable[[Any], Any], type[BaseException], str]] = {
    "create an existing name": (
        lambda c: (_make(c, "taken"), _make(c, "taken")),
        vectorhouse.CollectionExistsError,
        "already exists",
    ),
    "create a short name": (
        lambda c: _make(c, "x"),
        vectorhouse.InvalidCollectionNameError,
        "3-512 characters",
    ),
    "get_or_create a short name": (
        lambda c: c.get_or_create_collection("x", embedding_function=None),
        vectorhouse.InvalidCollectionNameError,
        "3-512 characters",
    ),
    "rename to a short name": (
        lambda c: _make(c, "first").modify(name="x"),
        vectorhouse.InvalidCollectionNameError,
        "3-512 characters",
    ),
    "rename onto another collection": (
        lambda c: (_make(c, "first"), _make(c, "second"))[0].modify(name="second"),
        vectorhouse.CollectionExistsError,
        "already exists",
    ),
    "create with empty metadata": (
        lambda c: _make(c, "first", metadata={}),
        vectorhouse.InvalidMetadataError,
        "Metadata cannot be empty",
    ),
    "modify to empty metadata": (
        lambda c: _make(c, "first", metadata={"a": 1}).modify(metadata={}),
        vectorhouse.InvalidMetadataError,
        "Expected metadata to be a non-empty dict, got 0 metadata attributes",
    ),
    "create with a $ key": (
        lambda c: _make(c, "first", metadata={"$a": 1}),
        vectorhouse.InvalidMetadataError,
        "Metadata key cannot start with '#' or '$': $a",
    ),
    "create with a None value": (
        lambda c: _make(c, "first", metadata={"a": None}),
        vectorhouse.InvalidMetadataError,
        "Cannot convert Python object to MetadataValue",
    ),
    "create with a dict value": (
        lambda c: _make(c, "first", metadata={"a": {"b": 1}}),
        vectorhouse.InvalidMetadataError,
        "metadata['a']",
    ),
    "create with hnsw and spann": (
        lambda c: _make(c, "first", configuration={"hnsw": {"ef_search": 10}, "spann": {}}),
        vectorhouse.InvalidArgumentError,
        "hnsw and spann cannot both be provided",
    ),
    "create with an unknown hnsw field": (
        lambda c: _make(c, "first", configuration={"hnsw": {"foo": 1}}),
        vectorhouse.InvalidArgumentError,
        "foo",
    ),
    "create with an unknown space": (
        lambda c: _make(c, "first", configuration={"hnsw": {"space": "foo"}}),
        vectorhouse.InvalidArgumentError,
        "foo",
    ),
    "create with an unknown hnsw:space": (
        lambda c: _make(c, "first", metadata={"hnsw:space": "foo"}),
        vectorhouse.InvalidArgumentError,
        "foo",
    ),
    "create with a negative ef_search": (
        lambda c: _make(c, "first", configuration={"hnsw": {"ef_search": -1}}),
        vectorhouse.InvalidArgumentError,
        "ef_search",
    ),
    "modify ef_search to a string": (
        lambda c: _make(c, "first").modify(configuration={"hnsw": {"ef_search": "x"}}),
        vectorhouse.InvalidArgumentError,
        "ef_search",
    ),
    "modify ef_construction": (
        lambda c: _make(c, "first").modify(configuration={"hnsw": {"ef_construction": 20}}),
        vectorhouse.InvalidArgumentError,
        "ef_construction",
    ),
    "modify the space": (
        lambda c: _make(c, "first").modify(metadata={"hnsw:space": "ip"}),
        vectorhouse.InvalidArgumentError,
        "not supported",
    ),
    "get a missing collection": (
        lambda c: c.get_collection("missing"),
        vectorhouse.CollectionNotFoundError,
        "Collection [missing] does not exist",
    ),
    "delete a missing collection": (
        lambda c: c.delete_collection("missing"),
        vectorhouse.CollectionNotFoundError,
        "Collection [missing] does not exist",
    ),
    "get after delete": (
        lambda c: (_make(c, "first"), c.delete_collection("first"), c.get_collection("first")),
        vectorhouse.CollectionNotFoundError,
        "Collection [first] does not exist",
    ),
    "delete twice": (
        lambda c: (_make(c, "first"), c.delete_collection("first"), c.delete_collection("first")),
        vectorhouse.CollectionNotFoundError,
        "Collection [first] does not exist",
    ),
    "list with a negative limit": (
        lambda c: c.list_collections(limit=-1),
        vectorhouse.InvalidArgumentError,
        "limit must be a non-negative integer",
    ),
}


def _fresh_chroma(chroma_client: Any) -> Any:
    for col in chroma_client.list_collections():
        chroma_client.delete_collection(col.name)
    return chroma_client


@pytest.mark.parametrize("case", RAISES)
def test_lifecycle_raises_where_chroma_raises(
    case: str, vh_client: Any, chroma_client: Any
) -> None:
    call, error, phrase = RAISES[case]
    chroma = _fresh_chroma(chroma_client)
    try:
        chroma_error(lambda: call(chroma))
    finally:
        _fresh_chroma(chroma_client)
    with pytest.raises(error) as info:
        call(vh_client)
    assert phrase in str(info.value)


def _same_in_both(chroma_client: Any, vh_client: Any, call: Callable[[Any], Any]) -> Any:
    chroma = _fresh_chroma(chroma_client)
    try:
        expected = call(chroma)
    finally:
        _fresh_chroma(chroma_client)
    assert call(vh_client) == expected
    return expected


def test_get_or_create_keeps_the_first_metadata_as_chroma(
    vh_client: Any, chroma_client: Any
) -> None:
    def run(c: Any) -> Any:
        _make(c, "first", metadata={"a": 1})
        return c.get_or_create_collection("first", metadata={"b": 2}).metadata

    assert _same_in_both(chroma_client, vh_client, run) == {"a": 1}


def test_rename_list_and_count_as_chroma(vh_client: Any, chroma_client: Any) -> None:
    def run(c: Any) -> Any:
        first = _make(c, "first")
        _make(c, "second")
        first.modify(name="first")  # renaming to its own name is allowed
        first.modify(name="renamed", metadata={"team": "x"})
        _make(c, "first")  # the old name is free again
        # vectorhouse lists in creation order; chromadb's order is neither creation nor
        # name order (and changes on rename), so only the sets are compared.
        names = {col.name for col in c.list_collections()}
        page = len(c.list_collections(limit=1, offset=1))
        got = c.get_collection("renamed")
        return names, page, c.count_collections(), got.metadata, c.list_collections(limit=0)

    assert _same_in_both(chroma_client, vh_client, run) == (
        {"renamed", "second", "first"},
        1,
        3,
        {"team": "x"},
        [],
    )
