"""Lexical and hybrid retrieval over the engine: BM25 candidates from the collection's
FTS5 table (:mod:`vectorhouse.engine.lexical`, or its postings in memory,
:mod:`vectorhouse.engine.postings`, which then rank in a second thread while the dense
search runs), dense candidates from the vector index, and their fusion.

Two fusions, both over each retriever's top candidates:

* ``weighted``, the default: each list's scores min-max normalised to [0, 1]
  (similarity for dense, BM25 for lexical; absent: 0), then
  ``w * dense + (1 - w) * lexical`` with ``w = 0.6``.
* ``rrf``, reciprocal rank fusion (Cormack et al. 2009):
  ``score = sum_i w_i / (k + rank_i)`` with 0-based ranks and ``k = 60`` (weights 1 and
  1 unless ``dense_weight`` says otherwise), the same arithmetic as Chroma's ``Rrf``;
  a record absent from one list gets nothing from it.

The default was chosen on the labelled sets of ``benchmarks/quality.py`` (RESULTS.md):
nDCG@10 of weighted 0.6 was above both dense and BM25 on each set (by 0.014 to 0.027)
and had the best mean; RRF fell below dense on two of the three sets.

Fused results are reported as distances, lower is better: ``-score``.

    >>> fuse_rrf([np.array([7, 8]), np.array([8, 9])], [1.0, 1.0], 60)[0].tolist()
    [8, 7, 9]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vectorhouse.engine import lexical, postings

if TYPE_CHECKING:
    from vectorhouse.engine.engine import Engine, QueryRows
    from vectorhouse.storage.store import CollectionRow

Node = Any  # a parsed filter
Ranked = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]
"""Rowids, best first, and their scores (lower is better)."""

FUSIONS = ("rrf", "weighted")


@dataclass(frozen=True)
class Fusion:
    """How hybrid search merges the dense and lexical lists.

    ``candidates`` is how many records each retriever contributes (at least the number
    of results asked for).

    ``dense_weight`` None means the method's default: 0.6 for ``weighted``, 0.5 (equal
    weights) for ``rrf``.

    >>> Fusion().method, Fusion().weight, Fusion("rrf").weight
    ('weighted', 0.6, 0.5)
    """

    method: str = "weighted"
    k: int = 60
    dense_weight: float | None = None
    candidates: int = 50

    @property
    def weight(self) -> float:
        """The dense list's weight in [0, 1] (the lexical list gets the rest)."""
        if self.dense_weight is not None:
            return self.dense_weight
        return 0.6 if self.method == "weighted" else 0.5


def ensure_lexical(engine: Engine, cid: str) -> None:
    """Create the lexical table of a collection made before lexical search existed.
    (A table once seen is remembered: queries then need no writer's lock for this.)"""
    from vectorhouse.engine.engine import lexical_config

    if cid in engine.lexical_ready:
        return
    with engine.lock:
        engine._check_open()
        conn = engine.store.conn
        if not lexical.exists(conn, cid):
            with engine.store.tx.atomic():
                row = engine.collection_by_id(cid)
                if not lexical.exists(conn, cid):
                    lexical.create(conn, cid, lexical_config(row.configuration))
        engine.lexical_ready.add(cid)


def rebuild_lexical(engine: Engine, cid: str) -> int:
    """Re-create a collection's lexical table from its records; returns how many
    documents it holds. (For ``check --repair``: see :func:`lexical_status`.)"""
    from vectorhouse.engine.engine import lexical_config

    with engine.lock:
        engine._check_open()
        with engine.store.tx.atomic():
            row = engine.collection_by_id(cid)
            engine.term_counts.clear()
            return lexical.rebuild(engine.store.conn, cid, lexical_config(row.configuration))


def lexical_status(engine: Engine, cid: str) -> tuple[int, int]:
    """``(indexed, expected)``: documents in the lexical table and records with a
    document. They differ only if the table was damaged or is missing."""

    def read() -> tuple[int, int]:
        conn = engine.store.conn
        return lexical.indexed_count(conn, cid), lexical.document_count(conn, cid)

    return engine._read(read)


def lexical_ranked(
    engine: Engine,
    cid: str,
    texts: Sequence[str],
    k: int,
    node: Node | None,
    ids: Sequence[str] | None,
) -> list[Ranked]:
    """Each text's ``k`` best BM25 matches among the records passing the filter."""
    ensure_lexical(engine, cid)

    def read() -> list[Ranked]:
        # ensure_lexical found the table, so the collection exists.
        conn, counts, allowed = (
            engine.store.conn,
            _term_counts(engine),
            _allowed(engine, cid, node, ids),
        )
        return [
            lexical.search(conn, cid, t, k, node, ids, counts, engine.postings, allowed)
            for t in texts
        ]

    return engine._read(read)


def lexical_query(
    engine: Engine,
    cid: str,
    texts: Sequence[str],
    n_results: int,
    node: Node | None,
    ids: Sequence[str] | None,
    include: Sequence[str],
) -> list[QueryRows]:
    """Each text's ``n_results`` best BM25 matches with their records, ranked and read
    from one snapshot: :func:`lexical_ranked` then :func:`fetch_ranked`.

    >>> import vectorhouse
    >>> col = vectorhouse.Client().create_collection("lq_demo", embedding_function=None)
    >>> col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]],
    ...         documents=["red fox", "blue whale"])
    >>> lexical_query(col._engine, str(col.id), ["whale"], 5, None, None, [])[0].rows.ids
    ['b']
    """
    ensure_lexical(engine, cid)

    def read() -> list[QueryRows]:
        conn, counts, allowed = (
            engine.store.conn,
            _term_counts(engine),
            _allowed(engine, cid, node, ids),
        )
        ranked = [
            lexical.search(conn, cid, t, n_results, node, ids, counts, engine.postings, allowed)
            for t in texts
        ]
        return fetch_ranked(engine, cid, ranked, include)

    return engine._read(read)


def _allowed(
    engine: Engine,
    cid: str,
    node: Node | None,
    ids: Sequence[str] | None,
    row: CollectionRow | None = None,
) -> Callable[[], npt.NDArray[np.int64]] | None:
    """For a filtered query inside a read: a function giving the rowids the filter
    passes, for BM25 from the postings (None without a filter)."""
    if node is None and ids is None:
        return None
    return lambda: engine.selected_rowids(row or engine._collection(cid), node, ids)


def _term_counts(engine: Engine) -> lexical.TermCounts | None:
    """The engine's term counts, unless this read runs inside a write transaction (see
    :class:`~vectorhouse.engine.lexical.TermCounts`); a read on its own connection
    never does."""
    store = engine.store
    return None if store.conn is store.main and store.tx.writing else engine.term_counts


def dense_ranked(
    engine: Engine,
    cid: str,
    queries: npt.NDArray[np.float32],
    k: int,
    node: Node | None,
    ids: Sequence[str] | None,
) -> list[Ranked]:
    """Each query vector's ``k`` nearest records (distances as scores): the planner of
    ``Engine.query`` without reading the records."""
    return engine._read(
        lambda: _dense(engine, engine._query_row(cid, queries), queries, k, node, ids),
        index=True,
    )


def _dense(
    engine: Engine,
    row: CollectionRow,
    queries: npt.NDArray[np.float32],
    k: int,
    node: Node | None,
    ids: Sequence[str] | None,
) -> list[Ranked]:
    """:func:`dense_ranked` inside the caller's read (``Engine._read``)."""
    state = engine._read_state(row)
    if state is None:
        return [(np.zeros(0, np.int64), np.zeros(0, np.float64)) for _ in queries]
    result = engine._search(row, state, queries, k, node, ids)
    return [
        (np.asarray(labels, dtype=np.int64), np.asarray(dists, dtype=np.float64))
        for labels, dists in zip(result.labels, result.distances, strict=True)
    ]


def fuse_rrf(lists: Sequence[npt.NDArray[np.int64]], weights: Sequence[float], k: int) -> Ranked:
    """Reciprocal rank fusion of rowid lists (best first); scores are ``-sum w/(k+rank)``.

    >>> ids, scores = fuse_rrf([np.array([1, 2])], [1.0], 60)
    >>> ids.tolist(), round(float(scores[0]), 5)
    ([1, 2], -0.01667)
    """
    parts = [
        w / (k + np.arange(len(labels), dtype=np.float64))
        for labels, w in zip(lists, weights, strict=True)
    ]
    return _summed(lists, parts)


def fuse_weighted(dense: Ranked, lex: Ranked, dense_weight: float) -> Ranked:
    """Weighted sum of min-max normalised scores (dense distances turned into
    similarities); scores are ``-fused``.

    >>> d = (np.array([1, 2, 4]), np.array([0.1, 0.2, 0.5]))
    >>> l = (np.array([2, 3]), np.array([-9.0, -3.0]))
    >>> fuse_weighted(d, l, 0.5)[0].tolist()
    [2, 1, 3, 4]
    """
    weights = (dense_weight, 1.0 - dense_weight)
    parts = [w * _normalised(scores) for (_, scores), w in zip((dense, lex), weights, strict=True)]
    return _summed([dense[0], lex[0]], parts)


def _normalised(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Lower-is-better scores mapped to [0, 1], best = 1 (all equal: all 1)."""
    if not len(scores):
        return scores
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo <= 0.0:
        return np.ones_like(scores)
    return (hi - scores) / (hi - lo)


def _summed(
    lists: Sequence[npt.NDArray[np.int64]], parts: Sequence[npt.NDArray[np.float64]]
) -> Ranked:
    """Each label's contributions added up (in list order, starting from 0.0, as a
    running sum would), best first, ties by smaller label; scores negated.

    Each list holds a label at most once, so a label's sum is ``0.0 + a`` or
    ``0.0 + a + b`` taken in list order: ``np.bincount`` adds its weights in input
    order, which gives the very same floats.

    >>> _summed([np.array([5, 3]), np.array([3])], [np.array([0.5, 0.25]), np.array([0.5])])
    (array([3, 5]), array([-0.75, -0.5 ]))
    """
    labels = np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])
    values = np.concatenate([np.asarray(x, dtype=np.float64) for x in parts])
    unique, inverse = np.unique(labels, return_inverse=True)
    total = np.bincount(inverse, weights=values, minlength=len(unique)).astype(np.float64)
    order = np.lexsort((unique, -total))
    return unique[order].astype(np.int64), -total[order]


def hybrid_query(
    engine: Engine,
    cid: str,
    queries: npt.NDArray[np.float32],
    texts: Sequence[str],
    n_results: int,
    node: Node | None,
    ids: Sequence[str] | None,
    fusion: Fusion,
    include: Sequence[str],
) -> list[QueryRows]:
    """Dense and lexical candidates for each query, fused; the best ``n_results`` with
    their records. Both lists and the records come from one snapshot.

    >>> import vectorhouse
    >>> col = vectorhouse.Client().create_collection("hq_demo", embedding_function=None)
    >>> col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]],
    ...         documents=["red fox", "blue whale"])
    >>> found = hybrid_query(col._engine, str(col.id), np.array([[0.0, 1.0]], np.float32),
    ...                      ["fox"], 2, None, None, Fusion(), ["documents"])
    >>> found[0].rows.documents, found[0].distances
    (['blue whale', 'red fox'], [-0.6, -0.4])
    """
    ensure_lexical(engine, cid)

    def read() -> list[QueryRows]:
        row = engine._query_row(cid, queries)
        ranked = _hybrid(engine, row, queries, texts, n_results, node, ids, fusion)
        return engine.fetch_ranked(row.id, row.dimension, ranked, include)

    return engine._read(read, index=True)


def _hybrid(
    engine: Engine,
    row: CollectionRow,
    queries: npt.NDArray[np.float32],
    texts: Sequence[str],
    n_results: int,
    node: Node | None,
    ids: Sequence[str] | None,
    fusion: Fusion,
) -> list[Ranked]:
    """The fused rankings of :func:`hybrid_query`, inside the caller's read."""
    depth = max(n_results, fusion.candidates)
    conn, counts = engine.store.conn, _term_counts(engine)
    # BM25 from the postings in memory runs in another thread beside the dense search.
    allowed = _allowed(engine, row.id, node, ids, row)
    fast = [
        lexical.in_memory(conn, row.id, t, depth, node, ids, counts, engine.postings, allowed)
        for t in texts
    ]
    running = [None if f is None else postings.in_background(f) for f in fast]
    dense = _dense(engine, row, queries, depth, node, ids)
    lex = [
        lexical.search(conn, row.id, t, depth, node, ids, counts) if f is None else f.result()
        for t, f in zip(texts, running, strict=True)
    ]
    out: list[Ranked] = []
    w = fusion.weight
    for d, lx in zip(dense, lex, strict=True):
        if fusion.method == "weighted":
            labels, scores = fuse_weighted(d, lx, w)
        else:
            labels, scores = fuse_rrf([d[0], lx[0]], [2 * w, 2 * (1.0 - w)], fusion.k)
        out.append((labels[:n_results], scores[:n_results]))
    return out


def fetch_ranked(
    engine: Engine, cid: str, ranked: Sequence[Ranked], include: Sequence[str]
) -> list[QueryRows]:
    """The records of ranked rowid lists, in their order, with their scores as
    distances (records deleted meanwhile are left out)."""

    def read() -> list[QueryRows]:
        # The configuration is read (and decoded) only when vectors are wanted.
        dimension = engine._collection(cid).dimension if "embeddings" in include else 0
        return engine.fetch_ranked(cid, dimension, ranked, include)

    return engine._read(read)
