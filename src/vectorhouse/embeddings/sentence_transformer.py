"""Embeddings from a local ``sentence-transformers`` model.

For users who already have sentence-transformers (and so PyTorch) installed: ``pip
install 'vectorhouse[sentence-transformers]'``. The bundled default model needs neither.
The model loads on the first call, not at construction, and is cached process-wide by
its full config (name, device and constructor arguments), so every function built with
the same config, and every collection using one, shares one loaded model. Loading holds
a lock, so threads that race to the first call load it once.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np

from vectorhouse.embeddings.base import EmbeddingFunction, Vector, register
from vectorhouse.errors import EmbeddingError, InvalidArgumentError

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def _load_model(model_name: str, device: str, kwargs: dict[str, Any]) -> Any:
    key = json.dumps([model_name, device, kwargs], sort_keys=True)
    with _LOCK:
        model = _MODELS.get(key)
        if model is None:
            try:
                from sentence_transformers import (  # type: ignore[import-not-found, unused-ignore]
                    SentenceTransformer,
                )
            except ImportError as exc:
                raise ImportError(
                    "SentenceTransformerEmbeddingFunction needs sentence-transformers:"
                    " pip install 'vectorhouse[sentence-transformers]'"
                ) from exc
            try:
                model = SentenceTransformer(model_name, device=device, **kwargs)
            except Exception as exc:
                raise EmbeddingError(
                    f"sentence_transformer: could not load model {model_name!r} on"
                    f" {device!r}: {exc}"
                ) from exc
            _MODELS[key] = model
    return model


@register
class SentenceTransformerEmbeddingFunction(EmbeddingFunction):
    """A sentence-transformers model (Chroma's arguments); extra keyword arguments go to
    ``SentenceTransformer(...)`` and must be JSON values, since they are stored.

    >>> ef = SentenceTransformerEmbeddingFunction("all-MiniLM-L6-v2", normalize_embeddings=True)
    >>> ef.get_config()  # doctest: +NORMALIZE_WHITESPACE
    {'model_name': 'all-MiniLM-L6-v2', 'device': 'cpu', 'normalize_embeddings': True,
     'kwargs': {}}
    >>> SentenceTransformerEmbeddingFunction.build_from_config(ef.get_config()).model_name
    'all-MiniLM-L6-v2'
    """

    def __init__(
        self,
        model_name: str = "all-MiniLM-L6-v2",
        device: str = "cpu",
        normalize_embeddings: bool = False,
        **kwargs: Any,
    ) -> None:
        if not model_name:
            raise InvalidArgumentError("model_name must be a non-empty string")
        try:
            json.dumps(kwargs, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                "SentenceTransformerEmbeddingFunction keyword arguments must be JSON values"
                f" (they are stored with the collection): {exc}"
            ) from exc
        self.model_name = model_name
        self.device = device
        self.normalize_embeddings = bool(normalize_embeddings)
        self.kwargs = dict(kwargs)

    def __repr__(self) -> str:
        return (
            f"SentenceTransformerEmbeddingFunction(model_name={self.model_name!r},"
            f" device={self.device!r}, normalize_embeddings={self.normalize_embeddings!r})"
        )

    @staticmethod
    def name() -> str:
        return "sentence_transformer"

    def get_config(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "device": self.device,
            "normalize_embeddings": self.normalize_embeddings,
            "kwargs": dict(self.kwargs),
        }

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SentenceTransformerEmbeddingFunction:
        return SentenceTransformerEmbeddingFunction(
            model_name=config.get("model_name") or "all-MiniLM-L6-v2",
            device=config.get("device") or "cpu",
            normalize_embeddings=bool(config.get("normalize_embeddings", False)),
            **dict(config.get("kwargs") or {}),
        )

    def default_space(self) -> str:
        return "cosine"

    def __call__(self, input: list[str]) -> list[Vector]:
        texts = list(input)
        if not texts:
            return []
        model = _load_model(self.model_name, self.device, self.kwargs)
        raw = model.encode(
            texts, convert_to_numpy=True, normalize_embeddings=self.normalize_embeddings
        )
        return [np.asarray(row, dtype=np.float32) for row in raw]
