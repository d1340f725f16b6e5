"""Issue 11.3: the error classes and messages Chroma users match on. vectorhouse puts
Chroma 1.5.9's sentence first and its own detail after it, so a match on either
works; each case runs against chromadb in the same test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import vectorhouse

from .conftest import chroma_error

ON_DELETED: dict[str, Callable[[Any], Any]] = {
    "add": lambda c: c.add(ids=["z"], embeddings=[[1.0, 1.0]]),
    "get": lambda c: c.get(),
    "count": lambda c: c.count(),
    "peek": lambda c: c.peek(),
    "query": lambda c: c.query(query_embeddings=[[1.0, 1.0]], n_results=1),
    "update": lambda c: c.update(ids=["a"], embeddings=[[1.0, 1.0]]),
    "upsert": lambda c: c.upsert(ids=["a"], embeddings=[[1.0, 1.0]]),
    "delete": lambda c: c.delete(ids=["a"]),
}


@pytest.mark.parametrize("op", ON_DELETED)
def test_calls_on_a_deleted_collection_say_collection_does_not_exist(
    op: str, vh_client: Any, chroma_client: Any, chroma_collection: Callable[..., Any]
) -> None:
    chroma = chroma_collection()
    chroma.add(ids=["a"], embeddings=[[1.0, 0.0]])
    chroma_client.delete_collection(chroma.name)
    exc = chroma_error(lambda: ON_DELETED[op](chroma))
    assert f"Collection [{chroma.id}] does not exist" in str(exc)
    col = vh_client.create_collection("gone", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 0.0]])
    vh_client.delete_collection("gone")
    with pytest.raises(vectorhouse.CollectionNotFoundError) as info:
        ON_DELETED[op](col)
    assert str(info.value).startswith(f"Collection [{col.id}] does not exist")
    assert isinstance(info.value, ValueError)


def test_modify_on_a_deleted_collection_raises_where_chroma_is_silent(vh_client: Any) -> None:
    # Chroma 1.5.9 returns None here and changes nothing; the issue asks for the error.
    col = vh_client.create_collection("gone", embedding_function=None)
    vh_client.delete_collection("gone")
    with pytest.raises(vectorhouse.CollectionNotFoundError, match=r"^Collection \[.*\] does not"):
        col.modify(metadata={"a": 1})


@pytest.mark.parametrize("call", ["get_collection", "delete_collection"])
def test_missing_collection_by_name_says_collection_does_not_exist(
    call: str, vh_client: Any, chroma_client: Any
) -> None:
    exc = chroma_error(lambda: getattr(chroma_client, call)("nope"))
    assert type(exc).__name__ == "NotFoundError"
    assert str(exc) == "Collection [nope] does not exist"
    with pytest.raises(vectorhouse.CollectionNotFoundError) as info:
        getattr(vh_client, call)("nope")
    assert str(info.value).startswith("Collection [nope] does not exist")


ID_CASES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "not a str": (lambda c: c.add(ids=[1], embeddings=[[1.0, 0.0]]), "Expected ID to be a str"),
    "empty": (
        lambda c: c.add(ids=[""], embeddings=[[1.0, 0.0]]),
        "Empty ID, ID must have at least one character",
    ),
    "repeated": (
        lambda c: c.add(ids=["x", "x"], embeddings=[[1.0, 0.0]] * 2),
        "Expected IDs to be unique, found duplicates of: x in add.",
    ),
    "repeated in get": (
        lambda c: c.get(ids=["x", "x"]),
        "Expected IDs to be unique, found duplicates of: x in get.",
    ),
}


@pytest.mark.parametrize("case", ID_CASES)
def test_id_errors_mention_id_as_chroma(
    case: str, vh_client: Any, chroma_collection: Callable[..., Any]
) -> None:
    call, phrase = ID_CASES[case]
    exc = chroma_error(lambda: call(chroma_collection()))
    assert phrase in str(exc)  # a ValueError, or chromadb's own InvalidArgumentError
    with pytest.raises((vectorhouse.InvalidIDError, vectorhouse.DuplicateIDError)) as info:
        call(vh_client.create_collection("ids", embedding_function=None))
    assert str(info.value).startswith(phrase)


def test_query_ids_may_repeat_as_in_chroma(
    vh_client: Any, chroma_collection: Callable[..., Any]
) -> None:
    def run(col: Any) -> Any:
        col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
        return col.query(query_embeddings=[[1.0, 0.0]], n_results=2, ids=["b", "b"])["ids"]

    assert (
        run(vh_client.create_collection("qids", embedding_function=None))
        == run(chroma_collection())
        == [["b"]]
    )


WHERE_DOCUMENT_CASES: list[Any] = [{"$foo": "x"}, {"$contains": 1}, {"$contains": ""}, [1]]


@pytest.mark.parametrize("where_document", WHERE_DOCUMENT_CASES, ids=str)
def test_where_document_errors_say_where_document(
    where_document: Any, vh_client: Any, chroma_collection: Callable[..., Any]
) -> None:
    exc = chroma_error(lambda: chroma_collection().get(where_document=where_document))
    assert "where document" in str(exc)
    col = vh_client.create_collection("wdoc", embedding_function=None)
    with pytest.raises(vectorhouse.InvalidFilterError, match="where document"):
        col.get(where_document=where_document)


def test_changing_the_distance_space_is_not_supported(
    vh_client: Any, chroma_collection: Callable[..., Any]
) -> None:
    phrase = "Changing the distance function of a collection once it is created is not supported"
    exc = chroma_error(lambda: chroma_collection().modify(metadata={"hnsw:space": "ip"}))
    assert phrase in str(exc) and isinstance(exc, ValueError)
    col = vh_client.create_collection("space", embedding_function=None)
    with pytest.raises(vectorhouse.InvalidArgumentError, match=phrase):
        col.modify(metadata={"hnsw:space": "ip"})


@pytest.mark.parametrize(
    ("n", "kind", "phrase"),
    [
        (0, TypeError, "Number of requested results 0, cannot be negative, or zero. in query."),
        (-1, TypeError, "Number of requested results -1, cannot be negative, or zero. in query."),
        (1.5, ValueError, "Expected requested number of results to be a int, got 1.5 in query."),
        ("3", ValueError, "Expected requested number of results to be a int, got 3 in query."),
        (None, ValueError, "Expected requested number of results to be a int, got None in query."),
    ],
)
def test_bad_n_results_raises_chromas_class_and_words(
    n: Any, kind: type, phrase: str, vh_client: Any, chroma_collection: Callable[..., Any]
) -> None:
    chroma = chroma_collection()
    chroma.add(ids=["a"], embeddings=[[1.0, 0.0]])
    exc = chroma_error(lambda: chroma.query(query_embeddings=[[1.0, 0.0]], n_results=n))
    assert type(exc) is kind and str(exc) == phrase
    col = vh_client.create_collection("nres", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 0.0]])
    with pytest.raises(kind) as info:
        col.query(query_embeddings=[[1.0, 0.0]], n_results=n)
    assert isinstance(info.value, vectorhouse.InvalidNResultsError)
    assert str(info.value).startswith(phrase)
