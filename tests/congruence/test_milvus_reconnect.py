"""The Milvus backend connects again when its connection is lost (milvus-lite's server
stopped under it, as a restarted Milvus server would be)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vectorhouse


def test_the_milvus_backend_connects_again_after_its_server_went_away(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    manager = pytest.importorskip("milvus_lite.server_manager").server_manager_instance
    uri = str(tmp_path / "milvus.db")
    client = vectorhouse.MilvusClient(uri=uri, index_type="FLAT")
    try:
        col = client.create_collection("docs", embedding_function=None)
        col.add(ids=["a", "b"], embeddings=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        manager.release_server(uri)  # the server goes away under the client
        assert col.count() == 2
        found = col.query(query_embeddings=[[0.0, 1.0, 0.0]], n_results=1)
        assert found["ids"] == [["b"]]
        manager.release_server(uri)
        col.add(ids=["c"], embeddings=[[0.0, 0.0, 1.0]])
        assert sorted(col.get()["ids"]) == ["a", "b", "c"]
    finally:
        client.close()
        manager.release_server(uri)


def test_a_request_that_may_have_been_applied_is_not_sent_twice(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    manager = pytest.importorskip("milvus_lite.server_manager").server_manager_instance
    uri = str(tmp_path / "milvus.db")
    client = vectorhouse.MilvusClient(uri=uri, index_type="FLAT")
    engine = client._engine
    sent: list[str] = []

    def request() -> list[str]:
        sent.append("x")
        return list(engine._client.list_collections())

    try:
        manager.release_server(uri)
        with pytest.raises(vectorhouse.ServerUnavailableError, match="may not have been applied"):
            engine._call(request, idempotent=False)
        assert sent == ["x"]
        assert engine._call(request, idempotent=False) == []  # on the new connection
    finally:
        client.close()
        manager.release_server(uri)
