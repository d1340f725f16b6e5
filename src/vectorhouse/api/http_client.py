"""``HttpClient`` and ``AsyncHttpClient``: the client and collection API of the
embedded database, over HTTP to ``vectorhouse serve`` (Chroma's v2 wire format).

The server validates every argument with the embedded client's own code and answers
errors that become the same exception classes here. Texts are embedded by the server
with the collection's stored model, unless the collection was opened here with an
``embedding_function``, which then runs locally.

Connections are reused (one pool per client). A request that never reached the server
(connection refused, pool timeout) is retried; one that broke after it was sent is
retried only when repeating it is harmless (reads, ``upsert``, ``update``); a 503
(server busy or restarting) likewise. Both clients build their requests with the same
code (``vectorhouse.api.http_calls``) and differ only in how they send them.

    >>> from vectorhouse.server import running_server
    >>> import tempfile, vectorhouse
    >>> with running_server(tempfile.mkdtemp()) as server:
    ...     with vectorhouse.HttpClient(port=server.port) as client:
    ...         col = client.create_collection("docs", embedding_function=None)
    ...         col.add(ids=["a"], embeddings=[[1.0, 0.0]], documents=["hello"])
    ...         col.query(query_embeddings=[[1.0, 0.0]], n_results=1)["documents"]
    [['hello']]
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from vectorhouse.api.embedding import NOT_GIVEN
from vectorhouse.api.http_calls import Call, ClientCalls, CollectionCalls, local_function
from vectorhouse.api.http_wire import (
    DEFAULT_DATABASE,
    DEFAULT_TENANT,
    dumps_exact,
    error_from_response,
    loads,
)
from vectorhouse.config import Settings
from vectorhouse.errors import InvalidArgumentError, ServerError, ServerUnavailableError
from vectorhouse.types import DEFAULT_GET_INCLUDE, DEFAULT_QUERY_INCLUDE, GetResult, QueryResult

if TYPE_CHECKING:  # httpx is imported when a client is made, not with the package
    import httpx

T = TypeVar("T")

_sleep: Callable[[float], None] = time.sleep
"""How retries wait (tests replace it)."""


def _not_sent(exc: Exception) -> bool:
    """Whether a transport error was raised before the request reached the server."""
    import httpx

    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def _limits() -> httpx.Limits:
    import httpx

    # uvicorn closes idle connections after 5 s: drop ours before that, so that a
    # request is never sent on a connection the server is closing.
    return httpx.Limits(max_connections=64, max_keepalive_connections=32, keepalive_expiry=4.0)


def base_url(host: str, port: int = 8000, ssl: bool = False) -> str:
    """The server's URL from Chroma-style ``host``/``port``/``ssl`` (or a URL as host).

    >>> base_url("localhost", 8000), base_url("::1", 80), base_url("https://h.example/")
    ('http://localhost:8000', 'http://[::1]:80', 'https://h.example')
    """
    if host.startswith(("http://", "https://")):
        return host.rstrip("/")
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if ssl else 'http'}://{shown}:{port}"


def _encode(call: Call[Any]) -> bytes | None:
    if call.body is None:
        return None
    try:
        return dumps_exact(call.body)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"cannot send this request as JSON: {exc}") from exc


def _answer(response: httpx.Response, call: Call[T]) -> T:
    try:
        body = loads(response.content)
    except ValueError:
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.text) from None
        raise ServerError(
            f"{call.method} {call.path} was answered with something that is not JSON"
        ) from None
    if response.status_code >= 400:
        raise error_from_response(response.status_code, body)
    return call.decode(body)


def _retry_wait(attempt: int, retries: int, call: Call[Any], outcome: Any) -> float | None:
    """Seconds to wait before trying ``call`` again, or None to give up."""
    if attempt >= retries:
        return None
    wait = min(2.0, 0.1 * 2.0**attempt)
    if not isinstance(outcome, Exception):  # a response
        if outcome.status_code != 503 or not call.idempotent:
            return None
        try:
            return min(5.0, float(outcome.headers.get("retry-after", str(wait))))
        except ValueError:
            return wait
    if _not_sent(outcome) or call.idempotent:
        return wait
    return None


def _unreachable(url: str, exc: Exception) -> ServerUnavailableError:
    return ServerUnavailableError(f"cannot reach the vectorhouse server at {url}: {exc}")


def _headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {"Content-Type": "application/json", **dict(headers or {})}


class HttpClient(ClientCalls):
    """A client of a vectorhouse (or Chroma) server, with the embedded client's API.

    >>> client = HttpClient(host="127.0.0.1", port=8000, headers={"Authorization": "Bearer t"})
    >>> client.url
    'http://127.0.0.1:8000'
    >>> client.close()
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 8000,
        ssl: bool = False,
        headers: Mapping[str, str] | None = None,
        settings: Settings | None = None,
        tenant: str = DEFAULT_TENANT,
        database: str = DEFAULT_DATABASE,
        *,
        timeout: float = 60.0,
        retries: int = 3,
    ) -> None:
        super().__init__(tenant, database)
        self.settings = settings or Settings()
        self.url = base_url(host, port, ssl)
        self.retries = retries
        import httpx

        self._http = httpx.Client(
            base_url=self.url, headers=_headers(headers), timeout=timeout, limits=_limits()
        )

    def _send(self, call: Call[T]) -> T:
        import httpx

        content = _encode(call)
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    call.method, call.path, content=content, params=call.params
                )
            except httpx.TransportError as exc:
                wait = _retry_wait(attempt, self.retries, call, exc)
                if wait is None:
                    raise _unreachable(self.url, exc) from exc
            else:
                wait = _retry_wait(attempt, self.retries, call, response)
                if wait is None:
                    return _answer(response, call)
            _sleep(wait)
            attempt += 1

    def _collection(self, model: dict[str, Any], embedding_function: Any) -> HttpCollection:
        return HttpCollection(self, model, local_function(model, embedding_function))

    # -- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpClient({self.url})"

    # -- server -----------------------------------------------------------------------

    def heartbeat(self) -> int:
        """The server's time in nanoseconds since the epoch."""
        return self._send(self.heartbeat_call())

    def get_version(self) -> str:
        """The server's vectorhouse version."""
        return self._send(self.version_call())

    def get_max_batch_size(self) -> int:
        """The largest batch the server advises per call."""
        return self._send(self.max_batch_size_call())

    def get_settings(self) -> Settings:
        """This client's settings (the server has its own)."""
        return self.settings

    def reset(self) -> bool:
        """Delete every collection, if the server allows it."""
        return self._send(self.reset_call())

    # -- collections ------------------------------------------------------------------

    def create_collection(
        self,
        name: str,
        configuration: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        embedding_function: Any = NOT_GIVEN,
        data_loader: Any = None,
        get_or_create: bool = False,
    ) -> HttpCollection:
        """Create a collection (``get_or_create=True``: or return the existing one)."""
        call, fn = self.create_call(
            name, configuration, metadata, embedding_function, get_or_create
        )
        return self._collection(self._send(call), fn)

    def get_collection(
        self, name: str, embedding_function: Any = NOT_GIVEN, data_loader: Any = None
    ) -> HttpCollection:
        """An existing collection; raises ``CollectionNotFoundError``."""
        return self._collection(self._send(self.get_call(name)), embedding_function)

    def get_collection_by_id(
        self, id: Any, embedding_function: Any = NOT_GIVEN, data_loader: Any = None
    ) -> HttpCollection:
        """An existing collection by id."""
        return self._collection(self._send(self.get_by_id_call(id)), embedding_function)

    def get_or_create_collection(
        self,
        name: str,
        configuration: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        embedding_function: Any = NOT_GIVEN,
        data_loader: Any = None,
    ) -> HttpCollection:
        """The collection called ``name``, created if missing."""
        return self.create_collection(
            name, configuration, metadata, embedding_function, get_or_create=True
        )

    def list_collections(
        self, limit: int | None = None, offset: int | None = None
    ) -> list[HttpCollection]:
        """All collections, oldest first."""
        models = self._send(self.list_call(limit, offset))
        return [self._collection(m, NOT_GIVEN) for m in models]

    def count_collections(self) -> int:
        """How many collections exist."""
        return self._send(self.count_collections_call())

    def delete_collection(self, name: str) -> None:
        """Delete a collection and its records."""
        self._send(self.delete_collection_call(name))


class HttpCollection(CollectionCalls):
    """A collection on a server, with the embedded ``Collection``'s methods.

    ``name``, ``metadata``, ``dimension`` and ``configuration_json`` are as of the last
    answer about this collection (creation, opening, ``modify``).
    """

    def __init__(self, client: HttpClient, model: Mapping[str, Any], embedding_function: Any):
        super().__init__(model, embedding_function, client.tenant, client.database)
        self._client = client

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HttpCollection):
            return NotImplemented
        return self.id == other.id and self._client.url == other._client.url

    def __hash__(self) -> int:
        return hash((self.id, self._client.url))

    def add(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        """Add new records; every id must be new."""
        self._client._send(
            self.write_call("add", ids, embeddings, metadatas, documents, images, uris)
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
        """Add records, overwriting those whose ids exist."""
        self._client._send(
            self.write_call("upsert", ids, embeddings, metadatas, documents, images, uris)
        )

    def update(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        """Change fields of existing records."""
        self._client._send(
            self.write_call("update", ids, embeddings, metadatas, documents, images, uris)
        )

    def delete(
        self,
        ids: Any = None,
        where: Any = None,
        where_document: Any = None,
        limit: int | None = None,
    ) -> dict[str, int]:
        """Delete records by id and/or filter (at most ``limit``); returns ``{"deleted": n}``."""
        return self._client._send(self.delete_call(ids, where, where_document, limit))

    def count(self) -> int:
        """The number of records."""
        return self._client._send(self.count_call())

    def get(
        self,
        ids: Any = None,
        where: Any = None,
        limit: int | None = None,
        offset: int | None = None,
        where_document: Any = None,
        include: Any = DEFAULT_GET_INCLUDE,
    ) -> GetResult:
        """Records by id and/or filter."""
        return self._client._send(self.get_call(ids, where, limit, offset, where_document, include))

    def peek(self, limit: int = 10) -> GetResult:
        """The first ``limit`` records, with embeddings."""
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
    ) -> QueryResult:
        """The ``n_results`` nearest records to each query."""
        call = self.query_call(
            query_embeddings,
            query_texts,
            query_images,
            query_uris,
            ids,
            n_results,
            where,
            where_document,
            include,
        )
        return self._client._send(call)

    def modify(
        self,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        configuration: Mapping[str, Any] | None = None,
    ) -> None:
        """Rename the collection, replace its metadata, or change ``hnsw.ef_search``."""
        self._client._send(self.modify_call(name, metadata, configuration))


class AsyncHttpClient(ClientCalls):
    """The asyncio twin of :class:`HttpClient` (``await`` every call). As with Chroma,
    ``client = await AsyncHttpClient(...)`` works, and so does ``AsyncHttpClient(...)``.

    >>> import asyncio
    >>> async def main():
    ...     async with AsyncHttpClient(port=8000) as client:
    ...         return client.url
    >>> asyncio.run(main())
    'http://localhost:8000'
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 8000,
        ssl: bool = False,
        headers: Mapping[str, str] | None = None,
        settings: Settings | None = None,
        tenant: str = DEFAULT_TENANT,
        database: str = DEFAULT_DATABASE,
        *,
        timeout: float = 60.0,
        retries: int = 3,
    ) -> None:
        super().__init__(tenant, database)
        self.settings = settings or Settings()
        self.url = base_url(host, port, ssl)
        self.retries = retries
        import httpx

        self._http = httpx.AsyncClient(
            base_url=self.url, headers=_headers(headers), timeout=timeout, limits=_limits()
        )

    def __await__(self) -> Generator[Any, None, AsyncHttpClient]:
        async def itself() -> AsyncHttpClient:
            return self

        return itself().__await__()

    async def _send(self, call: Call[T]) -> T:
        import httpx

        content = _encode(call)
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method, call.path, content=content, params=call.params
                )
            except httpx.TransportError as exc:
                wait = _retry_wait(attempt, self.retries, call, exc)
                if wait is None:
                    raise _unreachable(self.url, exc) from exc
            else:
                wait = _retry_wait(attempt, self.retries, call, response)
                if wait is None:
                    return _answer(response, call)
            await asyncio.sleep(wait)
            attempt += 1

    def _collection(self, model: dict[str, Any], embedding_function: Any) -> AsyncHttpCollection:
        return AsyncHttpCollection(self, model, local_function(model, embedding_function))

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncHttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncHttpClient({self.url})"

    async def heartbeat(self) -> int:
        """The server's time in nanoseconds since the epoch."""
        return await self._send(self.heartbeat_call())

    async def get_version(self) -> str:
        """The server's vectorhouse version."""
        return await self._send(self.version_call())

    async def get_max_batch_size(self) -> int:
        """The largest batch the server advises per call."""
        return await self._send(self.max_batch_size_call())

    def get_settings(self) -> Settings:
        """This client's settings."""
        return self.settings

    async def reset(self) -> bool:
        """Delete every collection, if the server allows it."""
        return await self._send(self.reset_call())

    async def create_collection(
        self,
        name: str,
        configuration: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        embedding_function: Any = NOT_GIVEN,
        data_loader: Any = None,
        get_or_create: bool = False,
    ) -> AsyncHttpCollection:
        """Create a collection (``get_or_create=True``: or return the existing one)."""
        call, fn = self.create_call(
            name, configuration, metadata, embedding_function, get_or_create
        )
        return self._collection(await self._send(call), fn)

    async def get_collection(
        self, name: str, embedding_function: Any = NOT_GIVEN, data_loader: Any = None
    ) -> AsyncHttpCollection:
        """An existing collection; raises ``CollectionNotFoundError``."""
        return self._collection(await self._send(self.get_call(name)), embedding_function)

    async def get_collection_by_id(
        self, id: Any, embedding_function: Any = NOT_GIVEN, data_loader: Any = None
    ) -> AsyncHttpCollection:
        """An existing collection by id."""
        return self._collection(await self._send(self.get_by_id_call(id)), embedding_function)

    async def get_or_create_collection(
        self,
        name: str,
        configuration: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        embedding_function: Any = NOT_GIVEN,
        data_loader: Any = None,
    ) -> AsyncHttpCollection:
        """The collection called ``name``, created if missing."""
        return await self.create_collection(
            name, configuration, metadata, embedding_function, get_or_create=True
        )

    async def list_collections(
        self, limit: int | None = None, offset: int | None = None
    ) -> list[AsyncHttpCollection]:
        """All collections, oldest first."""
        models = await self._send(self.list_call(limit, offset))
        return [self._collection(m, NOT_GIVEN) for m in models]

    async def count_collections(self) -> int:
        """How many collections exist."""
        return await self._send(self.count_collections_call())

    async def delete_collection(self, name: str) -> None:
        """Delete a collection and its records."""
        await self._send(self.delete_collection_call(name))


class AsyncHttpCollection(CollectionCalls):
    """The asyncio twin of :class:`HttpCollection`. A function passed as
    ``embedding_function`` runs in a worker thread, off the event loop."""

    def __init__(
        self, client: AsyncHttpClient, model: Mapping[str, Any], embedding_function: Any
    ) -> None:
        super().__init__(model, embedding_function, client.tenant, client.database)
        self._client = client

    async def _build(self, build: Callable[..., Call[T]], *args: Any) -> Call[T]:
        if self.embedding_function is None:
            return build(*args)
        return await asyncio.to_thread(build, *args)

    async def add(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        """Add new records; every id must be new."""
        args = (ids, embeddings, metadatas, documents, images, uris)
        await self._client._send(await self._build(self.write_call, "add", *args))

    async def upsert(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        """Add records, overwriting those whose ids exist."""
        args = (ids, embeddings, metadatas, documents, images, uris)
        await self._client._send(await self._build(self.write_call, "upsert", *args))

    async def update(
        self,
        ids: Any,
        embeddings: Any = None,
        metadatas: Any = None,
        documents: Any = None,
        images: Any = None,
        uris: Any = None,
    ) -> None:
        """Change fields of existing records."""
        args = (ids, embeddings, metadatas, documents, images, uris)
        await self._client._send(await self._build(self.write_call, "update", *args))

    async def delete(
        self,
        ids: Any = None,
        where: Any = None,
        where_document: Any = None,
        limit: int | None = None,
    ) -> dict[str, int]:
        """Delete records by id and/or filter (at most ``limit``); returns ``{"deleted": n}``."""
        return await self._client._send(self.delete_call(ids, where, where_document, limit))

    async def count(self) -> int:
        """The number of records."""
        return await self._client._send(self.count_call())

    async def get(
        self,
        ids: Any = None,
        where: Any = None,
        limit: int | None = None,
        offset: int | None = None,
        where_document: Any = None,
        include: Any = DEFAULT_GET_INCLUDE,
    ) -> GetResult:
        """Records by id and/or filter."""
        call = self.get_call(ids, where, limit, offset, where_document, include)
        return await self._client._send(call)

    async def peek(self, limit: int = 10) -> GetResult:
        """The first ``limit`` records, with embeddings."""
        return await self.get(limit=limit, include=["embeddings", "documents", "metadatas"])

    async def query(
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
    ) -> QueryResult:
        """The ``n_results`` nearest records to each query."""
        args = (query_embeddings, query_texts, query_images, query_uris, ids, n_results)
        call = await self._build(self.query_call, *args, where, where_document, include)
        return await self._client._send(call)

    async def modify(
        self,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        configuration: Mapping[str, Any] | None = None,
    ) -> None:
        """Rename the collection, replace its metadata, or change ``hnsw.ef_search``."""
        await self._client._send(self.modify_call(name, metadata, configuration))
