"""vectorhouse.langchain.Vectorhouse beyond LangChain's standard suite: persistence,
filters, MMR, relevance scores, the built-in model, metadata and the adapters."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.vectorstores import InMemoryVectorStore

import vectorhouse
from conftest import FakeEmbeddingFunction
from vectorhouse.embeddings.default import DefaultEmbeddingFunction
from vectorhouse.langchain import LangChainEmbeddingFunction, Vectorhouse, to_langchain

TEXTS = ["I love Python programming", "JavaScript is fun", "I enjoy cooking pasta"]


class TableEmbeddings(Embeddings):
    """Unit vectors chosen per text (queries too); unknown texts raise."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = {t: (np.asarray(v) / np.linalg.norm(v)).tolist() for t, v in table.items()}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table.get(t, self.table["*"]) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table.get(text, self.table["*"])


def words(dim: int = 32) -> Embeddings:
    """Texts that share words get close vectors (the shared fake model, seen by LangChain)."""
    return to_langchain(FakeEmbeddingFunction(dim=dim))


def run_python(code: str, cwd: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


# --- the built-in model and persistence -------------------------------------------


def test_without_embedding_the_built_in_model_embeds_and_finds_the_nearest() -> None:
    store = Vectorhouse.from_texts(TEXTS)
    assert isinstance(store.collection.embedding_function, DefaultEmbeddingFunction)
    assert [d.page_content for d in store.similarity_search("Python coding", k=2)] == TEXTS[:2]
    query = np.asarray(store.embeddings.embed_query("Python coding"), dtype=np.float32)  # type: ignore[union-attr]
    np.testing.assert_allclose(query, DefaultEmbeddingFunction()(["Python coding"])[0], atol=1e-6)


def test_a_persisted_store_is_searchable_from_another_process(tmp_path: Path) -> None:
    write = (
        "from vectorhouse.langchain import Vectorhouse\n"
        f"Vectorhouse.from_texts({TEXTS!r}, metadatas=[{{'n': 1}}, {{'n': 2}}, {{'n': 3}}],"
        " ids=['a', 'b', 'c'], persist_directory='vh_db', collection_name='notes')\n"
    )
    read = (
        "import json\n"
        "from vectorhouse.langchain import Vectorhouse\n"
        "store = Vectorhouse('notes', persist_directory='vh_db')\n"
        "docs = store.similarity_search('Python coding', k=2, filter={'n': {'$gte': 1}})\n"
        "print(json.dumps([[d.id, d.page_content, d.metadata] for d in docs]))\n"
    )
    run_python(write, tmp_path)
    assert json.loads(run_python(read, tmp_path)) == [
        ["a", TEXTS[0], {"n": 1}],
        ["b", TEXTS[1], {"n": 2}],
    ]


def test_reopening_needs_the_langchain_embeddings_again(tmp_path: Path) -> None:
    embeddings = DeterministicFakeEmbedding(size=8)
    Vectorhouse.from_texts(["alpha", "beta"], embeddings, persist_directory=tmp_path)
    bare = Vectorhouse(persist_directory=tmp_path)
    with pytest.raises(
        vectorhouse.InvalidArgumentError, match="pass it again as embedding_function="
    ):
        bare.similarity_search("alpha")
    assert bare.get_by_ids(["missing"]) == []  # reads that need no model still work
    again = Vectorhouse(embedding_function=embeddings, persist_directory=tmp_path)
    assert again.similarity_search("beta", k=1)[0].page_content == "beta"


def test_reopening_with_another_model_is_refused(tmp_path: Path) -> None:
    Vectorhouse.from_texts(
        ["alpha"], DeterministicFakeEmbedding(size=8), persist_directory=tmp_path
    )
    wider = Vectorhouse(
        embedding_function=DeterministicFakeEmbedding(size=12), persist_directory=tmp_path
    )
    with pytest.raises(vectorhouse.DimensionMismatchError):
        wider.similarity_search("alpha")
    other = Vectorhouse(embedding_function=words(dim=8), persist_directory=tmp_path)
    with pytest.raises(vectorhouse.EmbeddingDriftError):
        other.add_texts(["beta"])
    assert Vectorhouse(persist_directory=tmp_path).collection.count() == 1


def test_a_vectorhouse_function_is_stored_and_rebuilt(tmp_path: Path) -> None:
    Vectorhouse.from_texts(
        ["red apple", "green pear"], FakeEmbeddingFunction(), persist_directory=tmp_path
    )
    store = Vectorhouse(persist_directory=tmp_path)
    assert isinstance(store.collection.embedding_function, FakeEmbeddingFunction)
    assert store.similarity_search("apple", k=1)[0].page_content == "red apple"


# --- the adapters ------------------------------------------------------------------


def test_langchain_embeddings_become_the_collections_function() -> None:
    lc = DeterministicFakeEmbedding(size=6)
    store = Vectorhouse(embedding_function=lc)
    assert store.embeddings is lc
    assert isinstance(store.collection.embedding_function, LangChainEmbeddingFunction)
    store.add_texts(["foo"], ids=["f"])
    stored = store.collection.get(ids=["f"], include=["embeddings"])["embeddings"][0]
    np.testing.assert_allclose(stored, np.asarray(lc.embed_documents(["foo"])[0], np.float32))


def test_queries_go_through_embed_query() -> None:
    table = TableEmbeddings({"doc": [1.0, 0.0], "other": [0.0, 1.0], "*": [0.0, 1.0]})

    class QueryTwist(TableEmbeddings):
        def embed_query(self, text: str) -> list[float]:
            return self.table["doc"]  # every query points at "doc"

    store = Vectorhouse.from_texts(["doc", "other"], QueryTwist(table.table))
    assert store.similarity_search("other", k=1)[0].page_content == "doc"


def test_the_built_in_model_serves_another_langchain_store() -> None:
    embeddings = to_langchain(DefaultEmbeddingFunction())
    other = InMemoryVectorStore.from_texts(TEXTS, embeddings)
    ours = Vectorhouse.from_texts(TEXTS, embeddings, collection_metadata={"hnsw:space": "cosine"})
    theirs = [d.page_content for d in other.similarity_search("coding in Python", k=3)]
    assert [d.page_content for d in ours.similarity_search("coding in Python", k=3)] == theirs


def test_embedding_of_the_wrong_kind_is_rejected() -> None:
    with pytest.raises(vectorhouse.InvalidArgumentError, match="LangChain Embeddings"):
        Vectorhouse(embedding_function="text-embedding-3-small")  # type: ignore[arg-type]
    with pytest.raises(vectorhouse.InvalidArgumentError, match="not both"):
        Vectorhouse(client=vectorhouse.Client(), persist_directory="somewhere")


# --- ids and metadata --------------------------------------------------------------


def test_ids_come_from_arguments_then_documents_then_are_generated() -> None:
    store = Vectorhouse(embedding_function=words())
    assert store.add_texts(["a b"], ids=["given"]) == ["given"]
    ids = store.add_documents([Document("c d", id="from-doc"), Document("e f")])
    assert ids[0] == "from-doc" and len(ids[1]) == 36
    assert store.add_documents([Document("g h", id="ignored")], ids=["kwarg"]) == ["kwarg"]
    assert sorted(d.id or "" for d in store.get_by_ids([*ids, "given", "kwarg"])) == sorted(
        [*ids, "given", "kwarg"]
    )


def test_metadata_round_trips_exactly_and_documents_are_not_mutated() -> None:
    meta = {"year": 2024, "score": 0.5, "draft": False, "tags": ["a", "b"], "title": "x"}
    doc = Document("some text", metadata=meta)
    store = Vectorhouse(embedding_function=words())
    (doc_id,) = store.add_documents([doc])
    (back,) = store.get_by_ids([doc_id])
    assert back.metadata == meta
    assert [type(v) for v in back.metadata.values()] == [int, float, bool, list, str]
    assert doc == Document("some text", metadata=meta) and doc.id is None
    (hit,) = store.similarity_search("some text", k=1)
    assert hit.metadata == meta


def test_metadata_none_values_are_left_out_and_no_keys_are_added() -> None:
    store = Vectorhouse(embedding_function=words())
    store.add_texts(["x y", "z"], metadatas=[{"a": 1, "gone": None}, {}], ids=["1", "2"])
    assert [d.metadata for d in store.get_by_ids(["1", "2"])] == [{"a": 1}, {}]
    store.add_texts(["w"], ids=["3"])
    assert store.get_by_ids(["3"])[0].metadata == {}


def test_re_adding_an_id_replaces_text_vector_and_metadata() -> None:
    store = Vectorhouse(embedding_function=words())
    store.add_texts(["red apple"], metadatas=[{"colour": "red", "fruit": "apple"}], ids=["1"])
    store.add_texts(["green pear"], metadatas=[{"fruit": "pear"}], ids=["1"])
    assert store.get_by_ids(["1"]) == [Document("green pear", metadata={"fruit": "pear"}, id="1")]
    assert store.collection.count() == 1
    assert store.similarity_search("green pear", k=1)[0].id == "1"
    store.add_texts(["plain"], ids=["1"])
    assert store.get_by_ids(["1"])[0].metadata == {}


def test_bad_input_raises_vectorhouse_errors() -> None:
    store = Vectorhouse(embedding_function=words())
    with pytest.raises(vectorhouse.InvalidArgumentError, match="2 texts but 1 ids"):
        store.add_texts(["a", "b"], ids=["1"])
    with pytest.raises(vectorhouse.DuplicateIDError):
        store.add_texts(["a", "b"], ids=["1", "1"])
    with pytest.raises(vectorhouse.InvalidMetadataError, match="nested"):
        store.add_texts(["a"], metadatas=[{"nested": {"x": 1}}])
    with pytest.raises(vectorhouse.InvalidArgumentError, match="unexpected argument"):
        store.similarity_search("a", filters={"x": 1})
    with pytest.raises(vectorhouse.InvalidArgumentError, match="delete the collection"):
        store.delete()
    assert store.collection.count() == 0
    assert store.add_texts([]) == []


def test_get_by_ids_keeps_order_and_skips_missing_and_repeated_ids() -> None:
    store = Vectorhouse(embedding_function=words())
    store.add_texts(["a", "b", "c"], ids=["1", "2", "3"])
    assert [d.id for d in store.get_by_ids(["3", "x", "1", "3"])] == ["3", "1"]
    assert store.get_by_ids([]) == []


# --- filters -----------------------------------------------------------------------


@pytest.fixture
def library() -> Vectorhouse:
    docs = [
        Document("python tips for beginners", metadata={"lang": "en", "year": 2021}, id="1"),
        Document("python tricks for experts", metadata={"lang": "en", "year": 2024}, id="2"),
        Document("python astuces pour tous", metadata={"lang": "fr", "year": 2024}, id="3"),
        Document("cooking pasta at home", metadata={"lang": "en", "year": 2024}, id="4"),
    ]
    return Vectorhouse.from_documents(docs, words())


def test_filter_is_a_where_clause(library: Vectorhouse) -> None:
    hits = library.similarity_search("python tips", k=4, filter={"lang": "fr"})
    assert [d.id for d in hits] == ["3"]
    hits = library.similarity_search(
        "python tips", k=4, filter={"$and": [{"lang": "en"}, {"year": {"$gte": 2024}}]}
    )
    assert sorted(d.id or "" for d in hits) == ["2", "4"]
    with pytest.raises(vectorhouse.InvalidFilterError, match="year"):
        library.similarity_search("python", filter={"year": {"$gt": "x"}})


def test_where_document_filters_on_text(library: Vectorhouse) -> None:
    hits = library.similarity_search("python", k=4, where_document={"$contains": "experts"})
    assert [d.id for d in hits] == ["2"]
    both = library.similarity_search_with_score(
        "python", k=4, filter={"lang": "en"}, where_document={"$contains": "python"}
    )
    assert sorted(d.id or "" for d, _ in both) == ["1", "2"]


def test_retriever_passes_filters_through(library: Vectorhouse) -> None:
    retriever = library.as_retriever(search_kwargs={"k": 2, "filter": {"year": 2024}})
    assert sorted(d.id or "" for d in retriever.invoke("python tips")) == ["2", "3"]
    by_text = library.as_retriever(search_kwargs={"where_document": {"$contains": "pasta"}})
    assert [d.id for d in by_text.invoke("python")] == ["4"]
    mmr = library.as_retriever(search_type="mmr", search_kwargs={"k": 2, "filter": {"lang": "en"}})
    assert {d.metadata["lang"] for d in mmr.invoke("python")} == {"en"}


async def test_async_retriever_and_search(library: Vectorhouse) -> None:
    retriever = library.as_retriever(search_kwargs={"k": 1, "filter": {"lang": "fr"}})
    assert [d.id for d in await retriever.ainvoke("python")] == ["3"]
    assert (await library.asimilarity_search("cooking pasta", k=1))[0].id == "4"
    mmr = await library.amax_marginal_relevance_search("python", k=2, filter={"lang": "en"})
    assert len(mmr) == 2


def test_delete_by_filter(library: Vectorhouse) -> None:
    library.delete(filter={"lang": "en"}, where_document={"$contains": "python"})
    assert sorted(d.id or "" for d in library.get_by_ids(["1", "2", "3", "4"])) == ["3", "4"]


# --- scores and MMR ----------------------------------------------------------------


def test_scores_are_the_collections_distances(library: Vectorhouse) -> None:
    hits = library.similarity_search_with_score("python tips for beginners", k=2)
    assert hits[0][0].id == "1" and hits[0][1] == pytest.approx(0.0, abs=1e-6)
    raw = library.collection.query(query_texts=["python tips for beginners"], n_results=2)
    assert [s for _, s in hits] == pytest.approx(raw["distances"][0])
    vector = library.embeddings.embed_query("python tips for beginners")  # type: ignore[union-attr]
    assert library.similarity_search_by_vector_with_score(vector, k=2) == hits


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_relevance_is_half_one_plus_cosine_in_every_space(space: str) -> None:
    angle = math.radians(60)
    table = {
        "same": [1.0, 0.0],
        "sixty": [math.cos(angle), math.sin(angle)],
        "opposite": [-1.0, 0.0],
        "*": [1.0, 0.0],
    }
    store = Vectorhouse.from_texts(
        ["same", "sixty", "opposite"],
        TableEmbeddings(table),
        collection_metadata={"hnsw:space": space},
    )
    got = {d.page_content: r for d, r in store.similarity_search_with_relevance_scores("q", k=3)}
    assert got == pytest.approx({"same": 1.0, "sixty": 0.75, "opposite": 0.0}, abs=1e-6)
    kept = store.similarity_search_with_relevance_scores("q", k=3, score_threshold=0.7)
    assert [d.page_content for d, _ in kept] == ["same", "sixty"]


def test_relevance_stays_within_zero_and_one_for_long_vectors() -> None:
    store = Vectorhouse.from_texts(["a", "b"], DeterministicFakeEmbedding(size=6))
    scores = [s for _, s in store.similarity_search_with_relevance_scores("zzz", k=2)]
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_relevance_score_fn_replaces_the_mapping() -> None:
    store = Vectorhouse.from_texts(["a"], words(), relevance_score_fn=lambda d: 1.0 / (1.0 + d))
    ((_, score),) = store.similarity_search_with_relevance_scores("a", k=1)
    assert score == pytest.approx(1.0)


def test_mmr_trades_nearness_for_diversity() -> None:
    table = {
        "apple pie": [1.0, 0.0, 0.0],
        "apple tart": [0.98, 0.2, 0.0],
        "pear tart": [0.6, 0.0, 0.8],
        "q": [1.0, 0.1, 0.1],
        "*": [0.0, 0.0, 1.0],
    }
    store = Vectorhouse.from_texts(["apple pie", "apple tart", "pear tart"], TableEmbeddings(table))
    near = [d.page_content for d in store.similarity_search("q", k=2)]
    assert near == ["apple pie", "apple tart"]
    diverse = [d.page_content for d in store.max_marginal_relevance_search("q", k=2)]
    assert diverse == ["apple pie", "pear tart"]
    only_near = store.max_marginal_relevance_search("q", k=2, lambda_mult=1.0)
    assert [d.page_content for d in only_near] == near
    assert [
        d.page_content for d in store.max_marginal_relevance_search("q", k=2, fetch_k=2)
    ] == near
    filtered = store.max_marginal_relevance_search("q", k=2, where_document={"$contains": "tart"})
    assert [d.page_content for d in filtered] == ["apple tart", "pear tart"]


# --- async and the public import path ----------------------------------------------


async def test_async_construction_and_writes() -> None:
    store = await Vectorhouse.afrom_texts(["a b", "c d"], words(), ids=["1", "2"])
    assert await store.aadd_texts(["e f"], ids=["3"]) == ["3"]
    await store.adelete(["1"])
    assert [d.id for d in await store.aget_by_ids(["1", "2", "3"])] == ["2", "3"]
    docs = await Vectorhouse.afrom_documents([Document("x", id="d")], words())
    assert (await docs.asimilarity_search_with_score("x", k=1))[0][0].id == "d"


def test_importing_vectorhouse_does_not_load_langchain() -> None:
    code = "import sys, vectorhouse; print('langchain_core' in sys.modules)"
    assert run_python(code, Path.cwd()).strip() == "False"


def test_without_langchain_the_import_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['langchain_core'] = None\n"
        "try:\n"
        "    import vectorhouse.langchain\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert "pip install 'vectorhouse[langchain]'" in run_python(code, Path.cwd())
