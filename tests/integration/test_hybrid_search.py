"""Lexical (BM25) and hybrid search through ``Collection.query(mode=...)``: exact tokens
that dense search misses, filters, writes reflected at once, the lexical settings, and
BM25 scores equal to a reference computation."""

from __future__ import annotations

import math
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorhouse
from conftest import FakeEmbeddingFunction
from vectorhouse.engine import hybrid, lexical
from vectorhouse.filters.evaluate import evaluate
from vectorhouse.filters.parse import parse_where, parse_where_document

# Log lines that differ mostly in their codes and identifiers: a sentence embedding
# sees them as near-duplicates, BM25 sees the one rare token that matters.
LOGS = [
    ("e4021", "E4021 raised by the storage controller on volume three"),
    ("e4012", "Disk error E4012: the disk is nearly full, writes will slow down"),
    ("e2104", "Disk error E2104: a disk write failed, the block was remapped"),
    ("e4210", "Disk error E4210: the disk was unmounted while a write was pending"),
    ("e1402", "Disk error E1402: the disk cache is full, flushing it to storage"),
    ("w0421", "Disk warning W0421: the disk is getting full, consider cleaning up"),
    ("x7731", "Code X7731 is logged when the kernel watchdog fires"),
    ("pcf", "parse_config_file() reads the settings file and returns a dict"),
    ("pcd", "parse_config_dir() reads every settings file in a folder and merges them"),
    ("lcf", "load_config_file() opens the settings file and parses it"),
    ("wcf", "write_config_file() saves the settings back to the file"),
    ("rst", "ECONNRESET means the peer closed the connection"),
    ("tmo", "A network timeout while connecting to the database server"),
    ("pasta", "Cooking pasta needs plenty of salted boiling water"),
]
EXACT_QUERIES = [
    ("disk error E4021", "e4021"),
    ("disk cache E2104", "e2104"),
    ("disk write E4021 failed", "e4021"),
    ("parse the settings file write_config_file", "wcf"),
]


@pytest.fixture(scope="module")
def logs_collection() -> vectorhouse.Collection:
    """The log lines embedded once with the real default model."""
    col = vectorhouse.Client().create_collection("logs")
    col.add(
        ids=[i for i, _ in LOGS],
        documents=[d for _, d in LOGS],
        metadatas=[{"kind": "error" if i.startswith("e") else "other"} for i, _ in LOGS],
    )
    return col


def test_exact_tokens_that_dense_search_misses_are_found_by_hybrid_search(
    logs_collection: vectorhouse.Collection,
) -> None:
    texts = [q for q, _ in EXACT_QUERIES]

    def ranks(mode: str) -> list[int]:
        found = logs_collection.query(query_texts=texts, n_results=len(LOGS), mode=mode)
        return [ids.index(w) for ids, (_, w) in zip(found["ids"], EXACT_QUERIES, strict=True)]

    dense, hybrid_ranks = ranks("dense"), ranks("hybrid")
    assert all(r >= 1 for r in dense), dense  # the default model alone misses every one
    assert dense[0] >= 3  # ... "disk error E4021" not even in its top 3
    assert hybrid_ranks[0] == 0
    assert all(h <= 2 and h <= d for h, d in zip(hybrid_ranks, dense, strict=True)), (
        hybrid_ranks,
        dense,
    )


def test_hybrid_search_keeps_meaning_where_no_word_matches(
    logs_collection: vectorhouse.Collection,
) -> None:
    result = logs_collection.query(
        query_texts=["how do I make spaghetti"], n_results=1, mode="hybrid"
    )
    assert result["ids"] == [["pasta"]]
    assert logs_collection.query(query_texts=["spaghetti"], mode="lexical")["ids"] == [[]]


def test_every_mode_reports_ascending_scores_as_distances(
    logs_collection: vectorhouse.Collection,
) -> None:
    for mode in ("dense", "lexical", "hybrid"):
        result = logs_collection.query(query_texts=["disk full"], n_results=5, mode=mode)
        distances = result["distances"][0]
        assert len(distances) == len(result["ids"][0]) > 0
        assert distances == sorted(distances), mode
    lexical_scores = logs_collection.query(query_texts=["disk full"], mode="lexical")
    assert all(d < 0 for d in lexical_scores["distances"][0])  # minus the BM25 score


def test_rrf_fusion_finds_an_exact_token_too(
    logs_collection: vectorhouse.Collection,
) -> None:
    result = logs_collection.query(
        query_texts=["disk cache E2104"], n_results=1, mode="hybrid", fusion="rrf"
    )
    assert result["ids"] == [["e2104"]]


@pytest.mark.parametrize(
    ("where", "where_document", "ids"),
    [
        ({"kind": "error"}, None, None),
        ({"kind": {"$ne": "error"}}, {"$contains": "settings"}, None),
        (None, {"$not_contains": "disk"}, None),
        ({"$or": [{"kind": "other"}, {"n": {"$gte": 3}}]}, None, ["e4021", "pcf", "w0421"]),
    ],
)
def test_filters_apply_to_lexical_and_hybrid_search_as_to_dense(
    where: Any, where_document: Any, ids: list[str] | None, fake_ef: FakeEmbeddingFunction
) -> None:
    col = vectorhouse.Client().create_collection("filtered", embedding_function=fake_ef)
    metas = [
        {"kind": "error" if i.startswith("e") else "other", "n": n} for n, (i, _) in enumerate(LOGS)
    ]
    col.add(ids=[i for i, _ in LOGS], documents=[d for _, d in LOGS], metadatas=metas)
    nodes = [n for n in (parse_where(where), parse_where_document(where_document)) if n]
    allowed = {
        rid
        for (rid, doc), meta in zip(LOGS, metas, strict=True)
        if all(evaluate(n, meta, doc) for n in nodes) and (ids is None or rid in ids)
    }
    for mode in ("dense", "lexical", "hybrid"):
        got = col.query(
            query_texts=["disk settings file error full"],
            n_results=len(LOGS),
            where=where,
            where_document=where_document,
            ids=ids,
            mode=mode,
        )["ids"][0]
        assert set(got) <= allowed, mode
        if mode != "lexical":
            assert set(got) == allowed, mode  # dense and hybrid reach every allowed record


def test_updates_and_deletes_are_reflected_in_lexical_results_at_once(
    embedded_client: vectorhouse.Client, fake_ef: FakeEmbeddingFunction
) -> None:
    client = embedded_client
    col = client.create_collection("changing", embedding_function=fake_ef)
    col.add(ids=["a", "b", "c"], documents=["alpha quartz", "beta quartz", "gamma"])

    def lexical_ids(text: str) -> list[str]:
        ids: list[str] = col.query(query_texts=[text], mode="lexical")["ids"][0]
        return sorted(ids)

    assert lexical_ids("quartz") == ["a", "b"]
    col.update(ids=["a"], documents=["alpha feldspar"])
    assert lexical_ids("quartz") == ["b"]
    assert lexical_ids("feldspar") == ["a"]
    col.upsert(ids=["c", "d"], documents=["gamma quartz", "delta quartz"])
    assert lexical_ids("quartz") == ["b", "c", "d"]
    col.update(ids=["b"], metadatas=[{"m": 1}])  # metadata only: the text stays indexed
    assert lexical_ids("quartz") == ["b", "c", "d"]
    col.delete(ids=["c"])
    col.delete(where_document={"$contains": "delta"})
    assert lexical_ids("quartz") == ["b"]
    assert lexical_ids("gamma") == []
    client.delete_collection("changing")
    again = client.create_collection("changing", embedding_function=fake_ef)
    again.add(ids=["z"], documents=["zeta"])
    assert again.query(query_texts=["quartz"], mode="lexical")["ids"] == [[]]
    assert again.query(query_texts=["zeta"], mode="lexical")["ids"] == [["z"]]


def test_records_without_documents_are_not_indexed(fake_ef: FakeEmbeddingFunction) -> None:
    col = vectorhouse.Client().create_collection("nodocs", embedding_function=fake_ef)
    col.add(ids=["v"], embeddings=[[0.0] * 16])
    col.add(ids=["t"], documents=["text"])
    status = hybrid.lexical_status(col._engine, str(col.id))
    assert status == (1, 1)
    col.update(ids=["v"], documents=["text too"])
    assert hybrid.lexical_status(col._engine, str(col.id)) == (2, 2)
    assert sorted(col.query(query_texts=["text"], mode="lexical")["ids"][0]) == ["t", "v"]


def test_a_rebuilt_lexical_index_answers_like_the_original(
    tmp_path: Path, fake_ef: FakeEmbeddingFunction
) -> None:
    path = tmp_path / "db"
    with vectorhouse.PersistentClient(path) as client:
        col = client.create_collection("docs", embedding_function=fake_ef)
        col.add(ids=[i for i, _ in LOGS], documents=[d for _, d in LOGS])
        before = col.query(query_texts=["disk full write"], mode="lexical", n_results=5)
        cid = str(col.id)
    conn = sqlite3.connect(path / "vectorhouse.sqlite3")
    lexical.drop(conn, cid)  # as in a database written before lexical search existed
    conn.commit()
    conn.close()
    with vectorhouse.PersistentClient(path) as client:
        col = client.get_collection("docs", embedding_function=fake_ef)
        after = col.query(query_texts=["disk full write"], mode="lexical", n_results=5)
        assert after["ids"] == before["ids"]
        assert after["distances"][0] == pytest.approx(before["distances"][0])
        assert hybrid.rebuild_lexical(col._engine, cid) == len(LOGS)
        assert hybrid.lexical_status(col._engine, cid) == (len(LOGS), len(LOGS))
        again = col.query(query_texts=["disk full write"], mode="lexical", n_results=5)
        assert again["ids"] == before["ids"]


def test_porter_stemming_is_chosen_at_creation_and_recorded(
    fake_ef: FakeEmbeddingFunction,
) -> None:
    client = vectorhouse.Client()
    plain = client.create_collection("plain", embedding_function=fake_ef)
    stemmed = client.create_collection(
        "stemmed", embedding_function=fake_ef, configuration={"lexical": {"stemming": "porter"}}
    )
    for col in (plain, stemmed):
        col.add(ids=["n"], documents=["Network timeout while connecting"])
    assert plain.query(query_texts=["connection"], mode="lexical")["ids"] == [[]]
    assert stemmed.query(query_texts=["connection"], mode="lexical")["ids"] == [["n"]]
    assert stemmed.configuration_json["lexical"] == {"tokenizer": "unicode61", "stemming": "porter"}
    assert plain.configuration_json["lexical"]["stemming"] == "none"
    # Diacritics and case fold in both.
    plain.add(ids=["c"], documents=["Crème brûlée au CAFÉ"])
    assert plain.query(query_texts=["creme cafe"], mode="lexical")["ids"] == [["c"]]


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        ({"lexical": {"stemming": "snowball"}}, "stemming must be one of"),
        ({"lexical": {"tokenizer": "trigram"}}, "tokenizer must be"),
        ({"lexical": {"stopwords": True}}, "unknown lexical setting"),
        ({"lexical": "porter"}, "must be a dict"),
    ],
)
def test_bad_lexical_settings_are_refused(configuration: Any, message: str) -> None:
    with pytest.raises(vectorhouse.InvalidArgumentError, match=message):
        vectorhouse.Client().create_collection("bad", configuration=configuration)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "sparse", "query_texts": ["x"]}, "query mode must be one of"),
        ({"mode": "hybrid", "query_embeddings": [[0.0] * 16]}, "needs query_texts"),
        ({"mode": "lexical", "query_texts": ["x"], "query_embeddings": [[0.0] * 16]}, "only"),
        ({"mode": "hybrid", "query_texts": ["x"], "fusion": "max"}, "fusion method"),
        ({"mode": "hybrid", "query_texts": ["x"], "fusion": {"dense_weight": 2}}, "dense_weight"),
        ({"mode": "hybrid", "query_texts": ["x"], "fusion": {"kk": 1}}, "unknown fusion"),
        (
            {"mode": "hybrid", "query_texts": ["x", "y"], "query_embeddings": [[0.0] * 16]},
            "2 query_texts but 1",
        ),
    ],
)
def test_bad_mode_arguments_are_refused(
    kwargs: dict[str, Any], message: str, fake_ef: FakeEmbeddingFunction
) -> None:
    col = vectorhouse.Client().create_collection("args", embedding_function=fake_ef)
    col.add(ids=["a"], documents=["x"])
    with pytest.raises(vectorhouse.InvalidArgumentError, match=message):
        col.query(**kwargs)


def test_hybrid_search_takes_given_query_embeddings_for_the_dense_half() -> None:
    col = vectorhouse.Client().create_collection("vectors", embedding_function=None)
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["red", "blue"])
    result = col.query(
        query_texts=["red"],
        query_embeddings=[[0.0, 1.0]],
        mode="hybrid",
        n_results=2,
        fusion="rrf",
    )
    # "a" is first by words and second by vector, "b" first by vector only.
    assert result["ids"] == [["a", "b"]]
    assert result["distances"][0] == pytest.approx([-(1 / 60 + 1 / 61), -1 / 60])


def _reference_bm25(docs: dict[str, str], query: str) -> dict[str, float]:
    """BM25 as FTS5 defines it (k1 1.2, b 0.75, idf log((N-n+0.5)/(n+0.5)), floor 1e-6),
    on the same words, written out independently."""
    tokens = {k: re.findall(r"[^\W_]+", d.lower()) for k, d in docs.items()}
    n_docs = len(tokens)
    avgdl = sum(len(t) for t in tokens.values()) / n_docs
    terms = list(dict.fromkeys(re.findall(r"[^\W_]+", query.lower())))
    scores: dict[str, float] = {}
    for key, words in tokens.items():
        counts = Counter(words)
        total = 0.0
        for term in terms:
            df = sum(1 for t in tokens.values() if term in t)
            if not counts[term]:
                continue
            idf = max(math.log((n_docs - df + 0.5) / (df + 0.5)), 1e-6)
            f = counts[term]
            total += idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * len(words) / avgdl))
        if total:
            scores[key] = total
    return scores


def test_bm25_scores_equal_a_reference_computation(fake_ef: FakeEmbeddingFunction) -> None:
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(40)]
    docs = {f"d{i}": " ".join(rng.choice(words, size=rng.integers(3, 30))) for i in range(60)}
    col = vectorhouse.Client().create_collection("bm25", embedding_function=fake_ef)
    col.add(ids=list(docs), documents=list(docs.values()))
    other = vectorhouse.Client().create_collection("other", embedding_function=fake_ef)
    other.add(ids=["x"], documents=["w1 w2 w3"])  # another collection's text is not counted
    for query in ["w1", "w3 w17", "w5 w5 w9 w30", "w0 w1 w2 w3 w4 w5"]:
        expected = _reference_bm25(docs, query)
        got = col.query(query_texts=[query], mode="lexical", n_results=len(docs))
        scores = dict(zip(got["ids"][0], got["distances"][0], strict=True))
        assert set(scores) == set(expected), query
        for key, value in expected.items():
            assert -scores[key] == pytest.approx(value, rel=1e-9), (query, key)
