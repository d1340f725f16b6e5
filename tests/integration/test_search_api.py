"""Chroma's Search API run locally: the examples of Chroma's Search API documentation,
built both with vectorhouse's classes and with chromadb 1.5.9's own, give the same
payload and the same results; scores follow Chroma's definitions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import vectorhouse
from vectorhouse import K, Knn, Rrf, Search, Val
from vectorhouse.api import search as vs
from vectorhouse.filters.evaluate import evaluate
from vectorhouse.filters.parse import parse_where

chroma_expr = pytest.importorskip("chromadb.execution.expression")

PAPERS = [
    ("p1", "Machine learning applications in medical imaging", "science", 2021, "en"),
    ("p2", "Deep learning for protein folding prediction", "science", 2019, "en"),
    ("p3", "A survey of machine learning in finance", "finance", 2022, "en"),
    ("p4", "Apprentissage automatique pour la traduction", "science", 2023, "fr"),
    ("p5", "Academic publications on reinforcement learning agents", "science", 2020, "en"),
    ("p6", "Research papers about climate models and learning", "science", 2018, "en"),
    ("p7", "Error E1042 when training large language models", "engineering", 2024, "en"),
    ("p8", "Cooking recipes for a scientific kitchen", "food", 2021, "en"),
]


@pytest.fixture(scope="module")
def papers() -> vectorhouse.Collection:
    """The papers, embedded once with the real default model."""
    col = vectorhouse.Client().create_collection("papers")
    col.add(
        ids=[p[0] for p in PAPERS],
        documents=[p[1] for p in PAPERS],
        metadatas=[
            {"category": c, "year": y, "language": lang, "title": t.split()[0]}
            for _, t, c, y, lang in PAPERS
        ],
    )
    return col


def _docs_examples(ns: Any) -> dict[str, Any]:
    """The documentation's examples, written against the namespace ``ns`` (vectorhouse's
    module or chromadb's), so both spellings build the same searches."""
    S, Kk, Kn, R, V = ns.Search, ns.K, ns.Knn, ns.Rrf, ns.Val
    base = Search_where = S().where(Kk("category") == "science").limit(10)
    return {
        "quick_start": base.select(Kk.DOCUMENT, Kk.SCORE).rank(
            Kn(query="machine learning applications")
        ),
        "sum_of_knns": Search_where.rank(
            Kn(query="research papers", limit=100)
            + Kn(query="academic publications", limit=100, key="sparse_embedding")
        ).select(Kk.SCORE),
        "mixed_defaults": S()
        .rank(
            Kn(query="AI research", limit=100) * 0.5
            + Kn(query="scientific papers", limit=50, default=1000.0, key="sparse_embedding") * 0.5
        )
        .limit(5)
        .select(Kk.SCORE),
        "hybrid_rrf": S()
        .where((Kk("language") == "en") & (Kk("year") >= 2020))
        .rank(
            R(
                ranks=[
                    Kn(query="machine learning applications", return_rank=True, limit=300),
                    Kn(
                        query="machine learning applications",
                        key="sparse_embedding",
                        return_rank=True,
                        limit=300,
                    ),
                ],
                weights=[2.0, 1.0],
                k=60,
            )
        )
        .limit(10)
        .select(Kk.DOCUMENT, Kk.SCORE, "title", "year"),
        "arithmetic": S()
        .rank((Kn(query="learning", limit=8) * 0.8 + V(0.5) * 0.2).min(1.0).max(0.0).exp())
        .select(Kk.SCORE),
        "document_and_id_filters": S()
        .where(Kk.DOCUMENT.contains("learning") & Kk.ID.is_in(["p1", "p3", "p5", "p8"]))
        .limit(2, offset=1)
        .select(Kk.DOCUMENT, Kk.METADATA),
        "no_rank_select_all": S().where(Kk("year").is_in([2021, 2022])).select_all(),
    }


def test_vectorhouse_classes_build_the_same_payloads_as_chromadb() -> None:
    ours, theirs = _docs_examples(vs), _docs_examples(chroma_expr)
    for name, search in ours.items():
        a, b = search.to_dict(), theirs[name].to_dict()
        a["select"]["keys"].sort()
        b["select"]["keys"].sort()
        assert a == b, name


def test_the_documentation_examples_run_alike_with_either_classes(
    papers: vectorhouse.Collection,
) -> None:
    ours, theirs = _docs_examples(vs), _docs_examples(chroma_expr)
    for name in ours:
        a, b = papers.search(ours[name]), papers.search(theirs[name])
        assert a == b, name
        assert isinstance(a, vectorhouse.SearchResult)
    quick = papers.search(ours["quick_start"])
    assert quick["ids"][0][0] == "p1"
    assert quick["select"] == [["#document", "#score"]]
    rrf = papers.search(ours["hybrid_rrf"])
    for row in rrf.rows()[0]:
        assert row["metadata"]["year"] >= 2020 and set(row["metadata"]) <= {"title", "year"}


def test_a_batch_of_searches_returns_one_entry_per_search(
    papers: vectorhouse.Collection,
) -> None:
    searches = [
        Search().where(K("category") == "finance").rank(Knn(query="money")),
        Search().where(K("category") == "food").rank(Knn(query="money")),
    ]
    result = papers.search(searches)
    assert result["ids"] == [["p3"], ["p8"]]
    assert result["documents"] == [None, None] and result["scores"] == [None, None]


def test_dense_knn_scores_are_the_query_distances(papers: vectorhouse.Collection) -> None:
    result = papers.search(Search().rank(Knn(query="protein", limit=5)).select(K.SCORE))
    query = papers.query(query_texts=["protein"], n_results=5, include=["distances"])
    assert result["ids"] == query["ids"]
    assert result["scores"][0] == pytest.approx(query["distances"][0])


def test_a_sparse_key_ranks_with_bm25_like_lexical_query(papers: vectorhouse.Collection) -> None:
    result = papers.search(
        Search().rank(Knn(query="E1042 training", key="sparse_embedding")).select(K.SCORE)
    )
    lexical = papers.query(query_texts=["E1042 training"], mode="lexical", include=["distances"])
    assert result["ids"] == lexical["ids"] == [["p7"]]
    assert result["scores"][0] == pytest.approx(lexical["distances"][0])


def test_rrf_scores_follow_chromas_formula(papers: vectorhouse.Collection) -> None:
    dense = papers.search(Search().rank(Knn(query="learning", limit=4)))["ids"][0]
    sparse = papers.search(Search().rank(Knn(query="learning", key="bm25", limit=4)))["ids"][0]
    rank = Rrf(
        [
            Knn(query="learning", limit=4, return_rank=True, default=100),
            Knn(query="learning", key="bm25", limit=4, return_rank=True, default=100),
        ],
        weights=[3.0, 1.0],
        normalize=True,
        k=10,
    )
    result = papers.search(Search().rank(rank).select(K.SCORE))
    expected = {}
    for rid in set(dense) | set(sparse):
        r1 = dense.index(rid) if rid in dense else 100
        r2 = sparse.index(rid) if rid in sparse else 100
        expected[rid] = -(0.75 / (10 + r1) + 0.25 / (10 + r2))
    got = dict(zip(result["ids"][0], result["scores"][0], strict=True))
    assert got == pytest.approx(expected)
    assert result["scores"][0] == sorted(result["scores"][0])


def test_a_knn_without_default_keeps_only_records_it_found(
    papers: vectorhouse.Collection,
) -> None:
    both = Knn(query="learning", limit=8) + Knn(query="E1042", key="sparse_embedding")
    assert papers.search(Search().rank(both))["ids"] == [["p7"]]
    lenient = Knn(query="learning", limit=8) + Knn(
        query="E1042", key="sparse_embedding", default=5.0
    )
    assert len(papers.search(Search().rank(lenient))["ids"][0]) == 8


def test_filters_limit_and_offset_apply_as_in_get_and_query(
    papers: vectorhouse.Collection,
) -> None:
    where = {"$and": [{"category": "science"}, {"year": {"$gte": 2019}}]}
    node = parse_where(where)
    ranked = papers.search(Search(where=where, rank=Knn(query="learning", limit=8)))["ids"][0]
    metas = dict(zip(*[papers.get()[k] for k in ("ids", "metadatas")], strict=True))
    assert ranked and all(evaluate(node, metas[r], None) for r in ranked)
    page = papers.search(Search(where=where, rank=Knn(query="learning", limit=8)).limit(2, 1))
    assert page["ids"][0] == ranked[1:3]
    unranked = papers.search(Search(where=where, limit=3, select=["#score"]))
    assert unranked["ids"][0] == papers.get(where=where, limit=3)["ids"]
    assert unranked["scores"] == [None]


def test_search_dicts_and_vector_queries_run_too() -> None:
    col = vectorhouse.Client().create_collection("vecs", embedding_function=None)
    col.add(ids=["a", "b", "c"], embeddings=np.eye(3, dtype=np.float32), documents=["x", "y", "z"])
    result = col.search(
        {"rank": {"$knn": {"query": [0.0, 1.0, 0.0], "limit": 2}}, "select": {"keys": ["#score"]}}
    )
    assert result["ids"] == [["b", "a"]] or result["ids"] == [["b", "c"]]
    assert result["scores"][0][0] == pytest.approx(0.0)
    embedded = col.search(Search().rank(Knn(query=np.array([1.0, 0, 0]))).select(K.EMBEDDING))
    assert embedded["embeddings"][0][0] == [1.0, 0.0, 0.0]
    assert embedded.rows()[0][0] == {"id": "a", "embedding": [1.0, 0.0, 0.0]}


@pytest.mark.parametrize(
    ("search", "message"),
    [
        (Search().rank(Knn(query={"indices": [1], "values": [0.5]}, key="sp")), "must be text"),
        (Search().rank(Val(1.0)), "at least one Knn"),
        (Search().rank({"$pow": [1, 2]}), "unknown rank operator"),
        (
            Search(group_by={"keys": ["a"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 1}}}),
            "group_by",
        ),
        (Search(where={"#embedding": {"$eq": 1}}), "cannot filter on #embedding"),
        (Search(where={"k": {"$like": 1}}), "like"),
        ("not a search", "takes Search objects"),
        (Search().rank(Rrf([])), "at least one rank"),
    ],
)
def test_malformed_searches_raise_argument_errors(search: Any, message: str) -> None:
    col = vectorhouse.Client().create_collection("bad", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0]], documents=["x"])
    with pytest.raises(vectorhouse.InvalidArgumentError, match=message):
        col.search(search)
