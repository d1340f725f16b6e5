"""Issue 11.1: ``add`` with ids that already exist (a notebook cell run twice, an
ingest script restarted). Chroma 1.5.9 keeps the existing records, inserts the new
ones and raises nothing; vectorhouse does the same and logs a warning naming how many
ids were skipped. ``Settings(strict_add_ids=True)`` restores the refusal."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import pytest

import vectorhouse
from vectorhouse.server import running_server


def _state(col: Any) -> tuple[list[str], list[list[float]], list[Any]]:
    got = col.get(include=["embeddings", "documents"])
    return got["ids"], [[float(x) for x in e] for e in got["embeddings"]], got["documents"]


def _add_twice(col: Any) -> None:
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["A", "B"])
    col.add(
        ids=["b", "c", "a"],
        embeddings=[[9.0, 9.0], [1.0, 1.0], [8.0, 8.0]],
        documents=["new B", "C", "new A"],
    )


def test_add_with_existing_ids_keeps_them_and_inserts_the_rest_as_chroma(
    vh_client: Any, chroma_collection: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    chroma = chroma_collection()
    _add_twice(chroma)
    ours = vh_client.create_collection("again", embedding_function=None)
    with caplog.at_level(logging.WARNING, logger="vectorhouse"):
        _add_twice(ours)
    assert (
        _state(ours)
        == _state(chroma)
        == (
            ["a", "b", "c"],
            [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
            ["A", "B", "C"],
        )
    )
    if not isinstance(vh_client, vectorhouse.HttpClient):  # the server logs it there
        assert "add: 2 id(s) already exist in collection 'again' and were skipped" in caplog.text


def test_add_with_only_existing_ids_changes_nothing(vh_client: Any) -> None:
    col = vh_client.create_collection("same", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 0.0]], metadatas=[{"k": 1}])
    col.add(ids=["a"], embeddings=[[5.0, 5.0]], metadatas=[{"k": 2}])
    assert col.count() == 1
    assert col.get(include=["metadatas"])["metadatas"] == [{"k": 1}]
    assert col.query(query_embeddings=[[1.0, 0.0]], n_results=1)["ids"] == [["a"]]


def test_strict_add_is_an_opt_in_that_writes_nothing(tmp_path: Any) -> None:
    strict = vectorhouse.Settings(strict_add_ids=True)
    for client in (
        vectorhouse.Client(settings=strict),
        vectorhouse.PersistentClient(path=str(tmp_path / "db"), settings=strict),
    ):
        with client:
            col = client.create_collection("strict", embedding_function=None)
            col.add(ids=["a"], embeddings=[[1.0, 0.0]])
            with pytest.raises(vectorhouse.IDAlreadyExistsError, match="'a'; use upsert"):
                col.add(ids=["b", "a"], embeddings=[[0.0, 1.0], [2.0, 2.0]])
            assert col.get()["ids"] == ["a"]


def test_strict_add_over_http_raises_the_same_error(tmp_path: Any) -> None:
    env = {"VECTORHOUSE_STRICT_ADD_IDS": "true"}
    with (
        running_server(tmp_path / "db", env={**os.environ, **env}) as server,
        vectorhouse.HttpClient(host=server.host, port=server.port) as client,
    ):
        col = client.create_collection("strict", embedding_function=None)
        col.add(ids=["a"], embeddings=[[1.0, 0.0]])
        with pytest.raises(vectorhouse.IDAlreadyExistsError, match="'a'; use upsert"):
            col.add(ids=["b", "a"], embeddings=[[0.0, 1.0], [2.0, 2.0]])
        assert col.get()["ids"] == ["a"]
