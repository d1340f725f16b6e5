"""Path patterns with Git's rules: ``.gitignore`` files and ``--include``/``--exclude`` globs.

A pattern without a slash matches a name at any depth (``*.log``); one with a slash is
anchored to its base folder (``docs/*.md``, ``/build``); ``**`` crosses folders; a
trailing ``/`` matches folders only; ``!`` re-includes. The last matching rule wins.

    >>> rules = Rules.parse(["*.log", "!keep.log", "build/"])
    >>> [rules.ignored(p, is_dir=d) for p, d in [("a/x.log", False), ("keep.log", False),
    ...                                          ("build", True), ("src/build.py", False)]]
    [True, False, True, None]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


def _translate(body: str) -> str:
    """The regular expression of a glob body (no leading ``!``/``/``, no trailing ``/``)."""
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == "*":
            if body.startswith("**", i):
                before = i == 0 or body[i - 1] == "/"
                after = i + 2 == n or body[i + 2] == "/"
                if before and after:
                    if i + 2 == n:  # trailing "**": everything below
                        out.append(".*")
                        i += 2
                    else:  # "**/": zero or more folders
                        out.append("(?:.*/)?")
                        i += 3
                    continue
                out.append("[^/]*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = body.find("]", i + 2 if body[i + 1 : i + 2] in ("!", "^") else i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                inner = body[i + 1 : j]
                if inner[:1] in ("!", "^"):
                    inner = "^" + inner[1:]
                out.append("[" + inner.replace("\\", "\\\\") + "]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(body[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Rule:
    """One pattern, compiled.

    >>> Rule.parse("docs/**/*.md").regex.match("docs/a/b/c.md") is not None
    True
    """

    regex: re.Pattern[str]
    negated: bool
    dir_only: bool

    @classmethod
    def parse(cls, line: str) -> Rule | None:
        """A rule from one line of a ``.gitignore`` (None for blanks and comments)."""
        text = line.rstrip("\n")
        while text.endswith(" ") and not text.endswith("\\ "):
            text = text[:-1]
        if not text or text.startswith("#"):
            return None
        negated = text.startswith("!")
        if negated or text.startswith(("\\!", "\\#")):
            text = text[1:]
        dir_only = text.endswith("/")
        text = text.rstrip("/")
        if not text:
            return None
        anchored = "/" in text
        text = text.lstrip("/")
        prefix = "" if anchored else "(?:.*/)?"
        return cls(re.compile(f"^{prefix}{_translate(text)}$"), negated, dir_only)

    def matches(self, path: str, *, is_dir: bool) -> bool:
        """Whether the rule matches a path relative to its base folder."""
        return (is_dir or not self.dir_only) and self.regex.match(path) is not None


@dataclass(frozen=True)
class Rules:
    """An ordered list of rules relative to one folder.

    >>> Rules.parse(["/top.txt"]).ignored("sub/top.txt", is_dir=False) is None
    True
    """

    rules: tuple[Rule, ...]

    @classmethod
    def parse(cls, lines: Iterable[str]) -> Rules:
        """Rules from lines of ``.gitignore`` syntax."""
        return cls(tuple(r for r in map(Rule.parse, lines) if r is not None))

    def ignored(self, path: str, *, is_dir: bool) -> bool | None:
        """True (ignored), False (re-included by ``!``) or None (no rule matches)."""
        verdict = None
        for rule in self.rules:
            if rule.matches(path, is_dir=is_dir):
                verdict = not rule.negated
        return verdict

    def __bool__(self) -> bool:
        return bool(self.rules)


def matches_any(rules: Rules, path: str, *, is_dir: bool) -> bool:
    """Whether ``path`` is selected by ``rules`` used as a list of globs (``!`` ignored).

    >>> matches_any(Rules.parse(["*.md", "notes/**"]), "notes/a/b.txt", is_dir=False)
    True
    """
    return any(r.matches(path, is_dir=is_dir) for r in rules.rules if not r.negated)
