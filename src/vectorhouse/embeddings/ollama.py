"""Embeddings from a local Ollama server through its ``POST /api/embed`` endpoint.

The request is ``{"model", "input": [...]}`` and the answer ``{"embeddings": [[...],
...]}``, one vector per text in order. It goes out through ``httpx`` (``pip install
'vectorhouse[ollama]'``) with the retry policy of :mod:`vectorhouse.embeddings.http`.
Ollama sets no batch limit; texts go in batches of ``max_batch_size`` (256) so that one
call with many texts does not become one huge request.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vectorhouse.embeddings.base import EmbeddingFunction, Vector, register
from vectorhouse.embeddings.http import RetryPolicy, open_client, post, read_json
from vectorhouse.errors import EmbeddingError, InvalidArgumentError

DEFAULT_URL = "http://localhost:11434"


@register
class OllamaEmbeddingFunction(EmbeddingFunction):
    """Embeddings from Ollama (Chroma's arguments: ``url``, ``model_name``, ``timeout``).

    >>> ef = OllamaEmbeddingFunction(model_name="nomic-embed-text")
    >>> ef.get_config()
    {'url': 'http://localhost:11434', 'model_name': 'nomic-embed-text'}
    >>> OllamaEmbeddingFunction("http://gpu-box:11434/api/embed").url  # the path is optional
    'http://gpu-box:11434'

    ``timeout``, ``max_retries``, ``retry_base_delay`` and ``max_batch_size`` shape the
    requests, not the vectors, so they are not stored in the config (a ``timeout`` found
    in a config written by Chroma is honoured).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        model_name: str = "nomic-embed-text",
        timeout: float = 60.0,
        *,
        max_retries: int = 5,
        retry_base_delay: float = 0.5,
        max_batch_size: int = 256,
    ) -> None:
        if not model_name:
            raise InvalidArgumentError("model_name must be a non-empty string")
        if timeout <= 0 or max_retries < 0 or max_batch_size < 1:
            raise InvalidArgumentError(
                "timeout and max_batch_size must be positive and max_retries not negative"
            )
        base = (url or DEFAULT_URL).rstrip("/")
        for suffix in ("/api/embed", "/api/embeddings"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        self.url = base
        self.model_name = model_name
        self.timeout = float(timeout)
        self.max_batch_size = max_batch_size
        self.retry_policy = RetryPolicy(max_retries=max_retries, base_delay=retry_base_delay)

    def __repr__(self) -> str:
        return f"OllamaEmbeddingFunction(url={self.url!r}, model_name={self.model_name!r})"

    @staticmethod
    def name() -> str:
        return "ollama"

    def get_config(self) -> dict[str, Any]:
        return {"url": self.url, "model_name": self.model_name}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OllamaEmbeddingFunction:
        return OllamaEmbeddingFunction(
            url=config.get("url") or DEFAULT_URL,
            model_name=config.get("model_name") or "nomic-embed-text",
            timeout=float(config.get("timeout") or 60.0),
        )

    def default_space(self) -> str:
        return "cosine"

    def __call__(self, input: list[str]) -> list[Vector]:
        texts = list(input)
        if not texts:
            return []
        url = f"{self.url}/api/embed"
        out: list[Vector] = []
        with open_client("ollama", self.timeout) as client:
            for start in range(0, len(texts), self.max_batch_size):
                batch = texts[start : start + self.max_batch_size]
                payload = {"model": self.model_name, "input": batch}
                response, attempts = post(
                    client, url, payload, provider="ollama", policy=self.retry_policy
                )
                body = read_json("ollama", url, response, attempts)
                out.extend(_parse(body, len(batch), url))
        return out


def _parse(body: Any, expected: int, url: str) -> list[Vector]:
    vectors = body.get("embeddings") if isinstance(body, dict) else None
    if not isinstance(vectors, list) or len(vectors) != expected:
        got = len(vectors) if isinstance(vectors, list) else "no"
        raise EmbeddingError(f"ollama: sent {expected} texts to {url} but got {got} embeddings")
    try:
        return [np.asarray(v, dtype=np.float32) for v in vectors]
    except (TypeError, ValueError) as exc:
        raise EmbeddingError(
            f"ollama: malformed embedding in the response from {url}: {exc}"
        ) from exc
