"""Any callable ``list[str] -> vectors`` as an embedding function.

An arbitrary callable cannot be written to a config and rebuilt in another process, so
a wrapped callable is never rebuilt from stored config (``build_from_config`` raises
``NotImplementedError``, and the class is not registered). What ``name`` buys:

- without a name the function is *legacy*: the collection records only that it had a
  custom function, and it must be passed again each time the collection is opened;
- with a name the collection records ``{"name": name, "config": {}}``. Opening it later
  with a function of another name raises ``EmbeddingFunctionConflictError``; opening it
  without one gives a collection that takes vectors only, until the callable is passed
  again. The name is the callable's identity: give a new name when its vectors change.

To have a function rebuilt from config, subclass ``EmbeddingFunction`` and decorate the
class with ``@register`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from vectorhouse.embeddings.base import EmbeddingFunction, Vector, lookup
from vectorhouse.errors import InvalidArgumentError

Embedder = Callable[[list[str]], Iterable[Any]]


class CallableEmbeddingFunction(EmbeddingFunction):
    """Wrap ``fn(texts) -> vectors`` (lists of floats or arrays) as an embedding function.

    >>> ef = CallableEmbeddingFunction(lambda texts: [[float(len(t)), 1.0] for t in texts])
    >>> ef(["ab", "abc"])[1].tolist()
    [3.0, 1.0]
    >>> ef.is_legacy()
    True
    >>> named = CallableEmbeddingFunction(lambda texts: [[1.0] for t in texts], name="ones-v1")
    >>> named.name(), named.get_config(), named.is_legacy()
    ('ones-v1', {}, False)
    """

    def __init__(self, fn: Embedder, name: str | None = None) -> None:
        if not callable(fn):
            raise InvalidArgumentError(f"fn must be callable, got {type(fn).__name__}")
        if name is not None:
            if not isinstance(name, str) or not name.strip():
                raise InvalidArgumentError("name must be a non-empty string or None")
            taken = lookup(name)
            if taken is not None:
                raise InvalidArgumentError(
                    f"the name {name!r} belongs to the registered embedding function"
                    f" {taken.__name__}; choose another name"
                )
        self.fn = fn
        self._name = name

    def __repr__(self) -> str:
        label = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        return f"{type(self).__name__}({label}, name={self._name!r})"

    def __call__(self, input: list[str]) -> list[Vector]:
        return [np.asarray(v, dtype=np.float32).reshape(-1) for v in self.fn(list(input))]

    # The name belongs to the instance, not the class: the wrapped callable is the model.
    def name(self) -> str:  # type: ignore[override]
        if self._name is None:
            raise NotImplementedError("an unnamed callable is a legacy embedding function")
        return self._name

    def get_config(self) -> dict[str, Any]:
        if self._name is None:
            raise NotImplementedError("an unnamed callable is a legacy embedding function")
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> EmbeddingFunction:
        raise NotImplementedError(
            "a wrapped callable cannot be rebuilt from config: pass it again as embedding_function="
        )
