"""A collection: validate the call, embed texts through the collection's function, hand
the typed request to the engine, and shape the answer like Chroma's.

    >>> import vectorhouse
    >>> col = vectorhouse.Client().create_collection("docs", embedding_function=None)
    >>> col.add(ids=["a", "b"], embeddings=[[1, 0], [0, 1]], documents=["x", "y"])
    >>> col.query(query_embeddings=[[0.9, 0.1]], n_results=1)["ids"]
    [['a']]
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vectorhouse.api import chroma_rules, search_run
from vectorhouse.api import validation as v
from vectorhouse.api.embedding import (
    check_same_model,
    fingerprint_of,
    function_key,
    stored_function_config,
)
from vectorhouse.api.search import SearchResult
from vectorhouse.embeddings.base import call_embedding_function
from vectorhouse.errors import EmbeddingError, InvalidArgumentError, InvalidIDError
from vectorhouse.filters.parse import And, parse_where, parse_where_document
from vectorhouse.storage.store import CollectionRow, RecordRows, text_hash
from vectorhouse.types import (
    DEFAULT_GET_INCLUDE,
    DEFAULT_QUERY_INCLUDE,
    GET_INCLUDE_FIELDS,
    QUERY_INCLUDE_FIELDS,
    GetResult,
    QueryResult,
)

if TYPE_CHECKING:
    from vectorhouse.api.client import Client


class Collection:
    """A named set of records sharing one embedding space (Chroma's ``Collection``)."""

    def __init__(self, client: Client, row: CollectionRow, embedding_function: Any) -> None:
        self._client = client
        self._row = row
        self._embedding_function = embedding_function

    # -- identity -------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The collection's name."""
        return self._row.name

    @property
    def id(self) -> uuid.UUID:
        """The collection's id (stable across renames)."""
        return uuid.UUID(self._row.id)

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The collection's metadata, as given at creation or by ``modify``."""
        return None if self._row.metadata is None else dict(self._row.metadata)

    @property
    def configuration(self) -> dict[str, Any]:
        """The collection's configuration: ``hnsw`` settings and embedding function."""
        return {**self._row.configuration, "embedding_function": self._embedding_function}

    @property
    def configuration_json(self) -> dict[str, Any]:
        """The stored configuration as JSON-ready data (read fresh from storage)."""
        self._row = self._engine.collection_by_id(self._row.id)
        return dict(self._row.configuration)

    @property
    def embedding_function(self) -> Any:
        """The function that embeds this collection's texts (None: raw vectors only)."""
        return self._embedding_function

    @property
    def dimension(self) -> int | None:
        """The embeddings' dimension, or None before the first record."""
        return self._client._engine.collection_by_id(self._row.id).dimension

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Collection):
            return NotImplemented
        return self._row.id == other._row.id and self._client._key == other._client._key

    def __hash__(self) -> int:
        return hash((self._row.id, self._client._key))

    def __repr__(self) -> str:
        return f"Collection(name={self.name})"

    # -- helpers --------------------------------------------------------------------

    @property
    def _engine(self) -> Any:
        return self._client._engine

    def _embed(self, texts: list[str], op: str, *, query: bool = False) -> npt.NDArray[np.float32]:
        fn = self._embedding_function
        if fn is None:
            stored = self._row.configuration.get("embedding_function")
            if isinstance(stored, Mapping) and stored.get("type") in ("legacy", "known"):
                raise InvalidArgumentError(
                    f"collection {self.name!r} was built with an embedding function that"
                    f" cannot be rebuilt here ({stored.get('name', 'legacy, unnamed')}), so"
                    f" {op} of texts needs it passed again: open the collection with"
                    " embedding_function=, as in Chroma"
                )
            raise InvalidArgumentError(
                f"collection {self.name!r} has no embedding function, so {op} needs"
                " embeddings (vectors), not texts; pass embeddings=/query_embeddings=, or"
                " open the collection with embedding_function="
            )
        check_same_model(self._client, self._row.id, self.name, fn)
        return call_embedding_function(fn, texts, query=query)

    def _embed_documents(
        self, docs: list[str], op: str
    ) -> tuple[npt.NDArray[np.float32], list[int | None]]:
        """Embed documents, reusing vectors the collection's function already computed."""
        if self._embedding_function is not None:
            check_same_model(self._client, self._row.id, self.name, self._embedding_function)
        known = self._engine.models.embedded_texts(self._row.id, docs) if docs else {}
        missing = list(dict.fromkeys(d for d in docs if d not in known))
        if missing:
            fresh = self._embed(missing, op)
            known.update(zip(missing, fresh, strict=True))
        vectors = np.stack([known[d] for d in docs]).astype(np.float32, copy=False)
        return vectors, [text_hash(d) for d in docs]

    def _records(
        self,
        op: str,
        ids: Any,
        embeddings: Any,
        metadatas: Any,
        documents: Any,
        *,
        require_vectors: bool,
        allow_none_values: bool,
    ) -> tuple[
        list[str],
        npt.NDArray[np.float32] | None,
        list[str | None] | None,
        list[dict[str, Any] | None] | None,
        list[int | None] | None,
    ]:
        id_list = v.normalize_ids(ids, op)
        n = len(id_list)
        if n == 0:
            raise InvalidIDError(f"ids must not be empty in {op}: give at least one record")
        docs = None if documents is None else v.normalize_documents(documents, n, op)
        metas = (
            None
            if metadatas is None
            else v.normalize_metadatas(metadatas, n, op, allow_none_values=allow_none_values)
        )
        vecs = None
        hashes: list[int | None] | None = None
        if embeddings is not None:
            vecs = v.normalize_embeddings(embeddings, n, op)
            if len(vecs) != n:
                raise InvalidArgumentError(
                    f"unequal lengths in {op}: {n} ids but {len(vecs)} embeddings"
                )
        elif docs is not None:
            texts = [d for d in docs if d is not None]
            if len(texts) != n:
                raise InvalidArgumentError(
                    f"{op}: every record needs a document to embed when no embeddings are given"
                )
            vecs, hashes = self._embed_documents(texts, op)
        elif require_vectors:
            raise InvalidArgumentError(f"{op} needs embeddings or documents")
        return id_list, vecs, docs, metas, hashes

    # -- writes ---------------------------------------------------------------------

    def add(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        """Add new records; ids that already exist are skipped, as in Chroma.

        The skipped ids keep their stored records and a warning names how many there
        were; ``upsert`` overwrites instead. With ``Settings(strict_add_ids=True)`` an
        existing id raises ``IDAlreadyExistsError`` and nothing is written.

        >>> import vectorhouse
        >>> col = vectorhouse.Client().create_collection("add_demo", embedding_function=None)
        >>> col.add(ids=["a"], embeddings=[[1.0, 2.0]], metadatas=[{"k": 1}])
        >>> col.count()
        1
        """
        _no_multimodal(images, uris, "add")
        id_list, vecs, docs, metas, hashes = self._records(
            "add",
            ids,
            embeddings,
            metadatas,
            documents,
            require_vectors=True,
            allow_none_values=False,
        )
        assert vecs is not None
        n = len(id_list)
        self._engine.add(
            self._row.id, id_list, vecs, docs or [None] * n, metas or [None] * n, hashes
        )

    def upsert(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        """Add records, overwriting those whose ids exist (metadata is merged).

        >>> import vectorhouse
        >>> col = vectorhouse.Client().create_collection("ups_demo", embedding_function=None)
        >>> col.upsert(ids=["a"], embeddings=[[1.0, 2.0]])
        >>> col.upsert(ids=["a"], embeddings=[[3.0, 4.0]])
        >>> col.get(ids=["a"], include=["embeddings"])["embeddings"].tolist()
        [[3.0, 4.0]]
        """
        _no_multimodal(images, uris, "upsert")
        id_list, vecs, docs, metas, hashes = self._records(
            "upsert",
            ids,
            embeddings,
            metadatas,
            documents,
            require_vectors=True,
            allow_none_values=True,
        )
        self._engine.upsert(self._row.id, id_list, vecs, docs, metas, doc_hashes=hashes)

    def update(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        """Change fields of existing records; ids that do not exist are skipped.

        >>> import vectorhouse
        >>> col = vectorhouse.Client().create_collection("upd_demo", embedding_function=None)
        >>> col.add(ids=["a"], embeddings=[[1.0, 2.0]], metadatas=[{"k": 1, "x": 0}])
        >>> col.update(ids=["a"], metadatas=[{"k": 2}])
        >>> col.get(ids=["a"])["metadatas"]
        [{'k': 2, 'x': 0}]
        """
        _no_multimodal(images, uris, "update")
        id_list, vecs, docs, metas, hashes = self._records(
            "update",
            ids,
            embeddings,
            metadatas,
            documents,
            require_vectors=False,
            allow_none_values=True,
        )
        self._engine.upsert(
            self._row.id, id_list, vecs, docs, metas, insert_missing=False, doc_hashes=hashes
        )

    def delete(
        self,
        ids: Any = None,
        where: Any = None,
        where_document: Any = None,
        limit: int | None = None,
    ) -> dict[str, int]:
        """Delete records by id and/or filter; returns ``{"deleted": n}``.

        ``limit`` (with a filter only, as in Chroma) deletes the first ``limit``
        matching records, in the order ``get`` returns them; ``limit=0`` deletes none.

        >>> import vectorhouse
        >>> col = vectorhouse.Client().create_collection("del_demo", embedding_function=None)
        >>> col.add(ids=["a", "b", "c"], embeddings=[[1.0], [2.0], [3.0]])
        >>> col.delete(ids=["a"])
        {'deleted': 1}
        >>> col.delete(where_document={"$not_contains": "x"}, limit=1), col.get()["ids"]
        ({'deleted': 1}, ['c'])
        """
        id_list = None if ids is None else v.normalize_ids(ids, "delete")
        node = _filter(where, where_document)
        if id_list is None and node is None:
            raise InvalidArgumentError(
                "At least one of ids, where, or where_document must be provided in delete."
                " (vectorhouse: to delete everything, delete the collection)"
            )
        lim = v.normalize_delete_limit(limit, where, where_document)
        if (id_list is not None and not id_list) or lim == 0:
            return {"deleted": 0}
        return {"deleted": self._engine.delete(self._row.id, id_list, node, limit=lim)}

    # -- reads ----------------------------------------------------------------------

    def count(self) -> int:
        """The number of records.

        >>> import vectorhouse
        >>> vectorhouse.Client().create_collection("cnt_demo").count()
        0
        """
        return int(self._engine.count(self._row.id))

    def get(
        self,
        ids: Any = None,
        where: Any = None,
        limit: int | None = None,
        offset: int | None = None,
        where_document: Any = None,
        include: Any = DEFAULT_GET_INCLUDE,
    ) -> GetResult:
        """Records by id and/or filter, in insertion order (as in Chroma, also when ``ids``
        lists them in another order).

        >>> import vectorhouse
        >>> col = vectorhouse.Client().create_collection("get_demo", embedding_function=None)
        >>> col.add(ids=["a", "b"], embeddings=[[1.0], [2.0]], documents=["x", "y"])
        >>> col.get(where_document={"$contains": "y"})["ids"]
        ['b']
        """
        id_list = None if ids is None else v.normalize_ids(ids, "get")
        inc = v.normalize_include(include, GET_INCLUDE_FIELDS, "get")
        lim = None if limit is None else v.normalize_positive_int(limit, "limit", "get", minimum=0)
        off = 0 if offset is None else v.normalize_positive_int(offset, "offset", "get", minimum=0)
        rows = self._engine.get(
            self._row.id,
            ids=id_list,
            node=_filter(where, where_document),
            limit=lim,
            offset=off,
            include=inc,
        )
        return _get_result(rows, inc)

    def peek(self, limit: int = 10) -> GetResult:
        """The first ``limit`` records, with embeddings.

        >>> import vectorhouse
        >>> vectorhouse.Client().create_collection("peek_demo").peek()["ids"]
        []
        """
        return self.get(limit=limit, include=["embeddings", "documents", "metadatas"])

    def query(
        self,
        query_embeddings: Any = None,
        query_texts: Any = None,
        query_images: Any = None,
        query_uris: Any = None,
        ids: Any = None,
        n_results: int = 10,
        where: Any = None,
        where_document: Any = None,
        include: Any = DEFAULT_QUERY_INCLUDE,
        mode: str = "dense",
        fusion: Any = None,
    ) -> QueryResult:
        """The ``n_results`` nearest records to each query, among those matching filters.

        ``mode="dense"`` (the default) ranks by embedding distance; ``mode="lexical"``
        ranks ``query_texts`` by BM25 over the documents; ``mode="hybrid"`` fuses both
        (``fusion``: ``"weighted"``, the default, or ``"rrf"``, or a dict of
        :class:`~vectorhouse.Fusion` fields; see :mod:`vectorhouse.engine.hybrid`).
        Every mode reports a score per hit under
        ``distances``, lower is better: the distance (dense), FTS5's ``bm25()`` value,
        i.e. minus the BM25 score (lexical), minus the fused score (hybrid).

        >>> import vectorhouse
        >>> col = vectorhouse.Client().create_collection("q_demo", embedding_function=None)
        >>> col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
        >>> col.query(query_embeddings=[[0.0, 1.0]], n_results=1, include=["distances"])
        ...     # doctest: +NORMALIZE_WHITESPACE
        {'ids': [['b']], 'embeddings': None, 'documents': None, 'uris': None,
         'included': ['distances'], 'data': None, 'metadatas': None, 'distances': [[0.0]]}
        """
        _no_multimodal(query_images, query_uris, "query")
        if mode != "dense":
            return search_run.text_query(
                self,
                query_embeddings=query_embeddings,
                query_texts=query_texts,
                ids=ids,
                n_results=n_results,
                node=_filter(where, where_document),
                include=include,
                mode=mode,
                fusion=fusion,
            )
        if (query_embeddings is None) == (query_texts is None):
            raise InvalidArgumentError("query needs exactly one of query_embeddings or query_texts")
        n = v.normalize_n_results(n_results)
        inc = v.normalize_include(include, QUERY_INCLUDE_FIELDS, "query")
        id_list = None if ids is None else v.normalize_query_ids(ids)
        node = _filter(where, where_document)
        if query_embeddings is not None:
            queries = v.normalize_embeddings(query_embeddings, None, "query")
        else:
            queries = self._embed(v.normalize_texts(query_texts, "query"), "query", query=True)
        results = self._engine.query(self._row.id, queries, n, node, inc, id_list)
        return _query_result(results, inc)

    def search(self, searches: Any, read_level: Any = None) -> SearchResult:
        """Run Chroma's Search API locally: one ``Search`` or a list of them (see
        :mod:`vectorhouse.api.search`); ``Knn`` on a key other than ``#embedding`` ranks
        the documents with BM25. Every committed write is visible (``read_level`` is
        accepted for compatibility).

        >>> import vectorhouse
        >>> from vectorhouse import K, Knn, Rrf, Search
        >>> col = vectorhouse.Client().create_collection("s_demo", embedding_function=None)
        >>> col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]],
        ...         documents=["error E1042", "all fine"], metadatas=[{"n": 1}, {"n": 2}])
        >>> rank = Rrf([Knn(query=[0.0, 1.0], return_rank=True, default=10),
        ...             Knn(query="E1042", key="sparse_embedding", return_rank=True, default=10)])
        >>> col.search(Search().where(K("n") >= 1).rank(rank).limit(2).select(K.DOCUMENT))
        ...     # doctest: +NORMALIZE_WHITESPACE
        {'ids': [['a', 'b']], 'documents': [['error E1042', 'all fine']], 'embeddings': [None],
         'metadatas': [None], 'scores': [None], 'select': [['#document']]}
        """
        return SearchResult(search_run.run_searches(self, searches))

    # -- changing the model ---------------------------------------------------------

    def reembed(
        self,
        embedding_function: Any,
        *,
        batch_size: int = 256,
        delete_without_documents: bool = False,
    ) -> dict[str, Any]:
        """Re-embed every stored document with another model, then switch over at once.

        New vectors are staged in storage batch by batch while reads keep using the old
        ones; an interrupted run resumes where it stopped when called again with the
        same function. Records without a document cannot be re-embedded: the call
        refuses to start while there are any, unless ``delete_without_documents=True``.

        >>> import vectorhouse
        >>> col = vectorhouse.Client().create_collection(
        ...     "re_demo", embedding_function=lambda texts: [[1.0, len(t)] for t in texts])
        >>> col.add(ids=["a"], documents=["four"])
        >>> col.reembed(lambda texts: [[len(t), 0.0, 1.0] for t in texts])
        {'reembedded': 1, 'deleted_without_documents': []}
        >>> col.get(include=["embeddings"])["embeddings"].tolist()
        [[4.0, 0.0, 1.0]]
        """
        if embedding_function is None:
            raise InvalidArgumentError("reembed needs an embedding function")
        size = v.normalize_positive_int(batch_size, "batch_size", "reembed")
        delete_without_documents = v.normalize_bool(
            delete_without_documents, "delete_without_documents", "reembed"
        )
        count, sample = self._engine.models.records_without_documents(self._row.id)
        if count and not delete_without_documents:
            raise InvalidArgumentError(
                f"{count} record(s) of collection {self.name!r} have no document to"
                f" re-embed, e.g. {', '.join(repr(s) for s in sample[:5])}; pass"
                " delete_without_documents=True to delete them"
            )
        stored = stored_function_config(embedding_function)
        fingerprint = fingerprint_of(embedding_function)
        self._engine.models.start_reembed(
            self._row.id, {"function": stored, "fingerprint": fingerprint}
        )
        done = 0
        while True:
            batch = self._engine.models.records_to_reembed(self._row.id, size)
            if batch:
                texts = [str(doc) for _, _, doc, _ in batch]
                vectors = call_embedding_function(embedding_function, texts)
                if vectors.shape[1] != fingerprint["dimension"]:
                    raise EmbeddingError("the new embedding function changed its dimension")
                self._engine.models.stage_vectors(
                    self._row.id,
                    [(rowid, seq) for rowid, _, _, seq in batch],
                    vectors,
                    [text_hash(t) for t in texts],
                )
                done += len(batch)
                continue
            config = {
                **self._row.configuration,
                "embedding_function": stored,
                "fingerprint": fingerprint,
            }
            deleted = self._engine.models.finish_reembed(
                self._row.id,
                config,
                fingerprint["dimension"],
                delete_without_documents=delete_without_documents,
            )
            if deleted is not None:
                break
        self._row = self._engine.collection_by_id(self._row.id)
        self._embedding_function = embedding_function
        self._client._verified.add((self._row.id, function_key(embedding_function)))
        return {"reembedded": done, "deleted_without_documents": deleted}

    # -- collection settings --------------------------------------------------------

    def modify(
        self,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        configuration: Mapping[str, Any] | None = None,
    ) -> None:
        """Rename the collection, replace its metadata, or change ``hnsw.ef_search``.

        >>> import vectorhouse
        >>> col = vectorhouse.Client().create_collection("mod_demo")
        >>> col.modify(name="renamed", metadata={"owner": "me"})
        >>> col.name, col.metadata
        ('renamed', {'owner': 'me'})
        """
        if name is not None:
            v.validate_collection_name(name)
        new_config = None
        hnsw = dict(self._row.configuration.get("hnsw", {}))
        chroma_rules.check_collection_metadata(metadata, "modify")
        if metadata is not None:
            metadata = v.normalize_metadata(metadata, "metadata", allow_none_values=False)
            space = metadata.get("hnsw:space")
            if space is not None and space != hnsw.get("space"):
                raise InvalidArgumentError(
                    "Changing the distance function of a collection once it is created is not"
                    " supported currently. (the distance space of a collection cannot change"
                    " after it is created)"
                )
        if configuration is not None:
            if not isinstance(configuration, Mapping):
                raise InvalidArgumentError("configuration must be a dict")
            hnsw_given = configuration.get("hnsw") or {}
            if not isinstance(hnsw_given, Mapping):
                raise InvalidArgumentError("configuration['hnsw'] must be a dict")
            given = dict(hnsw_given)
            unknown = set(given) - {
                "ef_search",
                "num_threads",
                "batch_size",
                "sync_threshold",
                "resize_factor",
            }
            if unknown:
                raise InvalidArgumentError(
                    f"only hnsw.ef_search can change after creation; got {sorted(unknown)}"
                )
            if "ef_search" in given:
                low, high = v.HNSW_LIMITS["ef_search"]
                hnsw["ef_search"] = v.normalize_positive_int(
                    given["ef_search"], "ef_search", "modify", minimum=low, maximum=high
                )
            new_config = {**self._row.configuration, "hnsw": hnsw}
        self._row = self._engine.modify_collection(
            self._row.id, name=name, metadata=metadata, configuration=new_config
        )


def _no_multimodal(images: Any, uris: Any, op: str) -> None:
    if images is not None or uris is not None:
        raise InvalidArgumentError(
            f"{op}: images and uris are not supported; pass texts or vectors"
        )


def _filter(where: Any, where_document: Any) -> Any:
    nodes = [n for n in (parse_where(where), parse_where_document(where_document)) if n is not None]
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def _get_result(rows: RecordRows, include: list[str]) -> GetResult:
    return GetResult(
        ids=rows.ids,
        embeddings=rows.embeddings if "embeddings" in include else None,
        documents=rows.documents if "documents" in include else None,
        uris=[None] * len(rows.ids) if "uris" in include else None,
        included=list(include),
        data=[None] * len(rows.ids) if "data" in include else None,
        metadatas=rows.metadatas if "metadatas" in include else None,
    )


def _query_result(results: list[Any], include: list[str]) -> QueryResult:
    def per_query(field: str) -> Any:
        if field not in include:
            return None
        return [getattr(r.rows, field) for r in results]

    return QueryResult(
        ids=[r.rows.ids for r in results],
        embeddings=[
            r.rows.embeddings if r.rows.embeddings is not None else np.zeros((0, 0), np.float32)
            for r in results
        ]
        if "embeddings" in include
        else None,
        documents=per_query("documents"),
        uris=[[None] * len(r.rows.ids) for r in results] if "uris" in include else None,
        included=list(include),
        data=[[None] * len(r.rows.ids) for r in results] if "data" in include else None,
        metadatas=per_query("metadatas"),
        distances=[r.distances for r in results] if "distances" in include else None,
    )
