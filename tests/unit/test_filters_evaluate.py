"""The Python filter predicate (the oracle for the SQL translation)."""

from __future__ import annotations

from typing import Any

import pytest

from vectorhouse.filters import And, Or, evaluate, parse_where, parse_where_document


def where(filter_: dict[str, Any], metadata: dict[str, Any] | None) -> bool:
    return evaluate(parse_where(filter_), metadata, None)


def doc(filter_: dict[str, Any], document: str | None) -> bool:
    return evaluate(parse_where_document(filter_), None, document)


def test_no_filter_matches_everything() -> None:
    assert evaluate(None, None, None)
    assert evaluate(None, {"a": 1}, "text")


def test_empty_and_matches_and_empty_or_does_not() -> None:
    assert evaluate(And(()), None, None)
    assert not evaluate(Or(()), None, None)


@pytest.mark.parametrize(
    ("filter_value", "stored", "expected"),
    [
        (1, 1, True),
        (1, 1.0, True),
        (3.0, 3, True),
        (1, True, False),
        (True, 1, False),
        (0, False, False),
        (False, 0, False),
        (True, True, True),
        ("3", 3, False),
        (3, "3", False),
        ("x", "x", True),
        ("x", "X", False),
    ],
)
def test_eq_is_typed_but_numbers_compare_across_int_and_float(
    filter_value: Any, stored: Any, expected: bool
) -> None:
    assert where({"k": filter_value}, {"k": stored}) is expected
    assert where({"k": {"$ne": filter_value}}, {"k": stored}) is not expected


def test_scalar_operators_never_match_lists() -> None:
    metadata = {"tags": ["a", "b"], "nums": [1, 2]}
    assert not where({"tags": "a"}, metadata)
    assert not where({"tags": {"$in": ["a"]}}, metadata)
    assert not where({"nums": {"$gt": 0}}, metadata)
    assert where({"tags": {"$ne": "a"}}, metadata)
    assert where({"tags": {"$nin": ["a"]}}, metadata)


def test_contains_matches_list_elements_only() -> None:
    assert where({"tags": {"$contains": "a"}}, {"tags": ["a", "b"]})
    assert not where({"tags": {"$contains": "a"}}, {"tags": "a"})
    assert not where({"tags": {"$contains": "c"}}, {"tags": ["a", "b"]})
    assert where({"nums": {"$contains": 2}}, {"nums": [1.0, 2.0]})
    assert not where({"flags": {"$contains": 1}}, {"flags": [True]})
    assert where({"flags": {"$contains": True}}, {"flags": [True]})


@pytest.mark.parametrize("metadata", [None, {}, {"other": 1}])
def test_negations_match_records_without_the_key(metadata: dict[str, Any] | None) -> None:
    assert where({"k": {"$ne": 1}}, metadata)
    assert where({"k": {"$nin": [1, 2]}}, metadata)
    assert where({"k": {"$not_contains": 1}}, metadata)
    assert not where({"k": {"$eq": 1}}, metadata)
    assert not where({"k": {"$in": [1]}}, metadata)
    assert not where({"k": {"$contains": 1}}, metadata)
    assert not where({"k": {"$gte": 0}}, metadata)


def test_not_contains_matches_scalars_and_lists_without_the_element() -> None:
    assert where({"tags": {"$not_contains": "a"}}, {"tags": "a"})
    assert where({"tags": {"$not_contains": "a"}}, {"tags": ["b"]})
    assert not where({"tags": {"$not_contains": "a"}}, {"tags": ["a"]})


@pytest.mark.parametrize(
    ("op", "expected"),
    [("$gt", [3.5]), ("$gte", [3, 3.0, 3.5]), ("$lt", [2]), ("$lte", [2, 3, 3.0])],
)
def test_order_operators_compare_numbers_only(op: str, expected: list[Any]) -> None:
    stored_values = [2, 3, 3.0, 3.5, True, "4", [5]]
    matched = [value for value in stored_values if where({"n": {op: 3}}, {"n": value})]
    assert matched == expected


def test_in_and_nin_are_typed() -> None:
    assert where({"k": {"$in": [1, 2]}}, {"k": 2.0})
    assert not where({"k": {"$in": [1, 2]}}, {"k": True})
    assert not where({"k": {"$in": ["1"]}}, {"k": 1})
    assert where({"k": {"$nin": ["1"]}}, {"k": 1})
    assert not where({"k": {"$nin": [True]}}, {"k": True})


def test_and_or_combine() -> None:
    metadata = {"a": 1, "b": "x"}
    assert where({"$and": [{"a": 1}, {"b": "x"}]}, metadata)
    assert not where({"$and": [{"a": 1}, {"b": "y"}]}, metadata)
    assert where({"$or": [{"a": 2}, {"b": "x"}]}, metadata)
    assert not where({"$or": [{"a": 2}, {"b": "y"}]}, metadata)
    assert where({"a": 1, "b": "x"}, metadata)


def test_document_contains_is_case_sensitive_substring() -> None:
    assert doc({"$contains": "ell"}, "Hello")
    assert not doc({"$contains": "hell"}, "Hello")
    assert doc({"$contains": "ö"}, "wörld")
    assert doc({"$contains": 'y "h'}, 'say "hi"')


def test_document_negations_match_missing_documents() -> None:
    assert not doc({"$contains": "a"}, None)
    assert not doc({"$regex": "."}, None)
    assert doc({"$not_contains": "a"}, None)
    assert doc({"$not_regex": "."}, None)
    assert not doc({"$not_contains": "a"}, "abc")


def test_document_regex_is_a_search_not_a_full_match() -> None:
    assert doc({"$regex": "b+"}, "abbc")
    assert doc({"$regex": "^H"}, "Hello")
    assert not doc({"$regex": "^H"}, "hello")
    assert doc({"$not_regex": "^H"}, "hello")


def test_where_and_document_nodes_combine() -> None:
    meta_node = parse_where({"a": 1})
    doc_node = parse_where_document({"$contains": "x"})
    assert meta_node is not None and doc_node is not None
    node = And((meta_node, doc_node))
    assert evaluate(node, {"a": 1}, "xyz")
    assert not evaluate(node, {"a": 1}, "abc")
    assert not evaluate(node, {"a": 2}, "xyz")
