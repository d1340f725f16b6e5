"""Translate a filter AST (:mod:`vectorhouse.filters.parse`) into a Milvus boolean expression.

The Milvus backend keeps each record's metadata twice: as given (JSON text, returned
to callers) and typed in the JSON field ``filt``, one object per value type::

    {"s": {key: str}, "n": {key: number}, "b": {key: bool},
     "ls": {key: [str]}, "ln": {key: [number]}, "lb": {key: [bool]}}

so that each comparison reads only values of its own type, which gives the
embedded engine's typed semantics (:mod:`vectorhouse.filters.sql`): ``{"k": 1}``
never matches ``True`` or ``"1"``, scalar operators never match lists and
``$contains`` matches only lists. Negations are written as ``not (exists path and
...)`` so that a record without the key matches them, as in the embedded engine
(Milvus' own ``not`` leaves a missing key unmatched).

Documents live in a VARCHAR field ``document`` ("" when absent) beside a BOOL field
``has_document``. ``$contains`` is ``LIKE "%needle%"`` with ``%``, ``_`` and ``\\``
escaped (a needle with a backslash raises
:class:`~vectorhouse.errors.NotSupportedError`: Milvus builds differ in how ``LIKE``
escapes it); ``$regex`` works where a pattern means the same as a ``LIKE`` pattern (a
literal, optionally anchored with ``^``), and otherwise raises
:class:`~vectorhouse.errors.NotSupportedError`.

>>> from vectorhouse.filters.parse import parse_where
>>> to_expression(parse_where({"year": {"$gte": 2020}, "genre": "jazz"}))
'((filt["n"]["year"] >= 2020) and (filt["s"]["genre"] == "jazz"))'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vectorhouse.errors import NotSupportedError
from vectorhouse.filters.parse import And, MetaCompare, Node, Or, Scalar

__all__ = ["literal", "to_expression", "typed_metadata"]

_ORDER = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_NEGATED = {"$ne": "$eq", "$nin": "$in", "$not_contains": "$contains", "$not_regex": "$regex"}
_REGEX_META = set(".^$*+?{}[]()|\\")


def literal(value: Scalar) -> str:
    """A Milvus expression literal for a scalar.

    >>> literal('say "hi"'), literal(True), literal(2.5)
    ('"say \\\\"hi\\\\""', 'true', '2.5')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "b"
    if isinstance(value, str):
        return "s"
    return "n"


def typed_metadata(metadata: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The ``filt`` JSON value of a record's metadata.

    >>> typed_metadata({"a": 1, "b": "x", "c": True, "t": ["p", "q"]})
    {'n': {'a': 1}, 's': {'b': 'x'}, 'b': {'c': True}, 'ls': {'t': ['p', 'q']}}
    """
    out: dict[str, dict[str, Any]] = {}
    for key, value in (metadata or {}).items():
        if isinstance(value, (list, tuple)):
            if not value:
                continue
            out.setdefault("l" + _kind(value[0]), {})[key] = list(value)
        elif value is not None:
            out.setdefault(_kind(value), {})[key] = value
    return out


def _path(kind: str, key: str) -> str:
    return f"filt[{literal(kind)}][{literal(key)}]"


def to_expression(node: Node | None) -> str:
    """The Milvus boolean expression of a filter AST; ``""`` (everything) for None.

    >>> from vectorhouse.filters.parse import parse_where, parse_where_document
    >>> to_expression(parse_where({"k": {"$ne": True}}))
    '(not (exists filt["b"]["k"] and filt["b"]["k"] == true))'
    >>> to_expression(parse_where_document({"$contains": "50%"}))
    '(document like "%50\\\\\\\\%%")'
    """
    if node is None:
        return ""
    return _node(node)


def _node(node: Node) -> str:
    if isinstance(node, And):
        return "(" + " and ".join(_node(c) for c in node.children) + ")"
    if isinstance(node, Or):
        return "(" + " or ".join(_node(c) for c in node.children) + ")"
    if isinstance(node, MetaCompare):
        positive = _NEGATED.get(node.op)
        if positive is not None:
            return f"(not {_meta(positive, node.key, node.value, guarded=True)})"
        return _meta(node.op, node.key, node.value, guarded=False)
    positive = _NEGATED.get(node.op)
    if positive is not None:
        return f"(not {_document(positive, node.value)})"
    return _document(node.op, node.value)


def _meta(op: str, key: str, value: Any, *, guarded: bool) -> str:
    if op == "$in":
        # Milvus cannot apply ``in`` to a JSON path everywhere: spell it as an ``or``.
        parts = [_meta("$eq", key, item, guarded=guarded) for item in value]
        return "(" + " or ".join(parts) + ")"
    if op == "$contains":
        path = _path("l" + _kind(value), key)
        test = f"json_contains({path}, {literal(value)})"
    else:
        path = _path(_kind(value), key)
        test = f"{path} {_ORDER.get(op, '==')} {literal(value)}"
    return f"(exists {path} and {test})" if guarded else f"({test})"


def _like(text: str) -> str:
    return text.replace("%", "\\%").replace("_", "\\_")


def _document(op: str, value: str) -> str:
    if "\\" in value:
        raise NotSupportedError(
            f"where_document {op} {value!r}: the Milvus backend cannot match a backslash"
            " in documents (Milvus builds differ in how LIKE escapes it)"
        )
    if op == "$contains":
        return f"(document like {literal('%' + _like(value) + '%')})"
    pattern = _regex_as_like(value)
    if pattern is None:
        raise NotSupportedError(
            f"where_document $regex {value!r}: the Milvus backend can only match regular"
            " expressions that are plain text, optionally anchored with '^'; use"
            " $contains, or the embedded client for other patterns"
        )
    return f"(has_document and document like {literal(pattern)})"


def _regex_as_like(pattern: str) -> str | None:
    """The LIKE pattern equal to ``re.search(pattern, ...)``, or None if there is none.

    >>> _regex_as_like("^Blue"), _regex_as_like("jazz"), _regex_as_like("a.b")
    ('Blue%', '%jazz%', None)
    """
    anchored = pattern.startswith("^")
    body = pattern[1:] if anchored else pattern
    if not body or any(ch in _REGEX_META for ch in body):
        return None
    return ("" if anchored else "%") + _like(body) + "%"
