"""OpenAI embeddings, and any server that speaks OpenAI's ``/v1/embeddings``.

vLLM, LM Studio, Ollama's ``/v1``, llama.cpp's server and Hugging Face's
text-embeddings-inference all answer the same request, so ``api_base`` is the only
thing that changes. The request goes out through ``httpx`` (``pip install
'vectorhouse[openai]'``), not through the ``openai`` package.

Batching: one request carries at most ``max_batch_size`` texts (2048, the API's limit)
and ``max_batch_bytes`` UTF-8 bytes (300,000). OpenAI caps a request at 300,000 tokens,
and a token of its byte-level BPE tokenizers is never shorter than one byte, so the
byte budget can never overflow the token budget, without shipping a tokenizer. A server
that answers 413 (Payload Too Large: text-embeddings-inference does so above its
``--max-client-batch-size``, 32 by default) gets half the batch again, and the rest of
the call keeps to that smaller size.

The API key is ``api_key`` when given, else the environment variable named by
``api_key_env_var``, read at each call, so it can be set after construction. With
OpenAI's own endpoint a missing key raises ``EmbeddingError`` at the first call; with
any other ``api_base`` the request goes out without ``Authorization``, since local
servers rarely want one. The key is never part of ``get_config()`` or ``repr()``; a
function rebuilt from config reads the environment variable.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import numpy as np

from vectorhouse.embeddings.base import EmbeddingFunction, Vector, register
from vectorhouse.embeddings.http import RetryPolicy, next_batch, open_client, post, read_json
from vectorhouse.errors import EmbeddingError, InvalidArgumentError

DEFAULT_API_BASE = "https://api.openai.com/v1"
MAX_BATCH_SIZE = 2048
MAX_BATCH_BYTES = 300_000


@register
class OpenAIEmbeddingFunction(EmbeddingFunction):
    """Embeddings from OpenAI or an OpenAI-compatible server (Chroma's arguments).

    >>> ef = OpenAIEmbeddingFunction(
    ...     api_key="sk-not-stored", model_name="text-embedding-3-small", dimensions=256
    ... )
    >>> ef.get_config()  # doctest: +NORMALIZE_WHITESPACE
    {'api_key_env_var': 'OPENAI_API_KEY', 'model_name': 'text-embedding-3-small',
     'api_base': 'https://api.openai.com/v1', 'dimensions': 256, 'organization_id': None}
    >>> "sk-not-stored" in repr(ef)
    False
    >>> local = OpenAIEmbeddingFunction(api_base="http://localhost:8000/v1", model_name="bge-m3")
    >>> OpenAIEmbeddingFunction.build_from_config(local.get_config()).get_config()["api_base"]
    'http://localhost:8000/v1'

    ``timeout`` (seconds per request), ``max_retries``, ``retry_base_delay`` and the batch
    limits shape the requests but not the vectors, so they are not stored in the config.
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_key_env_var: str = "OPENAI_API_KEY",
        model_name: str = "text-embedding-ada-002",
        api_base: str | None = None,
        dimensions: int | None = None,
        organization_id: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 5,
        *,
        retry_base_delay: float = 0.5,
        max_batch_size: int = MAX_BATCH_SIZE,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        if not model_name:
            raise InvalidArgumentError("model_name must be a non-empty string")
        if dimensions is not None and (isinstance(dimensions, bool) or dimensions < 1):
            raise InvalidArgumentError(f"dimensions must be a positive integer, got {dimensions!r}")
        if max_batch_size < 1 or max_batch_bytes < 1 or max_retries < 0 or timeout <= 0:
            raise InvalidArgumentError(
                "max_batch_size, max_batch_bytes and timeout must be positive and"
                " max_retries must not be negative"
            )
        self._api_key = api_key
        self.api_key_env_var = api_key_env_var
        self.model_name = model_name
        self.api_base = (api_base or DEFAULT_API_BASE).rstrip("/")
        self.dimensions = dimensions
        self.organization_id = organization_id
        self.timeout = float(timeout)
        self.max_batch_size = max_batch_size
        self.max_batch_bytes = max_batch_bytes
        self.retry_policy = RetryPolicy(max_retries=max_retries, base_delay=retry_base_delay)

    def __repr__(self) -> str:
        return (
            f"OpenAIEmbeddingFunction(model_name={self.model_name!r},"
            f" api_base={self.api_base!r}, dimensions={self.dimensions!r})"
        )

    @staticmethod
    def name() -> str:
        return "openai"

    def get_config(self) -> dict[str, Any]:
        return {
            "api_key_env_var": self.api_key_env_var,
            "model_name": self.model_name,
            "api_base": self.api_base,
            "dimensions": self.dimensions,
            "organization_id": self.organization_id,
        }

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OpenAIEmbeddingFunction:
        return OpenAIEmbeddingFunction(
            api_key_env_var=config.get("api_key_env_var") or "OPENAI_API_KEY",
            model_name=config.get("model_name") or "text-embedding-ada-002",
            api_base=config.get("api_base"),
            dimensions=config.get("dimensions"),
            organization_id=config.get("organization_id"),
        )

    def default_space(self) -> str:
        return "cosine"

    def _headers(self) -> dict[str, str]:
        key = self._api_key or os.environ.get(self.api_key_env_var) or None
        if key is None and self.api_base == DEFAULT_API_BASE:
            raise EmbeddingError(
                f"openai: no API key: set the {self.api_key_env_var} environment variable"
                " or pass api_key="
            )
        headers = {"Accept": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if self.organization_id:
            headers["OpenAI-Organization"] = self.organization_id
        return headers

    def __call__(self, input: list[str]) -> list[Vector]:
        texts = list(input)
        if not texts:
            return []
        headers = self._headers()
        url = f"{self.api_base}/embeddings"
        out: list[Vector] = []
        limit, start = self.max_batch_size, 0
        with open_client("openai", self.timeout) as client:
            while start < len(texts):
                batch = next_batch(texts, start, limit, self.max_batch_bytes)
                payload: dict[str, Any] = {
                    "model": self.model_name,
                    "input": batch,
                    "encoding_format": "float",
                }
                if self.dimensions is not None:
                    payload["dimensions"] = self.dimensions
                response, attempts = post(
                    client,
                    url,
                    payload,
                    provider="openai",
                    policy=self.retry_policy,
                    headers=headers,
                )
                if response.status_code == 413 and len(batch) > 1:
                    limit = len(batch) // 2  # the server's batch limit is lower: halve and resend
                    continue
                out.extend(_parse(read_json("openai", url, response, attempts), len(batch), url))
                start += len(batch)
        return out


def _parse(body: Any, expected: int, url: str) -> list[Vector]:
    """Vectors from an embeddings response, in input order (by ``data[i].index``)."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise EmbeddingError(f"openai: the response from {url} has no 'data' list")
    try:
        # A server that leaves out ``index`` is taken to answer in input order.
        keyed = sorted(
            ((int(item.get("index", i)), item) for i, item in enumerate(data)),
            key=lambda pair: pair[0],
        )
        indices = [index for index, _ in keyed]
        items = [item for _, item in keyed]
        if indices != list(range(expected)):
            raise EmbeddingError(
                f"openai: sent {expected} texts to {url} but got embeddings for indices"
                f" {indices[:10]}{'...' if len(indices) > 10 else ''}"
            )
        return [_vector(item["embedding"]) for item in items]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise EmbeddingError(
            f"openai: malformed embedding in the response from {url}: {exc}"
        ) from exc


def _vector(raw: Any) -> Vector:
    if isinstance(raw, str):  # encoding_format "base64", which some servers force
        return np.frombuffer(base64.b64decode(raw), dtype="<f4").astype(np.float32)
    return np.asarray(raw, dtype=np.float32)
