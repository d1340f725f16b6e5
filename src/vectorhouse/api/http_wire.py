"""The HTTP wire format, shared by the server and ``HttpClient``: the one table from
the exception tree to HTTP statuses and error bodies, and the JSON forms of results.

The routes and JSON shapes are Chroma's v2 REST API, so Chroma's own HTTP client can
talk to a vectorhouse server. Arrays travel as JSON lists; embeddings sent to the
server may also be base64 strings of little-endian float32 (what Chroma's client sends).

An error body carries Chroma's error name (so Chroma's client raises its matching
exception), the message, and vectorhouse's stable ``code`` (so ``HttpClient`` raises
the very class the server raised)::

    >>> from vectorhouse.errors import CollectionNotFoundError
    >>> status, body = error_response(CollectionNotFoundError("collection 'x' does not exist"))
    >>> status, body["error"], body["code"]
    (404, 'NotFoundError', 'collection_not_found')
    >>> error_from_response(status, body)
    CollectionNotFoundError("collection 'x' does not exist")
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import numpy as np
import numpy.typing as npt

try:  # a faster JSON codec, from the ``server`` extra
    import orjson as _orjson
except ImportError:  # pragma: no cover - the standard library does the same, slower
    _orjson = None  # type: ignore[assignment]

from vectorhouse import errors as e
from vectorhouse.types import GetResult, QueryResult

_ORJSON_OPTIONS = 0 if _orjson is None else _orjson.OPT_SERIALIZE_NUMPY

API_PREFIX = "/api/v2"
"""Where Chroma's v2 routes live."""

DEFAULT_TENANT = "default_tenant"
DEFAULT_DATABASE = "default_database"

ERROR_STATUS: dict[type[e.VectorhouseError], tuple[int, str]] = {
    e.VectorhouseError: (500, "ChromaError"),
    e.InvalidArgumentError: (400, "InvalidArgumentError"),
    e.DimensionMismatchError: (400, "InvalidDimension"),
    e.DuplicateIDError: (400, "DuplicateID"),
    e.NotFoundError: (404, "NotFoundError"),
    e.ConflictError: (409, "UniqueConstraintError"),
    e.IDAlreadyExistsError: (409, "IDAlreadyExists"),
    e.EmbeddingFunctionConflictError: (409, "InvalidArgumentError"),
    e.EmbeddingError: (502, "InternalError"),
    e.EmbeddingDriftError: (409, "InvalidArgumentError"),
    e.ResetNotAllowedError: (403, "AuthorizationError"),
    e.AuthenticationError: (401, "AuthError"),
    e.ReadOnlyError: (403, "AuthorizationError"),
    e.ClientClosedError: (503, "InternalError"),
    e.StorageError: (500, "InternalError"),
    e.DatabaseLockedError: (503, "InternalError"),
    e.ServerError: (500, "InternalError"),
    e.ServerUnavailableError: (503, "InternalError"),
}
"""Error class -> (HTTP status, Chroma error name). An error takes the entry of the
nearest class in its MRO: 400 bad arguments, 401 no or wrong token, 403 forbidden
(``reset``, writes to a read-only server), 404 not found, 409 conflicts with what is
stored, 502 the embedding model or provider failed, 503 busy or shutting down, 500
anything else."""


def _all_error_classes() -> dict[str, type[e.VectorhouseError]]:
    found: dict[str, type[e.VectorhouseError]] = {}
    todo: list[type[e.VectorhouseError]] = [e.VectorhouseError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found


_BY_CODE = _all_error_classes()

_BY_STATUS: dict[int, type[e.VectorhouseError]] = {
    400: e.InvalidArgumentError,
    401: e.AuthenticationError,
    403: e.AuthenticationError,
    404: e.NotFoundError,
    409: e.ConflictError,
    413: e.InvalidArgumentError,
    422: e.InvalidArgumentError,
    503: e.ServerUnavailableError,
}


def status_of(exc: e.VectorhouseError) -> tuple[int, str]:
    """The HTTP status and Chroma error name of an error.

    >>> status_of(e.DuplicateIDError("ids must be unique"))
    (400, 'DuplicateID')
    """
    for cls in type(exc).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return ERROR_STATUS[e.VectorhouseError]


def error_body(code: str, message: str, chroma_name: str) -> dict[str, str]:
    """The JSON body of an error response.

    >>> error_body("invalid_argument", "bad", "InvalidArgumentError")
    {'error': 'InvalidArgumentError', 'message': 'bad', 'code': 'invalid_argument'}
    """
    return {"error": chroma_name, "message": message, "code": code}


def error_response(exc: e.VectorhouseError) -> tuple[int, dict[str, str]]:
    """The status and body that report ``exc``.

    >>> error_response(e.InvalidIDError("ids must be strings"))[0]
    400
    """
    status, name = status_of(exc)
    return status, error_body(exc.code, str(exc), name)


def error_from_response(status: int, body: Any) -> e.VectorhouseError:
    """The exception an error response stands for: the class named by its ``code``,
    else one chosen by the status (a server that is not vectorhouse, a proxy).

    >>> error_from_response(409, {"message": "taken", "code": "collection_exists"})
    CollectionExistsError('taken')
    >>> error_from_response(502, "Bad Gateway")
    ServerError('HTTP 502: Bad Gateway')
    """
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str):
        if isinstance(body, dict) and isinstance(body.get("error"), dict):  # OpenAI style
            message = str(body["error"].get("message"))
        else:
            text = body if isinstance(body, str) else json.dumps(body)
            message = f"HTTP {status}: {text[:500]}"
    cls = _BY_CODE.get(code) if isinstance(code, str) else None
    if cls is None:
        cls = _BY_STATUS.get(status, e.ServerError)
    return cls(message)


# -- JSON -------------------------------------------------------------------------------


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; numpy arrays and scalars become lists and numbers. Uses
    orjson when it is installed (the ``server`` extra), the standard library otherwise.

    >>> dumps({"e": np.ones((1, 2), np.float32)})
    b'{"e":[[1.0,1.0]]}'
    """
    if _orjson is not None:
        try:
            return _orjson.dumps(value, default=_to_builtin, option=_ORJSON_OPTIONS)
        except TypeError:
            pass  # e.g. an int too large for orjson: the standard library takes it
    return dumps_exact(value)


def dumps_exact(value: Any) -> bytes:
    """JSON from the standard library, which keeps NaN and infinity as ``NaN`` and
    ``Infinity`` (orjson writes null): what a client sends, so that the server's
    validation names such a value exactly as the embedded client does.

    >>> dumps_exact([float("nan")])
    b'[NaN]'
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_to_builtin)
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: sent as a \u escape, for validation
        return json.dumps(
            value, separators=(",", ":"), ensure_ascii=True, default=_to_builtin
        ).encode()


MAX_JSON_DEPTH = 256
"""The deepest nesting of JSON arrays and objects a body may have (a filter within its
own limits needs about 130)."""

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def json_too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``raw`` nests arrays and objects more than ``limit`` deep.

    Counted on the text, before decoding, so that no decoder recurses that far; it
    costs a byte count unless the text holds more than ``limit`` brackets.

    >>> json_too_deep(b"[[1]]", 2), json_too_deep(b"[[[1]]]", 2), json_too_deep(b'["[[[["]', 2)
    (False, True, False)
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    text = np.frombuffer(brackets, dtype=np.uint8)
    step = np.where((text == ord("[")) | (text == ord("{")), 1, -1)
    return bool(len(step)) and int(np.cumsum(step).max()) > limit


def loads(raw: bytes | str) -> Any:
    """Decode JSON (orjson when installed); ``NaN`` and ``Infinity`` are read too, so that
    validation, not the decoder, reports them. Nesting deeper than
    :data:`MAX_JSON_DEPTH` is a ``json.JSONDecodeError`` (a ``ValueError``).

    >>> loads(b'{"a": [1.5, NaN]}')["a"][0]
    1.5
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if json_too_deep(data):
        raise json.JSONDecodeError(
            f"arrays and objects nested more than {MAX_JSON_DEPTH} levels deep", "", 0
        )
    if _orjson is not None:
        try:
            return _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            pass  # NaN, Infinity or malformed: the standard library decides
    return json.loads(raw)


def _to_builtin(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot be sent as JSON")


def decode_embeddings(value: Any) -> Any:
    """Turn base64 embeddings (little-endian float32, as Chroma's client sends them) into
    arrays; anything else is left for validation to judge.

    >>> decode_embeddings(["AACAPwAAAEA="])[0].tolist()
    [1.0, 2.0]
    >>> decode_embeddings([[1.0, 2.0]])
    [[1.0, 2.0]]
    """
    if not isinstance(value, list) or not any(isinstance(x, str) for x in value):
        return value
    out: list[Any] = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            out.append(item)
            continue
        try:
            raw = base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise e.InvalidEmbeddingError(f"embeddings[{i}] is not valid base64: {exc}") from exc
        if len(raw) % 4:
            raise e.InvalidEmbeddingError(
                f"embeddings[{i}] is {len(raw)} bytes, not a whole number of float32 values"
            )
        out.append(np.frombuffer(raw, dtype="<f4"))
    return out


def encode_get(result: GetResult) -> dict[str, Any]:
    """A ``get`` result as JSON-ready data (Chroma's response shape).

    >>> r = GetResult(ids=["a"], embeddings=np.ones((1, 2), np.float32), documents=None,
    ...               uris=None, data=None, metadatas=None, included=["embeddings"])
    >>> encode_get(r)["embeddings"]
    [[1.0, 1.0]]
    """
    out = dict(result)
    emb = out.get("embeddings")
    if emb is not None:
        out["embeddings"] = np.asarray(emb).tolist()
    out["include"] = out.get("included")
    return out


def encode_query(result: QueryResult) -> dict[str, Any]:
    """A ``query`` result as JSON-ready data (Chroma's response shape).

    >>> r = QueryResult(ids=[["a"]], embeddings=[np.zeros((1, 2), np.float32)],
    ...     documents=None, uris=None, data=None, metadatas=None, distances=[[0.5]],
    ...     included=["embeddings", "distances"])
    >>> encode_query(r)["embeddings"], encode_query(r)["distances"]
    ([[[0.0, 0.0]]], [[0.5]])
    """
    out = dict(result)
    emb = out.get("embeddings")
    if emb is not None:
        out["embeddings"] = [np.asarray(q).tolist() for q in emb]
    out["include"] = out.get("included")
    return out


def _matrix(rows: Any) -> npt.NDArray[np.float32]:
    arr = np.asarray(rows, dtype=np.float32)
    if arr.ndim == 2:
        return arr
    return arr.reshape(len(rows), -1) if arr.size else np.zeros((0, 0), np.float32)


def decode_get(body: dict[str, Any], include: list[str]) -> GetResult:
    """A ``get`` response as a :class:`GetResult` (embeddings as a float32 array).

    >>> decode_get({"ids": ["a"], "embeddings": [[1, 2]]}, ["embeddings"]).embeddings.dtype
    dtype('float32')
    """
    emb = body.get("embeddings")
    return GetResult(
        ids=list(body["ids"]),
        embeddings=None if emb is None else _matrix(emb),
        documents=body.get("documents"),
        uris=body.get("uris"),
        included=list(body.get("included") or include),
        data=body.get("data"),
        metadatas=body.get("metadatas"),
    )


def decode_query(body: dict[str, Any], include: list[str]) -> QueryResult:
    """A ``query`` response as a :class:`QueryResult` (one float32 array per query).

    >>> r = decode_query({"ids": [["a"]], "distances": [[0.5]]}, ["distances"])
    >>> r.hits[0][0].distance
    0.5
    """
    emb = body.get("embeddings")
    return QueryResult(
        ids=[list(q) for q in body["ids"]],
        embeddings=None if emb is None else [_matrix(q) for q in emb],
        documents=body.get("documents"),
        uris=body.get("uris"),
        included=list(body.get("included") or include),
        data=body.get("data"),
        metadatas=body.get("metadatas"),
        distances=body.get("distances"),
    )


def public_configuration(configuration: dict[str, Any]) -> dict[str, Any]:
    """A collection's stored configuration as sent over the wire: without the model
    fingerprint (a probe vector that only the server's checks need).

    >>> public_configuration({"hnsw": {"space": "l2"}, "fingerprint": {"vector": [1.0]}})
    {'hnsw': {'space': 'l2'}}
    """
    return {k: v for k, v in configuration.items() if k != "fingerprint"}
