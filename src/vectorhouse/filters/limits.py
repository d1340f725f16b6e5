"""Size and depth limits of filters, checked before parsing.

A filter may nest ``$and`` / ``$or`` at most :data:`MAX_DEPTH` levels deep and hold at
most :data:`MAX_VALUES` values in all (each comparison value and each element of an
``$in`` / ``$nin`` list counts one). The check walks the filter with an explicit stack,
so neither it nor the parser after it can overflow Python's stack, and it stops at the
first value past the limit, so a huge filter costs no more than a legal one. Anything
over a limit is an :class:`~vectorhouse.errors.InvalidFilterError` naming the path.

    >>> check_limits({"$and": [{"a": 1}, {"b": {"$in": [1, 2, 3]}}]}, "where")
    >>> deep = {"a": 1}
    >>> for _ in range(MAX_DEPTH + 1):
    ...     deep = {"$or": [deep]}
    >>> check_limits(deep, "where")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidFilterError: where filter at $or[0]...: $and/$or nest 65 levels \
deep; at most 64 are allowed
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vectorhouse.errors import InvalidFilterError

__all__ = ["MAX_DEPTH", "MAX_VALUES", "check_limits"]

MAX_DEPTH = 64
"""The deepest nesting of ``$and`` / ``$or`` a filter may have."""

MAX_VALUES = 10_000
"""The most values one filter may hold (an ``$in`` list's elements count one each)."""

_MAX_CONTAINERS = 2 * MAX_DEPTH + 8
"""Dicts and lists nested deeper than this cannot be a filter within the limits."""

_MAX_NODES = 4 * MAX_VALUES
"""The most dicts and lists one filter may hold."""

_LOGICAL = ("$and", "$or")

_SCALARS = frozenset({str, int, float, bool, type(None)})
"""Exact types of values a list holds that make it a plain list of values."""


def _path(parts: tuple[str, ...]) -> str:
    out = ""
    for part in parts:
        out += part if (part.startswith("[") or not out) else "." + part
    return out if len(out) <= 100 else f"{out[:40]} ... {out[-50:]}"


def _error(kind: str, parts: tuple[str, ...], message: str) -> InvalidFilterError:
    where = f" at {_path(parts)}" if parts else ""
    return InvalidFilterError(f"{kind} filter{where}: {message}")


def check_limits(value: Any, kind: str) -> None:
    """Raise :class:`InvalidFilterError` if the filter ``value`` is too deep or too large.

    ``kind`` names the filter in the message (``"where"``, ``"where_document"``).
    Shapes the parser rejects anyway (wrong types, unknown operators) pass through.

    >>> check_limits({"k": {"$in": list(range(MAX_VALUES + 1))}}, "where")
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidFilterError: where filter at k.$in[10000]: the filter holds more \
than 10000 values; split it into several calls
    """
    values = 0
    nodes = 0
    # (object, path parts, $and/$or levels above it, containers above it)
    stack: list[tuple[Any, tuple[str, ...], int, int]] = [(value, (), 0, 0)]
    while stack:
        node, parts, logical, containers = stack.pop()
        if containers > _MAX_CONTAINERS:
            raise _error(kind, parts, f"nested more than {_MAX_CONTAINERS} levels deep")
        nodes += 1
        if nodes > _MAX_NODES:
            raise _error(
                kind,
                parts,
                f"the filter has more than {_MAX_NODES} parts; split it into several calls",
            )
        if isinstance(node, Mapping):
            for key, child in node.items():
                name = key if isinstance(key, str) else repr(key)
                level = logical + 1 if key in _LOGICAL else logical
                if level > MAX_DEPTH:
                    raise _error(
                        kind,
                        (*parts, name),
                        f"$and/$or nest {level} levels deep; at most {MAX_DEPTH} are allowed",
                    )
                stack.append((child, (*parts, name), level, containers + 1))
        elif isinstance(node, Sequence) and not isinstance(node, (str, bytes)):
            if (
                type(node) in (list, tuple)
                and values + len(node) <= MAX_VALUES
                and set(map(type, node)) <= _SCALARS
            ):
                values += len(node)  # a plain list of values: counted at once
                continue
            for i, child in enumerate(node):
                if not isinstance(child, (Mapping, Sequence)) or isinstance(child, (str, bytes)):
                    values += 1
                    if values > MAX_VALUES:
                        raise _error(
                            kind,
                            (*parts, f"[{i}]"),
                            f"the filter holds more than {MAX_VALUES} values;"
                            " split it into several calls",
                        )
                else:
                    stack.append((child, (*parts, f"[{i}]"), logical, containers + 1))
        else:
            values += 1
            if values > MAX_VALUES:
                raise _error(
                    kind,
                    parts,
                    f"the filter holds more than {MAX_VALUES} values; split it into several calls",
                )
