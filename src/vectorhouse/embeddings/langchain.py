"""Adapters between vectorhouse embedding functions and LangChain ``Embeddings``.

- :class:`LangChainEmbeddingFunction` wraps a LangChain ``Embeddings`` (documents go
  through ``embed_documents``, queries through ``embed_query``) so a collection can
  use it. It needs no LangChain import of its own: any object with those two methods
  will do.
- :func:`to_langchain` wraps a vectorhouse function (or any ``list[str] -> vectors``
  callable) as a ``langchain_core.embeddings.Embeddings``; that one needs
  ``pip install 'vectorhouse[langchain]'``.

A LangChain object cannot be rebuilt from a stored config, so the wrapper follows
:class:`~vectorhouse.embeddings.callable.CallableEmbeddingFunction`: legacy unless
given a ``name``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from vectorhouse.embeddings.base import Vector, call_embedding_function
from vectorhouse.embeddings.callable import CallableEmbeddingFunction
from vectorhouse.errors import InvalidArgumentError

if TYPE_CHECKING:
    from langchain_core.embeddings import (  # type: ignore[import-not-found, unused-ignore]
        Embeddings,
    )


class LangChainEmbeddingFunction(CallableEmbeddingFunction):
    """A LangChain ``Embeddings`` as a vectorhouse embedding function.

    >>> class Lengths:  # any object with LangChain's two methods
    ...     def embed_documents(self, texts):
    ...         return [[float(len(t)), 0.0] for t in texts]
    ...     def embed_query(self, text):
    ...         return [float(len(text)), 1.0]
    >>> ef = LangChainEmbeddingFunction(Lengths())
    >>> ef(["abc"])[0].tolist(), ef.embed_query(["abc"])[0].tolist()
    ([3.0, 0.0], [3.0, 1.0])
    >>> ef.is_legacy(), LangChainEmbeddingFunction(Lengths(), name="lengths-v1").name()
    (True, 'lengths-v1')
    """

    def __init__(self, embeddings: Any, name: str | None = None) -> None:
        for method in ("embed_documents", "embed_query"):
            if not callable(getattr(embeddings, method, None)):
                raise InvalidArgumentError(
                    f"expected a LangChain Embeddings, but {type(embeddings).__name__}"
                    f" has no {method}() method"
                )
        super().__init__(embeddings.embed_documents, name=name)
        self.embeddings = embeddings

    def __repr__(self) -> str:
        return f"LangChainEmbeddingFunction({type(self.embeddings).__name__}, name={self._name!r})"

    def embed_query(self, input: list[str]) -> list[Vector]:
        return [
            np.asarray(self.embeddings.embed_query(text), dtype=np.float32).reshape(-1)
            for text in input
        ]


def _require_langchain() -> None:
    try:
        import langchain_core.embeddings  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "to_langchain needs langchain-core: pip install 'vectorhouse[langchain]'"
        ) from exc


@functools.cache
def _adapter_class() -> Callable[[Callable[[list[str]], Any]], Embeddings]:
    from langchain_core.embeddings import (  # type: ignore[import-not-found, unused-ignore]
        Embeddings,
    )

    class VectorhouseEmbeddings(Embeddings):  # type: ignore[misc, unused-ignore]
        """A vectorhouse embedding function seen as a LangChain ``Embeddings``."""

        def __init__(self, function: Callable[[list[str]], Any]) -> None:
            self.function = function

        def __repr__(self) -> str:
            return f"VectorhouseEmbeddings({self.function!r})"

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            if not texts:
                return []
            out: list[list[float]] = call_embedding_function(self.function, list(texts)).tolist()
            return out

        def embed_query(self, text: str) -> list[float]:
            vectors = call_embedding_function(self.function, [text], query=True)
            out: list[float] = vectors[0].tolist()
            return out

    return VectorhouseEmbeddings


def to_langchain(fn: Callable[[list[str]], Any]) -> Embeddings:
    """A LangChain ``Embeddings`` that embeds with ``fn`` (queries via its ``embed_query``
    when it has one); a :class:`LangChainEmbeddingFunction` gives back what it wraps.

    >>> from vectorhouse.embeddings.callable import CallableEmbeddingFunction
    >>> ef = CallableEmbeddingFunction(lambda texts: [[1.0, 2.0] for _ in texts])
    >>> to_langchain(ef).embed_query("hi")  # doctest: +SKIP
    [1.0, 2.0]
    """
    if isinstance(fn, LangChainEmbeddingFunction):
        wrapped: Embeddings = fn.embeddings
        return wrapped
    if not callable(fn):
        raise InvalidArgumentError(f"fn must be callable, got {type(fn).__name__}")
    _require_langchain()
    return _adapter_class()(fn)
