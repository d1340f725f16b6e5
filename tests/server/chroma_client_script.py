"""Run by ``test_chroma_wire.py`` inside a virtual environment that holds only the
official ``chromadb-client`` package: every call Chroma's HTTP client makes for the
supported routes, against the server named on the command line. Prints one JSON
object with what each call returned (or which Chroma error it raised).

Usage: python chroma_client_script.py HOST PORT TOKEN
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 4)
    return value


def main(host: str, port: int, token: str) -> dict[str, Any]:
    import chromadb
    import chromadb.errors

    out: dict[str, Any] = {"chromadb": chromadb.__version__}

    def error_of(call: Any) -> str:
        try:
            call()
        except Exception as exc:
            return type(exc).__name__
        return "no error"

    out["no_token"] = error_of(lambda: chromadb.HttpClient(host=host, port=port))
    client = chromadb.HttpClient(host=host, port=port, headers={"Authorization": f"Bearer {token}"})
    out["heartbeat_positive"] = client.heartbeat() > 0
    out["version"] = client.get_version()
    out["max_batch_size"] = client.get_max_batch_size()

    col = client.create_collection(
        "chroma-wire", metadata={"hnsw:space": "cosine", "team": "a"}, embedding_function=None
    )
    out["created"] = [col.name, col.metadata]
    col.add(
        ids=["a", "b", "c", "d"],
        embeddings=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]],
        metadatas=[{"k": 1, "tags": ["x", "y"]}, {"k": 2}, {"k": 3}, {"k": 4}],
        documents=["apple pie", "blue sky", "cold water", "apple juice"],
    )
    out["count"] = col.count()
    out["get"] = col.get(ids=["b", "a"], include=["documents", "metadatas", "embeddings"])
    out["get_where"] = col.get(
        where={"k": {"$gte": 2}}, where_document={"$contains": "apple"}, include=["documents"]
    )
    out["get_page"] = col.get(limit=2, offset=1, include=[])["ids"]
    out["query"] = col.query(
        query_embeddings=[[0.9, 0.1, 0.0]],
        n_results=2,
        where={"k": {"$ne": 4}},
        include=["documents", "metadatas", "distances"],
    )
    out["query_ids"] = col.query(
        query_embeddings=[[0.0, 0.0, 1.0]], n_results=5, ids=["a", "c"], include=[]
    )["ids"]
    col.upsert(ids=["a", "e"], embeddings=[[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]], documents=["A", "E"])
    col.update(ids=["b"], metadatas=[{"k": 20}])
    out["after_writes"] = col.get(ids=["a", "b", "e"], include=["documents", "metadatas"])
    out["peek"] = col.peek(limit=1)["ids"]
    col.delete(ids=["c"])
    col.delete(where={"k": 20})
    out["after_delete"] = sorted(col.get()["ids"])
    col.modify(name="chroma-wire-renamed", metadata={"team": "b"})
    again = client.get_collection("chroma-wire-renamed", embedding_function=None)
    out["modified"] = [again.name, again.metadata, again.count(), str(again.id) == str(col.id)]

    default = client.get_or_create_collection("chroma-default")
    same = client.get_or_create_collection("chroma-default")
    out["default_function"] = default.configuration_json["embedding_function"]["name"]
    out["get_or_create_same"] = str(same.id) == str(default.id)
    out["listed"] = sorted(c.name for c in client.list_collections())
    out["listed_page"] = len(client.list_collections(limit=1, offset=1))
    out["count_collections"] = client.count_collections()

    out["errors"] = {
        "missing": error_of(lambda: client.get_collection("nope", embedding_function=None)),
        "exists": error_of(lambda: client.create_collection("chroma-default")),
        # as Chroma: an existing id is skipped, not an error
        "id_exists": error_of(lambda: again.add(ids=["a"], embeddings=[[1.0, 0.0, 0.0]])),
        "dimension": error_of(lambda: again.add(ids=["z"], embeddings=[[1.0, 0.0]])),
        "bad_regex": error_of(lambda: again.get(where_document={"$regex": "(unclosed"})),
    }
    client.delete_collection("chroma-wire-renamed")
    client.delete_collection("chroma-default")
    out["final_count"] = client.count_collections()
    return _plain(out)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), sys.argv[3])))
