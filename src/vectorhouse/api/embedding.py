"""Choosing a collection's embedding function: stored config versus the one passed.

>>> resolve_embedding_function(None, None, "docs") is None
True
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from vectorhouse.embeddings.base import (
    EmbeddingFunction,
    call_embedding_function,
    function_config,
    lookup,
)
from vectorhouse.errors import (
    DimensionMismatchError,
    EmbeddingDriftError,
    EmbeddingFunctionConflictError,
)


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


def _describe(cfg: dict[str, Any] | None, dimension: int | None = None) -> str:
    if cfg is None:
        return "no embedding function (raw vectors only)"
    if cfg.get("type") == "legacy":
        return "a custom embedding function without a name"
    model = cfg.get("config", {}).get("model_name") or cfg.get("config", {}).get("model")
    label = f"{cfg['name']}/{model}" if model else str(cfg["name"])
    return f"{label} ({dimension}-d)" if dimension else label


def resolve_embedding_function(
    stored: dict[str, Any] | None, passed: Any, name: str, dimension: int | None = None
) -> Any:
    """The function to use for a collection opened with ``embedding_function=passed``.

    Not given: rebuild the stored one (None if it cannot be rebuilt). Given: it must
    be the same function the collection was built with.
    """
    if passed is NOT_GIVEN:
        if stored is None or stored.get("type") != "known":
            return None
        cls = lookup(stored["name"])
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
            f"collection {name!r} was built with {_describe(stored, dimension)}, but"
            f" {_describe(given)} was passed; open it without embedding_function= to use"
            " its own, or use another collection for another model"
        )
    return passed


PROBE_TEXT = "vectorhouse model fingerprint: the quick brown fox jumps over the lazy dog."
"""The fixed text whose vector identifies a collection's model."""

DRIFT_MIN_COSINE = 0.999
"""The same model must reproduce the stored probe vector at least this closely."""

SUPPLIED_MIN_COSINE = 0.5
"""A vector supplied by hand and the function's vector for the same record's document
must be at least this close for the function to be taken as the model that made it
(texts embedded with metadata or chunk context stay well above; other models fall far
below)."""


def function_key(fn: Any) -> str:
    """What identifies a function for the once-per-process model check.

    >>> function_key(lambda texts: texts).startswith("object:")
    True
    """
    cfg = stored_function_config(fn)
    if cfg is None or cfg.get("type") == "legacy":
        return f"object:{id(fn)}"
    return json.dumps(cfg, sort_keys=True, default=str)


def fingerprint_of(fn: Any) -> dict[str, Any]:
    """The probe vector of ``fn``, as stored with a collection.

    >>> fp = fingerprint_of(lambda texts: [[3.0, 4.0] for _ in texts])
    >>> fp["dimension"], fp["vector"]
    (2, [3.0, 4.0])
    """
    vector = call_embedding_function(fn, [PROBE_TEXT])[0]
    return {
        "probe": PROBE_TEXT,
        "vector": [float(x) for x in vector],
        "dimension": int(vector.shape[0]),
    }


def check_same_model(client: Any, cid: str, name: str, fn: Any) -> None:
    """Before ``fn`` first embeds for a collection in this process, make sure it is the
    model the collection was built with: same dimension, and the probe text's vector
    within cosine 0.999 of the one stored when the collection first embedded.

    Raises ``DimensionMismatchError`` or ``EmbeddingDriftError``; stores the fingerprint
    if the collection has none yet.
    """
    key = (cid, function_key(fn))
    if key in client._verified:
        return
    current = fingerprint_of(fn)
    engine = client._engine
    dimension = engine.collection_by_id(cid).dimension
    if dimension is not None and dimension != current["dimension"]:
        raise DimensionMismatchError(
            f"collection {name!r} holds {dimension}-dimensional embeddings, but its embedding"
            f" function {_label(fn)} returns {current['dimension']}-dimensional ones"
        )
    if dimension is not None and "fingerprint" not in engine.collection_by_id(cid).configuration:
        _check_supplied_vectors(engine, cid, name, fn)
    stored = engine.models.ensure_fingerprint(cid, current)
    same_shape = len(stored["vector"]) == len(current["vector"])
    cosine = _cosine(stored["vector"], current["vector"]) if same_shape else 0.0
    if cosine < DRIFT_MIN_COSINE:
        raise EmbeddingDriftError(
            f"the embedding function {_label(fn)} no longer gives the vectors collection"
            f" {name!r} was built with (probe cosine {cosine:.4f} < {DRIFT_MIN_COSINE}):"
            " the model, its weights or its provider changed. Searching would silently"
            " mix two models; re-embed the collection with collection.reembed(function)"
        )
    client._verified.add(key)


def _cosine(a: Any, b: Any) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0))


def _check_supplied_vectors(engine: Any, cid: str, name: str, fn: Any) -> None:
    """Before a collection whose vectors were all supplied by hand first embeds text, make
    sure its function is the model that made them: embed one stored document and compare
    it with the record's vector. Raises ``EmbeddingFunctionConflictError``."""
    rows = engine.get(
        cid, ids=None, node=None, limit=20, offset=0, include=["documents", "embeddings"]
    )
    at = next((i for i, doc in enumerate(rows.documents) if doc), None)
    if at is None:
        return
    rid = rows.ids[at]
    cosine = _cosine(call_embedding_function(fn, [rows.documents[at]])[0], rows.embeddings[at])
    if cosine < SUPPLIED_MIN_COSINE:
        raise EmbeddingFunctionConflictError(
            f"collection {name!r} holds vectors that were supplied by hand, and its embedding"
            f" function {_label(fn)} did not make them (record {rid!r}: cosine"
            f" {cosine:.2f} between its vector and the function's vector for its document);"
            " searching by text would compare two models. Embed queries with the model"
            " that made the vectors and pass query_embeddings=, or re-embed the collection"
            " with collection.reembed(function)"
        )


def _label(fn: Any) -> str:
    return _describe(stored_function_config(fn))
