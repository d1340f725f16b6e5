"""Chroma's v2 REST routes, the subset its Python HTTP client uses.

Each route decodes its JSON body, calls the same ``Client``/``Collection`` method the
embedded database offers (which validates), and encodes the result. There is one
tenant (``default_tenant``) and one database (``default_database``); other names are
not found. Besides Chroma's fields, ``query`` and the record writes accept texts
(``query_texts``, ``documents`` without ``embeddings``), which the server embeds with
the collection's model.

    >>> from fastapi.testclient import TestClient
    >>> from vectorhouse.server.app import create_app
    >>> with TestClient(create_app()) as http:
    ...     http.get("/api/v2/version").json()
    '0.1.0'
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from vectorhouse import __version__
from vectorhouse.api.collection import Collection
from vectorhouse.api.embedding import NOT_GIVEN
from vectorhouse.api.http_wire import (
    API_PREFIX,
    DEFAULT_DATABASE,
    DEFAULT_TENANT,
    decode_embeddings,
    dumps,
    encode_get,
    encode_query,
    public_configuration,
)
from vectorhouse.errors import InvalidArgumentError, NotFoundError
from vectorhouse.server.app import ErrorMappingRoute, call, client_of, json_response, read_json
from vectorhouse.types import DEFAULT_GET_INCLUDE, DEFAULT_QUERY_INCLUDE

router = APIRouter(prefix=API_PREFIX, route_class=ErrorMappingRoute, tags=["chroma v2"])

DB = "/tenants/{tenant}/databases/{database}"
COLLECTION = DB + "/collections/{collection_id}"

_DATABASE_ID = "00000000-0000-0000-0000-000000000000"

# -- OpenAPI descriptions of the JSON bodies (documentation only: decoding is by hand) --

_ANY: dict[str, Any] = {}
_IDS = {"type": "array", "items": {"type": "string"}}
_EMBEDDINGS = {
    "type": "array",
    "items": {
        "anyOf": [
            {"type": "array", "items": {"type": "number"}},
            {"type": "string", "description": "base64 of little-endian float32"},
        ]
    },
}
_OBJ = {"type": "object"}
_LIST_OF_OBJ = {"type": "array", "items": {"anyOf": [_OBJ, {"type": "null"}]}}
_STRINGS = {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "null"}]}}
_INCLUDE = {"type": "array", "items": {"type": "string"}}


def _body(**props: Any) -> dict[str, Any]:
    schema = {"type": "object", "properties": props}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_RECORDS = _body(
    ids=_IDS, embeddings=_EMBEDDINGS, metadatas=_LIST_OF_OBJ, documents=_STRINGS, uris=_ANY
)
_FILTER = {"where": _OBJ, "where_document": _OBJ}

# -- helpers ----------------------------------------------------------------------------


def _scope(tenant: str, database: str | None = None) -> None:
    if tenant != DEFAULT_TENANT:
        raise NotFoundError(f"tenant {tenant!r} not found: this server has only {DEFAULT_TENANT!r}")
    if database is not None and database != DEFAULT_DATABASE:
        raise NotFoundError(
            f"database {database!r} not found: this server has only {DEFAULT_DATABASE!r}"
        )


def _arg(body: dict[str, Any], key: str, default: Any = None) -> Any:
    value = body.get(key)
    return default if value is None else value


def _unsupported(body: dict[str, Any], key: str, what: str) -> None:
    if body.get(key) is not None:
        raise InvalidArgumentError(f"{key} is not supported: {what}")


def collection_json(col: Collection) -> dict[str, Any]:
    """A collection as Chroma's client expects it."""
    return {
        "id": str(col.id),
        "name": col.name,
        "configuration_json": public_configuration(col.configuration_json),
        "metadata": col.metadata,
        "dimension": col.dimension,
        "tenant": DEFAULT_TENANT,
        "database": DEFAULT_DATABASE,
        "version": 0,
        "log_position": 0,
        "schema": None,
    }


def _database_json(database: str) -> dict[str, Any]:
    return {"id": _DATABASE_ID, "name": database, "tenant": DEFAULT_TENANT}


# -- server -----------------------------------------------------------------------------


@router.get("/heartbeat", summary="Proof of life: the server time in nanoseconds")
async def heartbeat(request: Request) -> Response:
    """Open without a token."""
    return json_response({"nanosecond heartbeat": client_of(request).heartbeat()})


@router.get("/version", summary="The server's vectorhouse version")
async def version() -> Response:
    """The version string."""
    return json_response(__version__)


@router.get("/pre-flight-checks", summary="Limits a client reads before writing")
async def pre_flight_checks(request: Request) -> Response:
    """Batch size, and that embeddings may be sent as base64."""
    return json_response(
        {
            "max_batch_size": client_of(request).get_max_batch_size(),
            "supports_base64_encoding": True,
        }
    )


@router.get("/auth/identity", summary="Who the caller is: the default tenant and database")
async def identity() -> Response:
    """One user, one tenant, one database."""
    return json_response({"user_id": "", "tenant": DEFAULT_TENANT, "databases": [DEFAULT_DATABASE]})


@router.post("/reset", summary="Delete every collection (needs VECTORHOUSE_ALLOW_RESET)")
async def reset(request: Request) -> Response:
    """Forbidden unless the server's settings allow it."""
    return json_response(await call(client_of(request).reset))


@router.get("/tenants/{tenant}", summary="A tenant (only the default one exists)")
async def get_tenant(tenant: str) -> Response:
    """404 for any but the default tenant."""
    _scope(tenant)
    return json_response({"name": tenant})


@router.get("/tenants/{tenant}/databases", summary="The databases of a tenant")
async def list_databases(tenant: str) -> Response:
    """The one database."""
    _scope(tenant)
    return json_response([_database_json(DEFAULT_DATABASE)])


@router.get(DB, summary="A database (only the default one exists)")
async def get_database(tenant: str, database: str) -> Response:
    """404 for any but the default database."""
    _scope(tenant, database)
    return json_response(_database_json(database))


# -- collections ------------------------------------------------------------------------


@router.get(DB + "/collections", summary="List collections, oldest first")
async def list_collections(
    request: Request,
    tenant: str,
    database: str,
    limit: int | None = None,
    offset: int | None = None,
) -> Response:
    """Collections with their configuration."""
    _scope(tenant, database)
    client = client_of(request)

    def work() -> bytes:
        return dumps([collection_json(c) for c in client.list_collections(limit, offset)])

    return Response(await call(work), media_type="application/json")


@router.get(DB + "/collections_count", summary="How many collections exist")
async def count_collections(request: Request, tenant: str, database: str) -> Response:
    """An integer."""
    _scope(tenant, database)
    return json_response(await call(client_of(request).count_collections))


@router.post(
    DB + "/collections",
    summary="Create a collection (or get it, with get_or_create)",
    openapi_extra=_body(
        name={"type": "string"},
        metadata=_OBJ,
        configuration=_OBJ,
        get_or_create={"type": "boolean"},
    ),
)
async def create_collection(request: Request, tenant: str, database: str) -> Response:
    """``configuration.embedding_function`` picks the model; absent: the default one."""
    _scope(tenant, database)
    body = await read_json(request)
    client = client_of(request)
    _unsupported(body, "schema", "configure the collection with metadata or configuration")
    get_or_create = _arg(body, "get_or_create", False)
    if not isinstance(get_or_create, bool):
        raise InvalidArgumentError(f"get_or_create must be true or false, got {get_or_create!r}")
    configuration = body.get("configuration")
    function: Any = NOT_GIVEN
    if isinstance(configuration, dict):
        configuration = dict(configuration)
        if "embedding_function" in configuration:
            function = client.models.from_wire(configuration.pop("embedding_function"))
        if configuration.get("spann") is None:
            configuration.pop("spann", None)

    def work() -> bytes:
        col = client.create_collection(
            body.get("name"),  # validated by the client
            configuration=configuration,
            metadata=body.get("metadata"),
            embedding_function=function,
            get_or_create=get_or_create,
        )
        return dumps(collection_json(col))

    return Response(await call(work), media_type="application/json")


@router.get(DB + "/collections/by-id/{collection_id}", summary="A collection by id")
async def get_collection_by_id(
    request: Request, tenant: str, database: str, collection_id: str
) -> Response:
    """404 when it does not exist."""
    _scope(tenant, database)
    client = client_of(request)
    return Response(
        await call(lambda: dumps(collection_json(client.get_collection_by_id(collection_id)))),
        media_type="application/json",
    )


@router.get(DB + "/collections/{name}", summary="A collection by name")
async def get_collection(request: Request, tenant: str, database: str, name: str) -> Response:
    """404 when it does not exist."""
    _scope(tenant, database)
    client = client_of(request)
    return Response(
        await call(lambda: dumps(collection_json(client.get_collection(name)))),
        media_type="application/json",
    )


@router.put(
    COLLECTION,
    summary="Rename a collection, replace its metadata, or change hnsw.ef_search",
    openapi_extra=_body(new_name={"type": "string"}, new_metadata=_OBJ, new_configuration=_OBJ),
)
async def modify_collection(
    request: Request, tenant: str, database: str, collection_id: str
) -> Response:
    """Answers with the collection as it is now."""
    _scope(tenant, database)
    body = await read_json(request)
    client = client_of(request)
    configuration = body.get("new_configuration")
    if isinstance(configuration, dict):
        if configuration.get("embedding_function") is not None:
            raise InvalidArgumentError(
                "a collection's embedding function cannot be changed by modify; re-embed it"
                " with Collection.reembed in the embedded API"
            )
        configuration = {k: v for k, v in configuration.items() if v is not None}

    def work() -> bytes:
        col = client.get_collection_by_id(collection_id)
        col.modify(
            name=body.get("new_name"),
            metadata=body.get("new_metadata"),
            configuration=configuration,
        )
        return dumps(collection_json(col))

    return Response(await call(work), media_type="application/json")


@router.delete(DB + "/collections/{name}", summary="Delete a collection and its records")
async def delete_collection(request: Request, tenant: str, database: str, name: str) -> Response:
    """404 when it does not exist."""
    _scope(tenant, database)
    await call(client_of(request).delete_collection, name)
    return json_response({})


# -- records ----------------------------------------------------------------------------


async def _on_collection(request: Request, collection_id: str, op: Any) -> Response:
    client = client_of(request)

    def work() -> bytes:
        return dumps(op(client.get_collection_by_id(collection_id)))

    return Response(await call(work), media_type="application/json")


@router.get(COLLECTION + "/count", summary="How many records a collection holds")
async def count(request: Request, tenant: str, database: str, collection_id: str) -> Response:
    """An integer."""
    _scope(tenant, database)
    return await _on_collection(request, collection_id, lambda col: col.count())


def _write(method: str) -> Any:
    async def route(request: Request, tenant: str, database: str, collection_id: str) -> Response:
        _scope(tenant, database)
        body = await read_json(request)

        def op(col: Collection) -> Any:
            getattr(col, method)(
                ids=body.get("ids"),
                embeddings=decode_embeddings(body.get("embeddings")),
                metadatas=body.get("metadatas"),
                documents=body.get("documents"),
                images=body.get("images"),
                uris=body.get("uris"),
            )
            return {}

        return await _on_collection(request, collection_id, op)

    route.__name__ = method
    route.__doc__ = f"{method.capitalize()} records; documents without embeddings are embedded."
    return route


for _method, _summary in (
    ("add", "Add new records (every id must be new)"),
    ("upsert", "Add records, overwriting those whose ids exist"),
    ("update", "Change fields of existing records"),
):
    router.add_api_route(
        COLLECTION + "/" + _method,
        _write(_method),
        methods=["POST"],
        summary=_summary,
        openapi_extra=_RECORDS,
    )


@router.post(
    COLLECTION + "/delete",
    summary="Delete records by id and/or filter",
    openapi_extra=_body(ids=_IDS, limit={"type": "integer"}, **_FILTER),
)
async def delete(request: Request, tenant: str, database: str, collection_id: str) -> Response:
    """Answers ``{"deleted": n}``."""
    _scope(tenant, database)
    body = await read_json(request)
    return await _on_collection(
        request,
        collection_id,
        lambda col: col.delete(
            ids=body.get("ids"),
            where=body.get("where"),
            where_document=body.get("where_document"),
            limit=body.get("limit"),
        ),
    )


@router.post(
    COLLECTION + "/get",
    summary="Records by id and/or filter",
    openapi_extra=_body(
        ids=_IDS, limit={"type": "integer"}, offset={"type": "integer"}, include=_INCLUDE, **_FILTER
    ),
)
async def get(request: Request, tenant: str, database: str, collection_id: str) -> Response:
    """Chroma's get result; embeddings as lists."""
    _scope(tenant, database)
    body = await read_json(request)
    return await _on_collection(
        request,
        collection_id,
        lambda col: encode_get(
            col.get(
                ids=body.get("ids"),
                where=body.get("where"),
                limit=body.get("limit"),
                offset=body.get("offset"),
                where_document=body.get("where_document"),
                include=_arg(body, "include", DEFAULT_GET_INCLUDE),
            )
        ),
    )


@router.post(
    COLLECTION + "/query",
    summary="Nearest records to each query vector or text",
    openapi_extra=_body(
        query_embeddings=_EMBEDDINGS,
        query_texts={"type": "array", "items": {"type": "string"}},
        n_results={"type": "integer"},
        ids=_IDS,
        include=_INCLUDE,
        **_FILTER,
    ),
)
async def query(request: Request, tenant: str, database: str, collection_id: str) -> Response:
    """Chroma's query result; embeddings as lists."""
    _scope(tenant, database)
    body = await read_json(request)
    return await _on_collection(
        request,
        collection_id,
        lambda col: encode_query(
            col.query(
                query_embeddings=decode_embeddings(body.get("query_embeddings")),
                query_texts=body.get("query_texts"),
                query_images=body.get("query_images"),
                query_uris=body.get("query_uris"),
                ids=body.get("ids"),
                n_results=body.get("n_results", 10),  # null stays None: an error, as in Chroma
                where=body.get("where"),
                where_document=body.get("where_document"),
                include=_arg(body, "include", DEFAULT_QUERY_INCLUDE),
            )
        ),
    )


@router.post(
    COLLECTION + "/search",
    summary="Chroma's Search API: dense, BM25 and hybrid ranking (see Collection.search)",
    openapi_extra=_body(searches={"type": "array", "items": _OBJ}, read_level=_ANY),
)
async def search(request: Request, tenant: str, database: str, collection_id: str) -> Response:
    """Chroma's SearchResult: one entry per search in ``searches`` (their dict form)."""
    _scope(tenant, database)
    body = await read_json(request)
    searches = _arg(body, "searches", [])
    if not isinstance(searches, list):
        raise InvalidArgumentError("searches must be a list of search objects")
    return await _on_collection(request, collection_id, lambda col: dict(col.search(searches)))
