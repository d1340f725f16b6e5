"""Bounded reprs of caller-supplied values, for error messages.

A value passed to the public API may be nested thousands of levels deep or hold
millions of items; Python's own ``repr`` of it raises ``RecursionError`` or builds a
huge string. :func:`shown` never does either.

    >>> deep = []
    >>> for _ in range(10_000):
    ...     deep = [deep]
    >>> shown(deep)
    '[[[[[[[...]]]]]]]'
    >>> len(shown("x" * 1000))
    80
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ["shown"]

_REPR = reprlib.Repr()
_REPR.maxlevel = 6
_REPR.maxstring = 80
_REPR.maxother = 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = 8
_REPR.maxdict = 6
_MAX = 100


def shown(value: Any) -> str:
    """``repr(value)`` cut to about 100 characters and 6 levels of nesting."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a caller's own __repr__ may fail
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= _MAX else text[: _MAX - 3] + "..."
