"""Translate a filter AST into a boolean SQL expression over ``records r``.

The engine embeds the expression as::

    SELECT r.rowid FROM records r WHERE r.collection_id = ? AND (<expr>)

Metadata comparisons are ``r.rowid IN (SELECT m.record FROM record_metadata m ...)``
subqueries, which the ``(key, str_value)``, ``(key, num_value)`` and
``(key, bool_value)`` indexes serve. Every expression evaluates to 0 or 1, never
NULL, so ``NOT``, ``AND`` and ``OR`` compose with two-valued logic.

Semantics (the same as :func:`vectorhouse.filters.evaluate.evaluate`, and the
same as Chroma 1.5.9 unless noted):

* Values are typed. A string matches only strings, a bool only bools, a number
  only numbers: ``{"k": 1}`` does not match ``True``, ``{"k": True}`` does not
  match ``1``, ``{"k": "3"}`` does not match ``3``. Ints and floats compare
  numerically and exactly: ``3`` matches ``3.0``.
* ``$eq $gt $gte $lt $lte $in`` match scalar metadata only (``is_list = 0``);
  ``$gt``-style operators match numbers only. A record without the key does not
  match.
* ``$contains`` on metadata matches list-valued metadata that has the value as an
  element (``is_list = 1``); it never matches a scalar. Chroma 1.5.9 compares list
  elements by exact type (``{"$contains": 1}`` misses ``[1.0, 2.0]``); vectorhouse
  compares numbers numerically here too.
* ``$ne``, ``$nin`` and ``$not_contains`` are the exact negations of ``$eq``,
  ``$in`` and ``$contains``. So a record that lacks the key, has no metadata,
  holds a value of another type, or (for ``$ne`` / ``$nin``) holds a list, DOES
  match. This is what Chroma 1.5.9 does.
* Document ``$contains`` is a case-sensitive substring test. Needles of three or
  more characters are first looked up in the trigram index ``documents_fts``
  (quoted as an FTS5 string, inner ``"`` doubled) and then checked exactly with
  ``instr``; shorter needles use ``instr`` alone. A NULL document contains nothing.
* Document ``$regex`` uses ``r.document REGEXP ?``, served by the ``regexp``
  function that :func:`register_functions` installs (RE2 with Chroma's syntax, see
  :mod:`vectorhouse.filters.regex`; a NULL document never matches).
* ``$not_contains`` and ``$not_regex`` are exact negations, so records with a NULL
  document match them, as in Chroma 1.5.9.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from vectorhouse.filters.parse import (
    And,
    DocCompare,
    MetaCompare,
    MetaValue,
    Node,
    Or,
    Scalar,
    compile_regex,
)

__all__ = ["NEGATED", "leaf_sql", "register_functions", "to_sql"]

_FTS_MIN_CHARS = 3
_GROUP = 64

_ORDER_SQL = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_NEGATED = {"$ne": "$eq", "$nin": "$in", "$not_contains": "$contains", "$not_regex": "$regex"}
NEGATED = _NEGATED
"""Each negated operator and the operator it negates."""


def to_sql(node: Node) -> tuple[str, list[Any]]:
    """Return ``(expression, params)``: a 0/1-valued SQL expression over ``records r``.

    >>> from vectorhouse.filters.parse import parse_where
    >>> sql, params = to_sql(parse_where({"year": {"$gte": 2020}}))
    >>> sql
    'r.rowid IN (SELECT m.record FROM record_metadata m WHERE m.key = ? AND m.num_value >= ? \
AND m.is_list = 0)'
    >>> params
    ['year', 2020]
    """
    params: list[Any] = []
    return _emit(node, params), params


def _emit(node: Node, params: list[Any]) -> str:
    if isinstance(node, And):
        if not node.children:
            return "1"
        return _chain(" AND ", [_emit(child, params) for child in node.children])
    if isinstance(node, Or):
        if not node.children:
            return "0"
        return _chain(" OR ", [_emit(child, params) for child in node.children])
    if isinstance(node, MetaCompare):
        return _metadata(node, params)
    return _document(node, params)


def _chain(joiner: str, terms: list[str]) -> str:
    """``terms`` joined by AND/OR, grouped so that SQLite's expression tree stays shallow.

    SQLite parses ``a OR b OR c ...`` into a chain as deep as it is long and refuses
    chains deeper than 1,000; groups of at most :data:`_GROUP` keep a filter with
    thousands of terms a few levels deep.
    """
    while len(terms) > _GROUP:
        terms = [
            "(" + joiner.join(terms[i : i + _GROUP]) + ")" for i in range(0, len(terms), _GROUP)
        ]
    return "(" + joiner.join(terms) + ")"


def _column(value: Scalar) -> tuple[str, Scalar]:
    """The ``record_metadata`` column that holds values like ``value``, and its parameter."""
    if isinstance(value, bool):
        return "m.bool_value", int(value)
    if isinstance(value, str):
        return "m.str_value", value
    return "m.num_value", value


def _metadata(node: MetaCompare, params: list[Any]) -> str:
    positive = _NEGATED.get(node.op)
    if positive is not None:
        return "NOT " + _metadata(MetaCompare(node.key, positive, node.value), params)
    params.append(node.key)
    condition, is_list = _condition(node.op, node.value, params)
    return (
        "r.rowid IN (SELECT m.record FROM record_metadata m "
        f"WHERE m.key = ? AND {condition} AND m.is_list = {is_list})"
    )


def _condition(op: str, value: MetaValue, params: list[Any]) -> tuple[str, int]:
    if op == "$in":
        assert isinstance(value, tuple) and value, "parse guarantees a non-empty tuple"
        # One JSON parameter, however long the list: no limit on SQL variables or
        # expression size is ever reached.
        column, _ = _column(value[0])
        params.append(_json_list([_column(item)[1] for item in value]))
        return f"{column} IN (SELECT value FROM json_each(?))", 0
    assert not isinstance(value, tuple), f"{op} takes a scalar"
    column, param = _column(value)
    params.append(param)
    if op == "$eq":
        return f"{column} = ?", 0
    if op == "$contains":
        return f"{column} = ?", 1
    assert op in _ORDER_SQL, f"unknown metadata operator {op}"
    return f"m.num_value {_ORDER_SQL[op]} ?", 0


def _json_list(values: list[Scalar]) -> str:
    return json.dumps(values, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def leaf_sql(node: MetaCompare | DocCompare) -> tuple[str, list[Any]]:
    """``(query, params)``: the rowids, in ``records r`` of collection ``?`` (the first
    parameter, left for the caller), of the records a non-negated comparison matches.

    >>> from vectorhouse.filters.parse import MetaCompare
    >>> leaf_sql(MetaCompare("k", "$eq", 1))[0]
    'SELECT m.record FROM record_metadata m JOIN records r ON r.rowid = m.record \
WHERE r.collection_id = ? AND m.key = ? AND m.num_value = ? AND m.is_list = 0'
    """
    params: list[Any] = []
    if isinstance(node, DocCompare):
        assert node.op not in _NEGATED, "leaf_sql takes a non-negated comparison"
        expr = _document(node, params)
        return f"SELECT r.rowid FROM records r WHERE r.collection_id = ? AND {expr}", params
    assert node.op not in _NEGATED, "leaf_sql takes a non-negated comparison"
    params.append(node.key)
    condition, is_list = _condition(node.op, node.value, params)
    return (
        "SELECT m.record FROM record_metadata m JOIN records r ON r.rowid = m.record"
        f" WHERE r.collection_id = ? AND m.key = ? AND {condition} AND m.is_list = {is_list}",
        params,
    )


def _fts_phrase(needle: str) -> str:
    """Quote ``needle`` as one FTS5 string, so that no character is FTS5 syntax."""
    return '"' + needle.replace('"', '""') + '"'


def _document(node: DocCompare, params: list[Any]) -> str:
    positive = _NEGATED.get(node.op)
    if positive is not None:
        return "NOT " + _document(DocCompare(positive, node.value), params)
    if node.op == "$regex":
        params.append(node.value)
        return "(r.document REGEXP ?)"
    assert node.op == "$contains", f"unknown document operator {node.op}"
    if len(node.value) < _FTS_MIN_CHARS:
        params.append(node.value)
        return "(r.document IS NOT NULL AND instr(r.document, ?) > 0)"
    params.append(_fts_phrase(node.value))
    params.append(node.value)
    return (
        "(r.document IS NOT NULL"
        " AND r.rowid IN (SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?)"
        " AND instr(r.document, ?) > 0)"
    )


def _regexp(pattern: object, value: object) -> int:
    if not isinstance(pattern, str) or not isinstance(value, str):
        return 0
    return 1 if compile_regex(pattern).search(value) is not None else 0


def register_functions(conn: sqlite3.Connection) -> None:
    """Install the SQL functions filters need (``regexp``) on ``conn``.

    >>> import sqlite3
    >>> conn = sqlite3.connect(":memory:")
    >>> register_functions(conn)
    >>> conn.execute("SELECT 'jazz age' REGEXP '^ja', NULL REGEXP 'x'").fetchone()
    (1, 0)
    """
    conn.create_function("regexp", 2, _regexp, deterministic=True)
