"""``$regex`` / ``$not_regex``: Chroma's regex syntax, matched in linear time.

Chroma 1.5 evaluates document regexes with the Rust ``regex`` crate. Its syntax is
RE2's (both descend from RE2): inline flags that switch on and off mid-pattern
(``(?i)c(?-i)at``), scoped flag groups (``(?i:...)``), POSIX and Unicode classes
(``[[:alpha:]]``, ``\\p{L}``), ``\\x{e9}``; no backreferences, no look-around. Like
the crate, RE2 matches in time linear in the text, so a pattern such as ``(a+)+$``
cannot stall a query the way a backtracking engine does.

Patterns are compiled with `google-re2 <https://pypi.org/project/google-re2/>`_
after one small translation: the crate's ``\\w``, ``\\d`` and ``\\s`` are Unicode-aware
(``\\w`` matches ``é``), RE2's are ASCII, so those escapes (and ``\\W \\D \\S`` outside
a bracket class, ``\\D`` inside one) are spelled out as Unicode classes first.

What remains different from the crate (docs/compatibility.md lists them): the
``x`` (verbose) and ``u`` flags and class set operations (``[a-z&&[^c]]``) are not
understood; ``\\b``/``\\B`` and ``\\W``/``\\S`` inside a bracket class are ASCII; and
RE2 accepts ``\\Q...\\E`` quoting, which the crate rejects.

>>> compile_regex("(?i)c(?-i)at").search("CaT") is None
True
>>> compile_regex("(?i)c(?-i)at").search("Cat") is not None
True
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Protocol

import re2

__all__ = ["CompiledRegex", "RegexError", "compile_regex", "to_re2_syntax"]


class RegexError(ValueError):
    """A pattern that Chroma's regex syntax (as RE2 reads it) does not accept."""


class CompiledRegex(Protocol):
    """What the filters need of a compiled pattern."""

    def search(self, text: str) -> Any:
        """A match object, or None."""


# The Rust regex crate's Unicode-aware Perl classes, as RE2 class items.
_WORD = r"\p{L}\p{M}\p{Nd}\p{Pc}\p{Nl}\x{200C}\x{200D}"
_DIGIT = r"\p{Nd}"
_SPACE = (
    r"\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
)
_OUTSIDE = {
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "d": _DIGIT,
    "D": r"\P{Nd}",
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
}
_INSIDE = {"w": _WORD, "d": _DIGIT, "D": r"\P{Nd}", "s": _SPACE}

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every rejected pattern to stderr


def to_re2_syntax(pattern: str) -> str:
    """Rewrite the Rust crate's Unicode ``\\w \\d \\s`` (and negations) for RE2.

    >>> to_re2_syntax(r"^\\d+$")
    '^\\\\p{Nd}+$'
    >>> to_re2_syntax(r"a\\\\w")  # an escaped backslash stays as it is
    'a\\\\\\\\w'
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    class_start = -1  # index where the current class's items begin
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            table = _INSIDE if in_class else _OUTSIDE
            out.append(table.get(nxt, ch + nxt))
            i += 2
            continue
        if in_class:
            if ch == "[" and pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                if end != -1:
                    out.append(pattern[i : end + 2])
                    i = end + 2
                    continue
            if ch == "]" and i > class_start:
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            # A ']' right after '[' or '[^' is a literal, not the end of the class.
            class_start = j + 1 if j < n and pattern[j] == "]" else j
            out.append(pattern[i:j])
            i = j
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@lru_cache(maxsize=256)
def compile_regex(pattern: str) -> CompiledRegex:
    """Compile ``pattern`` once (cached); raises :class:`RegexError` if it is invalid.

    >>> compile_regex(r"^\\w+$").search("café") is not None
    True
    >>> compile_regex("(a)\\\\1")
    Traceback (most recent call last):
    ...
    vectorhouse.filters.regex.RegexError: invalid escape sequence: \\1
    """
    try:
        compiled: CompiledRegex = re2.compile(to_re2_syntax(pattern), _OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise RegexError(str(detail)) from None
    return compiled
