"""The Chroma wire route ``.../collections/{id}/search`` runs the Search API on the
server: the payload is ``Search.to_dict()`` as chromadb's HTTP client sends it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from vectorhouse import K, Knn, Rrf, Search
from vectorhouse.server import RunningServer

from .conftest import db_path


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=db_path(server), headers=server.headers, timeout=30) as c:
        yield c


def test_the_search_route_runs_dense_bm25_and_fused_searches(http: httpx.Client, name: str) -> None:
    created = http.post(
        "/collections", json={"name": name, "configuration": {"embedding_function": None}}
    )
    cid = created.json()["id"]
    added = http.post(
        f"/collections/{cid}/add",
        json={
            "ids": ["a", "b", "c"],
            "embeddings": [[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]],
            "documents": ["error E1042 in parser", "all good", "parser warnings"],
            "metadatas": [{"n": 1}, {"n": 2}, {"n": 3}],
        },
    )
    assert added.status_code == 200, added.text
    rank = Rrf(
        [
            Knn(query=[0.0, 1.0], return_rank=True, default=10),
            Knn(query="E1042 parser", key="sparse_embedding", return_rank=True, default=10),
        ]
    )
    searches = [
        Search().where(K("n") >= 1).rank(rank).limit(2).select(K.DOCUMENT, K.SCORE),
        Search().rank(Knn(query="E1042", key="sparse_embedding")).select("n"),
    ]
    response = http.post(
        f"/collections/{cid}/search",
        json={"searches": [s.to_dict() for s in searches], "read_level": "index_and_wal"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # a: dense rank 2, BM25 rank 0; b: dense rank 0, no BM25 match ("parser", in more
    # than half of the documents, weighs ~0 and selects nothing on its own): default 10.
    assert body["ids"] == [["a", "b"], ["a"]]
    assert body["documents"][0] == ["error E1042 in parser", "all good"]
    assert body["metadatas"] == [None, [{"n": 1}]]
    assert body["select"] == [["#document", "#score"], ["n"]]
    assert body["scores"][0] == sorted(body["scores"][0])
    bad = http.post(f"/collections/{cid}/search", json={"searches": [{"rank": {"$pow": 1}}]})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_argument"
