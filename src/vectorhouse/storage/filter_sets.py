"""Large filters, evaluated as sets of rowids instead of one SQL expression.

SQLite refuses expressions nested more than 1,000 levels and parses a few dozen levels
of parentheses at most, while a filter within the limits of
:mod:`vectorhouse.filters.limits` may hold 10,000 comparisons under 64 levels of
``$and`` / ``$or``. A filter with more than :data:`MAX_SQL_LEAVES` comparisons or
nested deeper than :data:`MAX_SQL_DEPTH` is therefore evaluated here: each distinct
comparison is one indexed query for the rowids it matches (negations as the
complement of their positive form), and ``$and`` / ``$or`` combine those sets with
set algebra. The result goes back to SQL as one JSON parameter. Smaller filters stay
one SQL expression (:func:`vectorhouse.filters.sql.to_sql`).

    >>> from vectorhouse.filters.parse import parse_where
    >>> is_large(parse_where({"$or": [{"k": i} for i in range(MAX_SQL_LEAVES + 1)]}))
    True
    >>> is_large(parse_where({"k": {"$in": list(range(5000))}}))
    False
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from vectorhouse.filters.parse import And, DocCompare, MetaCompare, Node, Or
from vectorhouse.filters.sql import NEGATED, leaf_sql, to_sql

__all__ = ["MAX_SQL_DEPTH", "MAX_SQL_LEAVES", "filter_expression", "is_large"]

MAX_SQL_LEAVES = 256
"""Filters with more comparisons than this are evaluated as sets."""

MAX_SQL_DEPTH = 16
"""Filters whose ``$and`` / ``$or`` nest deeper than this are evaluated as sets."""

_Set = tuple[set[int], bool]  # (rowids, negated): negated means "every record but these"


def is_large(node: Node) -> bool:
    """Whether ``node`` is too large or too deep to be one SQL expression."""
    leaves = 0
    stack: list[tuple[Node, int]] = [(node, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (And, Or)):
            if depth + 1 > MAX_SQL_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in item.children)
        else:
            leaves += 1
            if leaves > MAX_SQL_LEAVES:
                return True
    return False


def filter_expression(
    conn: sqlite3.Connection, collection_id: str, node: Node
) -> tuple[str, list[Any]]:
    """A 0/1-valued SQL expression over ``records r`` for ``node``, and its parameters.

    >>> from vectorhouse.storage.connection import open_connection
    >>> from vectorhouse.filters.parse import parse_where
    >>> filter_expression(open_connection(":memory:"), "c", parse_where({"k": 1}))[0][:30]
    'r.rowid IN (SELECT m.record FR'
    """
    if not is_large(node):
        return to_sql(node)
    rowids, negated = _resolve(conn, collection_id, node, {})
    payload = json.dumps(sorted(rowids))
    op = "NOT IN" if negated else "IN"
    return f"r.rowid {op} (SELECT value FROM json_each(?))", [payload]


def _resolve(
    conn: sqlite3.Connection,
    collection_id: str,
    node: Node,
    cache: dict[MetaCompare | DocCompare, set[int]],
) -> _Set:
    if isinstance(node, (And, Or)):
        parts = [_resolve(conn, collection_id, child, cache) for child in node.children]
        plain = [s for s, negated in parts if not negated]
        negated_sets = [s for s, negated in parts if negated]
        if isinstance(node, And):
            # A and not B = A - B; not A and not B = not (A or B)
            if plain:
                out = set.intersection(*sorted(plain, key=len))
                for s in negated_sets:
                    out -= s
                return out, False
            return set().union(*negated_sets), True
        # A or not B = not (B - A); not A or not B = not (A and B)
        if negated_sets:
            out = set.intersection(*sorted(negated_sets, key=len))
            for s in plain:
                out -= s
            return out, True
        return set().union(*plain), False
    positive = NEGATED.get(node.op)
    if positive is None:
        return _leaf(conn, collection_id, node, cache), False
    base: MetaCompare | DocCompare = (
        MetaCompare(node.key, positive, node.value)
        if isinstance(node, MetaCompare)
        else DocCompare(positive, node.value)
    )
    return _leaf(conn, collection_id, base, cache), True


def _leaf(
    conn: sqlite3.Connection,
    collection_id: str,
    node: MetaCompare | DocCompare,
    cache: dict[MetaCompare | DocCompare, set[int]],
) -> set[int]:
    found = cache.get(node)
    if found is None:
        sql, params = leaf_sql(node)
        found = {row[0] for row in conn.execute(sql, [collection_id, *params])}
        cache[node] = found
    return found
