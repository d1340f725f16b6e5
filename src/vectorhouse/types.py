"""Public value types: ids, embeddings, metadata, ``include`` and the result objects.

Results are plain dicts with Chroma's keys and shapes (so ``res["documents"]`` works
exactly as with Chroma), and they also read as small typed objects::

    >>> import vectorhouse
    >>> col = vectorhouse.Client().create_collection("demo", embedding_function=None)
    >>> col.add(ids=["a"], embeddings=[[1.0, 0.0]], documents=["hello"])
    >>> res = col.query(query_embeddings=[[1.0, 0.0]], n_results=1)
    >>> res["documents"], res.hits[0][0].document
    ([['hello']], 'hello')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

ID = str
IDs = list[str]
Scalar = str | int | float | bool
MetadataValue = str | int | float | bool | list[str] | list[int] | list[float] | list[bool] | None
Metadata = Mapping[str, MetadataValue]
Document = str
Documents = list[str]
Embedding = npt.NDArray[np.float32]
Embeddings = npt.NDArray[np.float32]
"""A 2-D float32 array, one row per record."""
Where = dict[str, Any]
WhereDocument = dict[str, Any]

IncludeField = Literal["embeddings", "documents", "metadatas", "distances", "uris", "data"]
Include = list[IncludeField]

GET_INCLUDE_FIELDS: frozenset[str] = frozenset(
    {"embeddings", "documents", "metadatas", "uris", "data"}
)
QUERY_INCLUDE_FIELDS: frozenset[str] = GET_INCLUDE_FIELDS | {"distances"}
DEFAULT_GET_INCLUDE: tuple[str, ...] = ("metadatas", "documents")
DEFAULT_QUERY_INCLUDE: tuple[str, ...] = ("metadatas", "documents", "distances")

Space = Literal["l2", "cosine", "ip"]
SPACES: tuple[str, ...] = ("l2", "cosine", "ip")


@dataclass(frozen=True)
class Record:
    """One stored record as returned by ``get``.

    >>> Record(id="a", document="hello", metadata={"k": 1}, embedding=None).id
    'a'
    """

    id: str
    document: str | None
    metadata: dict[str, Any] | None
    embedding: Embedding | None


@dataclass(frozen=True)
class Hit:
    """One result of ``query``: a record and its distance to the query.

    >>> Hit(id="a", distance=0.5, document=None, metadata=None, embedding=None).distance
    0.5
    """

    id: str
    distance: float | None
    document: str | None
    metadata: dict[str, Any] | None
    embedding: Embedding | None


def _at(column: Sequence[Any] | None, i: int) -> Any:
    return None if column is None else column[i]


class GetResult(dict[str, Any]):
    """The result of ``get`` / ``peek``: Chroma's dict, plus typed views.

    Keys: ``ids``, ``embeddings`` (float32 array or None), ``documents``, ``uris``,
    ``data``, ``metadatas``, ``included``. A field not in ``include`` is None.

    >>> r = GetResult(ids=["a"], embeddings=None, documents=["x"], uris=None, data=None,
    ...               metadatas=[None], included=["documents", "metadatas"])
    >>> r.records[0].document
    'x'
    """

    @property
    def ids(self) -> list[str]:
        """The ids, in result order."""
        ids: list[str] = self["ids"]
        return ids

    @property
    def documents(self) -> list[str | None] | None:
        """The documents, or None when not included."""
        docs: list[str | None] | None = self["documents"]
        return docs

    @property
    def metadatas(self) -> list[dict[str, Any] | None] | None:
        """The metadata mappings, or None when not included."""
        metas: list[dict[str, Any] | None] | None = self["metadatas"]
        return metas

    @property
    def embeddings(self) -> Embeddings | None:
        """The embeddings as one float32 array, or None when not included."""
        emb: Embeddings | None = self["embeddings"]
        return emb

    @property
    def records(self) -> list[Record]:
        """The results as :class:`Record` objects."""
        return [
            Record(
                id=rid,
                document=_at(self["documents"], i),
                metadata=_at(self["metadatas"], i),
                embedding=_at(self["embeddings"], i),
            )
            for i, rid in enumerate(self["ids"])
        ]


class QueryResult(dict[str, Any]):
    """The result of ``query``: Chroma's dict of lists per query, plus typed views.

    Keys: ``ids``, ``embeddings``, ``documents``, ``uris``, ``data``, ``metadatas``,
    ``distances``, ``included``; each value holds one list (or array) per query.

    >>> r = QueryResult(ids=[["a"]], embeddings=None, documents=None, uris=None,
    ...                 data=None, metadatas=None, distances=[[0.25]], included=["distances"])
    >>> r.hits[0][0].distance
    0.25
    """

    @property
    def ids(self) -> list[list[str]]:
        """One list of ids per query."""
        ids: list[list[str]] = self["ids"]
        return ids

    @property
    def distances(self) -> list[list[float]] | None:
        """One list of distances per query, or None when not included."""
        d: list[list[float]] | None = self["distances"]
        return d

    @property
    def documents(self) -> list[list[str | None]] | None:
        """One list of documents per query, or None when not included."""
        docs: list[list[str | None]] | None = self["documents"]
        return docs

    @property
    def metadatas(self) -> list[list[dict[str, Any] | None]] | None:
        """One list of metadata mappings per query, or None when not included."""
        metas: list[list[dict[str, Any] | None]] | None = self["metadatas"]
        return metas

    @property
    def embeddings(self) -> list[Embeddings] | None:
        """One float32 array per query, or None when not included."""
        emb: list[Embeddings] | None = self["embeddings"]
        return emb

    @property
    def hits(self) -> list[list[Hit]]:
        """The results as one list of :class:`Hit` per query, nearest first."""
        out: list[list[Hit]] = []
        for q, ids in enumerate(self["ids"]):
            out.append(
                [
                    Hit(
                        id=rid,
                        distance=_at(_at(self["distances"], q), i),
                        document=_at(_at(self["documents"], q), i),
                        metadata=_at(_at(self["metadatas"], q), i),
                        embedding=_at(_at(self["embeddings"], q), i),
                    )
                    for i, rid in enumerate(ids)
                ]
            )
        return out
