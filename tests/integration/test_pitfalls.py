"""The three classic pitfalls of pairing an embedding model with a vector database, each
either impossible or stopped with a clear error from the vectorhouse.errors tree.

1. Different models for indexing and querying.
2. Forgetting to embed the query (text where a vector belongs, or a vector from
   another model).
3. Dimension mismatch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

import vectorhouse
from conftest import FakeEmbeddingFunction
from vectorhouse.embeddings.callable import CallableEmbeddingFunction
from vectorhouse.embeddings.default import DefaultEmbeddingFunction
from vectorhouse.langchain import Vectorhouse

TEXTS = ["I love Python programming", "JavaScript is fun", "I enjoy cooking pasta"]
IDS = ["doc1", "doc2", "doc3"]


def other_model(texts: list[str], dim: int = 384) -> list[list[float]]:
    """Stands for another provider's model: unrelated (hash-seeded) unit vectors."""
    out = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
        v = np.random.default_rng(seed).standard_normal(dim)
        out.append((v / np.linalg.norm(v)).tolist())
    return out


# --- 1. different models for indexing and querying --------------------------------


def test_text_queries_always_go_through_the_collections_own_model(db_path: Path) -> None:
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.create_collection("docs", embedding_function=FakeEmbeddingFunction(dim=8))
        col.add(ids=IDS, documents=TEXTS)
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.get_collection("docs")  # no model named: the stored one is rebuilt
        assert isinstance(col.embedding_function, FakeEmbeddingFunction)
        assert col.query(query_texts=["Python programming"], n_results=1)["ids"] == [["doc1"]]


def test_querying_with_another_named_model_is_refused(db_path: Path) -> None:
    with vectorhouse.PersistentClient(path=db_path) as client:
        client.create_collection("docs").add(ids=IDS, documents=TEXTS)  # the built-in model
    with (
        vectorhouse.PersistentClient(path=db_path) as client,
        pytest.raises(vectorhouse.EmbeddingFunctionConflictError, match="all-MiniLM-L6-v2"),
    ):
        client.get_collection("docs", embedding_function=FakeEmbeddingFunction(dim=384))


def test_querying_with_an_unnamed_model_that_is_not_the_indexing_one_is_caught() -> None:
    client = vectorhouse.Client()
    indexing = CallableEmbeddingFunction(lambda texts: other_model(texts, dim=16))
    client.create_collection("docs", embedding_function=indexing).add(ids=IDS, documents=TEXTS)
    querying = CallableEmbeddingFunction(lambda texts: other_model([t[::-1] for t in texts], 16))
    col = client.get_collection("docs", embedding_function=querying)
    with pytest.raises(vectorhouse.EmbeddingDriftError, match="reembed"):
        col.query(query_texts=["Python coding"])


def test_vectors_indexed_with_another_model_are_not_searched_by_text() -> None:
    """The manual flow's trap: vectors from a provider, queries through the built-in model."""
    col = vectorhouse.Client().create_collection("docs")  # has the built-in model attached
    col.add(ids=IDS, embeddings=other_model(TEXTS), documents=TEXTS)
    with pytest.raises(vectorhouse.EmbeddingFunctionConflictError, match="query_embeddings="):
        col.query(query_texts=["Python coding"])
    with pytest.raises(vectorhouse.EmbeddingFunctionConflictError, match="supplied by hand"):
        col.add(ids=["doc4"], documents=["Rust is fast"])
    assert col.count() == 3


def test_vectors_made_outside_by_the_same_model_are_searched_by_text() -> None:
    model = DefaultEmbeddingFunction()
    col = vectorhouse.Client().create_collection("docs")
    col.add(ids=IDS, embeddings=[v.tolist() for v in model(TEXTS)], documents=TEXTS)
    result = col.query(query_texts=["Python coding"], n_results=2)
    assert result["documents"] == [TEXTS[:2]]


def test_vectors_of_another_models_dimension_are_not_searched_by_text() -> None:
    col = vectorhouse.Client().create_collection("docs")
    col.add(ids=IDS, embeddings=other_model(TEXTS, dim=1536), documents=TEXTS)
    with pytest.raises(vectorhouse.DimensionMismatchError, match=r"1536-dimensional.*384"):
        col.query(query_texts=["Python coding"])


def test_a_langchain_store_reopened_with_another_model_is_refused(tmp_path: Path) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    Vectorhouse.from_texts(TEXTS, DeterministicFakeEmbedding(size=8), persist_directory=tmp_path)
    other = Vectorhouse(
        embedding_function=DeterministicFakeEmbedding(size=16), persist_directory=tmp_path
    )
    with pytest.raises(vectorhouse.DimensionMismatchError):
        other.similarity_search("Python coding")


# --- 2. forgetting to embed the query ----------------------------------------------


@pytest.fixture
def manual() -> vectorhouse.Collection:
    """The manual flow: vectors made outside, no model of the collection's own."""
    col = vectorhouse.Client().create_collection("manual", embedding_function=None)
    col.add(ids=IDS, embeddings=other_model(TEXTS, dim=8), documents=TEXTS)
    return col


@pytest.mark.parametrize("raw", ["Python coding", ["Python coding"], [["Python coding"]]])
def test_raw_text_passed_as_the_query_vector_is_refused(
    manual: vectorhouse.Collection, raw: object
) -> None:
    with pytest.raises(vectorhouse.InvalidEmbeddingError, match="query_texts=") as err:
        manual.query(query_embeddings=raw)
    assert "'Python coding'" in str(err.value)


def test_raw_text_passed_as_document_vectors_is_refused(manual: vectorhouse.Collection) -> None:
    with pytest.raises(vectorhouse.InvalidEmbeddingError, match="documents="):
        manual.add(ids=["doc4"], embeddings=["Rust is fast"])
    assert manual.count() == 3


def test_query_text_without_a_model_to_embed_it_is_refused(manual: vectorhouse.Collection) -> None:
    with pytest.raises(vectorhouse.InvalidArgumentError, match="needs embeddings"):
        manual.query(query_texts=["Python coding"])


def test_a_query_vector_from_another_models_dimension_is_refused(
    manual: vectorhouse.Collection,
) -> None:
    with pytest.raises(vectorhouse.DimensionMismatchError, match=r"8-dimensional.*384"):
        manual.query(query_embeddings=DefaultEmbeddingFunction()(["Python coding"]))


def test_langchain_search_by_vector_refuses_text() -> None:
    store = Vectorhouse.from_texts(TEXTS, FakeEmbeddingFunction())
    with pytest.raises(vectorhouse.InvalidEmbeddingError, match="query_texts="):
        store.similarity_search_by_vector("Python coding")  # type: ignore[arg-type]


# --- 3. dimension mismatch ---------------------------------------------------------


def test_vectors_of_another_dimension_are_refused_and_nothing_is_written(
    manual: vectorhouse.Collection,
) -> None:
    with pytest.raises(vectorhouse.DimensionMismatchError, match="8-dimensional"):
        manual.add(ids=["doc4"], embeddings=other_model(["Rust is fast"], dim=1536))
    with pytest.raises(vectorhouse.DimensionMismatchError):
        manual.upsert(ids=["doc1"], embeddings=other_model([TEXTS[0]], dim=4))
    assert manual.count() == 3
    assert manual.get(ids=["doc1"], include=["embeddings"])["embeddings"].shape == (1, 8)


def test_vectors_of_unequal_lengths_in_one_call_are_refused() -> None:
    col = vectorhouse.Client().create_collection("fresh", embedding_function=None)
    with pytest.raises(vectorhouse.InvalidEmbeddingError, match="same length"):
        col.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [1.0, 2.0, 3.0]])
    assert col.count() == 0


def test_a_model_of_another_dimension_is_refused_before_embedding_into_the_index() -> None:
    client = vectorhouse.Client()
    client.create_collection("docs", embedding_function=None).add(
        ids=IDS, embeddings=other_model(TEXTS, dim=8), documents=TEXTS
    )
    col = client.get_collection("docs", embedding_function=FakeEmbeddingFunction(dim=16))
    with pytest.raises(vectorhouse.DimensionMismatchError, match="16-dimensional"):
        col.add(ids=["doc4"], documents=["Rust is fast"])
    assert col.count() == 3


def test_every_pitfall_error_is_a_vectorhouse_error() -> None:
    for err in (
        vectorhouse.EmbeddingFunctionConflictError,
        vectorhouse.EmbeddingDriftError,
        vectorhouse.InvalidEmbeddingError,
        vectorhouse.DimensionMismatchError,
    ):
        assert issubclass(err, vectorhouse.VectorhouseError)
    assert issubclass(vectorhouse.DimensionMismatchError, ValueError)  # as Chroma callers expect
