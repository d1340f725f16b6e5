"""LlamaIndex's ChromaVectorStore over a vectorhouse collection (the Chroma API is all it needs)."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.vector_stores.types import (
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.vector_stores.chroma import ChromaVectorStore

import vectorhouse
from vectorhouse.embeddings.default import DefaultEmbeddingFunction

DOCS = [
    Document(text="I love Python programming", metadata={"topic": "code"}, doc_id="python"),
    Document(text="JavaScript is fun", metadata={"topic": "code"}, doc_id="javascript"),
    Document(text="I enjoy cooking pasta", metadata={"topic": "food"}, doc_id="pasta"),
]


class BuiltInEmbedding(BaseEmbedding):
    """vectorhouse's built-in model as a LlamaIndex embedding model."""

    def _vectors(self, texts: list[str]) -> list[list[float]]:
        return [v.tolist() for v in DefaultEmbeddingFunction()(texts)]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vectors([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._vectors(texts)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vectors([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


@pytest.fixture
def index() -> Any:
    collection = vectorhouse.Client().create_collection("llama_docs")
    store = ChromaVectorStore(chroma_collection=collection)
    context = StorageContext.from_defaults(vector_store=store)
    return VectorStoreIndex.from_documents(
        DOCS, storage_context=context, embed_model=BuiltInEmbedding()
    )


def texts(nodes: list[Any]) -> list[str]:
    return [n.node.get_content() for n in nodes]


def test_an_index_over_a_collection_retrieves_the_right_document(index: Any) -> None:
    retriever = index.as_retriever(similarity_top_k=1)
    assert texts(retriever.retrieve("Python coding")) == ["I love Python programming"]
    assert texts(retriever.retrieve("a recipe for dinner")) == ["I enjoy cooking pasta"]


def test_records_land_in_the_collection_with_documents_and_metadata(index: Any) -> None:
    collection = index.vector_store.client
    assert collection.count() == 3
    got = collection.get(where={"topic": "food"}, include=["documents", "metadatas"])
    assert got["documents"] == ["I enjoy cooking pasta"]
    assert got["metadatas"][0]["ref_doc_id"] == "pasta"


def test_metadata_filters_become_where_clauses(index: Any) -> None:
    filters = MetadataFilters(filters=[MetadataFilter(key="topic", value="food")])
    retriever = index.as_retriever(similarity_top_k=3, filters=filters)
    assert texts(retriever.retrieve("Python coding")) == ["I enjoy cooking pasta"]


def test_mmr_mode_and_deletion_by_document(index: Any) -> None:
    store = index.vector_store
    query = VectorStoreQuery(
        query_embedding=BuiltInEmbedding().get_query_embedding("Python coding"),
        similarity_top_k=2,
        mode=VectorStoreQueryMode.MMR,
    )
    result = store.query(query, mmr_threshold=0.5)
    assert result.ids and len(result.ids) == 2
    index.delete_ref_doc("python")
    retriever = index.as_retriever(similarity_top_k=3)
    assert "I love Python programming" not in texts(retriever.retrieve("Python coding"))
    assert store.client.count() == 2


def test_get_nodes_and_clear(index: Any) -> None:
    store = index.vector_store
    nodes = store.get_nodes(node_ids=None, filters=None)
    assert sorted(n.get_content() for n in nodes) == sorted(d.text for d in DOCS)
    store.clear()
    assert store.client.count() == 0


def test_an_index_reopens_from_a_persisted_collection(tmp_path: Any) -> None:
    with vectorhouse.PersistentClient(path=tmp_path) as client:
        store = ChromaVectorStore(chroma_collection=client.create_collection("llama_docs"))
        VectorStoreIndex.from_documents(
            DOCS,
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=BuiltInEmbedding(),
        )
    with vectorhouse.PersistentClient(path=tmp_path) as client:
        store = ChromaVectorStore(chroma_collection=client.get_collection("llama_docs"))
        index = VectorStoreIndex.from_vector_store(store, embed_model=BuiltInEmbedding())
        nodes = index.as_retriever(similarity_top_k=1).retrieve("coding in Python")
        assert texts(nodes) == ["I love Python programming"]
        assert store.get_nodes(node_ids=[nodes[0].node.node_id])[0].get_content() == texts(nodes)[0]
        store.delete_nodes(node_ids=[nodes[0].node.node_id])
        assert store.client.count() == 2


async def test_async_retrieval(index: Any) -> None:
    nodes = await index.as_retriever(similarity_top_k=1).aretrieve("Python coding")
    assert texts(nodes) == ["I love Python programming"]
