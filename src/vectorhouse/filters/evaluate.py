"""Evaluate a filter AST against one record in Python.

This is the test oracle for :mod:`vectorhouse.filters.sql`: both give the same
answer for every filter and every record. The semantics are written out in the
docstring of :mod:`vectorhouse.filters.sql`; in short, values are typed (bools are
not numbers, ints and floats compare numerically), scalar operators never match
lists, ``$contains`` on metadata matches only lists, and ``$ne``, ``$nin``,
``$not_contains`` and ``$not_regex`` are exact negations, so they match records
that lack the key or the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vectorhouse.filters.parse import (
    And,
    DocCompare,
    MetaCompare,
    Node,
    Or,
    Scalar,
    compile_regex,
)

__all__ = ["evaluate"]

_NEGATED = {"$ne": "$eq", "$nin": "$in", "$not_contains": "$contains", "$not_regex": "$regex"}


def evaluate(node: Node | None, metadata: Mapping[str, Any] | None, document: str | None) -> bool:
    """Whether a record with ``metadata`` and ``document`` passes the filter ``node``.

    >>> from vectorhouse.filters.parse import parse_where
    >>> evaluate(parse_where({"year": {"$gte": 2020}}), {"year": 2021.0}, None)
    True
    >>> evaluate(parse_where({"year": {"$ne": 2020}}), None, None)
    True
    """
    if node is None:
        return True
    return _evaluate(node, metadata if metadata is not None else {}, document)


def _evaluate(node: Node, metadata: Mapping[str, Any], document: str | None) -> bool:
    if isinstance(node, And):
        return all(_evaluate(child, metadata, document) for child in node.children)
    if isinstance(node, Or):
        return any(_evaluate(child, metadata, document) for child in node.children)
    if isinstance(node, MetaCompare):
        return _metadata(node.op, node.value, metadata.get(node.key))
    return _document(node, document)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(stored: object, value: Scalar) -> bool:
    """Typed equality: bools equal only bools, strings only strings, numbers only numbers."""
    if isinstance(value, bool):
        return isinstance(stored, bool) and stored == value
    if isinstance(value, str):
        return isinstance(stored, str) and stored == value
    return _is_number(stored) and stored == value


def _metadata(op: str, value: Any, stored: Any) -> bool:
    positive = _NEGATED.get(op)
    if positive is not None:
        return not _metadata(positive, value, stored)
    is_list = isinstance(stored, (list, tuple))
    if op == "$contains":
        return is_list and any(_same(element, value) for element in stored)
    if is_list:
        return False
    if op == "$eq":
        return _same(stored, value)
    if op == "$in":
        return any(_same(stored, item) for item in value)
    if not _is_number(stored):
        return False
    if op == "$gt":
        return bool(stored > value)
    if op == "$gte":
        return bool(stored >= value)
    if op == "$lt":
        return bool(stored < value)
    assert op == "$lte", f"unknown metadata operator {op}"
    return bool(stored <= value)


def _document(node: DocCompare, document: str | None) -> bool:
    positive = _NEGATED.get(node.op)
    if positive is not None:
        return not _document(DocCompare(positive, node.value), document)
    if document is None:
        return False
    if node.op == "$regex":
        return compile_regex(node.value).search(document) is not None
    assert node.op == "$contains", f"unknown document operator {node.op}"
    return node.value in document
