"""The embedding-function protocol, compatible with Chroma's.

An embedding function turns a list of texts into one vector per text. To be stored
with a collection and rebuilt later, it also names itself and round-trips its config::

    >>> import numpy as np
    >>> from vectorhouse.embeddings.base import EmbeddingFunction
    >>> class Lengths(EmbeddingFunction):
    ...     def __call__(self, input):
    ...         return [np.array([len(t), 1.0], dtype=np.float32) for t in input]
    ...     @staticmethod
    ...     def name():
    ...         return "lengths"
    ...     def get_config(self):
    ...         return {}
    ...     @staticmethod
    ...     def build_from_config(config):
    ...         return Lengths()
    >>> Lengths()(["ab", "abc"])[1].tolist()
    [3.0, 1.0]
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from vectorhouse.errors import EmbeddingError

Vector = npt.NDArray[np.float32]


class EmbeddingFunction:
    """Base class for embedding functions (the same shape as Chroma's protocol).

    Subclasses implement ``__call__(input: list[str])`` returning one vector per text
    (lists of floats or numpy arrays). ``name``, ``get_config`` and
    ``build_from_config`` let a collection store the function and rebuild it; a
    function without them is a *legacy* function that must be passed again each time
    the collection is opened.

    >>> class Ones(EmbeddingFunction):
    ...     def __call__(self, input):
    ...         return [[1.0, 1.0] for _ in input]
    >>> Ones()(["x"])
    [[1.0, 1.0]]
    """

    def __call__(self, input: list[str]) -> Sequence[Sequence[float]] | Sequence[Vector]:
        raise NotImplementedError

    def embed_query(self, input: list[str]) -> Sequence[Sequence[float]] | Sequence[Vector]:
        """Embed query texts; the same as ``__call__`` unless a model treats queries apart."""
        return self(input)

    @staticmethod
    def name() -> str:
        """The registered name used to rebuild the function from stored config."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """A JSON-serialisable config that rebuilds this function (never secrets)."""
        raise NotImplementedError

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> EmbeddingFunction:
        """Rebuild a function from ``get_config()`` output."""
        raise NotImplementedError

    def default_space(self) -> str:
        """The distance space a collection gets when none is chosen."""
        return "l2"

    def supported_spaces(self) -> list[str]:
        """The spaces this function's vectors are meant for."""
        return ["cosine", "l2", "ip"]

    def is_legacy(self) -> bool:
        """Whether the function cannot be stored and rebuilt from config."""
        try:
            self.name()
            self.get_config()
        except NotImplementedError:
            return True
        return False


_REGISTRY: dict[str, type[EmbeddingFunction]] = {}

BUILTIN_PROVIDERS: dict[str, str] = {
    "default": "vectorhouse.embeddings.default",
    "ollama": "vectorhouse.embeddings.ollama",
    "openai": "vectorhouse.embeddings.openai",
    "sentence_transformer": "vectorhouse.embeddings.sentence_transformer",
}
"""Registered name -> the module whose import registers it, imported on first lookup."""

E = TypeVar("E", bound=type[EmbeddingFunction])


def register(cls: E) -> E:
    """Register an embedding-function class under its ``name()`` (a class decorator).

    >>> @register
    ... class Mine(EmbeddingFunction):
    ...     @staticmethod
    ...     def name():
    ...         return "mine-doctest"
    >>> lookup("mine-doctest") is Mine
    True
    """
    _REGISTRY[cls.name()] = cls
    return cls


def lookup(name: str) -> type[EmbeddingFunction] | None:
    """The registered class for ``name``, or None.

    >>> lookup("no-such-function") is None
    True
    >>> lookup("openai").__name__
    'OpenAIEmbeddingFunction'
    """
    if name not in _REGISTRY and name in BUILTIN_PROVIDERS:
        importlib.import_module(BUILTIN_PROVIDERS[name])
    return _REGISTRY.get(name)


def function_config(fn: object) -> dict[str, Any] | None:
    """The ``{"name", "config"}`` record stored with a collection, or None for legacy.

    A function is legacy (unnamed: it must be passed again when the collection is
    opened) when it lacks ``name``/``get_config``, when they raise
    ``NotImplementedError``, or when they return ``NotImplemented``, which is what
    chromadb's ``EmbeddingFunction`` base class does for subclasses that define only
    ``__call__``.

    >>> function_config(object()) is None
    True
    >>> class Legacy:
    ...     def __call__(self, input): return [[1.0] for _ in input]
    ...     def name(self): return NotImplemented
    ...     def get_config(self): return NotImplemented
    >>> function_config(Legacy()) is None
    True
    """
    name = getattr(fn, "name", None)
    get_config = getattr(fn, "get_config", None)
    if not callable(name) or not callable(get_config):
        return None
    try:
        # chromadb's base-class defaults warn (DeprecationWarning) before returning
        # NotImplemented; asking is how legacy is told apart, so that is not the caller's.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            given_name, config = name(), get_config()
    except NotImplementedError:
        return None
    if given_name is NotImplemented or config is NotImplemented or config is None:
        return None
    return {"name": str(given_name), "config": dict(config)}


def call_embedding_function(
    fn: Callable[[list[str]], Any], texts: list[str], *, query: bool = False
) -> npt.NDArray[np.float32]:
    """Run ``fn`` on ``texts`` and return a 2-D float32 array, or raise ``EmbeddingError``.

    >>> call_embedding_function(lambda xs: [[1, 2] for _ in xs], ["a", "b"]).shape
    (2, 2)
    """
    embed = getattr(fn, "embed_query", None) if query else None
    try:
        raw = embed(texts) if callable(embed) else fn(texts)
    except EmbeddingError:
        raise
    except Exception as exc:
        raise EmbeddingError(f"embedding function failed: {exc}") from exc
    try:
        out = np.asarray(
            [np.asarray(v, dtype=np.float32).reshape(-1) for v in raw], dtype=np.float32
        )
    except (TypeError, ValueError) as exc:
        raise EmbeddingError(
            f"embedding function returned something that is not a list of vectors: {exc}"
        ) from exc
    if out.ndim != 2 or out.shape[0] != len(texts):
        raise EmbeddingError(
            f"embedding function returned {out.shape[0] if out.ndim else 0} vectors "
            f"for {len(texts)} texts"
        )
    if out.shape[1] == 0 or not np.isfinite(out).all():
        raise EmbeddingError("embedding function returned empty or non-finite vectors")
    return out
