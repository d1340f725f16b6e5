"""Filter ASTs become Milvus boolean expressions: typed paths, guarded negations,
escaped literals and LIKE patterns, and a clear error for what Milvus cannot match."""

from __future__ import annotations

import pytest

from vectorhouse import NotSupportedError
from vectorhouse.filters.parse import parse_where, parse_where_document
from vectorhouse.milvus.expr import to_expression, typed_metadata
from vectorhouse.milvus.layout import milvus_name, vectorhouse_name


def test_each_value_type_is_compared_under_its_own_path() -> None:
    assert to_expression(parse_where({"k": "1"})) == '(filt["s"]["k"] == "1")'
    assert to_expression(parse_where({"k": 1})) == '(filt["n"]["k"] == 1)'
    assert to_expression(parse_where({"k": True})) == '(filt["b"]["k"] == true)'
    assert to_expression(parse_where({"t": {"$contains": 2}})) == (
        '(json_contains(filt["ln"]["t"], 2))'
    )


def test_negations_match_records_without_the_key() -> None:
    assert to_expression(parse_where({"k": {"$nin": [1, 2]}})) == (
        '(not ((exists filt["n"]["k"] and filt["n"]["k"] == 1)'
        ' or (exists filt["n"]["k"] and filt["n"]["k"] == 2)))'
    )


def test_keys_and_values_are_escaped_inside_string_literals() -> None:
    assert to_expression(parse_where({'a"b\\': 'say "hi"'})) == (
        '(filt["s"]["a\\"b\\\\"] == "say \\"hi\\"")'
    )


def test_document_contains_escapes_like_wildcards() -> None:
    assert to_expression(parse_where_document({"$not_contains": "5_0%"})) == (
        '(not (document like "%5\\\\_0\\\\%%"))'
    )


def test_plain_text_regex_becomes_like_and_other_patterns_are_not_supported() -> None:
    assert to_expression(parse_where_document({"$regex": "^Blue"})) == (
        '(has_document and document like "Blue%")'
    )
    with pytest.raises(NotSupportedError, match="plain text"):
        to_expression(parse_where_document({"$regex": "Blue|Red"}))
    with pytest.raises(NotSupportedError, match="backslash"):
        to_expression(parse_where_document({"$contains": "a\\b"}))


def test_typed_metadata_keeps_lists_apart_from_scalars() -> None:
    assert typed_metadata({"a": [1.5, 2], "b": [True], "c": "x"}) == {
        "ln": {"a": [1.5, 2]},
        "lb": {"b": [True]},
        "s": {"c": "x"},
    }
    assert typed_metadata(None) == {}


@pytest.mark.parametrize("name", ["abc", "a_b", "a__b", "x-y.z", "A1_-._z", "_h_d"[1:] + "q"])
def test_collection_names_round_trip_through_milvus_names(name: str) -> None:
    mname = milvus_name(name)
    assert mname.replace("_", "").isalnum()
    assert vectorhouse_name(mname) == name
