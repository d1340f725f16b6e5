"""The whole flow through the real default model: text -> vector -> storage -> search."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vectorhouse

SEED_DOCS = ["I love Python programming", "JavaScript is fun", "I enjoy cooking pasta"]


def _seeded(client: vectorhouse.Client) -> vectorhouse.Collection:
    col = client.create_collection("auto_embed")
    col.add(
        ids=["doc1", "doc2", "doc3"],
        documents=SEED_DOCS,
        metadatas=[{"lang": "python"}, {"lang": "js"}, {"topic": "food"}],
    )
    return col


def test_text_query_finds_the_seed_neighbours_in_order() -> None:
    col = _seeded(vectorhouse.Client())
    res = col.query(query_texts=["coding in Python"], n_results=3)
    assert res["documents"] == [SEED_DOCS]
    assert col.query(query_texts=["coding in Python"], n_results=2)["documents"] == [SEED_DOCS[:2]]


def test_default_model_is_recorded_and_rebuilt_in_another_process(db_path: Path) -> None:
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = _seeded(client)
        stored = col.configuration_json
        assert stored["embedding_function"]["name"] == "default"
        assert stored["fingerprint"]["dimension"] == 384
        assert col.dimension == 384
    script = textwrap.dedent(
        f"""
        import vectorhouse
        client = vectorhouse.PersistentClient(path={str(db_path)!r})
        col = client.get_collection("auto_embed")
        print(type(col.embedding_function).__name__)
        print(col.query(query_texts=["a recipe for dinner"], n_results=1)["ids"][0][0])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.split() == ["DefaultEmbeddingFunction", "doc3"]


def test_text_query_with_filters_through_the_default_model() -> None:
    col = _seeded(vectorhouse.Client())
    res = col.query(query_texts=["coding in Python"], n_results=3, where={"lang": "js"})
    assert res["ids"] == [["doc2"]]
    res = col.query(query_texts=["coding"], n_results=3, where_document={"$contains": "pasta"})
    assert res["ids"] == [["doc3"]]


def test_upserted_documents_are_re_embedded_with_the_same_model() -> None:
    col = _seeded(vectorhouse.Client())
    col.upsert(ids=["doc3"], documents=["Rust and Go are compiled languages"])
    col.update(ids=["doc2"], documents=["Boiling spaghetti for eight minutes"])
    res = col.query(query_texts=["a pasta dinner"], n_results=1)
    assert res["ids"] == [["doc2"]]


def test_texts_for_a_raw_vector_collection_are_refused_with_a_clear_error() -> None:
    client = vectorhouse.Client()
    col = client.create_collection("vectors_only", embedding_function=None)
    col.add(ids=["a"], embeddings=[[0.0] * 384])
    with pytest.raises(vectorhouse.InvalidArgumentError, match="no embedding function"):
        col.query(query_texts=["hello"])


def test_default_model_conflicts_with_another_function(fake_ef) -> None:
    client = vectorhouse.Client()
    _seeded(client)
    with pytest.raises(vectorhouse.EmbeddingFunctionConflictError, match="default"):
        client.get_collection("auto_embed", embedding_function=fake_ef)
    client.create_collection("other", embedding_function=fake_ef)
    with pytest.raises(vectorhouse.EmbeddingFunctionConflictError, match="fake-test"):
        client.get_collection("other", embedding_function=vectorhouse.DefaultEmbeddingFunction())


def test_reembed_from_fake_model_to_default_model(fake_ef) -> None:
    client = vectorhouse.Client()
    col = client.create_collection("switch", embedding_function=fake_ef)
    col.add(ids=["doc1", "doc2", "doc3"], documents=SEED_DOCS)
    report = col.reembed(vectorhouse.DefaultEmbeddingFunction())
    assert report == {"reembedded": 3, "deleted_without_documents": []}
    assert col.dimension == 384
    res = col.query(query_texts=["coding in Python"], n_results=3)
    assert res["documents"] == [SEED_DOCS]
