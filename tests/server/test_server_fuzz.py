"""Hostile request bodies get a 4xx with the error's class and message, never a 500.

Hypothesis sends every route of a real ``vectorhouse serve`` JSON bodies mixing valid
fields with hostile ones (NUL and lone-surrogate escapes, integers past 64 bits,
NaN, filters too deep or too wide, empty batches, wrong types) and raw bodies nested
100,000 levels deep.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vectorhouse
from vectorhouse.server import RunningServer, running_server


def _deep(kind: str, depth: int) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


RAW_BODIES = [
    _deep("list", 100_000),
    _deep("dict", 100_000),
    '{"ids": ' + _deep("list", 100_000) + "}",
    '{"where": ' + _deep("dict", 5_000) + "}",
    '{"ids": ["a"], "embeddings": [[NaN, 1]]}',
    '{"ids": ["\\ud800"], "embeddings": [[1, 2]]}',
    '{"ids": ["a\\u0000junk"]}',
    '{"ids": ["a"], "embeddings": [[1, 2]], "metadatas": [{"k": 18446744073709551616}]}',
    '{"limit": 18446744073709551616}',
    '{"n_results": -9223372036854775809, "query_embeddings": [[1, 2]]}',
    "[1, 2, 3]",
    '"just a string"',
    "not json at all",
    '{"ids": ',
    "\xff\xfe",
]


def _nest(depth: int) -> Any:
    value: Any = {"k": 1}
    for i in range(depth):
        value = {"$and" if i % 2 else "$or": [value, {"k": i}]}
    return value


HOSTILE: list[Any] = [
    None,
    "",
    "\x00",
    "a\x00junk",
    "\ud800",
    2**64,
    -(2**63) - 1,
    -1,
    0,
    True,
    math.nan,
    math.inf,
    [],
    {},
    [[]],
    [{}],
    [["a"]],
    [None],
    {"k": {"$in": list(range(10_001))}},
    {"$or": [{"k": i} for i in range(10_001)]},
    {"k\x00": 1},
    {"k": "\ud800"},
    {"k": 2**64},
    {"$contains": "\x00"},
    {"$regex": "("},
    _nest(65),
    _nest(300),
    [[math.nan, 1.0]],
    [[1.0, 2.0, 3.0]],
    ["text"],
    [1.0, "x"],
    {"hnsw": {"ef_search": 2**64}},
    {"hnsw": "x"},
]

VALID: dict[str, list[Any]] = {
    "ids": [["r0"], ["r1", "r2"], ["new"]],
    "embeddings": [[[1.0, 2.0]], [[0.5, 0.5], [1.0, 0.0]]],
    "query_embeddings": [[[1.0, 2.0]]],
    "metadatas": [[{"k": 1}], [{"k": "v"}]],
    "documents": [["hello"], ["hello", "world"]],
    "where": [{"k": 1}, {"k": {"$in": [1, 2]}}],
    "where_document": [{"$contains": "hel"}],
    "include": [["documents"], ["distances", "metadatas"]],
    "limit": [1, 10],
    "offset": [0, 2],
    "n_results": [1, 5],
    "name": ["docs", "fuzzed"],
    "metadata": [{"x": 1}],
    "configuration": [{"hnsw": {"ef_search": 50}}],
    "new_name": ["renamed"],
    "new_metadata": [{"y": 2}],
    "input": [["hello"], "hello"],
    "model": ["default"],
    "get_or_create": [True],
}

ROUTES: list[tuple[str, str, list[str]]] = [
    ("POST", "/collections", ["name", "metadata", "configuration", "get_or_create"]),
    ("GET", "/collections?limit={limit}&offset={offset}", []),
    ("PUT", "/collections/{id}", ["new_name", "new_metadata", "configuration"]),
    ("POST", "/collections/{id}/add", ["ids", "embeddings", "metadatas", "documents"]),
    ("POST", "/collections/{id}/upsert", ["ids", "embeddings", "metadatas", "documents"]),
    ("POST", "/collections/{id}/update", ["ids", "embeddings", "metadatas", "documents"]),
    ("POST", "/collections/{id}/delete", ["ids", "where", "where_document"]),
    (
        "POST",
        "/collections/{id}/get",
        ["ids", "where", "where_document", "limit", "offset", "include"],
    ),
    (
        "POST",
        "/collections/{id}/query",
        ["query_embeddings", "n_results", "where", "where_document", "include", "ids"],
    ),
    ("POST", "/v1/embeddings", ["input", "model"]),
]

DB = "/api/v2/tenants/default_tenant/databases/default_database"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    path = tmp_path_factory.mktemp("fuzzed-db")
    with running_server(path) as server:
        with vectorhouse.HttpClient(host=server.host, port=server.port) as client:
            col = client.create_collection("docs", embedding_function=None)
            col.add(
                ids=[f"r{i}" for i in range(5)],
                embeddings=[[float(i), 1.0] for i in range(5)],
                documents=["hello", "world", "hello world", "x", "y"],
                metadatas=[{"k": i} for i in range(5)],
            )
            cid = str(col.id)
        yield server, cid


def _url(server: RunningServer, route: str, cid: str, query: dict[str, Any]) -> str:
    path = route.replace("{id}", cid).format(**{k: json.dumps(v) for k, v in query.items()})
    prefix = "" if path.startswith("/v1") else DB
    return server.url + prefix + path


def _encode(body: dict[str, Any]) -> bytes:
    # the standard library writes lone surrogates and NUL as \\u escapes, NaN as NaN
    return json.dumps(body).encode()


def _send(client: httpx.Client, method: str, url: str, body: bytes | None) -> httpx.Response:
    return client.request(
        method, url, content=body, headers={"Content-Type": "application/json"}, timeout=60
    )


def _check(response: httpx.Response, what: str) -> None:
    assert response.status_code != 500, f"{what} -> 500 {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        assert body.get("message") or body.get("error"), f"{what} -> {response.text[:300]}"


@pytest.mark.parametrize("raw", RAW_BODIES, ids=range(len(RAW_BODIES)))
def test_raw_hostile_bodies_are_client_errors_on_every_route(
    served: tuple[RunningServer, str], raw: str
) -> None:
    server, cid = served
    body = raw.encode("utf-8", "surrogateescape")
    with httpx.Client() as client:
        for method, route, _ in ROUTES:
            if method == "GET":
                continue
            response = _send(client, method, _url(server, route, cid, {}), body)
            _check(response, f"{method} {route} with {raw[:60]!r}")


def test_a_body_nested_100k_deep_is_a_400_naming_the_depth(
    served: tuple[RunningServer, str],
) -> None:
    server, cid = served
    url = _url(server, "/collections/{id}/get", cid, {})
    response = httpx.post(url, content=_deep("list", 100_000).encode(), timeout=60)
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidArgumentError"
    assert "nested" in response.json()["message"]


def _argument(name: str) -> st.SearchStrategy[Any]:
    hostile = st.sampled_from(HOSTILE)
    if name in VALID:
        return st.one_of(st.sampled_from(VALID[name]), hostile)
    return hostile


def _query_value(name: str) -> st.SearchStrategy[Any]:
    # scalars only: a URL holding a 10,000-value filter is refused by the HTTP layer
    scalars = [v for v in HOSTILE if not isinstance(v, (list, dict))]
    return st.one_of(st.sampled_from(VALID[name]), st.sampled_from(scalars))


def test_fuzzed_requests_over_every_route_never_get_a_500(
    served: tuple[RunningServer, str],
) -> None:
    server, cid = served
    seen: dict[int, int] = {}

    with httpx.Client() as client:

        @settings(
            max_examples=600,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(st.data())
        def fuzz(data: st.DataObject) -> None:
            method, route, fields = data.draw(st.sampled_from(ROUTES))
            body = {f: data.draw(_argument(f)) for f in fields if data.draw(st.booleans())}
            query = {name: data.draw(_query_value(name)) for name in ("limit", "offset")}
            response = _send(
                client,
                method,
                _url(server, route, cid, query),
                None if method == "GET" else _encode(body),
            )
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            _check(response, f"{method} {route} {str(body)[:200]}")

        fuzz()
    assert 500 not in seen
    assert sum(seen.values()) >= 600
