"""Chroma's Search API, locally: ``Search``, ``Knn``, ``Rrf``, ``Key``/``K`` and friends.

The classes have the names, fields, operators and ``to_dict()`` forms of chromadb
1.5.9's ``chromadb.execution.expression`` (the dict form is what runs, so Search
objects built with chromadb's own classes run too). What differs is the ranker behind
a sparse key: where Chroma Cloud searches a sparse embedding stored under a metadata
key, vectorhouse ranks the documents with BM25 (:mod:`vectorhouse.engine.lexical`).
So ``Knn(query="text")`` is dense search and ``Knn(query="text", key="sparse_embedding")``
(any key but ``#embedding``) is BM25.

    >>> s = Search().where(K("year") >= 2020).rank(Knn(query=[0.1, 0.2])).limit(5)
    >>> s.to_dict()["filter"], s.to_dict()["limit"]
    ({'year': {'$gte': 2020}}, {'offset': 0, 'limit': 5})
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vectorhouse.errors import InvalidArgumentError

__all__ = [
    "Abs",
    "And",
    "Contains",
    "Div",
    "Eq",
    "Exp",
    "GroupBy",
    "Gt",
    "Gte",
    "In",
    "K",
    "Key",
    "Knn",
    "Limit",
    "Log",
    "Lt",
    "Lte",
    "Max",
    "MaxK",
    "Min",
    "MinK",
    "Mul",
    "Ne",
    "Nin",
    "NotContains",
    "NotRegex",
    "Or",
    "Rank",
    "Regex",
    "Rrf",
    "Search",
    "SearchResult",
    "Select",
    "Sub",
    "Sum",
    "Val",
    "Where",
]


# -- where ----------------------------------------------------------------------------


class Where:
    """A filter expression; combine with ``&`` and ``|``.

    >>> ((K("a") == 1) & (K("b") > 2)).to_dict()
    {'$and': [{'a': {'$eq': 1}}, {'b': {'$gt': 2}}]}
    """

    def to_dict(self) -> dict[str, Any]:
        """The filter as Chroma's dict form."""
        raise NotImplementedError

    def __and__(self, other: Where) -> And:
        left = self.conditions if isinstance(self, And) else [self]
        right = other.conditions if isinstance(other, And) else [other]
        return And(left + right)

    def __or__(self, other: Where) -> Or:
        left = self.conditions if isinstance(self, Or) else [self]
        right = other.conditions if isinstance(other, Or) else [other]
        return Or(left + right)


@dataclass
class And(Where):
    """Every condition holds."""

    conditions: list[Where]

    def to_dict(self) -> dict[str, Any]:
        """``{"$and": [...]}``."""
        return {"$and": [c.to_dict() for c in self.conditions]}


@dataclass
class Or(Where):
    """At least one condition holds."""

    conditions: list[Where]

    def to_dict(self) -> dict[str, Any]:
        """``{"$or": [...]}``."""
        return {"$or": [c.to_dict() for c in self.conditions]}


@dataclass
class Eq(Where):
    """Equality."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$eq": ...}}``."""
        return {self.key: {"$eq": self.value}}


@dataclass
class Ne(Where):
    """Inequality."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$ne": ...}}``."""
        return {self.key: {"$ne": self.value}}


@dataclass
class Gt(Where):
    """Greater than."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$gt": ...}}``."""
        return {self.key: {"$gt": self.value}}


@dataclass
class Gte(Where):
    """Greater than or equal."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$gte": ...}}``."""
        return {self.key: {"$gte": self.value}}


@dataclass
class Lt(Where):
    """Less than."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$lt": ...}}``."""
        return {self.key: {"$lt": self.value}}


@dataclass
class Lte(Where):
    """Less than or equal."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$lte": ...}}``."""
        return {self.key: {"$lte": self.value}}


@dataclass
class In(Where):
    """The value is one of a list."""

    key: str
    values: list[Any]

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$in": ...}}``."""
        return {self.key: {"$in": self.values}}


@dataclass
class Nin(Where):
    """The value is none of a list."""

    key: str
    values: list[Any]

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$nin": ...}}``."""
        return {self.key: {"$nin": self.values}}


@dataclass
class Contains(Where):
    """Document substring, or an element of list metadata."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$contains": ...}}``."""
        return {self.key: {"$contains": self.value}}


@dataclass
class NotContains(Where):
    """Negation of Contains."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$not_contains": ...}}``."""
        return {self.key: {"$not_contains": self.value}}


@dataclass
class Regex(Where):
    """Regular expression match."""

    key: str
    pattern: str

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$regex": ...}}``."""
        return {self.key: {"$regex": self.pattern}}


@dataclass
class NotRegex(Where):
    """Negation of Regex."""

    key: str
    pattern: str

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$not_regex": ...}}``."""
        return {self.key: {"$not_regex": self.pattern}}


class Key:
    """A field: ``Key("meta_field")``, or ``K.ID``, ``K.DOCUMENT``, ``K.EMBEDDING``,
    ``K.METADATA``, ``K.SCORE`` (``K`` is ``Key``). Comparisons build filters.

    >>> (K("tag").is_in(["a", "b"])).to_dict()
    {'tag': {'$in': ['a', 'b']}}
    >>> K.DOCUMENT.contains("error").to_dict()
    {'#document': {'$contains': 'error'}}
    """

    ID: Key
    DOCUMENT: Key
    EMBEDDING: Key
    METADATA: Key
    SCORE: Key

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"Key({self.name!r})"

    def __eq__(self, value: Any) -> Any:
        return Eq(self.name, value)

    def __ne__(self, value: Any) -> Any:
        return Ne(self.name, value)

    def __gt__(self, value: Any) -> Any:
        return Gt(self.name, value)

    def __ge__(self, value: Any) -> Any:
        return Gte(self.name, value)

    def __lt__(self, value: Any) -> Any:
        return Lt(self.name, value)

    def __le__(self, value: Any) -> Any:
        return Lte(self.name, value)

    def is_in(self, values: list[Any]) -> Any:
        """The field's value is one of ``values``."""
        return In(self.name, values)

    def not_in(self, values: list[Any]) -> Any:
        """The field's value is none of ``values``."""
        return Nin(self.name, values)

    def regex(self, pattern: str) -> Any:
        """The field matches ``pattern``."""
        return Regex(self.name, pattern)

    def not_regex(self, pattern: str) -> Any:
        """The field does not match ``pattern``."""
        return NotRegex(self.name, pattern)

    def contains(self, value: Any) -> Any:
        """Document substring (on ``K.DOCUMENT``) or list element (on metadata)."""
        return Contains(self.name, value)

    def not_contains(self, value: Any) -> Any:
        """Negation of :meth:`contains`."""
        return NotContains(self.name, value)


Key.ID = Key("#id")
Key.DOCUMENT = Key("#document")
Key.EMBEDDING = Key("#embedding")
Key.METADATA = Key("#metadata")
Key.SCORE = Key("#score")
K = Key


# -- rank -----------------------------------------------------------------------------

Number = int | float


def _rank(value: Rank | Number) -> Rank:
    return Val(value) if isinstance(value, (int, float)) else value


class Rank:
    """A ranking expression; lower scores rank first. Supports ``+ - * /``, unary ``-``,
    ``abs()``, and ``exp() log() max() min()``.

    >>> (Knn(query=[1.0, 0.0]) * 0.5 + 1).to_dict()["$sum"][1]
    {'$val': 1}
    """

    def to_dict(self) -> dict[str, Any]:
        """The expression as Chroma's dict form."""
        raise NotImplementedError

    def __add__(self, other: Rank | Number) -> Sum:
        left = self.ranks if isinstance(self, Sum) else [self]
        o = _rank(other)
        return Sum(left + (o.ranks if isinstance(o, Sum) else [o]))

    def __radd__(self, other: Number) -> Sum:
        return Val(other) + self

    def __sub__(self, other: Rank | Number) -> Sub:
        return Sub(self, _rank(other))

    def __rsub__(self, other: Number) -> Sub:
        return Sub(Val(other), self)

    def __mul__(self, other: Rank | Number) -> Mul:
        left = self.ranks if isinstance(self, Mul) else [self]
        o = _rank(other)
        return Mul(left + (o.ranks if isinstance(o, Mul) else [o]))

    def __rmul__(self, other: Number) -> Mul:
        return Val(other) * self

    def __truediv__(self, other: Rank | Number) -> Div:
        return Div(self, _rank(other))

    def __rtruediv__(self, other: Number) -> Div:
        return Div(Val(other), self)

    def __neg__(self) -> Mul:
        return Mul([Val(-1), self])

    def __abs__(self) -> Abs:
        return Abs(self)

    def abs(self) -> Abs:
        """``|self|``."""
        return Abs(self)

    def exp(self) -> Exp:
        """``e ** self``."""
        return Exp(self)

    def log(self) -> Log:
        """Natural logarithm."""
        return Log(self)

    def max(self, other: Rank | Number) -> Max:
        """The larger of the two."""
        left = self.ranks if isinstance(self, Max) else [self]
        o = _rank(other)
        return Max(left + (o.ranks if isinstance(o, Max) else [o]))

    def min(self, other: Rank | Number) -> Min:
        """The smaller of the two."""
        left = self.ranks if isinstance(self, Min) else [self]
        o = _rank(other)
        return Min(left + (o.ranks if isinstance(o, Min) else [o]))


@dataclass
class Val(Rank):
    """A constant."""

    value: float

    def to_dict(self) -> dict[str, Any]:
        """``{"$val": value}``."""
        return {"$val": self.value}


@dataclass
class Sum(Rank):
    """Sum of ranks."""

    ranks: list[Rank]

    def to_dict(self) -> dict[str, Any]:
        """``{"$sum": [...]}``."""
        return {"$sum": [r.to_dict() for r in self.ranks]}


@dataclass
class Mul(Rank):
    """Product of ranks."""

    ranks: list[Rank]

    def to_dict(self) -> dict[str, Any]:
        """``{"$mul": [...]}``."""
        return {"$mul": [r.to_dict() for r in self.ranks]}


@dataclass
class Max(Rank):
    """Largest of ranks."""

    ranks: list[Rank]

    def to_dict(self) -> dict[str, Any]:
        """``{"$max": [...]}``."""
        return {"$max": [r.to_dict() for r in self.ranks]}


@dataclass
class Min(Rank):
    """Smallest of ranks."""

    ranks: list[Rank]

    def to_dict(self) -> dict[str, Any]:
        """``{"$min": [...]}``."""
        return {"$min": [r.to_dict() for r in self.ranks]}


@dataclass
class Sub(Rank):
    """Difference of two ranks."""

    left: Rank
    right: Rank

    def to_dict(self) -> dict[str, Any]:
        """``{"$sub": {"left": ..., "right": ...}}``."""
        return {"$sub": {"left": self.left.to_dict(), "right": self.right.to_dict()}}


@dataclass
class Div(Rank):
    """Quotient of two ranks."""

    left: Rank
    right: Rank

    def to_dict(self) -> dict[str, Any]:
        """``{"$div": {"left": ..., "right": ...}}``."""
        return {"$div": {"left": self.left.to_dict(), "right": self.right.to_dict()}}


@dataclass
class Abs(Rank):
    """Absolute value."""

    rank: Rank

    def to_dict(self) -> dict[str, Any]:
        """``{"$abs": ...}``."""
        return {"$abs": self.rank.to_dict()}


@dataclass
class Exp(Rank):
    """Exponential."""

    rank: Rank

    def to_dict(self) -> dict[str, Any]:
        """``{"$exp": ...}``."""
        return {"$exp": self.rank.to_dict()}


@dataclass
class Log(Rank):
    """Natural logarithm."""

    rank: Rank

    def to_dict(self) -> dict[str, Any]:
        """``{"$log": ...}``."""
        return {"$log": self.rank.to_dict()}


@dataclass
class Knn(Rank):
    """Nearest records to ``query``: dense on ``#embedding`` (the default key; a text
    query is embedded with the collection's function), BM25 over the documents on any
    other key. Its score is the distance (dense) or the negated BM25 score (lexical),
    or the 0-based rank with ``return_rank=True``. Only the best ``limit`` records get a
    score; others get ``default``, or are left out when ``default`` is None.

    >>> Knn(query="error E1042", key="sparse_embedding", return_rank=True).to_dict()
    {'$knn': {'query': 'error E1042', 'key': 'sparse_embedding', 'limit': 16, 'return_rank': True}}
    """

    query: Any
    key: Key | str = "#embedding"
    limit: int = 16
    default: float | None = None
    return_rank: bool = False

    def to_dict(self) -> dict[str, Any]:
        """``{"$knn": {...}}`` (optional fields only when set)."""
        query = self.query.tolist() if isinstance(self.query, np.ndarray) else self.query
        if hasattr(query, "to_dict"):
            query = query.to_dict()
        key = self.key.name if isinstance(self.key, Key) else self.key
        out: dict[str, Any] = {"query": query, "key": key, "limit": self.limit}
        if self.default is not None:
            out["default"] = self.default
        if self.return_rank:
            out["return_rank"] = True
        return {"$knn": out}


@dataclass
class Rrf(Rank):
    """Reciprocal rank fusion: ``-sum(w_i / (k + rank_i))`` (lower is better); the
    ranks should be ``Knn(..., return_rank=True)``.

    >>> r = Rrf([Knn(query=[1.0], return_rank=True), Knn(query="x", key="bm25",
    ...          return_rank=True)], k=60)
    >>> list(r.to_dict())
    ['$mul']
    """

    ranks: list[Rank]
    k: int = 60
    weights: list[float] | None = None
    normalize: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The fusion written out with ``$sum``/``$div``/``$mul``, as Chroma does."""
        if not self.ranks:
            raise InvalidArgumentError("RRF requires at least one rank")
        if self.k <= 0:
            raise InvalidArgumentError(f"k must be positive, got {self.k}")
        weights = list(self.weights) if self.weights else [1.0] * len(self.ranks)
        if len(weights) != len(self.ranks):
            raise InvalidArgumentError(
                f"Number of weights ({len(weights)}) must match number of ranks ({len(self.ranks)})"
            )
        if any(w < 0.0 for w in weights):
            raise InvalidArgumentError("All weights must be non-negative")
        if self.normalize:
            total = sum(weights)
            if total == 0:
                raise InvalidArgumentError("Sum of weights must be positive when normalize=True")
            weights = [w / total for w in weights]
        terms: list[Rank] = [w / (self.k + r) for w, r in zip(weights, self.ranks, strict=True)]
        fused: Rank = terms[0]
        for term in terms[1:]:
            fused = fused + term
        return (-fused).to_dict()


# -- limit, select, group by ----------------------------------------------------------


@dataclass
class Limit:
    """Pagination: skip ``offset`` results, return at most ``limit``."""

    offset: int = 0
    limit: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"offset": ..., "limit": ...}`` (limit only when set)."""
        out: dict[str, Any] = {"offset": self.offset}
        if self.limit is not None:
            out["limit"] = self.limit
        return out


@dataclass
class Select:
    """Which fields come back: ``K.DOCUMENT``, ``K.EMBEDDING``, ``K.METADATA``,
    ``K.SCORE``, or metadata field names."""

    keys: set[Key | str] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        """``{"keys": [...]}``."""
        names = [k.name if isinstance(k, Key) else k for k in self.keys]
        return {"keys": list(dict.fromkeys(names))}


@dataclass
class MinK:
    """Keep the ``k`` records with the smallest ``keys`` in each group."""

    keys: Any
    k: int

    def to_dict(self) -> dict[str, Any]:
        """``{"$min_k": {...}}``."""
        return {"$min_k": {"keys": _key_names(self.keys), "k": self.k}}


@dataclass
class MaxK:
    """Keep the ``k`` records with the largest ``keys`` in each group."""

    keys: Any
    k: int

    def to_dict(self) -> dict[str, Any]:
        """``{"$max_k": {...}}``."""
        return {"$max_k": {"keys": _key_names(self.keys), "k": self.k}}


@dataclass
class GroupBy:
    """Group results by metadata keys and keep some of each group (``MinK``/``MaxK``)."""

    keys: Any = field(default_factory=list)
    aggregate: MinK | MaxK | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{}`` when unset, else ``{"keys": [...], "aggregate": {...}}``."""
        if not self.keys or self.aggregate is None:
            return {}
        return {"keys": _key_names(self.keys), "aggregate": self.aggregate.to_dict()}


def _key_names(keys: Any) -> list[str]:
    items = keys if isinstance(keys, (list, tuple)) else [keys]
    return [k.name if isinstance(k, Key) else str(k) for k in items]


# -- search ---------------------------------------------------------------------------


class Search:
    """One search: ``where`` filter, ``rank`` expression, ``limit``, ``select``; build
    it with keyword arguments or by chaining (each call returns a new Search).

    >>> s = Search(where={"tag": "a"}, rank={"$knn": {"query": [1.0]}}, limit=3,
    ...            select=["#document", "#score"])
    >>> s.to_dict()["rank"]
    {'$knn': {'query': [1.0]}}
    """

    def __init__(
        self,
        where: Where | dict[str, Any] | None = None,
        rank: Rank | dict[str, Any] | None = None,
        group_by: GroupBy | dict[str, Any] | None = None,
        limit: Limit | dict[str, Any] | int | None = None,
        select: Select | dict[str, Any] | Iterable[Key | str] | None = None,
    ) -> None:
        self._where = where
        self._rank = rank
        self._group_by = group_by
        self._limit = limit
        self._select = select

    def _with(self, **changes: Any) -> Search:
        args: dict[str, Any] = {
            "where": self._where,
            "rank": self._rank,
            "group_by": self._group_by,
            "limit": self._limit,
            "select": self._select,
        }
        args.update(changes)
        return Search(**args)

    def where(self, where: Where | dict[str, Any] | None) -> Search:
        """This search with another filter."""
        return self._with(where=where)

    def rank(self, rank_expr: Rank | dict[str, Any] | None) -> Search:
        """This search with another ranking expression."""
        return self._with(rank=rank_expr)

    def group_by(self, group_by: GroupBy | dict[str, Any] | None) -> Search:
        """This search with grouping."""
        return self._with(group_by=group_by)

    def limit(self, limit: int, offset: int = 0) -> Search:
        """This search with another page."""
        return self._with(limit=Limit(offset=offset, limit=limit))

    def select(self, *keys: Key | str) -> Search:
        """This search returning ``keys``."""
        return self._with(select=Select(keys=set(keys)))

    def select_all(self) -> Search:
        """This search returning document, embedding, metadata and score."""
        return self._with(select=Select(keys={K.DOCUMENT, K.EMBEDDING, K.METADATA, K.SCORE}))

    def to_dict(self) -> dict[str, Any]:
        """The search as Chroma's JSON-ready dict (``filter``, ``rank``, ``group_by``,
        ``limit``, ``select``)."""
        return {
            "filter": _as_dict(self._where),
            "rank": _as_dict(self._rank),
            "group_by": _as_dict(self._group_by) or {},
            "limit": _limit_dict(self._limit),
            "select": _select_dict(self._select),
        }


def _as_dict(value: Any) -> Any:
    if value is None or isinstance(value, dict):
        return value
    return value.to_dict()


def _limit_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {"offset": 0}
    if isinstance(value, bool):
        raise InvalidArgumentError("limit must be a Limit, dict, int or None")
    if isinstance(value, int):
        return {"offset": 0, "limit": value}
    return dict(_as_dict(value))


def _select_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {"keys": []}
    if isinstance(value, (dict, Select)):
        return dict(_as_dict(value))
    names = [k.name if isinstance(k, Key) else k for k in value]
    return {"keys": list(dict.fromkeys(names))}


class SearchResult(dict[str, Any]):
    """Chroma's column-major search result: ``ids``, ``documents``, ``embeddings``,
    ``metadatas``, ``scores``, ``select``, one entry per search (None where a field
    was not selected).

    >>> r = SearchResult(ids=[["a"]], documents=[["x"]], embeddings=[None],
    ...                  metadatas=[None], scores=[[0.5]], select=[["#document", "#score"]])
    >>> r.rows()
    [[{'id': 'a', 'document': 'x', 'score': 0.5}]]
    """

    def rows(self) -> list[list[dict[str, Any]]]:
        """The results row by row: one list of ``{"id", "document", ...}`` per search,
        with only the fields that have values."""
        ids: Sequence[Sequence[str]] = self.get("ids", [])
        n = len(ids)
        columns = {
            name: self.get(plural) or [None] * n
            for name, plural in (
                ("document", "documents"),
                ("embedding", "embeddings"),
                ("metadata", "metadatas"),
                ("score", "scores"),
            )
        }
        out: list[list[dict[str, Any]]] = []
        for q, row_ids in enumerate(ids):
            rows = []
            for i, rid in enumerate(row_ids):
                row: dict[str, Any] = {"id": rid}
                for name, column in columns.items():
                    values = column[q]
                    if values is not None and values[i] is not None:
                        row[name] = values[i]
                rows.append(row)
            out.append(rows)
        return out
