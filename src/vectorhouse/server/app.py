"""The HTTP server: a thin face over the same ``Client``/``Collection`` code as the
embedded database. A route decodes its request, calls that code in a worker thread,
and encodes the answer; errors go through the one table in
``vectorhouse.api.http_wire``. Anything unexpected is logged with an incident id and
answered with a 500 that says nothing about the internals.

    >>> from fastapi.testclient import TestClient
    >>> with TestClient(create_app()) as http:
    ...     http.post("/api/v2/tenants/default_tenant/databases/default_database/collections",
    ...               json={"name": "docs"}).json()["name"]
    'docs'
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from vectorhouse import __version__
from vectorhouse.api.client import Client
from vectorhouse.api.collection import Collection
from vectorhouse.api.embedding import NOT_GIVEN
from vectorhouse.api.http_wire import dumps, error_body, error_response, loads
from vectorhouse.config import Settings
from vectorhouse.embeddings.base import EmbeddingFunction
from vectorhouse.errors import (
    ClientClosedError,
    DatabaseLockedError,
    InvalidArgumentError,
    ServerUnavailableError,
    StorageError,
    VectorhouseError,
)
from vectorhouse.server.functions import ServedModels
from vectorhouse.server.security import BearerAuth, BodyLimit, BodyTooLargeError, openai_error
from vectorhouse.storage.store import CollectionRow

log = logging.getLogger("vectorhouse.server")

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
"""The default request-size limit: room for about 40,000 384-d vectors as JSON."""


@dataclass(frozen=True)
class ServerConfig:
    """How a server behaves, apart from where it listens.

    >>> ServerConfig().max_body_bytes == DEFAULT_MAX_BODY_BYTES
    True
    """

    path: str | os.PathLike[str] | None = None
    """The database folder (None: in memory, for tests)."""
    token: str | None = None
    """The bearer token every request but the heartbeat must carry (None: no auth)."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    cors_origins: Sequence[str] = ()
    """Origins allowed to call from a browser; none by default (CORS off)."""
    models: Mapping[str, EmbeddingFunction] = field(default_factory=dict)
    """Models served besides the bundled one, by id (``/v1/embeddings``, collections)."""
    settings: Settings | None = None
    """Client settings (None: ``VECTORHOUSE_*`` environment variables, else defaults)."""
    read_only: bool = False
    """Refuse every request that could write (403; see ``vectorhouse.server.read_only``)."""


class ServerClient(Client):
    """The server's client: it opens each collection with a function this server runs
    (see ``vectorhouse.server.functions``), never with one built from stored config.

    >>> ServerClient(ServedModels()).create_collection("docs").embedding_function.name()
    'default'
    """

    def __init__(
        self,
        models: ServedModels,
        settings: Settings | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(settings, path=path)
        self.models = models

    def _collection(self, row: CollectionRow, embedding_function: Any) -> Collection:
        if embedding_function is NOT_GIVEN:
            embedding_function = self.models.for_stored(row.configuration.get("embedding_function"))
        return super()._collection(row, embedding_function)


# -- errors -----------------------------------------------------------------------------


def _openai_type(status: int) -> str:
    return {401: "invalid_request_error", 404: "invalid_request_error"}.get(
        status, "invalid_request_error" if status < 500 else "server_error"
    )


def error_to_response(request: Request, exc: BaseException) -> Response:
    """The response for an exception raised while answering ``request``.

    >>> from starlette.requests import Request
    >>> r = Request({"type": "http", "path": "/api/v2/x", "headers": []})
    >>> error_to_response(r, InvalidArgumentError("bad")).status_code
    400
    """
    headers: dict[str, str] = {}
    if isinstance(exc, ClientClosedError):
        exc = ServerUnavailableError("the server is shutting down")
    if isinstance(exc, VectorhouseError):
        if isinstance(exc, DatabaseLockedError):
            exc = DatabaseLockedError("the database is busy with another writer; retry")
            headers["Retry-After"] = "1"
        elif isinstance(exc, StorageError):
            incident = uuid.uuid4().hex[:12]
            log.error("storage error (incident %s)", incident, exc_info=exc)
            # The class (disk full, read-only, corrupt) tells the caller what happened;
            # the details stay in the server's log.
            exc = type(exc)(f"the server could not use its database (incident {incident})")
        status, body = error_response(exc)
        code, message = exc.code, str(exc)
    elif isinstance(exc, BodyTooLargeError):
        status, code, message = 413, InvalidArgumentError.code, str(exc)
        body = error_body(code, message, "InvalidArgumentError")
        headers["Connection"] = "close"
    elif isinstance(exc, RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"
            for err in exc.errors()
        )
        status, code, message = 400, InvalidArgumentError.code, f"invalid request: {problems}"
        body = error_body(code, message, "InvalidArgumentError")
    elif isinstance(exc, StarletteHTTPException):
        status, code, message = exc.status_code, "http_error", str(exc.detail)
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        body = error_body(code, message, "NotFoundError" if status == 404 else "ChromaError")
        headers.update(exc.headers or {})
    else:
        incident = uuid.uuid4().hex[:12]
        log.error(
            "unexpected error answering %s %s (incident %s)",
            request.scope.get("method"),
            request.scope.get("path"),
            incident,
            exc_info=exc,
        )
        status, code = 500, "server_error"
        message = f"internal server error (incident {incident}; see the server log)"
        body = error_body(code, message, "InternalError")
    if str(request.scope.get("path", "")).startswith("/v1/"):
        body = openai_error(message, _openai_type(status), code)
    return Response(dumps(body), status, headers=headers, media_type="application/json")


class ErrorMappingRoute(APIRoute):
    """A route whose every exception becomes a response from the one error table."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so exceptions map to error responses."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return error_to_response(request, exc)

        return handle


# -- helpers for routes -----------------------------------------------------------------


def json_response(value: Any, status: int = 200) -> Response:
    """A JSON response, encoded once (no per-field conversion).

    >>> json_response({"a": 1}).body
    b'{"a":1}'
    """
    return Response(dumps(value), status, media_type="application/json")


async def read_json(request: Request, *, object_required: bool = True) -> Any:
    """The decoded JSON body; an empty body is ``{}``."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgumentError(f"request body is not valid JSON: {exc}") from exc
    if object_required and not isinstance(value, dict):
        raise InvalidArgumentError(
            f"request body must be a JSON object, got {type(value).__name__}"
        )
    return value


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking database or model code in a worker thread."""
    return await run_in_threadpool(fn, *args, **kwargs)


def client_of(request: Request) -> ServerClient:
    """The server's client."""
    client: ServerClient = request.app.state.client
    return client


# -- the application --------------------------------------------------------------------


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """The ASGI application serving one database (the client opens at startup and is
    closed, saving every index, at shutdown).

    >>> app = create_app(ServerConfig(token="t"))
    >>> sorted({path.split("/")[1] for path in app.openapi()["paths"]})
    ['api', 'v1']
    """
    from vectorhouse.config import settings_from_env
    from vectorhouse.server import chroma_routes, console_routes, openai_routes
    from vectorhouse.server.read_only import ReadOnly

    cfg = config or ServerConfig()
    if cfg.max_body_bytes < 1:
        raise InvalidArgumentError("max_body_bytes must be >= 1")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        models = ServedModels(cfg.models)
        settings = cfg.settings or Settings(**settings_from_env())
        path = None if cfg.path is None else Path(cfg.path)
        client = await run_in_threadpool(lambda: ServerClient(models, settings, path=path))
        app.state.client = client
        app.state.models = models
        try:
            yield
        finally:
            await run_in_threadpool(client.close)
            log.info("database closed, indexes saved")

    app = FastAPI(
        title="vectorhouse",
        version=__version__,
        description=(
            "Chroma's v2 REST API over a vectorhouse database, and OpenAI's embeddings"
            " API over its models."
        ),
        lifespan=lifespan,
    )
    app.include_router(chroma_routes.router)
    app.include_router(openai_routes.router)
    app.include_router(console_routes.router)
    app.state.config = cfg

    async def http_error(request: Request, exc: Exception) -> Response:
        return error_to_response(request, exc)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, http_error)
    app.add_exception_handler(BodyTooLargeError, http_error)
    # The last one added is the outermost: CORS (so that browsers see its headers on
    # every answer, 401 included), then the size limit, then auth, then read-only.
    if cfg.read_only:
        app.add_middleware(ReadOnly)
    if cfg.token is not None:
        app.add_middleware(BearerAuth, token=cfg.token)
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_bytes)
    if cfg.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cfg.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Chroma-Token"],
        )
    return app
