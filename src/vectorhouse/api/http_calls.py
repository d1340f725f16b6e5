"""What ``HttpClient`` and ``AsyncHttpClient`` send, built once for both: each API
method becomes a :class:`Call` (method, path, JSON body, whether it may be retried,
and how to decode the answer). The sync and async clients only differ in how they
send a call.

Arguments go to the server as given (arrays as lists): the server validates them
with the same code as the embedded client, so errors are the same. The one thing done
here is embedding, when the caller opened a collection with its own embedding
function: then ``documents``/``query_texts`` are embedded locally and sent as vectors.

    >>> calls = CollectionCalls({"id": "0b7e...", "name": "docs"}, None)
    >>> call = calls.count_call()
    >>> call.method, call.path.rsplit("/", 2)[-2:], call.idempotent
    ('GET', ['0b7e...', 'count'], True)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from vectorhouse.api import validation as v
from vectorhouse.api.embedding import NOT_GIVEN, resolve_embedding_function, stored_function_config
from vectorhouse.api.http_wire import (
    API_PREFIX,
    DEFAULT_DATABASE,
    DEFAULT_TENANT,
    decode_get,
    decode_query,
)
from vectorhouse.embeddings.base import call_embedding_function
from vectorhouse.errors import InvalidArgumentError
from vectorhouse.types import DEFAULT_GET_INCLUDE, DEFAULT_QUERY_INCLUDE, GetResult, QueryResult

T = TypeVar("T")


def _same(body: Any) -> Any:
    return body


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP request and how to read its answer.

    >>> Call("GET", "/api/v2/version").decode("0.1.0")
    '0.1.0'
    """

    method: str
    path: str
    body: Any = None
    params: Mapping[str, Any] | None = None
    idempotent: bool = True
    """Whether sending it twice leaves the same state and answer (so it may be retried
    after a connection broke mid-request)."""
    decode: Callable[[Any], T] = field(default=_same)


def db_path(tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> str:
    """The path prefix of a database's routes.

    >>> db_path()
    '/api/v2/tenants/default_tenant/databases/default_database'
    """
    return f"{API_PREFIX}/tenants/{tenant}/databases/{database}"


def _list(include: Any) -> Any:
    return list(include) if isinstance(include, tuple) else include


class ClientCalls:
    """The client-level calls (collections, heartbeat, version).

    >>> ClientCalls().heartbeat_call().path
    '/api/v2/heartbeat'
    """

    def __init__(self, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> None:
        self.tenant = tenant
        self.database = database
        self._db = db_path(tenant, database)

    def heartbeat_call(self) -> Call[int]:
        """``GET /heartbeat``."""
        return Call(
            "GET", f"{API_PREFIX}/heartbeat", decode=lambda b: int(b["nanosecond heartbeat"])
        )

    def version_call(self) -> Call[str]:
        """``GET /version``."""
        return Call("GET", f"{API_PREFIX}/version", decode=str)

    def max_batch_size_call(self) -> Call[int]:
        """``GET /pre-flight-checks``."""
        return Call(
            "GET", f"{API_PREFIX}/pre-flight-checks", decode=lambda b: int(b["max_batch_size"])
        )

    def reset_call(self) -> Call[bool]:
        """``POST /reset``."""
        return Call("POST", f"{API_PREFIX}/reset", idempotent=False, decode=bool)

    def create_call(
        self,
        name: str,
        configuration: Mapping[str, Any] | None,
        metadata: Any,
        embedding_function: Any,
        get_or_create: bool,
    ) -> tuple[Call[dict[str, Any]], Any]:
        """The create request, and the function the collection will embed with locally.

        >>> call, fn = ClientCalls().create_call("docs", None, None, None, False)
        >>> call.body["configuration"], fn
        ({'embedding_function': None}, None)
        """
        config = dict(configuration) if isinstance(configuration, Mapping) else configuration
        fn = embedding_function
        if isinstance(config, dict) and "embedding_function" in config:
            given = config.pop("embedding_function")
            if isinstance(given, Mapping):  # already a stored-function record
                config["embedding_function"] = dict(given)
            elif given is not None:  # a function object, as the embedded API takes
                fn = given
        if fn is not NOT_GIVEN:
            config = dict(config or {})
            config["embedding_function"] = stored_function_config(fn)
        body = {
            "name": name,
            "metadata": metadata,
            "configuration": config,
            "get_or_create": get_or_create,
        }
        return Call("POST", f"{self._db}/collections", body, idempotent=get_or_create), fn

    def get_call(self, name: str) -> Call[dict[str, Any]]:
        """``GET /collections/{name}``."""
        return Call("GET", f"{self._db}/collections/{name}")

    def get_by_id_call(self, collection_id: uuid.UUID | str) -> Call[dict[str, Any]]:
        """``GET /collections/by-id/{id}``."""
        return Call("GET", f"{self._db}/collections/by-id/{collection_id}")

    def list_call(self, limit: int | None, offset: int | None) -> Call[list[dict[str, Any]]]:
        """``GET /collections``."""
        params = {k: val for k, val in (("limit", limit), ("offset", offset)) if val is not None}
        return Call("GET", f"{self._db}/collections", params=params)

    def count_collections_call(self) -> Call[int]:
        """``GET /collections_count``."""
        return Call("GET", f"{self._db}/collections_count", decode=int)

    def delete_collection_call(self, name: str) -> Call[None]:
        """``DELETE /collections/{name}``."""
        return Call(
            "DELETE", f"{self._db}/collections/{name}", idempotent=False, decode=lambda b: None
        )


def local_function(model: Mapping[str, Any], embedding_function: Any) -> Any:
    """The function a collection opened with ``embedding_function`` embeds with on the
    client: None for the server's own (not given), else the one passed, once checked
    against the collection's stored function (the same check as the embedded client).

    >>> local_function({"name": "docs", "configuration_json": {}}, NOT_GIVEN) is NOT_GIVEN
    True
    """
    if embedding_function is NOT_GIVEN or embedding_function is None:
        return embedding_function
    stored = (model.get("configuration_json") or {}).get("embedding_function")
    return resolve_embedding_function(
        stored, embedding_function, str(model.get("name")), model.get("dimension")
    )


class CollectionCalls:
    """The calls of one collection. ``embedding_function``: ``NOT_GIVEN`` (texts are
    embedded by the server with the collection's model), None (texts are refused, as
    for an embedded collection without a function), or a function run locally.

    >>> CollectionCalls({"id": "c1", "name": "docs"}, NOT_GIVEN).name
    'docs'
    """

    def __init__(
        self,
        model: Mapping[str, Any],
        embedding_function: Any,
        tenant: str = DEFAULT_TENANT,
        database: str = DEFAULT_DATABASE,
    ) -> None:
        self._model = dict(model)
        self._function = embedding_function
        self._base = f"{db_path(tenant, database)}/collections"

    # -- identity (as last read from the server) --------------------------------------

    @property
    def name(self) -> str:
        """The collection's name."""
        return str(self._model["name"])

    @property
    def id(self) -> uuid.UUID:
        """The collection's id."""
        return uuid.UUID(str(self._model["id"]))

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The collection's metadata."""
        meta = self._model.get("metadata")
        return None if meta is None else dict(meta)

    @property
    def configuration_json(self) -> dict[str, Any]:
        """The stored configuration (as of the last answer about this collection)."""
        return dict(self._model.get("configuration_json") or {})

    @property
    def configuration(self) -> dict[str, Any]:
        """The configuration, with the local embedding function (None: the server's)."""
        return {**self.configuration_json, "embedding_function": self.embedding_function}

    @property
    def embedding_function(self) -> Any:
        """The function run on the client, or None when the server embeds (or nobody)."""
        return None if self._function is NOT_GIVEN else self._function

    @property
    def dimension(self) -> int | None:
        """The embeddings' dimension (as of the last answer about this collection)."""
        dim = self._model.get("dimension")
        return None if dim is None else int(dim)

    def __repr__(self) -> str:
        return f"Collection(name={self.name})"

    def _path(self, op: str = "") -> str:
        return f"{self._base}/{self._model['id']}" + (f"/{op}" if op else "")

    # -- embedding on the client -------------------------------------------------------

    def _refuse_texts(self, op: str) -> None:
        raise InvalidArgumentError(
            f"collection {self.name!r} has no embedding function, so {op} needs"
            " embeddings (vectors), not texts; pass embeddings=/query_embeddings=, or"
            " open the collection with embedding_function="
        )

    def _local_vectors(self, op: str, ids: Any, embeddings: Any, documents: Any) -> Any:
        if embeddings is not None or documents is None or self._function is NOT_GIVEN:
            return embeddings
        if self._function is None:
            self._refuse_texts(op)
        docs = v.normalize_documents(documents, len(v.normalize_ids(ids, op)), op)
        texts = [d for d in docs if d is not None]
        if len(texts) != len(docs):
            raise InvalidArgumentError(
                f"{op}: every record needs a document to embed when no embeddings are given"
            )
        return call_embedding_function(self._function, texts)

    # -- calls -------------------------------------------------------------------------

    def count_call(self) -> Call[int]:
        """``GET .../count``."""
        return Call("GET", self._path("count"), decode=int)

    def write_call(
        self,
        op: str,
        ids: Any,
        embeddings: Any,
        metadatas: Any,
        documents: Any,
        images: Any,
        uris: Any,
    ) -> Call[None]:
        """``POST .../add`` (or ``upsert``, ``update``)."""
        body = {
            "ids": ids,
            "embeddings": self._local_vectors(op, ids, embeddings, documents),
            "metadatas": metadatas,
            "documents": documents,
            "images": images,
            "uris": uris,
        }
        return Call("POST", self._path(op), body, idempotent=op != "add", decode=lambda b: None)

    def delete_call(
        self, ids: Any, where: Any, where_document: Any, limit: Any = None
    ) -> Call[dict[str, int]]:
        """``POST .../delete``."""
        body = {"ids": ids, "where": where, "where_document": where_document}
        if limit is not None:
            body["limit"] = limit
        return Call(
            "POST",
            self._path("delete"),
            body,
            idempotent=False,
            decode=lambda b: {"deleted": int(b.get("deleted", 0))},
        )

    def get_call(
        self,
        ids: Any = None,
        where: Any = None,
        limit: Any = None,
        offset: Any = None,
        where_document: Any = None,
        include: Any = DEFAULT_GET_INCLUDE,
    ) -> Call[GetResult]:
        """``POST .../get``."""
        include = _list(include)
        body = {
            "ids": ids,
            "where": where,
            "limit": limit,
            "offset": offset,
            "where_document": where_document,
            "include": include,
        }
        fallback = include if isinstance(include, list) else []
        return Call("POST", self._path("get"), body, decode=lambda b: decode_get(b, fallback))

    def query_call(
        self,
        query_embeddings: Any = None,
        query_texts: Any = None,
        query_images: Any = None,
        query_uris: Any = None,
        ids: Any = None,
        n_results: Any = 10,
        where: Any = None,
        where_document: Any = None,
        include: Any = DEFAULT_QUERY_INCLUDE,
    ) -> Call[QueryResult]:
        """``POST .../query``."""
        include = _list(include)
        if query_embeddings is None and query_texts is not None and self._function is not NOT_GIVEN:
            if self._function is None:
                self._refuse_texts("query")
            texts = v.normalize_texts(query_texts, "query")
            query_embeddings = call_embedding_function(self._function, texts, query=True)
            query_texts = None
        body = {
            "query_embeddings": query_embeddings,
            "query_texts": query_texts,
            "query_images": query_images,
            "query_uris": query_uris,
            "ids": ids,
            "n_results": n_results,
            "where": where,
            "where_document": where_document,
            "include": include,
        }
        fallback = include if isinstance(include, list) else []
        return Call("POST", self._path("query"), body, decode=lambda b: decode_query(b, fallback))

    def modify_call(self, name: Any, metadata: Any, configuration: Any) -> Call[None]:
        """``PUT`` the collection; the answer refreshes this object."""
        body = {"new_name": name, "new_metadata": metadata, "new_configuration": configuration}

        def refresh(answer: Any) -> None:
            self._model = dict(answer)

        return Call("PUT", self._path(), body, decode=refresh)
