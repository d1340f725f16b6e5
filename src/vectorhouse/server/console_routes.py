"""The web console: a page at ``/`` to browse, search and map a server's collections.

The page and its script and style sheet are plain files shipped in the package
(``vectorhouse/server/console/``): no build step, nothing fetched from elsewhere. They
load without a token; every data call goes through the same bearer-token check as the
API (the page asks for the token once and keeps it in the tab's session storage).

The console's own JSON routes live under ``/console/api/`` (left out of the OpenAPI
document: they serve the page and may change with it). Deleting goes through Chroma's
``delete`` route, so a read-only server refuses it like any other write.

    >>> from fastapi.testclient import TestClient
    >>> from vectorhouse.server.app import create_app
    >>> with TestClient(create_app()) as http:
    ...     http.get("/").headers["content-type"], http.get("/console/api/info").json()["read_only"]
    ('text/html; charset=utf-8', False)
"""

from __future__ import annotations

import functools
import re
import time
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Request
from fastapi.responses import Response

from vectorhouse import __version__
from vectorhouse.api.collection import Collection
from vectorhouse.errors import InvalidArgumentError, NotFoundError
from vectorhouse.server.app import ErrorMappingRoute, call, client_of, json_response, read_json
from vectorhouse.server.functions import LegacyFunction, UnservedFunction
from vectorhouse.server.projection import Projection, fit_pca, sample_positions

router = APIRouter(route_class=ErrorMappingRoute, include_in_schema=False)

API = "/console/api"
STATIC = "/console/static"

MAP_MAX_POINTS = 20_000
"""The most points the map projects and draws (a seeded random sample beyond it)."""
PAGE_MAX = 500
"""The most records one page of the record browser holds."""
SEARCH_MAX_RESULTS = 100
SNIPPET_CHARS = 240
"""How much of each document the map sends for its hover text."""
MAP_MAX_KEYS = 32
"""The most metadata keys the map offers for colouring (the most common ones)."""
SEARCH_MODES = ("dense",)
"""Search modes this server offers: dense (the collection's model) only."""

_FILES = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_HEADERS = {
    # Nothing but this server: no CDN, no inline script, no framing by other sites.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
        " frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_WORD = re.compile(r"[^\W_]+")
_STOPWORDS = (
    "a an and are as at be but by can do does for from how i if in into is it its me my"
    " no not of on or our so than that the their them then there these they this to was"
    " we what when where which who why will with you your should would could has have"
    " had been very just about all any some"
)
STOPWORDS = frozenset(_STOPWORDS.split())
"""Words of a query that are not highlighted in results."""


# -- static files -------------------------------------------------------------------------


@functools.lru_cache(maxsize=len(_FILES))
def _read_static(name: str) -> bytes:
    return (resources.files("vectorhouse.server") / "console" / name).read_bytes()


def static_file(name: str) -> Response:
    """One of the console's shipped files (404 for any other name).

    >>> static_file("console.css").media_type
    'text/css; charset=utf-8'
    """
    media_type = _FILES.get(name)
    if media_type is None:
        raise NotFoundError(f"the console has no file {name!r}")
    return Response(_read_static(name), media_type=media_type, headers=_HEADERS)


@router.get("/")
async def page() -> Response:
    """The console's page; open without a token (it holds no data)."""
    return static_file("index.html")


@router.get(STATIC + "/{name}")
async def asset(name: str) -> Response:
    """The console's script, style sheet and icon; open without a token."""
    if name == "index.html":
        raise NotFoundError("the console's page is at /")
    return static_file(name)


# -- helpers ------------------------------------------------------------------------------


def query_terms(text: str) -> list[str]:
    """The words of a query worth highlighting in results: lower-cased, in order, once
    each, without stop words and single letters.

    >>> query_terms("How do I bake the Bread? bread!")
    ['bake', 'bread']
    """
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if len(word) > 1 and word not in STOPWORDS:
            seen.setdefault(word)
    return list(seen)


def matched_terms(terms: list[str], document: str | None) -> list[str]:
    """The terms found in ``document`` at the start of a word, ignoring case (so
    ``bread`` matches "Breads" but not "shortbread").

    >>> matched_terms(["bake", "bread"], "Breads and shortbread")
    ['bread']
    """
    if not document:
        return []
    return [t for t in terms if re.search(r"(?<![^\W_])" + re.escape(t), document, re.IGNORECASE)]


def similarity(distance: float, space: str) -> float:
    """A score where larger is nearer: cosine similarity (cosine space), the inner
    product (ip), or ``1 / (1 + d)`` of the squared L2 distance (l2).

    >>> similarity(0.25, "cosine"), similarity(0.5, "ip"), similarity(1.0, "l2")
    (0.75, -0.5, 0.5)
    """
    if space == "cosine":
        return 1.0 - distance
    if space == "ip":
        return -distance
    return 1.0 / (1.0 + distance)


SCORE_NAMES = {"cosine": "cosine similarity", "ip": "inner product", "l2": "1 / (1 + L2²)"}


def _space(col: Collection) -> str:
    hnsw = col.configuration_json.get("hnsw") or {}
    return str(hnsw.get("space", "l2"))


def _model(col: Collection) -> dict[str, Any] | None:
    stored = col.configuration_json.get("embedding_function")
    if not isinstance(stored, dict) or stored.get("type") != "known":
        return None
    config = stored.get("config") or {}
    return {
        "name": stored.get("name"),
        "model": config.get("model") or config.get("model_name"),
        "served": not isinstance(col.embedding_function, UnservedFunction | LegacyFunction),
    }


def _collection_json(col: Collection) -> dict[str, Any]:
    return {
        "name": col.name,
        "id": str(col.id),
        "count": col.count(),
        "dimension": col.dimension,
        "space": _space(col),
        "model": _model(col),
        "metadata": col.metadata,
    }


def _int(body: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgumentError(f"{key} must be an integer from {low} to {high}, got {value!r}")
    return value


def _filters(body: dict[str, Any]) -> dict[str, Any]:
    return {"where": body.get("where"), "where_document": body.get("where_document")}


def _has_filter(body: dict[str, Any]) -> bool:
    return body.get("where") is not None or body.get("where_document") is not None


def _snippet(document: str | None) -> str | None:
    if document is None or len(document) <= SNIPPET_CHARS:
        return document
    return document[: SNIPPET_CHARS - 1].rstrip() + "…"


def _scalar(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def metadata_columns(metadatas: list[dict[str, Any] | None]) -> dict[str, list[Any]]:
    """Metadata as columns, one per key (the most common first, at most
    ``MAP_MAX_KEYS``), ``None`` where a record lacks the key; lists become text.

    >>> metadata_columns([{"topic": "food", "tags": ["a", "b"]}, None, {"topic": "code"}])
    {'topic': ['food', None, 'code'], 'tags': ['a, b', None, None]}
    """
    counts: dict[str, int] = {}
    for meta in metadatas:
        for key in meta or ():
            counts[key] = counts.get(key, 0) + 1
    keys = sorted(counts, key=lambda k: (-counts[k], k))[:MAP_MAX_KEYS]
    return {k: [_scalar((m or {}).get(k)) for m in metadatas] for k in keys}


def _rounded(values: npt.NDArray[np.float64]) -> list[float]:
    out: list[float] = np.round(values, 6).tolist()
    return out


# -- data routes --------------------------------------------------------------------------


@router.get(API + "/info")
async def info(request: Request) -> Response:
    """What the page needs to know about this server."""
    config = request.app.state.config
    return json_response(
        {
            "version": __version__,
            "read_only": bool(config.read_only),
            "token_required": config.token is not None,
            "search_modes": list(SEARCH_MODES),
            "map_max_points": MAP_MAX_POINTS,
        }
    )


@router.get(API + "/collections")
async def collections(request: Request) -> Response:
    """Every collection with its count, dimension, space and model."""
    client = client_of(request)
    return json_response(
        await call(lambda: [_collection_json(c) for c in client.list_collections()])
    )


@router.post(API + "/collections/{name}/records")
async def records(request: Request, name: str) -> Response:
    """One page of records (``limit``, ``offset``, optional ``ids``, ``where``,
    ``where_document``) and ``total``, the number that match."""
    body = await read_json(request)
    limit = _int(body, "limit", 20, 1, PAGE_MAX)
    offset = _int(body, "offset", 0, 0, 2**62)
    client = client_of(request)

    def work() -> dict[str, Any]:
        col = client.get_collection(name)
        ids = body.get("ids")
        if ids is None and not _has_filter(body):
            total = col.count()
        else:
            total = len(col.get(ids=ids, **_filters(body), include=[])["ids"])
        page = col.get(
            ids=ids,
            **_filters(body),
            limit=limit,
            offset=offset,
            include=["documents", "metadatas"],
        )
        return {
            "total": total,
            "offset": offset,
            "ids": page["ids"],
            "documents": page["documents"],
            "metadatas": page["metadatas"],
        }

    return json_response(await call(work))


@router.post(API + "/collections/{name}/search")
async def search(request: Request, name: str) -> Response:
    """The nearest records to a text ``query``, embedded with the collection's model,
    among those matching the filters; each with its distance, score and the query
    words it contains. With ``projection`` (from the map), also the query's point."""
    body = await read_json(request)
    text = body.get("query")
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgumentError("query must be a non-empty text")
    n = _int(body, "n_results", 10, 1, SEARCH_MAX_RESULTS)
    mode = body.get("mode", "dense")
    if mode not in SEARCH_MODES:
        raise InvalidArgumentError(
            f"search mode {mode!r} is not offered by this server (it offers:"
            f" {', '.join(SEARCH_MODES)})"
        )
    projection = None
    if body.get("projection") is not None:
        projection = Projection.from_json(body["projection"])
    client = client_of(request)

    def work() -> dict[str, Any]:
        started = time.perf_counter()
        col = client.get_collection(name)
        space = _space(col)
        # The same embedding as query_texts= (same checks, query-side embedding), kept
        # so that the query can be placed on the map.
        vectors = col._embed([text], "search", query=True)
        res = col.query(
            query_embeddings=vectors,
            n_results=n,
            **_filters(body),
            include=["documents", "metadatas", "distances"],
        )
        terms = query_terms(text)
        results = []
        for hit in res.hits[0]:
            distance = float(hit.distance if hit.distance is not None else np.nan)
            results.append(
                {
                    "id": hit.id,
                    "distance": distance,
                    "score": similarity(distance, space),
                    "document": hit.document,
                    "metadata": hit.metadata,
                    "matched_terms": matched_terms(terms, hit.document),
                }
            )
        point = None
        if projection is not None:
            point = _rounded(projection.transform(vectors)[0])
        return {
            "mode": mode,
            "space": space,
            "score_name": SCORE_NAMES.get(space, "score"),
            "terms": terms,
            "results": results,
            "query_point": point,
            "seconds": round(time.perf_counter() - started, 4),
        }

    return json_response(await call(work))


@router.post(API + "/collections/{name}/map")
async def embedding_map(request: Request, name: str) -> Response:
    """The records matching the filters (a seeded sample of at most ``sample`` of
    them, up to ``MAP_MAX_POINTS``) projected to 2-D by PCA, with their metadata as
    columns, document snippets, and the projection itself."""
    body = await read_json(request)
    sample = _int(body, "sample", MAP_MAX_POINTS, 1, MAP_MAX_POINTS)
    seed = _int(body, "seed", 0, 0, 2**32 - 1)
    client = client_of(request)

    def work() -> dict[str, Any]:
        started = time.perf_counter()
        col = client.get_collection(name)
        space = _space(col)
        ids = col.get(**_filters(body), include=[])["ids"]
        chosen = [ids[i] for i in sample_positions(len(ids), sample, seed)]
        got = (
            col.get(ids=chosen, include=["embeddings", "documents", "metadatas"])
            if chosen
            else None
        )
        out: dict[str, Any] = {
            "total": len(ids),
            "space": space,
            "ids": chosen,
            "x": [],
            "y": [],
            "documents": [],
            "metadata": {},
            "projection": None,
        }
        if got is not None:
            vectors = got["embeddings"]
            pca = fit_pca(vectors, normalize=space == "cosine")
            xy = pca.transform(vectors)
            out.update(
                ids=got["ids"],
                x=_rounded(xy[:, 0]),
                y=_rounded(xy[:, 1]),
                documents=[_snippet(d) for d in got["documents"] or []],
                metadata=metadata_columns(list(got["metadatas"] or [])),
                projection=pca.to_json(),
            )
        out["seconds"] = round(time.perf_counter() - started, 4)
        return out

    return json_response(await call(work))
