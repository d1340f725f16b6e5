"""Parse Chroma-style ``where`` and ``where_document`` filters into a small AST.

The AST is four frozen dataclasses::

    And(children)            every child matches
    Or(children)             at least one child matches
    MetaCompare(key, op, v)  a metadata comparison; v is a scalar or a tuple of scalars
    DocCompare(op, v)        a document comparison; v is a non-empty string

``where`` follows Chroma 1.x: ``{"k": v}`` means ``{"k": {"$eq": v}}``; the
operators are ``$eq $ne $gt $gte $lt $lte $in $nin $contains $not_contains``;
``$and`` and ``$or`` take lists of filters. ``where_document`` takes
``$contains $not_contains $regex $not_regex`` with a non-empty string, and
``$and`` / ``$or``.

Where vectorhouse is more lenient than Chroma 1.5.9 (which rejects these):

* a dict with several keys is an implicit AND (``{"a": 1, "b": 2}``), at any
  level, in ``where``, in an operator dict (``{"k": {"$gt": 1, "$lt": 5}}``)
  and in ``where_document``;
* ``$and`` / ``$or`` accept a single filter (Chroma wants two or more);
* ``$in`` / ``$nin`` accept ints and floats mixed, as both are numbers.

A top-level ``{}`` or ``None`` means "no filter" and parses to ``None``; an empty
dict nested inside ``$and`` / ``$or`` is an error. Every error is an
:class:`~vectorhouse.errors.InvalidFilterError` whose message names the path of
the offending part, e.g. ``where filter at $and[1].year: ...``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from vectorhouse.errors import InvalidFilterError
from vectorhouse.filters.limits import check_limits
from vectorhouse.filters.regex import RegexError, compile_regex
from vectorhouse.reprs import shown

__all__ = [
    "DOCUMENT_OPERATORS",
    "LOGICAL_OPERATORS",
    "METADATA_OPERATORS",
    "And",
    "DocCompare",
    "MetaCompare",
    "MetaValue",
    "Node",
    "Or",
    "Scalar",
    "compile_regex",
    "parse_where",
    "parse_where_document",
]

Scalar: TypeAlias = str | int | float | bool
MetaValue: TypeAlias = Scalar | tuple[Scalar, ...]

LOGICAL_OPERATORS = ("$and", "$or")
COMPARISON_OPERATORS = ("$eq", "$ne")
ORDER_OPERATORS = ("$gt", "$gte", "$lt", "$lte")
LIST_OPERATORS = ("$in", "$nin")
ELEMENT_OPERATORS = ("$contains", "$not_contains")
METADATA_OPERATORS = COMPARISON_OPERATORS + ORDER_OPERATORS + LIST_OPERATORS + ELEMENT_OPERATORS
DOCUMENT_OPERATORS = ("$contains", "$not_contains", "$regex", "$not_regex")

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class And:
    """Matches when every child matches."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Matches when at least one child matches."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class MetaCompare:
    """Compares metadata ``key`` with ``value`` using ``op`` (one of METADATA_OPERATORS)."""

    key: str
    op: str
    value: MetaValue


@dataclass(frozen=True)
class DocCompare:
    """Compares the document with ``value`` using ``op`` (one of DOCUMENT_OPERATORS)."""

    op: str
    value: str


Node: TypeAlias = And | Or | MetaCompare | DocCompare


class _Ctx:
    """Where an error happened: the filter kind and the path inside it."""

    def __init__(self, kind: str, path: str = "") -> None:
        self.kind = kind
        self.path = path

    def child(self, part: str) -> _Ctx:
        if not self.path:
            return _Ctx(self.kind, part)
        sep = "" if part.startswith("[") else "."
        return _Ctx(self.kind, f"{self.path}{sep}{part}")

    def error(self, message: str) -> InvalidFilterError:
        where = f" at {self.path}" if self.path else ""
        return InvalidFilterError(f"{self.kind} filter{where}: {message}")


def _combine_and(children: list[Node]) -> Node:
    return children[0] if len(children) == 1 else And(tuple(children))


def _show(value: Any) -> str:
    return shown(value)


def parse_where(where: Mapping[str, Any] | None) -> Node | None:
    """Parse a Chroma ``where`` filter into an AST; ``None`` or ``{}`` gives ``None``.

    >>> parse_where({"year": {"$gte": 2020}, "genre": "jazz"})
    And(children=(MetaCompare(key='year', op='$gte', value=2020), \
MetaCompare(key='genre', op='$eq', value='jazz')))
    >>> parse_where({"$and": [{"year": {"$gt": "x"}}, {"a": 1}]})
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidFilterError: where filter at $and[0].year: $gt needs a number, got 'x'
    """
    if where is None:
        return None
    ctx = _Ctx("where")
    if not isinstance(where, Mapping):
        raise ctx.error(f"expected a dict, got {_show(where)}")
    if len(where) == 0:
        return None
    check_limits(where, "where")
    return _where_node(where, ctx)


def _where_node(where: Any, ctx: _Ctx) -> Node:
    if not isinstance(where, Mapping):
        raise ctx.error(f"expected a dict, got {_show(where)}")
    if len(where) == 0:
        raise ctx.error("expected a metadata key, $and or $or, got an empty dict")
    children: list[Node] = []
    for key, value in where.items():
        if not isinstance(key, str):
            raise ctx.error(f"keys must be strings, got {_show(key)}")
        if key in LOGICAL_OPERATORS:
            children.append(_logical(key, value, ctx.child(key), _where_node))
        elif key.startswith("$"):
            raise ctx.error(
                f"unknown operator {key!r}; expected a metadata key or one of "
                f"{', '.join(LOGICAL_OPERATORS)}"
            )
        else:
            _check_text(key, "a metadata key", ctx)
            children.append(_key_filter(key, value, ctx.child(key)))
    return _combine_and(children)


def _logical(op: str, value: Any, ctx: _Ctx, parse_child: Callable[[Any, _Ctx], Node]) -> Node:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise ctx.error(f"{op} needs a list of filters, got {_show(value)}")
    if len(value) == 0:
        raise ctx.error(f"{op} needs a non-empty list of filters, got []")
    children = tuple(parse_child(item, ctx.child(f"[{i}]")) for i, item in enumerate(value))
    if len(children) == 1:
        return children[0]
    return And(children) if op == "$and" else Or(children)


def _key_filter(key: str, value: Any, ctx: _Ctx) -> Node:
    if not isinstance(value, Mapping):
        return MetaCompare(key, "$eq", _scalar(value, "$eq", ctx))
    if len(value) == 0:
        raise ctx.error(
            f"expected a value or an operator dict, got an empty dict; operators are "
            f"{', '.join(METADATA_OPERATORS)}"
        )
    children: list[Node] = []
    for op, operand in value.items():
        if op not in METADATA_OPERATORS:
            raise ctx.error(
                f"unknown operator {_show(op)}; valid operators are {', '.join(METADATA_OPERATORS)}"
            )
        children.append(MetaCompare(key, op, _operand(op, operand, ctx)))
    return _combine_and(children)


def _operand(op: str, operand: Any, ctx: _Ctx) -> MetaValue:
    if op in ORDER_OPERATORS:
        if isinstance(operand, bool) or not isinstance(operand, (int, float)):
            raise ctx.error(f"{op} needs a number, got {_show(operand)}")
        return _scalar(operand, op, ctx)
    if op in LIST_OPERATORS:
        if not isinstance(operand, Sequence) or isinstance(operand, (str, bytes)):
            raise ctx.error(f"{op} needs a non-empty list of values, got {_show(operand)}")
        if len(operand) == 0:
            raise ctx.error(f"{op} needs a non-empty list of values, got []")
        plain = _plain_items(operand)
        if plain is not None:
            return plain
        items = tuple(_scalar(item, op, ctx) for item in operand)
        if len({_kind(item) for item in items}) > 1:
            raise ctx.error(
                f"{op} values must be all strings, all numbers or all bools, got {_show(operand)}"
            )
        return items
    return _scalar(operand, op, ctx)


def _plain_items(operand: Sequence[Any]) -> tuple[Scalar, ...] | None:
    """``operand`` as a tuple when it is a list of valid plain ints, of valid plain
    strings or of bools (each of exactly that type), checked a list at a time: long
    ``$in`` lists are common and item-by-item checks cost more than the query.
    None: anything else, which :func:`_scalar` checks item by item (and explains).

    >>> _plain_items([3, 1]), _plain_items(["a", "b"]), _plain_items([1, "a"])
    ((3, 1), ('a', 'b'), None)
    >>> _plain_items(["a\\x00"]), _plain_items([2**64]), _plain_items([1, True])
    (None, None, None)
    """
    kinds = set(map(type, operand))
    if len(kinds) != 1:
        return None
    kind = kinds.pop()
    if kind is int:
        if min(operand) >= _INT64_MIN and max(operand) <= _INT64_MAX:
            return tuple(operand)
        return None
    if kind is str:
        joined = "".join(operand)
        if "\x00" in joined:
            return None
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return tuple(operand)
    if kind is bool:
        return tuple(operand)
    return None


def _kind(value: Scalar) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "str"
    return "number"


def _scalar(value: Any, op: str, ctx: _Ctx) -> Scalar:
    if isinstance(value, str):
        _check_text(value, op, ctx)
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ctx.error(f"{op} needs an integer that fits in 64 bits, got {_show(value)}")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ctx.error(f"{op} needs a finite number, got {_show(value)}")
        return value
    raise ctx.error(f"{op} needs a str, int, float or bool, got {_show(value)}")


def _check_text(value: str, op: str, ctx: _Ctx) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ctx.error(f"{op} needs a valid unicode string, got {_show(value)}") from exc
    if "\x00" in value:
        # Stored text never holds NUL (validation refuses it), and SQLite's JSON
        # functions would cut the operand short there.
        raise ctx.error(f"{op} needs a string without NUL characters, got {_show(value)}")


def parse_where_document(where_document: Mapping[str, Any] | None) -> Node | None:
    """Parse a Chroma ``where_document`` filter into an AST; ``None`` or ``{}`` gives ``None``.

    >>> parse_where_document({"$or": [{"$contains": "jazz"}, {"$regex": "^Blue"}]})
    Or(children=(DocCompare(op='$contains', value='jazz'), DocCompare(op='$regex', value='^Blue')))
    >>> parse_where_document({"$and": [{"$contains": ""}, {"$regex": "x"}]})
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidFilterError: where document filter at $and[0]: $contains needs a \
non-empty string, got ''
    """
    if where_document is None:
        return None
    ctx = _Ctx("where document")
    if not isinstance(where_document, Mapping):
        raise ctx.error(f"expected a dict, got {_show(where_document)}")
    if len(where_document) == 0:
        return None
    check_limits(where_document, "where_document")
    return _document_node(where_document, ctx)


def _document_node(where_document: Any, ctx: _Ctx) -> Node:
    valid = ", ".join(DOCUMENT_OPERATORS + LOGICAL_OPERATORS)
    if not isinstance(where_document, Mapping):
        raise ctx.error(f"expected a dict, got {_show(where_document)}")
    if len(where_document) == 0:
        raise ctx.error(f"expected an operator, got an empty dict; operators are {valid}")
    children: list[Node] = []
    for op, operand in where_document.items():
        if op in LOGICAL_OPERATORS:
            children.append(_logical(op, operand, ctx.child(op), _document_node))
        elif op in DOCUMENT_OPERATORS:
            children.append(DocCompare(op, _document_operand(op, operand, ctx)))
        else:
            raise ctx.error(f"unknown operator {_show(op)}; valid operators are {valid}")
    return _combine_and(children)


def _document_operand(op: str, operand: Any, ctx: _Ctx) -> str:
    if not isinstance(operand, str) or operand == "":
        raise ctx.error(f"{op} needs a non-empty string, got {_show(operand)}")
    _check_text(operand, op, ctx)
    if op in ("$regex", "$not_regex"):
        try:
            compile_regex(operand)
        except RegexError as exc:
            raise ctx.error(
                f"{op} needs a valid regular expression, got {_show(operand)}: {exc}"
                " (the syntax is Chroma's, that of the Rust regex crate)"
            ) from exc
    return operand
