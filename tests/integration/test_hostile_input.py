"""Regression tests for the bad-input findings: NUL and lone surrogates never reach
another record, integers past 64 bits, unhashable and empty arguments, and filters
too deep or too wide, each an argument error that names what is wrong."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import vectorhouse
from vectorhouse.filters.evaluate import evaluate
from vectorhouse.filters.limits import MAX_DEPTH, MAX_VALUES
from vectorhouse.filters.parse import parse_where


@pytest.fixture
def col() -> vectorhouse.Collection:
    c = vectorhouse.Client().create_collection("docs", embedding_function=None)
    c.add(
        ids=["a", "b", "c"],
        embeddings=[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
        documents=["alpha", "beta", "gamma"],
        metadatas=[{"k": 1, "s": "x"}, {"k": 2, "s": "y"}, {"k": 3, "s": "z"}],
    )
    return c


def test_delete_of_an_id_with_a_nul_deletes_nothing_and_says_why(
    col: vectorhouse.Collection,
) -> None:
    with pytest.raises(vectorhouse.InvalidIDError, match="NUL character at position 1"):
        col.delete(ids=["a\x00junk"])
    assert col.get()["ids"] == ["a", "b", "c"]


def test_get_and_add_of_ids_with_a_nul_are_refused(col: vectorhouse.Collection) -> None:
    with pytest.raises(vectorhouse.InvalidIDError, match="NUL"):
        col.get(ids=["a\x00"])
    with pytest.raises(vectorhouse.InvalidIDError, match=re.escape("ids[1]")):
        col.add(ids=["new", "c\x00x"], embeddings=[[1.0, 2.0], [3.0, 4.0]])
    assert col.count() == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"ids": ["\ud800"]}, vectorhouse.InvalidIDError, "lone surrogate"),
        ({"documents": ["ok\udfff"]}, vectorhouse.InvalidArgumentError, r"documents\[0\]"),
        ({"documents": ["a\x00b"]}, vectorhouse.InvalidArgumentError, "NUL"),
        ({"metadatas": [{"\ud800": 1}]}, vectorhouse.InvalidMetadataError, "key"),
        ({"metadatas": [{"k\x00": 1}]}, vectorhouse.InvalidMetadataError, "NUL"),
        ({"metadatas": [{"k": "\ud800"}]}, vectorhouse.InvalidMetadataError, "surrogate"),
        ({"metadatas": [{"k": ["a", "b\x00"]}]}, vectorhouse.InvalidMetadataError, r"\[1\]"),
        ({"metadatas": [{"k": 2**64}]}, vectorhouse.InvalidMetadataError, "64-bit"),
        ({"metadatas": [{"k": -(2**63) - 1}]}, vectorhouse.InvalidMetadataError, "64-bit"),
        ({"metadatas": [{"k": [2**63]}]}, vectorhouse.InvalidMetadataError, "64-bit"),
        ({"metadatas": [{"k": np.uint64(2**64 - 1)}]}, vectorhouse.InvalidMetadataError, "64"),
    ],
)
def test_unstorable_text_and_integers_are_refused_before_anything_is_written(
    col: vectorhouse.Collection, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    call = {"ids": ["new"], "embeddings": [[1.0, 2.0]], **kwargs}
    with pytest.raises(error, match=message):
        col.add(**call)
    assert col.get()["ids"] == ["a", "b", "c"]


def test_the_largest_64_bit_integers_are_stored_and_matched_exactly(
    col: vectorhouse.Collection,
) -> None:
    col.add(
        ids=["big", "small"],
        embeddings=[[1.0, 2.0], [2.0, 1.0]],
        metadatas=[{"n": 2**63 - 1}, {"n": -(2**63)}],
    )
    assert col.get(where={"n": 2**63 - 1})["ids"] == ["big"]
    assert col.get(where={"n": {"$in": [-(2**63)]}})["ids"] == ["small"]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get(limit=2**64),
        lambda c: c.get(offset=2**63),
        lambda c: c.peek(2**64),
        lambda c: c.query(query_embeddings=[[1.0, 0.0]], n_results=2**64),
        lambda c: c.modify(configuration={"hnsw": {"ef_search": 2**64}}),
        lambda c: c.get(include=[["documents"]]),
        lambda c: c.get(include=[{}]),
        lambda c: c.add(ids=[], documents=[]),
        lambda c: c.upsert(ids=[], embeddings=[]),
        lambda c: c.update(ids=[], documents=[]),
        lambda c: c.add(ids=["n"], embeddings=[[2.0**200, 1.0]]),
    ],
    ids=[
        "limit",
        "offset",
        "peek",
        "n_results",
        "ef_search",
        "include-list",
        "include-dict",
        "empty-add",
        "empty-upsert",
        "empty-update",
        "float32-overflow",
    ],
)
def test_out_of_range_unhashable_and_empty_arguments_are_argument_errors(
    col: vectorhouse.Collection, call: Any
) -> None:
    with pytest.raises(vectorhouse.InvalidArgumentError):
        call(col)
    assert col.count() == 3


def test_collection_settings_past_their_range_are_refused() -> None:
    client = vectorhouse.Client()
    with pytest.raises(vectorhouse.InvalidArgumentError, match="max_neighbors must be <= 2048"):
        client.create_collection("c1x", metadata={"hnsw:M": 5000})
    with pytest.raises(vectorhouse.InvalidCollectionNameError, match="surrogate"):
        client.get_collection("\ud800abc")
    with pytest.raises(vectorhouse.InvalidMetadataError, match="surrogate"):
        client.create_collection("c2x", metadata={"x": "\ud800"})
    assert client.count_collections() == 0


def _nested(depth: int) -> dict[str, Any]:
    where: dict[str, Any] = {"k": 1}
    for i in range(depth):
        where = {"$and" if i % 2 else "$or": [where, {"k": 3}]}
    return where


def test_a_filter_nested_at_the_depth_limit_works(col: vectorhouse.Collection) -> None:
    assert col.get(where=_nested(MAX_DEPTH))["ids"] == ["c"]
    one_or: dict[str, Any] = {"k": 1}
    for _ in range(MAX_DEPTH):
        one_or = {"$or": [one_or, {"k": 3}]}
    assert col.get(where=one_or)["ids"] == ["a", "c"]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000])
def test_a_filter_nested_past_the_limit_is_an_invalid_filter_with_its_path(
    col: vectorhouse.Collection, depth: int
) -> None:
    with pytest.raises(vectorhouse.InvalidFilterError, match=r"at \$(or|and)\[0\].*nest"):
        col.get(where=_nested(depth))


def test_a_filter_with_more_values_than_the_limit_is_refused(
    col: vectorhouse.Collection,
) -> None:
    with pytest.raises(vectorhouse.InvalidFilterError, match=r"k\.\$in\[10000\].*10000 values"):
        col.get(where={"k": {"$in": list(range(MAX_VALUES + 1))}})
    with pytest.raises(vectorhouse.InvalidFilterError, match="10000 values"):
        col.delete(where={"$or": [{"k": i} for i in range(MAX_VALUES + 1)]})
    assert col.count() == 3


def test_where_document_limits_are_checked_too(col: vectorhouse.Collection) -> None:
    deep: dict[str, Any] = {"$contains": "a"}
    for _ in range(MAX_DEPTH + 1):
        deep = {"$and": [deep]}
    with pytest.raises(vectorhouse.InvalidFilterError, match="where_document filter at"):
        col.get(where_document=deep)


def test_filter_operands_with_nul_are_refused(col: vectorhouse.Collection) -> None:
    with pytest.raises(vectorhouse.InvalidFilterError, match="NUL"):
        col.get(where={"s": {"$in": ["x\x00junk"]}})
    with pytest.raises(vectorhouse.InvalidFilterError, match="NUL"):
        col.get(where={"k\x00": 1})


def _big_collection() -> tuple[vectorhouse.Collection, list[dict[str, Any]]]:
    rng = np.random.default_rng(7)
    metas: list[dict[str, Any]] = [
        {"k": int(i % 97), "s": f"v{i % 13}", "b": bool(i % 2), "f": i / 7} for i in range(1500)
    ]
    col = vectorhouse.Client().create_collection("big", embedding_function=None)
    col.add(
        ids=[str(i) for i in range(1500)],
        embeddings=rng.random((1500, 4)).tolist(),
        metadatas=metas,
        documents=[f"doc {i % 11}" for i in range(1500)],
    )
    return col, metas


def _alternating(depth: int, width: int) -> dict[str, Any]:
    where: dict[str, Any] = {"k": 1}
    for i in range(depth):
        if i % 2:
            siblings: list[Any] = [{"k": {"$ne": 50 + j}} for j in range(width - 1)]
        else:
            siblings = [{"k": 2 + j % 90} for j in range(width - 1)]
        where = {"$and" if i % 2 else "$or": [where, *siblings]}
    return where


@pytest.mark.parametrize(
    "where",
    [
        {"k": {"$in": list(range(MAX_VALUES))}},
        {"s": {"$in": [f"v{i}" for i in range(MAX_VALUES)]}},
        {"k": {"$nin": list(range(50, 50 + MAX_VALUES))}},
        {"f": {"$in": [i / 7 for i in range(0, 3 * MAX_VALUES, 3)]}},
        {"$or": [{"k": i % 200} for i in range(MAX_VALUES)]},
        {"$and": [{"k": {"$ne": 1000 + i}} for i in range(MAX_VALUES)]},
        _alternating(MAX_DEPTH, 156),
        _alternating(32, 312),
        _alternating(8, 1250),
    ],
    ids=["in", "in-str", "nin", "in-float", "or", "and-ne", "64x156", "32x312", "8x1250"],
)
def test_filters_up_to_the_limits_give_the_oracles_answer(where: dict[str, Any]) -> None:
    col, metas = _big_collection()
    node = parse_where(where)
    want = [str(i) for i, m in enumerate(metas) if evaluate(node, m, f"doc {i % 11}")]
    assert col.get(where=where, include=[])["ids"] == want
    hits = col.query(query_embeddings=[[0.5] * 4], n_results=5, where=where, include=[])
    assert set(hits["ids"][0]) <= set(want)
