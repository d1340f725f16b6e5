"""Running searches: Chroma's Search API (``Collection.search``) and the short form
``Collection.query(..., mode="lexical" | "hybrid")``.

A search's dict form (``Search.to_dict()``) is validated here, then run: each ``Knn``
is one retrieval (dense from the vector index, BM25 from the lexical index) of its
``limit`` best records among those passing the filter; the candidates are the records
found by at least one ``Knn`` and by every ``Knn`` without a ``default``; the rank
expression is evaluated over them and the lowest scores come first.

    >>> import vectorhouse
    >>> col = vectorhouse.Client().create_collection("run_demo", embedding_function=None)
    >>> col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]],
    ...         documents=["error E1042 in the parser", "all fine"])
    >>> col.query(query_texts=["E1042"], mode="lexical", n_results=1)["ids"]
    [['a']]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vectorhouse.api import validation as v
from vectorhouse.engine import hybrid, lexical
from vectorhouse.engine.hybrid import Fusion, Ranked
from vectorhouse.errors import InvalidArgumentError, InvalidFilterError, NotSupportedError
from vectorhouse.filters.parse import And, Or, parse_where, parse_where_document
from vectorhouse.types import QueryResult

if TYPE_CHECKING:
    from vectorhouse.api.collection import Collection

Node = Any
MODES = ("dense", "lexical", "hybrid")
_SPECIAL_KEYS = {"#id", "#document", "#embedding", "#metadata", "#score"}


# -- configuration --------------------------------------------------------------------


def normalize_lexical(configuration: Mapping[str, Any] | None) -> dict[str, Any]:
    """The lexical settings of a new collection from ``configuration["lexical"]``.

    >>> normalize_lexical({"lexical": {"stemming": "porter"}})
    {'tokenizer': 'unicode61', 'stemming': 'porter'}
    >>> normalize_lexical(None)
    {'tokenizer': 'unicode61', 'stemming': 'none'}
    """
    given = (configuration or {}).get("lexical")
    if given is None:
        return dict(lexical.DEFAULT_CONFIG)
    if not isinstance(given, Mapping):
        raise InvalidArgumentError("configuration['lexical'] must be a dict")
    unknown = set(given) - set(lexical.DEFAULT_CONFIG)
    if unknown:
        raise InvalidArgumentError(
            f"unknown lexical setting(s) {sorted(unknown)}; known: tokenizer, stemming"
        )
    out = {**lexical.DEFAULT_CONFIG, **dict(given)}
    if out["tokenizer"] != "unicode61":
        raise InvalidArgumentError("lexical tokenizer must be 'unicode61'")
    if out["stemming"] not in lexical.STEMMERS:
        raise InvalidArgumentError(f"lexical stemming must be one of {list(lexical.STEMMERS)}")
    return out


def normalize_fusion(value: Any) -> Fusion:
    """A fusion from None (the default), ``"rrf"``, ``"weighted"``, a dict of
    :class:`~vectorhouse.engine.hybrid.Fusion` fields, or a Fusion.

    >>> normalize_fusion({"method": "weighted", "dense_weight": 0.7}).weight
    0.7
    >>> normalize_fusion("rrf").weight
    0.5
    """
    if value is None:
        return Fusion()
    if isinstance(value, Fusion):
        fields: dict[str, Any] = {
            "method": value.method,
            "k": value.k,
            "dense_weight": value.dense_weight,
            "candidates": value.candidates,
        }
    elif isinstance(value, str):
        fields = {"method": value}
    elif isinstance(value, Mapping):
        fields = dict(value)
    else:
        raise InvalidArgumentError("fusion must be 'rrf', 'weighted', a dict or a Fusion")
    unknown = set(fields) - {"method", "k", "dense_weight", "candidates"}
    if unknown:
        raise InvalidArgumentError(f"unknown fusion setting(s) {sorted(unknown)}")
    default = Fusion()
    method = fields.get("method", default.method)
    if method not in hybrid.FUSIONS:
        raise InvalidArgumentError(f"fusion method must be one of {list(hybrid.FUSIONS)}")
    weight = fields.get("dense_weight")
    if weight is not None and (
        isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1
    ):
        raise InvalidArgumentError("fusion dense_weight must be a number in [0, 1]")
    return Fusion(
        method=method,
        k=v.normalize_positive_int(fields.get("k", default.k), "k", "fusion"),
        dense_weight=None if weight is None else float(weight),
        candidates=v.normalize_positive_int(
            fields.get("candidates", default.candidates), "candidates", "fusion"
        ),
    )


# -- query(mode=...) ------------------------------------------------------------------


def text_query(
    col: Collection,
    *,
    query_embeddings: Any,
    query_texts: Any,
    ids: Any,
    n_results: Any,
    node: Node | None,
    include: Any,
    mode: Any,
    fusion: Any,
) -> QueryResult:
    """``Collection.query`` in lexical or hybrid mode."""
    from vectorhouse.api.collection import _query_result
    from vectorhouse.types import QUERY_INCLUDE_FIELDS

    if mode not in MODES:
        raise InvalidArgumentError(f"query mode must be one of {list(MODES)}, got {mode!r}")
    if query_texts is None:
        raise InvalidArgumentError(
            f"query mode={mode!r} needs query_texts: BM25 ranks the documents by their words"
        )
    texts = v.normalize_texts(query_texts, "query")
    n = v.normalize_n_results(n_results)
    inc = v.normalize_include(include, QUERY_INCLUDE_FIELDS, "query")
    id_list = None if ids is None else v.normalize_query_ids(ids)
    engine = _lexical_engine(col, f"query mode={mode!r}")
    cid = str(col.id)
    if mode == "lexical":
        if query_embeddings is not None:
            raise InvalidArgumentError("query mode='lexical' takes query_texts only")
        found = hybrid.lexical_query(engine, cid, texts, n, node, id_list, inc)
    else:
        fuse = normalize_fusion(fusion)
        if query_embeddings is not None:
            vectors = v.normalize_embeddings(query_embeddings, None, "query")
            if len(vectors) != len(texts):
                raise InvalidArgumentError(
                    f"query: {len(texts)} query_texts but {len(vectors)} query_embeddings"
                )
        else:
            vectors = col._embed(texts, "query", query=True)
        found = hybrid.hybrid_query(engine, cid, vectors, texts, n, node, id_list, fuse, inc)
    return _query_result(found, inc)


def _lexical_engine(col: Collection, what: str) -> Any:
    """The collection's engine, if it keeps a lexical index (the embedded one does)."""
    engine = col._engine
    if not getattr(engine, "supports_lexical", False):
        raise NotSupportedError(
            f"{what} needs the embedded engine's BM25 index; this backend offers dense"
            " search only (query with the default mode='dense')"
        )
    return engine


# -- where ----------------------------------------------------------------------------


def search_filter(where: Any) -> tuple[Node | None, list[str] | None]:
    """A Search API filter dict as a parsed filter plus an id restriction (``#id`` with
    ``$in``/``$eq``, at the top level or directly under a top-level ``$and``).

    >>> node, ids = search_filter({"$and": [{"#id": {"$in": ["a"]}}, {"k": {"$gt": 1}}]})
    >>> ids, type(node).__name__
    (['a'], 'MetaCompare')
    """
    if where is None:
        return None, None
    if not isinstance(where, Mapping) or not where:
        raise InvalidFilterError("a search's where must be a non-empty dict")
    parts = list(where["$and"]) if set(where) == {"$and"} else [where]
    ids: list[str] | None = None
    rest = []
    for part in parts:
        if isinstance(part, Mapping) and set(part) == {"#id"}:
            cond = part["#id"]
            if isinstance(cond, Mapping) and set(cond) == {"$in"}:
                chosen = v.normalize_ids(cond["$in"], "search")
            elif isinstance(cond, Mapping) and set(cond) == {"$eq"}:
                chosen = v.normalize_ids([cond["$eq"]], "search")
            elif isinstance(cond, str):
                chosen = [cond]
            else:
                raise InvalidFilterError("#id supports $in and $eq only")
            ids = chosen if ids is None else [i for i in ids if i in set(chosen)]
        else:
            rest.append(_node(part, "where"))
    if not rest:
        return None, ids
    return (rest[0] if len(rest) == 1 else And(tuple(rest))), ids


def _node(where: Any, path: str) -> Node:
    if not isinstance(where, Mapping) or len(where) != 1:
        raise InvalidFilterError(f"{path}: each condition is a dict with exactly one key")
    key, value = next(iter(where.items()))
    if key in ("$and", "$or"):
        if not isinstance(value, list) or not value:
            raise InvalidFilterError(f"{path}.{key}: needs a non-empty list")
        children = tuple(_node(c, f"{path}.{key}[{i}]") for i, c in enumerate(value))
        if len(children) == 1:
            return children[0]
        return And(children) if key == "$and" else Or(children)
    if key == "#document":
        node = parse_where_document(value if isinstance(value, Mapping) else {"$contains": value})
    elif key in _SPECIAL_KEYS:
        raise InvalidFilterError(f"{path}: cannot filter on {key} here")
    else:
        node = parse_where({key: value})
    assert node is not None
    return node


# -- Search API -----------------------------------------------------------------------


def run_searches(col: Collection, searches: Any) -> dict[str, Any]:
    """Run one Search (or a list) and return the column-major result fields."""
    _lexical_engine(col, "search()")
    items = searches if isinstance(searches, (list, tuple)) else [searches]
    out: dict[str, list[Any]] = {
        "ids": [],
        "documents": [],
        "embeddings": [],
        "metadatas": [],
        "scores": [],
        "select": [],
    }
    for item in items:
        plan = _search_dict(item)
        result = _run_one(col, plan)
        for name, value in result.items():
            out[name].append(value)
    return out


def _search_dict(item: Any) -> dict[str, Any]:
    to_dict = getattr(item, "to_dict", None)
    if isinstance(item, Mapping):
        data = dict(item)
    elif callable(to_dict):
        try:
            data = dict(to_dict())
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"search: {exc}") from exc
    else:
        raise InvalidArgumentError(f"search takes Search objects, got {type(item).__name__}")
    unknown = set(data) - {"filter", "rank", "group_by", "limit", "select"}
    if unknown:
        raise InvalidArgumentError(f"search: unknown field(s) {sorted(unknown)}")
    return data


def _run_one(col: Collection, plan: Mapping[str, Any]) -> dict[str, Any]:
    node, ids = search_filter(plan.get("filter"))
    if plan.get("group_by"):
        raise InvalidArgumentError("search: group_by is not supported by vectorhouse yet")
    limit = plan.get("limit") or {}
    offset = v.normalize_positive_int(limit.get("offset", 0), "offset", "search", minimum=0)
    count = limit.get("limit")
    if count is not None:
        count = v.normalize_positive_int(count, "limit", "search")
    keys = sorted({str(k) for k in (plan.get("select") or {}).get("keys", [])})
    meta_keys = [k for k in keys if k not in _SPECIAL_KEYS]
    include = []
    if "#document" in keys:
        include.append("documents")
    if "#embedding" in keys:
        include.append("embeddings")
    if "#metadata" in keys or meta_keys:
        include.append("metadatas")
    engine = col._engine
    cid = str(col.id)
    rank = plan.get("rank")
    if rank is None:
        rows = engine.get(cid, ids=ids, node=node, limit=count, offset=offset, include=include)
        scores: list[float] | None = None
    else:
        ranked = _rank(col, rank, node, ids)
        end = None if count is None else offset + count
        window = (ranked[0][offset:end], ranked[1][offset:end])
        fetched = hybrid.fetch_ranked(engine, cid, [window], include)[0]
        rows, scores = fetched.rows, fetched.distances
    metadatas = None
    if rows.metadatas is not None:
        if "#metadata" in keys:
            metadatas = rows.metadatas
        else:
            metadatas = [
                None if m is None else {k: m[k] for k in meta_keys if k in m}
                for m in rows.metadatas
            ]
    return {
        "ids": list(rows.ids),
        "documents": rows.documents if "#document" in keys else None,
        "embeddings": None
        if rows.embeddings is None or "#embedding" not in keys
        else [[float(x) for x in e] for e in rows.embeddings],
        "metadatas": metadatas,
        "scores": scores if "#score" in keys and scores is not None else None,
        "select": keys,
    }


# -- rank expressions -----------------------------------------------------------------

_NARY: dict[str, Callable[[list[npt.NDArray[np.float64]]], npt.NDArray[np.float64]]] = {
    "$sum": lambda xs: np.sum(xs, axis=0),
    "$mul": lambda xs: np.prod(xs, axis=0),
    "$max": lambda xs: np.max(xs, axis=0),
    "$min": lambda xs: np.min(xs, axis=0),
}
_UNARY: dict[str, Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]] = {
    "$abs": np.abs,
    "$exp": np.exp,
    "$log": np.log,
}


def _knns(rank: Any, found: list[Mapping[str, Any]], path: str = "rank") -> None:
    """Collect the ``$knn`` leaves in evaluation order, checking the shape on the way."""
    if not isinstance(rank, Mapping) or len(rank) != 1:
        raise InvalidArgumentError(f"search {path}: each rank is a dict with one operator")
    op, arg = next(iter(rank.items()))
    if op == "$knn":
        if not isinstance(arg, Mapping) or "query" not in arg:
            raise InvalidArgumentError(f"search {path}.$knn: needs a query")
        found.append(arg)
    elif op == "$val":
        if isinstance(arg, bool) or not isinstance(arg, (int, float)):
            raise InvalidArgumentError(f"search {path}.$val: needs a number")
    elif op in _NARY:
        if not isinstance(arg, (list, tuple)) or not arg:
            raise InvalidArgumentError(f"search {path}.{op}: needs a list of ranks")
        for i, child in enumerate(arg):
            _knns(child, found, f"{path}.{op}[{i}]")
    elif op in ("$sub", "$div"):
        if not isinstance(arg, Mapping) or set(arg) != {"left", "right"}:
            raise InvalidArgumentError(f"search {path}.{op}: needs left and right")
        _knns(arg["left"], found, f"{path}.{op}.left")
        _knns(arg["right"], found, f"{path}.{op}.right")
    elif op in _UNARY:
        _knns(arg, found, f"{path}.{op}")
    else:
        raise InvalidArgumentError(f"search {path}: unknown rank operator {op!r}")


def _rank(col: Collection, rank: Any, node: Node | None, ids: list[str] | None) -> Ranked:
    knns: list[Mapping[str, Any]] = []
    _knns(rank, knns)
    if not knns:
        raise InvalidArgumentError("search rank: needs at least one Knn")
    results = [_run_knn(col, knn, node, ids) for knn in knns]
    labels = sorted({int(x) for found, _ in results for x in found})
    required = [
        {int(x) for x in found}
        for (found, _), knn in zip(results, knns, strict=True)
        if knn.get("default") is None
    ]
    labels = [x for x in labels if all(x in r for r in required)]
    cand = np.asarray(labels, dtype=np.int64)
    columns = []
    for (found, values), knn in zip(results, knns, strict=True):
        default = knn.get("default")
        column = np.full(len(cand), math.nan if default is None else float(default))
        where = {int(x): i for i, x in enumerate(found)}
        for j, x in enumerate(labels):
            if x in where:
                column[j] = values[where[x]]
        columns.append(column)
    with np.errstate(all="ignore"):
        scores = _evaluate(rank, iter(columns), len(cand))
    scores = np.where(np.isnan(scores), np.inf, scores)
    order = np.lexsort((cand, scores))
    return cand[order], scores[order]


def _evaluate(rank: Mapping[str, Any], columns: Any, n: int) -> npt.NDArray[np.float64]:
    op, arg = next(iter(rank.items()))
    if op == "$knn":
        column: npt.NDArray[np.float64] = next(columns)
        return column
    if op == "$val":
        return np.full(n, float(arg))
    if op in _NARY:
        return _NARY[op]([_evaluate(child, columns, n) for child in arg])
    if op in ("$sub", "$div"):
        left = _evaluate(arg["left"], columns, n)
        right = _evaluate(arg["right"], columns, n)
        out: npt.NDArray[np.float64] = left - right if op == "$sub" else left / right
        return out
    return _UNARY[op](_evaluate(arg, columns, n))


def _run_knn(
    col: Collection, knn: Mapping[str, Any], node: Node | None, ids: Sequence[str] | None
) -> Ranked:
    key = knn.get("key", "#embedding")
    if not isinstance(key, str):
        raise InvalidArgumentError("search Knn key must be a string")
    limit = v.normalize_positive_int(knn.get("limit", 16), "limit", "search Knn")
    default = knn.get("default")
    if default is not None and (isinstance(default, bool) or not isinstance(default, (int, float))):
        raise InvalidArgumentError("search Knn default must be a number or None")
    query = knn["query"]
    engine = col._engine
    cid = str(col.id)
    if key == "#embedding":
        if isinstance(query, str):
            vectors = col._embed([query], "search", query=True)
        else:
            vectors = v.normalize_embeddings([query], None, "search")
        found, values = hybrid.dense_ranked(engine, cid, vectors, limit, node, ids)[0]
    else:
        if not isinstance(query, str):
            raise InvalidArgumentError(
                f"search Knn on {key!r}: vectorhouse ranks documents with BM25 in place of"
                " sparse embeddings, so the query must be text"
            )
        found, values = hybrid.lexical_ranked(engine, cid, [query], limit, node, ids)[0]
    if knn.get("return_rank"):
        values = np.arange(len(found), dtype=np.float64)
    return found, values
