"""``$regex`` / ``$not_regex`` (issue 11.6, issue 18): Chroma's regex syntax, the Rust
``regex`` crate's, with matching in linear time. Each pattern runs on chromadb 1.5.9
and on vectorhouse over the same documents."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

import vectorhouse
from vectorhouse.filters.evaluate import evaluate
from vectorhouse.filters.parse import parse_where_document

from .conftest import chroma_error

DOCS = [
    "Cat",
    "CaT",
    "cat",
    "ABc",
    "ABC",
    "é",
    "a b",
    "naïve café",
    "x\ny",
    "foo]",
    "a",
    "ab12",
    "a" * 27 + "!",
    "٣ digits",
]

# Patterns whose matches chromadb 1.5.9 and vectorhouse agree on, record for record.
SAME_AS_CHROMA = [
    "(?i)c(?-i)at",  # flags switched on and off mid-pattern (Python's re rejects this)
    "(?i:ab)c",  # a scoped flag group
    "[[:alpha:]]+$",  # POSIX class
    r"^\w+$",  # \w is Unicode-aware: it matches é and ï
    r"^[\w]+$",  # also inside a bracket class
    r"^\d",  # \d is Unicode-aware: Arabic-Indic digits are digits
    r"\p{L}",
    r"\x{e9}",
    r"\bcaf",
    "x.y",  # . does not match a newline ...
    "(?s)x.y",  # ... unless (?s)
    "^y",  # ^ and $ are the text's ends ...
    "(?m)^y",  # ... unless (?m)
    "(a+)+$",
    "(?U)a+",
    r"\s",
    r"^\S+$",
    "cat$",  # $ does not match before a final newline (Python's re does)
]

# Patterns both reject as invalid.
INVALID = ["(", r"(a)\1", "a(?=b)", "a(?<!b)", "[z-a]", "a{2,1}"]


@pytest.fixture
def pair(chroma_collection: Callable[..., Any]) -> tuple[Any, Any]:
    ids = [str(i) for i in range(len(DOCS))]
    chroma = chroma_collection()
    chroma.add(ids=ids, embeddings=[[1.0, 0.0]] * len(DOCS), documents=DOCS)
    ours = vectorhouse.Client().create_collection("regex", embedding_function=None)
    ours.add(ids=ids, embeddings=[[1.0, 0.0]] * len(DOCS), documents=DOCS)
    return chroma, ours


def _matches(collection: Any, where_document: dict[str, Any]) -> list[int]:
    return sorted(int(i) for i in collection.get(where_document=where_document)["ids"])


@pytest.mark.parametrize("pattern", SAME_AS_CHROMA)
def test_regex_matches_the_same_records_as_chroma(pattern: str, pair: tuple[Any, Any]) -> None:
    chroma, ours = pair
    for op in ("$regex", "$not_regex"):
        expected = _matches(chroma, {op: pattern})
        assert _matches(ours, {op: pattern}) == expected, (op, pattern)
        # The Python evaluator (the test oracle) agrees with the SQL path.
        node = parse_where_document({op: pattern})
        assert node is not None
        oracle = [i for i, doc in enumerate(DOCS) if evaluate(node, {}, doc)]
        assert oracle == expected, (op, pattern)


@pytest.mark.parametrize("pattern", INVALID)
def test_invalid_regex_is_rejected_as_chroma_rejects_it(
    pattern: str, pair: tuple[Any, Any]
) -> None:
    chroma, ours = pair
    exc = chroma_error(lambda: chroma.get(where_document={"$regex": pattern}))
    assert "regex parse error" in str(exc)
    with pytest.raises(vectorhouse.InvalidFilterError, match=r"\$regex needs a valid regular"):
        ours.get(where_document={"$regex": pattern})


def test_catastrophic_pattern_matches_in_linear_time() -> None:
    col = vectorhouse.Client().create_collection("redos", embedding_function=None)
    col.add(ids=["long"], embeddings=[[1.0]], documents=["a" * 100_000 + "!"])
    start = time.perf_counter()
    assert col.get(where_document={"$regex": "(a+)+$"})["ids"] == []
    assert col.get(where_document={"$not_regex": "(a+)+$"})["ids"] == ["long"]
    assert time.perf_counter() - start < 1.0


def test_regex_is_compiled_once_per_pattern() -> None:
    from vectorhouse.filters.regex import compile_regex

    assert compile_regex("(?i)once") is compile_regex("(?i)once")
