"""OpenAI's embeddings API over the server's models: ``POST /v1/embeddings``,
``GET /v1/models`` and ``GET /v1/models/{id}``, in OpenAI's exact request, response
and error formats, so any OpenAI client (``base_url=http://host:port/v1``) embeds
with the bundled model.

    >>> from fastapi.testclient import TestClient
    >>> from vectorhouse.server.app import create_app
    >>> with TestClient(create_app()) as http:
    ...     http.get("/v1/models").json()["data"][0]["id"]
    'all-MiniLM-L6-v2'
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from vectorhouse.api.validation import text_problem
from vectorhouse.embeddings.base import EmbeddingFunction, call_embedding_function
from vectorhouse.server.app import ErrorMappingRoute, call, json_response, read_json
from vectorhouse.server.security import openai_error

router = APIRouter(prefix="/v1", route_class=ErrorMappingRoute, tags=["OpenAI embeddings"])

MAX_INPUTS = 2048
"""Texts per request, OpenAI's own limit."""

OWNER = "vectorhouse"


def _model_json(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": OWNER}


def _invalid(
    message: str, param: str | None, code: str | None = None, status: int = 400
) -> Response:
    return json_response(openai_error(message, "invalid_request_error", code, param), status)


def _texts(value: Any) -> list[str] | Response:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        return _invalid("'input' must be a non-empty string or array of strings", "input")
    if any(isinstance(x, (int, list)) and not isinstance(x, bool) for x in value):
        return _invalid(
            "'input' as token ids is not supported by this server: send strings", "input"
        )
    for i, text in enumerate(value):
        if not isinstance(text, str):
            return _invalid(f"'input[{i}]' must be a string", "input")
        if not text:
            return _invalid(f"'input[{i}]' must not be empty", "input")
        problem = text_problem(text)
        if problem is not None and "surrogate" in problem:
            return _invalid(f"'input[{i}]' holds {problem}", "input")
    if len(value) > MAX_INPUTS:
        return _invalid(
            f"'input' holds {len(value)} texts; at most {MAX_INPUTS} per request", "input"
        )
    return value


def _token_counts(fn: EmbeddingFunction, texts: list[str]) -> list[int]:
    counter = getattr(fn, "count_tokens", None)
    if callable(counter):
        return [int(n) for n in counter(texts)]
    return [len(t.split()) for t in texts]


@router.get("/models", summary="The models this server embeds with")
async def list_models(request: Request) -> Response:
    """OpenAI's model list."""
    models = request.app.state.models.models
    return json_response({"object": "list", "data": [_model_json(m) for m in models]})


@router.get("/models/{model_id}", summary="One model")
async def get_model(request: Request, model_id: str) -> Response:
    """404 in OpenAI's format for an unknown model."""
    if request.app.state.models.model(model_id) is None:
        return _invalid(f"The model '{model_id}' does not exist", "model", "model_not_found", 404)
    return json_response(_model_json(model_id))


@router.post(
    "/embeddings",
    summary="Embed texts (OpenAI's format)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["model", "input"],
                        "properties": {
                            "model": {"type": "string"},
                            "input": {
                                "anyOf": [
                                    {"type": "string"},
                                    {"type": "array", "items": {"type": "string"}},
                                ]
                            },
                            "encoding_format": {"type": "string", "enum": ["float", "base64"]},
                            "dimensions": {"type": "integer"},
                            "user": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def embeddings(request: Request) -> Response:
    """Vectors for ``input``; ``encoding_format: base64`` packs little-endian float32."""
    body = await read_json(request)
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id:
        return _invalid("you must provide a model parameter", "model")
    if text_problem(model_id) is not None:
        return _invalid("the model parameter must be valid text", "model")
    fn = request.app.state.models.model(model_id)
    if fn is None:
        return _invalid(f"The model '{model_id}' does not exist", "model", "model_not_found", 404)
    texts = _texts(body.get("input"))
    if isinstance(texts, Response):
        return texts
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        return _invalid("'encoding_format' must be 'float' or 'base64'", "encoding_format")
    dimensions = body.get("dimensions")

    def work() -> tuple[Any, list[int]]:
        return call_embedding_function(fn, texts), _token_counts(fn, texts)

    vectors, tokens = await call(work)
    if dimensions is not None and dimensions != vectors.shape[1]:
        return _invalid(
            f"model '{model_id}' returns {vectors.shape[1]} dimensions; 'dimensions' cannot"
            " change that",
            "dimensions",
        )
    data = []
    for i, vector in enumerate(vectors):
        item: Any
        if encoding == "base64":
            item = base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode()
        else:
            item = vector.tolist()
        data.append({"object": "embedding", "index": i, "embedding": item})
    total = sum(tokens)
    return json_response(
        {
            "object": "list",
            "data": data,
            "model": model_id,
            "usage": {"prompt_tokens": total, "total_tokens": total},
        }
    )
