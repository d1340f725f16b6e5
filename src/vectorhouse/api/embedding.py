"""Choosing a collection's embedding function: stored config versus the one passed.

>>> resolve_embedding_function(None, None, "docs") is None
True
"""

from __future__ import annotations

from typing import Any

from vectorhouse.embeddings.base import EmbeddingFunction, function_config, lookup
from vectorhouse.errors import EmbeddingFunctionConflictError


class _NotGiven:
    """The default of ``embedding_function=`` arguments: "use the stored/default one"."""

    _instance: _NotGiven | None = None

    def __new__(cls) -> _NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEFAULT"


NOT_GIVEN: Any = _NotGiven()
"""Sentinel default of ``embedding_function`` parameters."""


def default_embedding_function() -> EmbeddingFunction:
    """The bundled offline model (all-MiniLM-L6-v2); it loads on first use.

    >>> default_embedding_function().name()
    'default'
    """
    from vectorhouse.embeddings.default import DefaultEmbeddingFunction

    return DefaultEmbeddingFunction()


def stored_function_config(fn: Any) -> dict[str, Any] | None:
    """What a collection records about its function: ``{"name", "config"}``,
    ``{"type": "legacy"}`` for a function that cannot be rebuilt, or None.

    >>> stored_function_config(None) is None
    True
    """
    if fn is None:
        return None
    cfg = function_config(fn)
    return {"type": "legacy"} if cfg is None else {"type": "known", **cfg}


def _describe(cfg: dict[str, Any] | None) -> str:
    if cfg is None:
        return "no embedding function (raw vectors only)"
    if cfg.get("type") == "legacy":
        return "a custom embedding function without a name"
    model = cfg.get("config", {}).get("model_name") or cfg.get("config", {}).get("model")
    return f"{cfg['name']}/{model}" if model else str(cfg["name"])


def resolve_embedding_function(stored: dict[str, Any] | None, passed: Any, name: str) -> Any:
    """The function to use for a collection opened with ``embedding_function=passed``.

    Not given: rebuild the stored one (None if it cannot be rebuilt). Given: it must
    be the same function the collection was built with.
    """
    if passed is NOT_GIVEN:
        if stored is None or stored.get("type") != "known":
            return None
        cls = lookup(stored["name"])
        if cls is None and stored["name"] == "default":
            return default_embedding_function()
        return None if cls is None else cls.build_from_config(stored.get("config", {}))
    if passed is None or stored is None or stored.get("type") == "legacy":
        return passed
    given = stored_function_config(passed)
    if (
        given is not None
        and given.get("type") == "known"
        and (given["name"] != stored["name"] or given.get("config") != stored.get("config"))
    ):
        raise EmbeddingFunctionConflictError(
            f"collection {name!r} was built with {_describe(stored)}, but"
            f" {_describe(given)} was passed; open it without embedding_function= to use"
            " its own, or use another collection for another model"
        )
    return passed
