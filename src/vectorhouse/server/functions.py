"""The embedding functions a server runs, and what it does with the others.

A server embeds texts only with the models its operator chose: the bundled default
model and those given with ``--model``. A collection whose stored function is another
one (or a function config arriving from a client) is still stored and opened, but its
texts must be embedded by the client: the server never builds a function from
configuration sent over the network, since that could point a provider at any URL
with the server's secrets.

    >>> models = ServedModels()
    >>> sorted(models.models)
    ['all-MiniLM-L6-v2']
    >>> models.for_stored({"type": "known", "name": "openai", "config": {"model_name": "x"}})
    UnservedFunction('openai', {'model_name': 'x'})
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vectorhouse.api.embedding import NOT_GIVEN, default_embedding_function, function_key
from vectorhouse.embeddings.base import EmbeddingFunction, lookup
from vectorhouse.errors import EmbeddingError, InvalidArgumentError

DEFAULT_MODEL_ID = "all-MiniLM-L6-v2"
"""The id under which the bundled model is served (``/v1/models``)."""


class UnservedFunction(EmbeddingFunction):
    """Stands for a collection's function that this server does not run: it keeps the
    stored name and config, and refuses to embed.

    >>> fn = UnservedFunction("openai", {"model_name": "m"})
    >>> fn.name(), fn.get_config()
    ('openai', {'model_name': 'm'})
    """

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        self._name = name
        self._config = dict(config)

    def __call__(self, input: list[str]) -> list[list[float]]:
        raise EmbeddingError(
            f"this server does not run the embedding function {self._name!r}"
            f" ({json.dumps(self._config, sort_keys=True, default=str)}): send embeddings,"
            " embed on the client (pass embedding_function= when opening the collection),"
            " or start the server with --model for it"
        )

    def name(self) -> str:  # type: ignore[override]
        """The stored function's registered name."""
        return self._name

    def get_config(self) -> dict[str, Any]:
        """The stored function's config."""
        return dict(self._config)

    def __repr__(self) -> str:
        return f"UnservedFunction({self._name!r}, {self._config!r})"


class LegacyFunction(EmbeddingFunction):
    """Stands for a client's function that has no name or config (Chroma's "legacy"):
    stored as such, and never run here.

    >>> LegacyFunction().is_legacy()
    True
    """

    def __call__(self, input: list[str]) -> list[list[float]]:
        raise EmbeddingError(
            "this collection's embedding function lives in a client (it has no name the"
            " server knows): send embeddings, or embed on the client"
        )


def _key(stored: Mapping[str, Any]) -> str:
    return json.dumps(
        {"type": "known", "name": stored.get("name"), "config": dict(stored.get("config") or {})},
        sort_keys=True,
        default=str,
    )


class ServedModels:
    """The models a server runs, by id: the bundled one plus ``extra``.

    >>> ServedModels().model("default").name()
    'default'
    """

    def __init__(self, extra: Mapping[str, EmbeddingFunction] | None = None) -> None:
        self.models: dict[str, EmbeddingFunction] = {
            DEFAULT_MODEL_ID: default_embedding_function(),
            **(extra or {}),
        }
        self._by_key = {function_key(fn): fn for fn in self.models.values()}
        self._names = {fn.name() for fn in self.models.values()}

    def model(self, model_id: str) -> EmbeddingFunction | None:
        """The model served as ``model_id`` (``default`` names the bundled one).

        >>> ServedModels().model("no-such-model") is None
        True
        """
        if model_id == "default":
            model_id = DEFAULT_MODEL_ID
        return self.models.get(model_id)

    def for_stored(self, stored: Mapping[str, Any] | None) -> Any:
        """The function to open a collection with, given its stored function record.

        >>> ServedModels().for_stored(None) is None
        True
        """
        if stored is None or stored.get("type") != "known":
            return None
        fn = self._by_key.get(_key(stored))
        if fn is not None:
            return fn
        return UnservedFunction(str(stored.get("name")), stored.get("config") or {})

    def from_wire(self, value: Any) -> Any:
        """The ``embedding_function`` argument that a function record sent by a client
        stands for. Chroma's client sends ``{"name": "default", "config": {}}`` when its
        user chose none; that means "not given" (the stored or default model).

        >>> ServedModels().from_wire({"type": "known", "name": "default", "config": {}})
        DEFAULT
        >>> ServedModels().from_wire(None) is None
        True
        """
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise InvalidArgumentError(
                "configuration['embedding_function'] must be an object like"
                ' {"type": "known", "name": ..., "config": {...}}'
            )
        if value.get("type") == "legacy":
            return LegacyFunction()
        name, config = value.get("name"), value.get("config")
        if config is None:
            config = {}
        if (
            value.get("type") != "known"
            or not isinstance(name, str)
            or not isinstance(config, Mapping)
        ):
            raise InvalidArgumentError(
                "configuration['embedding_function'] needs type 'known' or 'legacy', a"
                f" name and a config object; got {json.dumps(value, default=str)[:200]}"
            )
        if name == "default" and not config:
            return NOT_GIVEN
        if name in self._names:
            cls = lookup(name)
            try:
                built = None if cls is None else cls.build_from_config(dict(config))
            except Exception:  # a config this server's model cannot take: not served
                built = None
            if built is not None:
                served = self._by_key.get(function_key(built))
                if served is not None:
                    return served
        return UnservedFunction(name, config)
