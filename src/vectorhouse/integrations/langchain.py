"""LangChain's ``VectorStore`` over a vectorhouse collection (``vectorhouse[langchain]``).

>>> from vectorhouse.langchain import Vectorhouse
>>> store = Vectorhouse.from_texts(
...     ["I love Python programming", "JavaScript is fun", "I enjoy cooking pasta"])
>>> [doc.page_content for doc in store.similarity_search("Python coding", k=2)]
['I love Python programming', 'JavaScript is fun']

How LangChain's calls map onto the collection:

- **One model per collection.** A LangChain ``Embeddings`` given as the embedding
  becomes the collection's own function (documents through ``embed_documents``, queries
  through ``embed_query``), so the collection's same-model checks guard it. Without
  one, the collection embeds with its own function: the built-in model for a new
  collection, the stored one for an existing collection. A vectorhouse embedding
  function (``OpenAIEmbeddingFunction`` ...) may be given instead of a LangChain one.
- **Writes overwrite.** ``add_texts``/``add_documents`` take ids from ``ids=``, else
  from ``Document.id``, else generate uuid4 strings. A record whose id exists is replaced
  whole: text, vector and metadata (keys it no longer has are removed). Metadata is
  stored as given; keys whose value is None are left out, as in ``Collection.add``.
- **Filters.** ``filter=`` is a ``where`` clause and ``where_document=`` a document
  filter, in every search, in ``delete`` and in ``as_retriever(search_kwargs=...)``.
- **Scores.** ``similarity_search_with_score`` returns the collection's distance (lower
  is closer). Relevance scores lie in [0, 1]; for unit-length embeddings they are
  ``(1 + cosine similarity) / 2`` in every space: ``1 - d/4`` for ``l2`` (squared
  distances), ``1 - d/2`` for ``cosine`` and ``ip``, clipped to [0, 1] for vectors that
  are not unit length. ``relevance_score_fn=`` replaces the mapping.

Async methods are LangChain's defaults, which run the sync ones in a thread pool.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from vectorhouse.api.client import Client, PersistentClient
from vectorhouse.api.collection import Collection
from vectorhouse.api.embedding import NOT_GIVEN
from vectorhouse.api.search import K
from vectorhouse.embeddings.langchain import LangChainEmbeddingFunction, to_langchain
from vectorhouse.errors import InvalidArgumentError
from vectorhouse.types import QueryResult

try:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import VectorStore
    from langchain_core.vectorstores.utils import maximal_marginal_relevance
    from typing_extensions import Self
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise ImportError(
        "vectorhouse.langchain needs langchain-core: pip install 'vectorhouse[langchain]'"
    ) from exc

Embedding = Embeddings | Callable[[list[str]], Any]
"""What may embed a store's texts: a LangChain ``Embeddings`` or a vectorhouse function."""

DEFAULT_COLLECTION = "langchain"
_MODES = {"similarity": "dense", "hybrid": "hybrid", "lexical": "lexical"}
"""``search_type`` of the similarity searches -> ``Collection.query``'s ``mode``."""


def _l2_relevance(distance: float) -> float:
    return min(1.0, max(0.0, 1.0 - distance / 4.0))


def _half_relevance(distance: float) -> float:
    return min(1.0, max(0.0, 1.0 - distance / 2.0))


RELEVANCE_BY_SPACE: dict[str, Callable[[float], float]] = {
    "l2": _l2_relevance,
    "cosine": _half_relevance,
    "ip": _half_relevance,
}
"""Distance -> relevance in [0, 1]; all three give (1 + cos) / 2 for unit vectors."""


def _is_langchain_embeddings(obj: object) -> bool:
    return all(callable(getattr(obj, m, None)) for m in ("embed_documents", "embed_query"))


def _reject_unknown(kwargs: dict[str, Any], op: str) -> None:
    if kwargs:
        raise InvalidArgumentError(
            f"{op}: unexpected argument(s) {', '.join(sorted(kwargs))}"
            " (filters are filter= and where_document=)"
        )


def _document(doc_id: str, text: str | None, metadata: dict[str, Any] | None) -> Document:
    return Document(id=doc_id, page_content=text or "", metadata=dict(metadata or {}))


def _hits(result: QueryResult) -> list[tuple[Document, float]]:
    docs = result["documents"] or [[]]
    metas = result["metadatas"] or [[]]
    dists = result["distances"] or [[]]
    return [
        (_document(i, d, m), float(s))
        for i, d, m, s in zip(result["ids"][0], docs[0], metas[0], dists[0], strict=True)
    ]


class Vectorhouse(VectorStore):
    """A LangChain vector store kept in a vectorhouse collection.

    ``persist_directory`` opens (or creates) a database folder; ``client`` uses a client
    you made; with neither the store lives in memory.

    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> store = Vectorhouse("notes", embedding_function=DeterministicFakeEmbedding(size=8))
    >>> store.add_texts(["alpha", "beta"], metadatas=[{"n": 1}, {"n": 2}], ids=["a", "b"])
    ['a', 'b']
    >>> store.similarity_search("beta", k=1)
    [Document(id='b', metadata={'n': 2}, page_content='beta')]
    >>> store.similarity_search("beta", k=2, filter={"n": {"$lt": 2}})[0].id
    'a'
    """

    def __init__(
        self,
        collection_name: str = DEFAULT_COLLECTION,
        embedding_function: Embedding | None = None,
        persist_directory: str | os.PathLike[str] | None = None,
        client: Client | None = None,
        collection_metadata: dict[str, Any] | None = None,
        *,
        relevance_score_fn: Callable[[float], float] | None = None,
    ) -> None:
        if client is not None and persist_directory is not None:
            raise InvalidArgumentError("pass client= or persist_directory=, not both")
        if client is None:
            client = Client() if persist_directory is None else PersistentClient(persist_directory)
        function: Any = NOT_GIVEN
        self._embedding: Embeddings | None = None
        if embedding_function is not None:
            if _is_langchain_embeddings(embedding_function):
                self._embedding = embedding_function  # type: ignore[assignment]
                function = LangChainEmbeddingFunction(embedding_function)
            elif callable(embedding_function):
                function = embedding_function
            else:
                raise InvalidArgumentError(
                    "embedding_function must be a LangChain Embeddings or a vectorhouse"
                    f" embedding function, got {type(embedding_function).__name__}"
                )
        self._client = client
        self._collection = client.get_or_create_collection(
            collection_name, metadata=collection_metadata, embedding_function=function
        )
        self._relevance_score_fn = relevance_score_fn

    def __repr__(self) -> str:
        return f"Vectorhouse(collection={self._collection.name!r}, client={self._client!r})"

    @property
    def collection(self) -> Collection:
        """The vectorhouse collection underneath, for anything LangChain has no call for.

        >>> Vectorhouse("under").collection.name
        'under'
        """
        return self._collection

    @property
    def embeddings(self) -> Embeddings | None:
        """The store's embeddings as a LangChain ``Embeddings`` (None: vectors only).

        >>> type(Vectorhouse("emb").embeddings).__name__
        'VectorhouseEmbeddings'
        """
        if self._embedding is not None:
            return self._embedding
        function = self._collection.embedding_function
        return None if function is None else to_langchain(function)

    def _require_function(self, op: str) -> None:
        if self._collection.embedding_function is None:
            raise InvalidArgumentError(
                f"{op}: collection {self._collection.name!r} has no embedding function to"
                " embed text with; if it was built with a LangChain Embeddings (which"
                " cannot be rebuilt from storage), pass it again as embedding_function="
            )

    # -- writes ---------------------------------------------------------------------

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and store texts; returns their ids. An existing id is overwritten.

        >>> store = Vectorhouse("add_texts_demo")
        >>> store.add_texts(["first"], metadatas=[{"v": 1, "old": True}], ids=["x"])
        ['x']
        >>> _ = store.add_texts(["second"], metadatas=[{"v": 2}], ids=["x"])
        >>> store.get_by_ids(["x"])
        [Document(id='x', metadata={'v': 2}, page_content='second')]
        """
        _reject_unknown(kwargs, "add_texts")
        text_list = list(texts)
        n = len(text_list)
        given: Sequence[str | None] = [None] * n if ids is None else list(ids)
        metas: Sequence[dict[str, Any] | None] = [None] * n if metadatas is None else metadatas
        if len(given) != n or len(metas) != n:
            raise InvalidArgumentError(
                f"add_texts: {n} texts but {len(given)} ids and {len(metas)} metadatas"
            )
        if not n:
            return []
        self._require_function("add_texts")
        id_list = [str(uuid.uuid4()) if i is None else i for i in given]
        self._collection.upsert(
            ids=id_list, documents=text_list, metadatas=self._replacing(id_list, metas)
        )
        return id_list

    def _replacing(
        self, ids: list[str], metadatas: Sequence[dict[str, Any] | None]
    ) -> list[dict[str, Any]]:
        """Metadata that makes an upsert replace, not merge: keys a record had and the new
        metadata lacks are given as None, which removes them."""
        stored = self._collection.get(ids=ids, include=["metadatas"])
        old_metadatas = stored["metadatas"] or []
        old_keys = {i: set(m or ()) for i, m in zip(stored["ids"], old_metadatas, strict=True)}
        out = []
        for i, meta in zip(ids, metadatas, strict=True):
            new = {k: v for k, v in (meta or {}).items() if v is not None}
            out.append({**dict.fromkeys(old_keys.get(i, set()) - new.keys()), **new})
        return out

    def delete(
        self,
        ids: list[str] | None = None,
        *,
        filter: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> bool | None:
        """Delete records by id and/or filter; missing ids are ignored.

        Unlike LangChain's default, no arguments is an error rather than "delete
        everything": use ``delete_collection()`` for that.

        >>> store = Vectorhouse("delete_demo")
        >>> _ = store.add_texts(["a", "b"], ids=["1", "2"])
        >>> store.delete(["1", "404"])
        True
        >>> store.collection.count()
        1
        """
        _reject_unknown(kwargs, "delete")
        self._collection.delete(ids=ids, where=filter, where_document=where_document)
        return True

    def delete_collection(self) -> None:
        """Delete the whole collection; the store cannot be used afterwards.

        >>> import vectorhouse
        >>> client = vectorhouse.Client()
        >>> store = Vectorhouse("gone", client=client)
        >>> store.delete_collection()
        >>> client.count_collections()
        0
        """
        self._client.delete_collection(self._collection.name)

    # -- reads ----------------------------------------------------------------------

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids, in the order given; missing ids are skipped.

        >>> store = Vectorhouse("by_ids")
        >>> _ = store.add_texts(["a", "b"], ids=["1", "2"])
        >>> [d.id for d in store.get_by_ids(["2", "404", "1", "2"])]
        ['2', '1']
        """
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        got = self._collection.get(ids=unique, include=["documents", "metadatas"])
        found = {
            i: _document(i, d, m)
            for i, d, m in zip(
                got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True
            )
        }
        return [found[i] for i in unique if i in found]  # get answers in insertion order

    def similarity_search(
        self,
        query: str,
        k: int = 4,
        filter: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """The ``k`` documents nearest to ``query``, among those matching the filters.

        >>> store = Vectorhouse.from_texts(["red apple", "green pear"], ids=["1", "2"])
        >>> [d.page_content for d in store.similarity_search("an apple", k=1)]
        ['red apple']
        """
        hits = self.similarity_search_with_score(query, k, filter, where_document, **kwargs)
        return [doc for doc, _ in hits]

    def similarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """Like ``similarity_search``, with each document's distance (lower is closer).

        ``search_type="hybrid"`` fuses BM25 over the texts with the vectors (``fusion=``
        as in ``Collection.query``), ``search_type="lexical"`` is BM25 alone; their
        scores are lower-is-better too (minus the fused or BM25 score).

        >>> store = Vectorhouse.from_texts(["red apple", "green pear"])
        >>> hits = store.similarity_search_with_score("red apple")
        >>> [(doc.page_content, round(distance, 3)) for doc, distance in hits]
        [('red apple', 0.0), ('green pear', 0.981)]
        >>> [d.page_content for d, _ in store.similarity_search_with_score(
        ...     "pear", k=1, search_type="lexical")]
        ['green pear']
        """
        mode = _MODES.get(kwargs.pop("search_type", "similarity"))
        if mode is None:
            raise InvalidArgumentError(
                f"similarity_search: search_type must be one of {sorted(_MODES)}"
            )
        fusion = kwargs.pop("fusion", None)
        _reject_unknown(kwargs, "similarity_search")
        if mode != "lexical":
            self._require_function("similarity_search")
        result = self._collection.query(
            query_texts=[query],
            n_results=k,
            where=filter,
            where_document=where_document,
            include=["documents", "metadatas", "distances"],
            **({} if mode == "dense" else {"mode": mode, "fusion": fusion}),
        )
        return _hits(result)

    def search(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """LangChain's ``search``, with ``"hybrid"`` and ``"lexical"`` besides
        ``"similarity"``, ``"similarity_score_threshold"`` and ``"mmr"``.

        >>> store = Vectorhouse.from_texts(["error E1042 in parser", "all good"])
        >>> store.search("E1042", "hybrid", k=1)[0].page_content
        'error E1042 in parser'
        """
        if search_type in ("hybrid", "lexical"):
            return self.similarity_search(query, search_type=search_type, **kwargs)
        return super().search(query, search_type, **kwargs)

    def hybrid_search(self, search: Any) -> list[Document]:
        """Run a Chroma Search API search (``vectorhouse.Search``, or chromadb's) on the
        collection, like ``langchain_chroma.Chroma.hybrid_search``.

        >>> from vectorhouse import K, Knn, Search
        >>> store = Vectorhouse.from_texts(["error E1042 in parser", "all good"])
        >>> rank = Knn(query="E1042", key="sparse_embedding")
        >>> [d.page_content for d in store.hybrid_search(Search().rank(rank))]
        ['error E1042 in parser']
        """
        result = self._collection.search(search.select(K.DOCUMENT, K.METADATA))
        return [
            _document(i, d, m)
            for i, d, m in zip(
                result["ids"][0],
                result["documents"][0] or [],
                result["metadatas"][0] or [],
                strict=True,
            )
        ]

    def similarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """The ``k`` documents nearest to a query vector (made by the store's model).

        >>> store = Vectorhouse.from_texts(["red apple", "green pear"])
        >>> vector = store.embeddings.embed_query("green pear")
        >>> store.similarity_search_by_vector(vector, k=1)[0].page_content
        'green pear'
        """
        hits = self.similarity_search_by_vector_with_score(
            embedding, k, filter, where_document, **kwargs
        )
        return [doc for doc, _ in hits]

    def similarity_search_by_vector_with_score(
        self,
        embedding: list[float],
        k: int = 4,
        filter: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """Like ``similarity_search_by_vector``, with each document's distance.

        >>> store = Vectorhouse("by_vec", embedding_function=None)
        >>> _ = store.collection.add(ids=["v"], embeddings=[[0.0, 1.0]], documents=["up"])
        >>> store.similarity_search_by_vector_with_score([0.0, 1.0])
        [(Document(id='v', metadata={}, page_content='up'), 0.0)]
        """
        _reject_unknown(kwargs, "similarity_search_by_vector")
        result = self._collection.query(
            query_embeddings=[embedding],
            n_results=k,
            where=filter,
            where_document=where_document,
            include=["documents", "metadatas", "distances"],
        )
        return _hits(result)

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Distance -> relevance in [0, 1] for the collection's space.

        >>> store = Vectorhouse("rel", collection_metadata={"hnsw:space": "cosine"})
        >>> store._select_relevance_score_fn()(0.5)
        0.75
        """
        if self._relevance_score_fn is not None:
            return self._relevance_score_fn
        return RELEVANCE_BY_SPACE[self._collection.configuration["hnsw"]["space"]]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` documents near ``query`` and different from each other: the nearest
        ``fetch_k`` re-ranked by maximal marginal relevance (``lambda_mult`` 1 = nearest
        only, 0 = most diverse).

        >>> store = Vectorhouse.from_texts(["apple pie", "apple pie recipe", "pear tart"])
        >>> [d.page_content for d in store.similarity_search("apple", k=2)]
        ['apple pie', 'apple pie recipe']
        >>> [d.page_content for d in store.max_marginal_relevance_search("apple", k=2)]
        ['apple pie', 'pear tart']
        """
        self._require_function("max_marginal_relevance_search")
        vector = self._collection._embed([query], "max_marginal_relevance_search", query=True)
        return self.max_marginal_relevance_search_by_vector(
            vector[0].tolist(),
            k,
            fetch_k,
            lambda_mult,
            filter=filter,
            where_document=where_document,
            **kwargs,
        )

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``max_marginal_relevance_search`` for a query vector.

        >>> store = Vectorhouse("mmr_vec")
        >>> store.collection.add(ids=["a", "a2", "b"], documents=["a", "a2", "b"],
        ...                      embeddings=[[1.0, 0.0], [1.0, 0.05], [0.6, 0.8]])
        >>> [d.id for d in store.max_marginal_relevance_search_by_vector([1.0, 0.2], k=2)]
        ['a2', 'b']
        """
        _reject_unknown(kwargs, "max_marginal_relevance_search")
        result = self._collection.query(
            query_embeddings=[embedding],
            n_results=max(fetch_k, k),
            where=filter,
            where_document=where_document,
            include=["documents", "metadatas", "embeddings"],
        )
        vectors = result["embeddings"][0] if result["embeddings"] else np.zeros((0, 0))
        picked = maximal_marginal_relevance(
            np.asarray(embedding, dtype=np.float32),
            vectors.tolist(),
            lambda_mult=lambda_mult,
            k=k,
        )
        docs = result["documents"] or [[]]
        metas = result["metadatas"] or [[]]
        return [_document(result["ids"][0][i], docs[0][i], metas[0][i]) for i in picked]

    # -- construction ---------------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embedding | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        collection_name: str = DEFAULT_COLLECTION,
        persist_directory: str | os.PathLike[str] | None = None,
        client: Client | None = None,
        collection_metadata: dict[str, Any] | None = None,
        relevance_score_fn: Callable[[float], float] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A store holding ``texts``; without ``embedding`` the collection's own model
        embeds them (the built-in one for a new collection).

        >>> store = Vectorhouse.from_texts(["hello"], metadatas=[{"lang": "en"}], ids=["h"])
        >>> store.get_by_ids(["h"])
        [Document(id='h', metadata={'lang': 'en'}, page_content='hello')]
        """
        _reject_unknown(kwargs, "from_texts")
        store = cls(
            collection_name,
            embedding_function=embedding,
            persist_directory=persist_directory,
            client=client,
            collection_metadata=collection_metadata,
            relevance_score_fn=relevance_score_fn,
        )
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    def from_documents(
        cls,
        documents: list[Document],
        embedding: Embedding | None = None,
        **kwargs: Any,
    ) -> Self:
        """A store holding ``documents`` (their ids kept); arguments as ``from_texts``.

        >>> from langchain_core.documents import Document
        >>> store = Vectorhouse.from_documents([Document("hi", id="d1")])
        >>> store.get_by_ids(["d1"])[0].page_content
        'hi'
        """
        if "ids" not in kwargs and any(doc.id for doc in documents):
            kwargs["ids"] = [doc.id for doc in documents]
        return cls.from_texts(
            [doc.page_content for doc in documents],
            embedding,
            [doc.metadata for doc in documents],
            **kwargs,
        )
