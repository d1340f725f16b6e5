"""The embedding functions, in one place (Chroma's ``chromadb.utils.embedding_functions``).

>>> from vectorhouse.embedding_functions import OllamaEmbeddingFunction
>>> OllamaEmbeddingFunction(model_name="all-minilm").name()
'ollama'

Names are imported on first use, so importing this module loads no optional
dependency (httpx, sentence-transformers, LangChain) and no model. Importing a provider
registers it, so a collection that stored its config can rebuild it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vectorhouse.embeddings.base import EmbeddingFunction
    from vectorhouse.embeddings.callable import CallableEmbeddingFunction
    from vectorhouse.embeddings.default import DefaultEmbeddingFunction
    from vectorhouse.embeddings.langchain import LangChainEmbeddingFunction, to_langchain
    from vectorhouse.embeddings.ollama import OllamaEmbeddingFunction
    from vectorhouse.embeddings.openai import OpenAIEmbeddingFunction
    from vectorhouse.embeddings.sentence_transformer import (
        SentenceTransformerEmbeddingFunction,
    )

_EXPORTS = {
    "CallableEmbeddingFunction": "vectorhouse.embeddings.callable",
    "DefaultEmbeddingFunction": "vectorhouse.embeddings.default",
    "EmbeddingFunction": "vectorhouse.embeddings.base",
    "LangChainEmbeddingFunction": "vectorhouse.embeddings.langchain",
    "OllamaEmbeddingFunction": "vectorhouse.embeddings.ollama",
    "OpenAIEmbeddingFunction": "vectorhouse.embeddings.openai",
    "SentenceTransformerEmbeddingFunction": "vectorhouse.embeddings.sentence_transformer",
    "to_langchain": "vectorhouse.embeddings.langchain",
}


__all__ = [
    "CallableEmbeddingFunction",
    "DefaultEmbeddingFunction",
    "EmbeddingFunction",
    "LangChainEmbeddingFunction",
    "OllamaEmbeddingFunction",
    "OpenAIEmbeddingFunction",
    "SentenceTransformerEmbeddingFunction",
    "to_langchain",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
