"""Every exception leaving a public call is a VectorhouseError, and a call that fails
changes nothing.

The test enumerates the public methods of ``Client`` and ``Collection`` (a method
added without a strategy here fails the test), then calls them with arguments that
mix valid values with hostile ones: NUL characters, lone surrogates, integers past 64
bits, NaN and infinities, filters too deep or too wide, empty batches, unhashable
things and wrong types. After each failing call the collections' contents are
compared with a snapshot taken before it.

The default run makes a few hundred calls; the ``slow`` test (run by ``make test``)
makes at least 10,000.
"""

from __future__ import annotations

import inspect
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vectorhouse
from vectorhouse import Client, Collection, VectorhouseError
from vectorhouse.reprs import shown


def _nest(kind: str, depth: int) -> Any:
    value: Any = {"k": 1}
    for i in range(depth):
        if kind == "logical":
            value = {"$and" if i % 2 else "$or": [value, {"k": i}]}
        elif kind == "list":
            value = [value]
        else:
            value = {"k": value}
    return value


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


def _bad_function(texts: list[str]) -> Any:
    return "not vectors"


def _raising_function(texts: list[str]) -> Any:
    raise RuntimeError("the provider is down")


def _nan_function(texts: list[str]) -> Any:
    return [[math.nan, 1.0] for _ in texts]


def _good_function(texts: list[str]) -> Any:
    return [[float(len(t)), 1.0] for t in texts]


HOSTILE: list[Any] = [
    None,
    "",
    "\x00",
    "a\x00junk",
    "r0\x00junk",
    "\ud800",
    "ok\udfffx",
    2**64,
    2**63,
    -(2**63) - 1,
    -1,
    0,
    True,
    1.5,
    math.nan,
    math.inf,
    -math.inf,
    np.float64("nan"),
    np.uint64(2**64 - 1),
    np.int64(3),
    b"bytes",
    bytearray(b"x"),
    _Opaque(),
    [],
    {},
    set(),
    frozenset({"a"}),
    [[]],
    [{}],
    [["a"]],
    [None],
    [set()],
    {"a": []},
    {"$in": []},
    {"k": {"$in": [[1]]}},
    {"k": {"$in": list(range(10_001))}},
    {"k": {"$nin": [f"v{i}" for i in range(10_000)]}},
    {"$or": [{"k": i} for i in range(10_000)]},
    {"$or": [{"k": i} for i in range(10_001)]},
    {"$and": [{"k": {"$ne": i}} for i in range(300)]},
    {"k\x00": 1},
    {"\ud800": 1},
    {"k": "\ud800"},
    {"k": "a\x00b"},
    {"k": 2**64},
    {"k": math.nan},
    {"$contains": "\x00"},
    {"$regex": "("},
    {"$contains": ""},
    {1: "x"},
    {None: 1},
    {"k": {1: 2}},
    {"k": {"$gt": "x"}},
    {"k": {"$eq": [1]}},
    {"$and": "x"},
    {"$bogus": 1},
    {(((1,),),): 1},
    [{"k": np.int64(2)}],
    [{"k": np.float32("inf")}],
    [{"k": [1, "a"]}],
    [{"k": [2**64]}],
    ["a"] * 3,
    [f"id{i}" for i in range(2_000)],
    "x" * 100_000,
    _nest("logical", 64),
    _nest("logical", 65),
    _nest("logical", 300),
    _nest("list", 3000),
    _nest("dict", 3000),
    [[math.nan, 1.0]],
    [[2.0**200, 1.0]],
    [[1.0, 2.0, 3.0]],
    [[1.0]],
    np.zeros((0, 2)),
    np.zeros((2, 0)),
    np.array([["a", "b"]]),
    np.array([[1 + 2j, 1]]),
    [1.0, "x"],
    ["text"],
    _bad_function,
    _raising_function,
    _nan_function,
    lambda: None,
]

VALID: dict[str, list[Any]] = {
    "ids": [["r0"], ["r1", "r2"], "r3", ["new"], ["r0", "new"]],
    "embeddings": [[[1.0, 2.0]], [[0.5, 0.5], [1.0, 0.0]], np.ones((1, 2), np.float32)],
    "query_embeddings": [[[1.0, 2.0]], [1.0, 0.0], np.ones((2, 2))],
    "metadatas": [[{"k": 1}], [{"k": "v", "t": [1, 2]}], {"k": True}, [None]],
    "documents": [["hello"], ["hello", "world"], "one text"],
    "query_texts": [["hello"], "hi"],
    "where": [{"k": 1}, {"k": {"$in": [1, 2]}}, {"$or": [{"k": 1}, {"k": {"$ne": 2}}]}],
    "where_document": [{"$contains": "hel"}, {"$not_contains": "x"}],
    "include": [["documents"], ["embeddings", "metadatas", "distances"], []],
    "limit": [1, 10, 0],
    "offset": [0, 1, 5],
    "n_results": [1, 3, 100],
    "name": ["docs", "other", "fuzzed"],
    "metadata": [{"x": 1}, {"hnsw:space": "cosine"}, {"hnsw:M": 5000}],
    "configuration": [{"hnsw": {"ef_search": 50}}, {"hnsw": {"ef_search": 2**64}}],
    "embedding_function": [None, _good_function],
    "batch_size": [1, 256],
    "delete_without_documents": [True, False],
    "id": ["00000000-0000-0000-0000-000000000000", "not-a-uuid"],
    "get_or_create": [True, False],
    "repair": [True, False],
    "mode": ["dense", "lexical", "hybrid"],
    "fusion": ["rrf", "weighted"],
    "searches": [
        vectorhouse.Search().rank(vectorhouse.Knn(query="hello", key="document")).limit(3),
        [vectorhouse.Search().where(vectorhouse.K("k") == 1)],
    ],
}

CLIENT_METHODS = {
    "check",
    "count_collections",
    "create_collection",
    "delete_collection",
    "get_collection",
    "get_collection_by_id",
    "get_max_batch_size",
    "get_or_create_collection",
    "get_settings",
    "get_version",
    "heartbeat",
    "list_collections",
    "reset",
}
COLLECTION_METHODS = {
    "add",
    "count",
    "delete",
    "get",
    "modify",
    "peek",
    "query",
    "reembed",
    "search",
    "update",
    "upsert",
}
NOT_FUZZED = {"close"}  # ends the client; tested in the client tests


def _public(cls: type) -> set[str]:
    return {
        n
        for n, member in inspect.getmembers(cls)
        if not n.startswith("_") and callable(member) and not isinstance(member, type)
    }


def test_the_fuzzer_covers_the_whole_public_surface() -> None:
    assert _public(Client) - NOT_FUZZED == CLIENT_METHODS
    assert _public(Collection) == COLLECTION_METHODS


def _argument(name: str) -> st.SearchStrategy[Any]:
    hostile = st.sampled_from(HOSTILE)
    if name in VALID:
        return st.one_of(st.sampled_from(VALID[name]), hostile)
    return hostile


def _snapshot(client: Client) -> list[Any]:
    out = []
    for col in client.list_collections():
        got = col.get(include=["embeddings", "documents", "metadatas"])
        emb = got["embeddings"]
        out.append(
            (
                col.name,
                col.metadata,
                col.count(),
                got["ids"],
                got["documents"],
                got["metadatas"],
                None if emb is None else np.asarray(emb).tolist(),
            )
        )
    return out


def _fresh(client: Client) -> Collection:
    col = client.create_collection("docs", embedding_function=_good_function)
    col.add(
        ids=[f"r{i}" for i in range(6)],
        embeddings=[[float(i), 1.0] for i in range(6)],
        documents=["hello", "world", "hello world", None, "x", "a"],
        metadatas=[{"k": i, "v": str(i), "t": [i, i + 1]} for i in range(6)],
    )
    return col


class _Fuzz:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.col = _fresh(client)
        self.calls = 0
        self.wrong: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self.changed: list[str] = []

    def call(self, data: st.DataObject) -> None:
        on_collection = data.draw(st.booleans())
        target: Any = self.col if on_collection else self.client
        names = sorted(COLLECTION_METHODS if on_collection else CLIENT_METHODS)
        method = data.draw(st.sampled_from(names))
        fn: Callable[..., Any] = getattr(target, method)
        params = [p for p in inspect.signature(fn).parameters.values() if p.kind != p.VAR_KEYWORD]
        kwargs = {
            p.name: data.draw(_argument(p.name))
            for p in params
            if p.default is inspect.Parameter.empty or data.draw(st.booleans())
        }
        try:
            before = _snapshot(self.client)
        except Exception as exc:
            self._wrong("snapshot before", kwargs, exc)
            return
        self.calls += 1
        try:
            fn(**kwargs)
        except VectorhouseError:
            try:
                after = _snapshot(self.client)
            except Exception as exc:
                self._wrong(f"snapshot after {method}", kwargs, exc)
                return
            if not _same(before, after):
                self.changed.append(f"{method}({_show(kwargs)})")
        except Exception as exc:
            self._wrong(method, kwargs, exc)
        if method in ("delete_collection", "reset", "modify", "create_collection"):
            try:
                self.col = self.client.get_collection("docs", embedding_function=_good_function)
            except vectorhouse.NotFoundError:
                self.col = _fresh(self.client)
            except Exception as exc:
                self._wrong(f"reopen after {method}", kwargs, exc)

    def _wrong(self, method: str, kwargs: dict[str, Any], exc: Exception) -> None:
        kind = f"{method}: {type(exc).__name__}"
        self.wrong[kind] += 1
        self.examples.setdefault(kind, f"{method}({_show(kwargs)}) -> {exc!r}"[:400])

    def check(self) -> None:
        report = "\n".join(self.examples.values())
        assert not self.wrong, f"{sum(self.wrong.values())} wrong exceptions:\n{report}"
        assert not self.changed, "state changed by failing calls:\n" + "\n".join(self.changed)


def _same(a: Any, b: Any) -> bool:
    return repr(a) == repr(b)


def _show(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={shown(v)}" for k, v in kwargs.items())


def _run(tmp_path: Path, examples: int, calls_per_example: int) -> _Fuzz:
    total = _Fuzz.__new__(_Fuzz)
    total.calls, total.wrong, total.examples, total.changed = 0, Counter(), {}, []
    runs = iter(range(10**9))

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        # Each example starts from a fresh client, so that it can be replayed.
        persistent = data.draw(st.booleans())
        client = (
            vectorhouse.PersistentClient(path=tmp_path / f"db{next(runs)}")
            if persistent
            else vectorhouse.Client()
        )
        try:
            fuzzer = _Fuzz(client)
            for _ in range(calls_per_example):
                fuzzer.call(data)
        finally:
            client.close()
        total.calls += fuzzer.calls
        total.wrong += fuzzer.wrong
        for kind, example in fuzzer.examples.items():
            total.examples.setdefault(kind, example)
        total.changed += fuzzer.changed

    fuzz()
    return total


def test_hostile_calls_raise_only_vectorhouse_errors_and_change_nothing(tmp_path: Path) -> None:
    result = _run(tmp_path, examples=40, calls_per_example=10)
    assert result.calls >= 400
    result.check()


@pytest.mark.slow
def test_ten_thousand_hostile_calls_raise_only_vectorhouse_errors(tmp_path: Path) -> None:
    result = _run(tmp_path, examples=500, calls_per_example=20)
    assert result.calls >= 10_000
    result.check()
