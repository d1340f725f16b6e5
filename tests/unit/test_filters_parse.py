"""Parsing ``where`` / ``where_document`` dicts into the filter AST, and the errors for bad ones."""

from __future__ import annotations

import re
from typing import Any

import pytest

from vectorhouse.errors import InvalidArgumentError, InvalidFilterError
from vectorhouse.filters import (
    And,
    DocCompare,
    MetaCompare,
    Or,
    parse_where,
    parse_where_document,
)


def where_error(where: Any) -> str:
    with pytest.raises(InvalidFilterError) as info:
        parse_where(where)
    return str(info.value)


def document_error(where_document: Any) -> str:
    with pytest.raises(InvalidFilterError) as info:
        parse_where_document(where_document)
    return str(info.value)


# --- valid where filters ---------------------------------------------------------------


@pytest.mark.parametrize("empty", [None, {}])
def test_empty_where_means_no_filter(empty: Any) -> None:
    assert parse_where(empty) is None
    assert parse_where_document(empty) is None


def test_bare_value_is_eq() -> None:
    assert parse_where({"genre": "jazz"}) == MetaCompare("genre", "$eq", "jazz")


@pytest.mark.parametrize(
    "op", ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$contains", "$not_contains"]
)
def test_each_scalar_operator_parses(op: str) -> None:
    assert parse_where({"year": {op: 2020}}) == MetaCompare("year", op, 2020)


@pytest.mark.parametrize("op", ["$in", "$nin"])
def test_list_operators_give_a_tuple(op: str) -> None:
    assert parse_where({"g": {op: ["a", "b"]}}) == MetaCompare("g", op, ("a", "b"))


def test_in_accepts_ints_and_floats_mixed_as_numbers() -> None:
    assert parse_where({"n": {"$in": [1, 2.5]}}) == MetaCompare("n", "$in", (1, 2.5))


def test_values_keep_their_type() -> None:
    node = parse_where({"$and": [{"a": 1}, {"a": 1.0}, {"a": True}, {"a": "1"}]})
    assert isinstance(node, And)
    values = [child.value for child in node.children if isinstance(child, MetaCompare)]
    assert [type(value) for value in values] == [int, float, bool, str]


def test_several_top_level_keys_are_an_implicit_and() -> None:
    assert parse_where({"a": 1, "b": {"$gt": 2}}) == And(
        (MetaCompare("a", "$eq", 1), MetaCompare("b", "$gt", 2))
    )


def test_several_operators_on_one_key_are_an_implicit_and() -> None:
    assert parse_where({"y": {"$gt": 1, "$lt": 5}}) == And(
        (MetaCompare("y", "$gt", 1), MetaCompare("y", "$lt", 5))
    )


def test_and_or_nest() -> None:
    where = {"$or": [{"a": 1}, {"$and": [{"b": 2}, {"c": {"$ne": "x"}}]}]}
    assert parse_where(where) == Or(
        (
            MetaCompare("a", "$eq", 1),
            And((MetaCompare("b", "$eq", 2), MetaCompare("c", "$ne", "x"))),
        )
    )


def test_single_child_and_or_collapse_to_the_child() -> None:
    assert parse_where({"$and": [{"a": 1}]}) == MetaCompare("a", "$eq", 1)
    assert parse_where({"$or": [{"a": 1}]}) == MetaCompare("a", "$eq", 1)


def test_tuples_are_accepted_as_lists() -> None:
    assert parse_where({"$or": ({"a": 1}, {"a": 2})}) == Or(
        (MetaCompare("a", "$eq", 1), MetaCompare("a", "$eq", 2))
    )


def test_nodes_are_frozen_and_hashable() -> None:
    node = parse_where({"a": {"$in": [1, 2]}})
    assert hash(node) == hash(MetaCompare("a", "$in", (1, 2)))


# --- invalid where filters ---------------------------------------------------------------


def test_filter_error_is_a_value_error_with_a_code() -> None:
    with pytest.raises(ValueError) as info:
        parse_where({"a": {"$gt": "x"}})
    assert isinstance(info.value, InvalidArgumentError)
    assert isinstance(info.value, InvalidFilterError)
    assert info.value.code == "invalid_filter"


def test_order_operator_error_names_the_nested_path() -> None:
    message = where_error({"$and": [{"a": 1}, {"year": {"$gt": "x"}}]})
    assert message == "where filter at $and[1].year: $gt needs a number, got 'x'"


def test_error_path_through_or_and_and() -> None:
    where = {"$or": [{"$and": [{"a": 1}, {"b": 2}, {"tags": {"$contains": None}}]}, {"c": 1}]}
    message = where_error(where)
    assert message.startswith("where filter at $or[0].$and[2].tags: $contains needs")


@pytest.mark.parametrize("op", ["$gt", "$gte", "$lt", "$lte"])
@pytest.mark.parametrize("value", [True, False, "3", None, [1]])
def test_order_operators_need_a_number_and_bool_is_not_one(op: str, value: Any) -> None:
    assert where_error({"n": {op: value}}).startswith(f"where filter at n: {op} needs a number")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_rejected(value: float) -> None:
    assert "finite" in where_error({"n": value})
    assert "finite" in where_error({"n": {"$lt": value}})
    assert "finite" in where_error({"n": {"$in": [1.0, value]}})


def test_integers_beyond_64_bits_are_rejected() -> None:
    assert "64 bits" in where_error({"n": 2**63})
    assert parse_where({"n": -(2**63)}) == MetaCompare("n", "$eq", -(2**63))


@pytest.mark.parametrize("value", [None, [1, 2], b"x", object(), {1, 2}])
def test_bare_value_must_be_a_scalar(value: Any) -> None:
    assert where_error({"k": value}).startswith("where filter at k: $eq needs a str, int, float")


def test_unknown_metadata_operator_is_named_with_the_valid_ones() -> None:
    message = where_error({"k": {"$foo": 1}})
    assert message.startswith("where filter at k: unknown operator '$foo'")
    for op in ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains"]:
        assert op in message


def test_unknown_top_level_operator_is_named() -> None:
    message = where_error({"$not": [{"a": 1}]})
    assert message.startswith("where filter: unknown operator '$not'")
    assert "$and, $or" in message


def test_empty_operator_dict_is_rejected() -> None:
    assert where_error({"k": {}}).startswith("where filter at k: expected a value or an operator")


@pytest.mark.parametrize("op", ["$in", "$nin"])
@pytest.mark.parametrize("value", [[], "abc", 3, None, {"a": 1}])
def test_in_needs_a_non_empty_list(op: str, value: Any) -> None:
    assert where_error({"k": {op: value}}).startswith(f"where filter at k: {op} needs a non-empty")


@pytest.mark.parametrize("values", [[1, "x"], [True, 1], ["a", False], [1.5, True]])
def test_in_values_must_share_one_type(values: list[Any]) -> None:
    message = where_error({"k": {"$in": values}})
    assert message.startswith("where filter at k: $in values must be all strings")


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (2**63, "64 bits"),
        (-(2**63) - 1, "64 bits"),
        ("a\x00b", "without NUL"),
        ("\ud800", "valid unicode"),
    ],
)
def test_a_long_list_of_one_type_with_one_bad_value_is_rejected_for_that_value(
    bad: Any, says: str
) -> None:
    values: list[Any] = list(range(500)) if isinstance(bad, int) else [f"v{i}" for i in range(500)]
    values[317] = bad
    message = where_error({"k": {"$in": values}})
    assert message.startswith("where filter at k: $in needs") and says in message


def test_long_plain_lists_parse_to_the_same_values() -> None:
    ints, strs = list(range(-250, 250)), [f"s{i}" for i in range(500)]
    assert parse_where({"k": {"$in": ints}}) == MetaCompare("k", "$in", tuple(ints))
    assert parse_where({"k": {"$nin": strs}}) == MetaCompare("k", "$nin", tuple(strs))
    flags = parse_where({"k": {"$in": (True, False)}})
    assert flags == MetaCompare("k", "$in", (True, False))


def test_in_values_must_be_scalars() -> None:
    assert where_error({"k": {"$in": [[1]]}}).startswith("where filter at k: $in needs a str")


@pytest.mark.parametrize("value", [None, [1], {"a": 1}])
def test_contains_needs_a_scalar(value: Any) -> None:
    assert where_error({"tags": {"$contains": value}}).startswith("where filter at tags: $contains")


@pytest.mark.parametrize("op", ["$and", "$or"])
def test_logical_operators_need_a_non_empty_list(op: str) -> None:
    assert (
        where_error({op: []})
        == f"where filter at {op}: {op} needs a non-empty list of filters, got []"
    )
    assert where_error({op: {"a": 1}}).startswith(f"where filter at {op}: {op} needs a list")
    assert where_error({op: "a"}).startswith(f"where filter at {op}: {op} needs a list")


def test_logical_operator_items_must_be_dicts() -> None:
    assert where_error({"$and": [{"a": 1}, 5]}) == "where filter at $and[1]: expected a dict, got 5"


def test_empty_dict_inside_and_is_rejected() -> None:
    assert where_error({"$or": [{"a": 1}, {}]}).startswith("where filter at $or[1]: expected")


def test_where_must_be_a_dict() -> None:
    assert where_error(["a"]) == "where filter: expected a dict, got ['a']"


def test_keys_must_be_strings() -> None:
    assert where_error({1: "a"}).startswith("where filter: keys must be strings")


def test_unencodable_strings_are_rejected() -> None:
    assert "valid unicode" in where_error({"k": "\ud800"})


# --- where_document ------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["$contains", "$not_contains", "$regex", "$not_regex"])
def test_each_document_operator_parses(op: str) -> None:
    assert parse_where_document({op: "ab"}) == DocCompare(op, "ab")


def test_document_and_or_nest() -> None:
    where_document = {"$and": [{"$contains": "a"}, {"$or": [{"$regex": "b"}, {"$contains": "c"}]}]}
    assert parse_where_document(where_document) == And(
        (
            DocCompare("$contains", "a"),
            Or((DocCompare("$regex", "b"), DocCompare("$contains", "c"))),
        )
    )


def test_document_several_keys_are_an_implicit_and() -> None:
    assert parse_where_document({"$contains": "a", "$not_regex": "b"}) == And(
        (DocCompare("$contains", "a"), DocCompare("$not_regex", "b"))
    )


@pytest.mark.parametrize("value", ["", 1, None, ["a"]])
def test_document_operators_need_a_non_empty_string(value: Any) -> None:
    message = document_error({"$and": [{"$contains": "x"}, {"$contains": value}]})
    assert message.startswith(
        "where document filter at $and[1]: $contains needs a non-empty string"
    )


def test_invalid_regex_is_rejected_with_its_path() -> None:
    message = document_error({"$or": [{"$contains": "x"}, {"$regex": "("}]})
    assert message.startswith(
        "where document filter at $or[1]: $regex needs a valid regular expression, got '('"
    )


def test_unknown_document_operator_lists_the_valid_ones() -> None:
    message = document_error({"$like": "x"})
    assert message.startswith("where document filter: unknown operator '$like'")
    for op in ["$contains", "$not_contains", "$regex", "$not_regex", "$and", "$or"]:
        assert op in message


def test_document_empty_list_and_non_dict_items() -> None:
    assert document_error({"$or": []}).startswith(
        "where document filter at $or: $or needs a non-empty"
    )
    message = document_error({"$and": [{"$contains": "x"}, "y"]})
    assert message == "where document filter at $and[1]: expected a dict, got 'y'"
    assert document_error({"$and": [{}, {"$contains": "y"}]}).startswith(
        "where document filter at $and[0]: expected an operator"
    )


def test_where_document_must_be_a_dict() -> None:
    assert re.match(r"where document filter: expected a dict", document_error("abc"))
