"""Client settings, frozen, with the environment read in one place.

>>> from vectorhouse.config import Settings
>>> Settings(allow_reset=True).allow_reset
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from vectorhouse.errors import InvalidArgumentError

# Settings that Chroma accepts and that have no meaning here; accepted so that
# `Settings(anonymized_telemetry=False)` and friends keep working.
_IGNORED_CHROMA_SETTINGS = frozenset(
    {
        "anonymized_telemetry",
        "chroma_api_impl",
        "chroma_server_host",
        "chroma_server_http_port",
        "chroma_server_ssl_enabled",
        "chroma_segment_cache_policy",
        "chroma_memory_limit_bytes",
        "chroma_product_telemetry_impl",
        "chroma_telemetry_impl",
        "migrations",
        "migrations_hash_algorithm",
        "chroma_server_nofile",
        "chroma_server_thread_pool_size",
    }
)


@dataclass(frozen=True)
class Settings:
    """How a client behaves. Unknown Chroma settings are accepted and ignored.

    >>> Settings(anonymized_telemetry=False).busy_timeout_s
    10.0
    """

    allow_reset: bool = False
    is_persistent: bool = False
    persist_directory: str = "./vh_data"
    busy_timeout_s: float = 10.0
    """How long a write waits for another process's write lock before giving up."""
    index_save_every: int = 20_000
    """Save a collection's index file after this many unsaved vector changes."""
    index_rebuild_deleted_fraction: float = 0.3
    """Rebuild an index whose graph holds more than this fraction of deleted slots."""
    index_background: bool = True
    """Rebuild graphs, and insert other processes' writes into them, in a background
    thread while queries search the not-yet-inserted vectors exactly; False does that
    work inside the query that finds it due."""
    index_tail_inline_max: int = 500
    """Writes of up to this many vectors (this client's, or another process's found by a
    query) are inserted into the graph at once; more are searched exactly until the
    background thread has inserted them."""
    index_tail_max_bytes: int = 64 * 2**20
    """Memory for vectors waiting to be inserted into a collection's graph. A write that
    would hold more inserts the excess into the graph before it returns, so a long
    ingest runs at the graph's pace instead of piling up vectors in memory."""
    exact_search_max_candidates: int = 5_000
    """Queries over at most this many records (after filtering) use exact search."""
    exact_copy_max_vectors: int = 20_000
    """Collections up to this size also keep an exact in-memory copy of their vectors."""
    exact_cache_max_candidates: int = 50_000
    """A filter used again that passes at most this many records is searched exactly,
    over its candidates' vectors kept in memory (see ``exact_cache_max_bytes``)."""
    exact_cache_max_fraction: float = 0.2
    """...and at most this fraction of the collection's records. A filter that passes
    more is searched in the graph, which then finds enough passing neighbours at about
    the cost of an unfiltered search, while scanning its candidates costs in proportion
    to their number (at 50,000 x 384, a 50% filter: 3 ms scanned, about 1 ms in the
    graph)."""
    exact_cache_max_bytes: int = 128 * 2**20
    """Memory for the cached candidate vectors of repeated filters (per client)."""
    lexical_postings_min_documents: int = 1_000
    """Lexical and hybrid queries on collections of at least this many documents rank
    BM25 from postings kept in memory (read from the lexical table in a background
    thread, after each change) instead of scoring every match in SQLite."""
    lexical_postings_max_bytes: int = 512 * 2**20
    """Memory for those postings (per client; least recently used collections first out)."""
    max_batch_size: int = 100_000
    """What ``get_max_batch_size()`` reports; larger calls still work, chunked inside."""
    strict_add_ids: bool = False
    """``add`` raises ``IDAlreadyExistsError`` (and writes nothing) when an id exists.
    By default, as in Chroma, existing records are kept, the new ones inserted, and a
    warning logged with the number skipped."""

    def __init__(self, **kwargs: Any) -> None:
        known = {f.name for f in fields(self)}
        for key, value in kwargs.items():
            if key in known:
                _check_setting(key, value, _FIELD_TYPES[key])
                object.__setattr__(self, key, value)
            elif key not in _IGNORED_CHROMA_SETTINGS:
                raise InvalidArgumentError(
                    f"unknown setting {key!r}; known settings: {', '.join(sorted(known))}"
                )
        for f in fields(self):
            if f.name not in kwargs:
                object.__setattr__(self, f.name, f.default)

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some settings changed.

        >>> Settings().with_changes(allow_reset=True).allow_reset
        True
        """
        return replace(self, **changes)


_FIELD_TYPES: dict[str, str] = {}
_MAX_INT = 2**63 - 1


def _check_setting(name: str, value: Any, kind: str) -> None:
    """Raise ``InvalidArgumentError`` unless ``value`` fits a setting of type ``kind``:
    booleans are ``bool``, numbers are non-negative (integers within 64 bits, floats
    finite), so that a wrong setting fails here and not inside a later call.

    >>> _check_setting("index_background", 1, "bool")
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidArgumentError: setting 'index_background' must be True or False; got 1
    """
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    if kind == "bool" and not isinstance(value, bool):
        raise InvalidArgumentError(f"setting {name!r} must be True or False; got {shown}")
    if kind == "int" and (
        isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_INT
    ):
        raise InvalidArgumentError(
            f"setting {name!r} must be an integer from 0 to {_MAX_INT}; got {shown}"
        )
    if kind == "float" and (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 <= value < float("inf")
    ):
        raise InvalidArgumentError(
            f"setting {name!r} must be a finite number of at least 0; got {shown}"
        )


_FIELD_TYPES.update({f.name: str(f.type) for f in fields(Settings)})


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings given by ``VECTORHOUSE_*`` environment variables, as keyword arguments.

    >>> settings_from_env({"VECTORHOUSE_ALLOW_RESET": "true"})
    {'allow_reset': True}
    """
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(f"VECTORHOUSE_{f.name.upper()}")
        if raw is None:
            continue
        value: Any
        if f.type in ("bool", bool):
            value = raw.strip().lower() in ("1", "true", "yes", "on")
        elif f.type in ("int", int):
            value = int(raw)
        elif f.type in ("float", float):
            value = float(raw)
        else:
            value = raw
        out[f.name] = value
    return out
