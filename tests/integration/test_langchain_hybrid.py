"""The LangChain store's hybrid and lexical searches: ``search_type=`` on the similarity
searches, LangChain's ``search``/``as_retriever`` conventions, and ``hybrid_search``
with a Chroma Search, as ``langchain_chroma`` has it."""

from __future__ import annotations

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

import vectorhouse
from vectorhouse import K, Knn, Rrf, Search
from vectorhouse.langchain import Vectorhouse

TEXTS = [
    "Error E4021 raised by the storage controller",
    "Disk error E4012: the disk is nearly full",
    "Cooking pasta needs salted water",
    "Network timeout while connecting",
]


@pytest.fixture
def store() -> Vectorhouse:
    return Vectorhouse.from_texts(
        TEXTS,
        embedding=DeterministicFakeEmbedding(size=16),
        ids=["a", "b", "c", "d"],
        metadatas=[{"kind": "error"}, {"kind": "error"}, {"kind": "food"}, {"kind": "net"}],
        collection_name="hybrid_lc",
    )


def test_search_type_hybrid_and_lexical_rank_by_words(store: Vectorhouse) -> None:
    lexical = store.similarity_search("E4021", k=2, search_type="lexical")
    assert [d.id for d in lexical] == ["a"]
    hybrid = store.similarity_search("E4021 storage", k=1, search_type="hybrid")
    assert [d.id for d in hybrid] == ["a"]
    filtered = store.similarity_search("error", k=4, search_type="lexical", filter={"kind": "net"})
    assert filtered == []
    scored = store.similarity_search_with_score("E4021", k=1, search_type="hybrid", fusion="rrf")
    assert scored[0][0].id == "a" and scored[0][1] < 0


def test_langchains_search_and_retriever_take_hybrid(store: Vectorhouse) -> None:
    hybrid = store.similarity_search("E4021", k=2, search_type="hybrid")
    assert store.search("E4021", "hybrid", k=2) == hybrid
    assert [d.id for d in store.search("E4021", "lexical", k=1)] == ["a"]
    retriever = store.as_retriever(search_kwargs={"k": 1, "search_type": "lexical"})
    assert [d.id for d in retriever.invoke("E4021 storage controller")] == ["a"]
    retriever = store.as_retriever(search_kwargs={"k": 2, "search_type": "hybrid"})
    expected = store.similarity_search("storage controller", k=2, search_type="hybrid")
    assert retriever.invoke("storage controller") == expected
    with pytest.raises(vectorhouse.InvalidArgumentError, match="search_type must be one of"):
        store.similarity_search("x", search_type="sparse")


def test_hybrid_search_runs_a_chroma_search(store: Vectorhouse) -> None:
    rank = Rrf(
        [
            Knn(query="E4021 controller", return_rank=True, default=10),
            Knn(query="E4021 controller", key="sparse_embedding", return_rank=True, default=10),
        ]
    )
    docs = store.hybrid_search(Search().where(K("kind") == "error").rank(rank).limit(1))
    assert [(d.id, d.page_content, d.metadata) for d in docs] == [
        ("a", TEXTS[0], {"kind": "error"})
    ]
