"""Validation of user input: the only place it happens.

Each ``normalize_*`` function checks one argument of the public API and returns it in
the one form the engine expects, or raises an error from ``vectorhouse.errors`` that
says what is wrong and where.

    >>> normalize_ids("a", "add")
    ['a']
    >>> normalize_embeddings([[1, 2]], 1, "add").dtype
    dtype('float32')
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from vectorhouse.errors import (
    DuplicateIDError,
    InvalidArgumentError,
    InvalidCollectionNameError,
    InvalidEmbeddingError,
    InvalidIDError,
    InvalidIncludeError,
    InvalidMetadataError,
    InvalidNResultsError,
)
from vectorhouse.reprs import shown
from vectorhouse.types import SPACES

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""Integers stored in or compared by SQLite must fit in 64 bits."""

HNSW_LIMITS = {
    "max_neighbors": (2, 2048),
    "ef_construction": (1, 100_000),
    "ef_search": (1, 100_000),
}
"""The accepted range of each HNSW setting (inclusive)."""


def text_problem(text: str) -> str | None:
    """What makes ``text`` unstorable: a NUL character or a lone surrogate; else None.

    NUL and lone surrogates are refused everywhere text is stored or matched (ids,
    documents, metadata keys and values, filter operands): SQLite's JSON functions cut
    text at a NUL, and a lone surrogate has no UTF-8 form.

    >>> text_problem("fine"), text_problem("a\\x00b"), text_problem("\\ud800")
    (None, 'a NUL character at position 1', 'a lone surrogate at position 0')
    """
    nul = text.find("\x00")
    if nul >= 0:
        return f"a NUL character at position {nul}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"a lone surrogate at position {exc.start}"
    return None


def normalize_lookup_name(name: object) -> str:
    """A collection name to look up (get or delete): any string that can be stored.

    >>> normalize_lookup_name("docs")
    'docs'
    """
    if not isinstance(name, str):
        raise InvalidCollectionNameError(
            f"collection name must be a string, got {type(name).__name__}"
        )
    problem = text_problem(name)
    if problem is not None:
        raise InvalidCollectionNameError(f"collection name {shown(name)} holds {problem}")
    return name


def validate_collection_name(name: object) -> str:
    """Check a collection name against Chroma's rules and return it.

    3-512 characters from ``[a-zA-Z0-9._-]``, starting and ending with a letter or
    digit, no ``..``, and not an IPv4 address.

    >>> validate_collection_name("my_docs")
    'my_docs'
    """
    if not isinstance(name, str):
        raise InvalidCollectionNameError(
            f"collection name must be a string, got {type(name).__name__}"
        )
    rule = (
        "3-512 characters from [a-zA-Z0-9._-], starting and ending with a letter or digit,"
        " with no '..' and not an IP address"
    )
    if not _NAME_RE.fullmatch(name):
        raise InvalidCollectionNameError(f"invalid collection name {name!r}: expected {rule}")
    if ".." in name:
        raise InvalidCollectionNameError(
            f"invalid collection name {name!r}: it must not contain '..'"
        )
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return name
    raise InvalidCollectionNameError(
        f"invalid collection name {name!r}: it must not be an IP address"
    )


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, np.ndarray):
        return list(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def normalize_ids(ids: Any, op: str) -> list[str]:
    """Ids as a list of non-empty, unique strings (a single string is one id).

    >>> normalize_ids(["a", "b"], "add")
    ['a', 'b']
    """
    items = [ids] if isinstance(ids, str) else _as_list(ids) if ids is not None else None
    if items is None:
        raise InvalidIDError(f"Expected IDs to be a list of str in {op}: ids are required")
    for i, rid in enumerate(items):
        if not isinstance(rid, str):
            raise InvalidIDError(
                f"Expected ID to be a str, got {shown(rid)} in {op}: ids must be strings;"
                f" ids[{i}] is {type(rid).__name__} {shown(rid)}"
            )
        if not rid:
            raise InvalidIDError(
                "Empty ID, ID must have at least one character: ids must be non-empty"
                f" strings; ids[{i}] is empty in {op}"
            )
        problem = text_problem(rid)
        if problem is not None:
            raise InvalidIDError(f"ids[{i}] {shown(rid)} holds {problem} in {op}")
    if len(set(items)) != len(items):
        counts = Counter(items)
        dups = sorted(rid for rid, c in counts.items() if c > 1)
        listed = ", ".join(shown(d) for d in dups[:10])
        raise DuplicateIDError(
            f"Expected IDs to be unique, found duplicates of: {', '.join(dups[:10])} in {op}."
            f" (ids must be unique within one call; duplicated: {listed}"
            + (f" and {len(dups) - 10} more)" if len(dups) > 10 else ")")
        )
    return items


def normalize_query_ids(ids: Any) -> list[str]:
    """``query``'s ``ids``: like :func:`normalize_ids`, but a repeated id counts once
    (Chroma 1.5.9 accepts repeats there, unlike in ``get`` or writes).

    >>> normalize_query_ids(["a", "b", "a"])
    ['a', 'b']
    """
    items = [ids] if isinstance(ids, str) else _as_list(ids)
    seen: set[str] = set()
    unique: list[Any] = []
    for rid in items:
        if isinstance(rid, str):
            if rid in seen:
                continue
            seen.add(rid)
        unique.append(rid)
    return normalize_ids(unique, "query")


def normalize_embeddings(embeddings: Any, n: int | None, op: str) -> npt.NDArray[np.float32]:
    """Embeddings as a 2-D float32 array of finite numbers (one vector may be given flat).

    >>> normalize_embeddings([0.5, 1.5], None, "query").shape
    (1, 2)
    """
    text = _leading_text(embeddings)
    if text is not None:
        field = "query_texts" if op == "query" else "documents"
        raise InvalidEmbeddingError(
            f"embeddings must be vectors of numbers, but {op} got the text {text[:40]!r};"
            f" pass texts as {field}= to have the collection embed them with its own model,"
            " or embed them first with the model that made the stored vectors"
        )
    try:
        if isinstance(embeddings, np.ndarray):
            arr = embeddings
        else:
            rows = list(embeddings)
            if rows and all(_is_number(x) for x in rows):
                rows = [rows]
            arr = np.asarray(
                [np.asarray(r).reshape(-1) if isinstance(r, np.ndarray) else r for r in rows]
            )
    except TypeError as exc:
        raise InvalidEmbeddingError(f"embeddings must be a list of vectors in {op}") from exc
    except ValueError as exc:
        raise InvalidEmbeddingError(
            f"embeddings must all have the same length in {op}: {exc}"
        ) from exc
    if arr.ndim == 1 and arr.size and _is_number(arr.flat[0]):
        arr = arr.reshape(1, -1)
    if arr.dtype == object or arr.ndim != 2:
        raise InvalidEmbeddingError(
            f"embeddings must be a list of equally long vectors of numbers in {op}"
        )
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise InvalidEmbeddingError(
            f"embeddings must contain numbers, got {arr.dtype} values in {op}"
        )
    if arr.shape[0] == 0 and n != 0:
        raise InvalidEmbeddingError(f"embeddings must not be empty in {op}")
    if arr.shape[1] == 0:
        raise InvalidEmbeddingError(f"embeddings must not be empty vectors in {op}")
    with np.errstate(over="ignore", invalid="ignore"):  # too large: infinity, refused below
        out = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(out).all():
        bad = int(np.argwhere(~np.isfinite(out))[0][0])
        raise InvalidEmbeddingError(
            f"embeddings must be finite; embeddings[{bad}] holds NaN or infinity"
            " (or a value too large for float32)"
            f" in {op}"
        )
    return out


def _leading_text(value: Any) -> str | None:
    """The text at the head of an embeddings argument (a forgotten embedding step)."""
    for _ in range(3):
        if isinstance(value, str):
            return value
        if not isinstance(value, (list, tuple)) or not value:
            return None
        value = value[0]
    return None


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(
        x, (bool, np.bool_)
    )


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _check_value(value: Any, where: str) -> None:
    """A metadata scalar that SQLite can store: text without NUL or lone surrogates,
    integers within 64 bits, finite floats."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise InvalidMetadataError(f"{where} holds {problem}")
    elif (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not INT64_MIN <= value <= INT64_MAX
    ):
        raise InvalidMetadataError(
            f"{where} is {value}, outside the 64-bit integer range"
            f" [{INT64_MIN}, {INT64_MAX}]; store it as a float or a string"
        )


def normalize_metadata(meta: Any, where: str, *, allow_none_values: bool) -> dict[str, Any]:
    """One metadata mapping: string keys; str, int, float, bool or a non-empty list of one
    of those types as values (None only where it means "remove this key").

    >>> normalize_metadata({"year": 2024, "tags": ["a", "b"]}, "metadatas[0]",
    ...                    allow_none_values=False)
    {'year': 2024, 'tags': ['a', 'b']}
    """
    if not isinstance(meta, Mapping):
        raise InvalidMetadataError(
            f"{where} must be a dict, got {type(meta).__name__} {shown(meta)}"
        )
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if not isinstance(key, str) or not key:
            raise InvalidMetadataError(f"{where} keys must be non-empty strings, got {shown(key)}")
        problem = text_problem(key)
        if problem is not None:
            raise InvalidMetadataError(f"{where} key {shown(key)} holds {problem}")
        if value is None:
            if not allow_none_values:
                continue
        elif isinstance(value, (list, tuple)):
            items = list(value)
            if not items:
                raise InvalidMetadataError(f"{where}[{key!r}] is an empty list")
            kinds = {type(v) for v in items}
            if not all(_is_scalar(v) for v in items) or len(kinds) != 1:
                raise InvalidMetadataError(
                    f"{where}[{key!r}] must be a list of str, int, float or bool values,"
                    f" all of one type; got {shown(value)}"
                )
            if any(isinstance(v, float) and not math.isfinite(v) for v in items):
                raise InvalidMetadataError(f"{where}[{key!r}] holds NaN or infinity")
            for j, item in enumerate(items):
                _check_value(item, f"{where}[{key!r}][{j}]")
            value = items
        elif isinstance(value, (np.integer, np.floating, np.bool_)):
            value = value.item()
        elif not _is_scalar(value):
            raise InvalidMetadataError(
                f"{where}[{key!r}] must be str, int, float, bool or a list of one of those,"
                f" got {type(value).__name__} {shown(value)}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidMetadataError(f"{where}[{key!r}] is NaN or infinity")
        if not isinstance(value, list):
            _check_value(value, f"{where}[{key!r}]")
        out[key] = value
    return out


def normalize_metadatas(
    metadatas: Any, n: int, op: str, *, allow_none_values: bool = False
) -> list[dict[str, Any] | None]:
    """A metadata list of length ``n`` (one mapping may be given alone for one record).

    >>> normalize_metadatas({"a": 1}, 1, "add")
    [{'a': 1}]
    """
    items = [metadatas] if isinstance(metadatas, Mapping) else _as_list(metadatas)
    _check_length("metadatas", len(items), n, op)
    return [
        None
        if m is None
        else normalize_metadata(m, f"metadatas[{i}]", allow_none_values=allow_none_values)
        for i, m in enumerate(items)
    ]


def normalize_documents(documents: Any, n: int, op: str) -> list[str | None]:
    """A document list of length ``n`` (a single string is one document).

    >>> normalize_documents("hello", 1, "add")
    ['hello']
    """
    items = [documents] if isinstance(documents, str) else _as_list(documents)
    _check_length("documents", len(items), n, op)
    for i, doc in enumerate(items):
        if doc is not None and not isinstance(doc, str):
            raise InvalidArgumentError(
                f"documents must be strings; documents[{i}] is {type(doc).__name__} in {op}"
            )
        problem = None if doc is None else text_problem(doc)
        if problem is not None:
            raise InvalidArgumentError(f"documents[{i}] holds {problem} in {op}")
    return items


def normalize_texts(texts: Any, op: str) -> list[str]:
    """Query texts as a non-empty list of strings.

    >>> normalize_texts("hi", "query")
    ['hi']
    """
    items = [texts] if isinstance(texts, str) else _as_list(texts)
    if not items:
        raise InvalidArgumentError(f"query_texts must not be empty in {op}")
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise InvalidArgumentError(
                f"query_texts must be strings; query_texts[{i}] is {type(t).__name__} in {op}"
            )
        problem = text_problem(t)
        if problem is not None and "surrogate" in problem:
            raise InvalidArgumentError(f"query_texts[{i}] holds {problem} in {op}")
    return items


def _check_length(field: str, got: int, n: int, op: str) -> None:
    if got != n:
        raise InvalidArgumentError(f"unequal lengths in {op}: {n} ids but {got} {field}")


def normalize_include(include: Any, allowed: frozenset[str], op: str) -> list[str]:
    """``include`` as a list of known field names.

    >>> normalize_include(["documents"], frozenset({"documents", "metadatas"}), "get")
    ['documents']
    """
    items = [include] if isinstance(include, str) else _as_list(include)
    out = []
    for item in items:
        value = getattr(item, "value", item)  # enum members
        if not isinstance(value, str) or value not in allowed:
            raise InvalidIncludeError(
                f"include has an unknown field {shown(value)} in {op};"
                f" allowed: {', '.join(sorted(allowed))}"
            )
        out.append(str(value))
    return out


def normalize_bool(value: Any, name: str, op: str) -> bool:
    """A flag given as a real ``bool`` (not a truthy number, string or array).

    >>> normalize_bool(True, "repair", "check")
    True
    >>> normalize_bool("yes", "repair", "check")
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidArgumentError: repair must be a bool in check, got 'yes'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name} must be a bool in {op}, got {shown(value)}")
    return bool(value)


def normalize_positive_int(
    value: Any, name: str, op: str, *, minimum: int = 1, maximum: int = INT64_MAX
) -> int:
    """An integer in ``[minimum, maximum]`` (bools rejected); the default maximum is the
    largest integer SQLite stores.

    >>> normalize_positive_int(5, "n_results", "query")
    5
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(f"{name} must be an integer, got {shown(value)} in {op}")
    if value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value} in {op}")
    if value > maximum:
        raise InvalidArgumentError(f"{name} must be <= {maximum}, got {value} in {op}")
    return int(value)


def normalize_n_results(value: Any) -> int:
    """``query``'s ``n_results``, with Chroma's messages first (bools are refused).

    >>> normalize_n_results(3)
    3
    >>> normalize_n_results(0)
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidNResultsError: Number of requested results 0, cannot be \
negative, or zero. in query. (n_results must be >= 1)
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidNResultsError(
            f"Expected requested number of results to be a int, got {value} in query."
            f" (n_results must be an integer, got {type(value).__name__} {shown(value)})"
        )
    if value < 1:
        raise InvalidNResultsError(
            f"Number of requested results {value}, cannot be negative, or zero. in query."
            " (n_results must be >= 1)"
        )
    if value > INT64_MAX:
        raise InvalidNResultsError(
            f"n_results must be at most {INT64_MAX} in query, got {shown(value)}"
        )
    return int(value)


def normalize_delete_limit(limit: Any, where: Any, where_document: Any) -> int | None:
    """``delete``'s ``limit``: a non-negative int, and only beside a filter (Chroma 1.5).

    >>> normalize_delete_limit(2, {"k": 1}, None)
    2
    >>> normalize_delete_limit(2, None, None)
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidArgumentError: limit can only be specified when a where or \
where_document clause is provided in delete.
    """
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0:
        raise InvalidArgumentError(
            f"limit must be a non-negative integer in delete. (got {limit!r})"
        )
    if not where and not where_document:
        raise InvalidArgumentError(
            "limit can only be specified when a where or where_document clause is provided"
            " in delete."
        )
    return int(limit)


_HNSW_METADATA_KEYS = {
    "hnsw:space": "space",
    "hnsw:M": "max_neighbors",
    "hnsw:construction_ef": "ef_construction",
    "hnsw:search_ef": "ef_search",
}
_HNSW_IGNORED = {"hnsw:num_threads", "hnsw:resize_factor", "hnsw:batch_size", "hnsw:sync_threshold"}
_HNSW_CONFIG_KEYS = {"space", "max_neighbors", "ef_construction", "ef_search"}
_HNSW_CONFIG_IGNORED = {"num_threads", "resize_factor", "batch_size", "sync_threshold"}


def normalize_hnsw(
    metadata: Mapping[str, Any] | None,
    configuration: Mapping[str, Any] | None,
    default_space: str = "l2",
) -> dict[str, Any]:
    """The HNSW settings chosen by ``hnsw:*`` metadata and/or ``configuration["hnsw"]``.

    >>> normalize_hnsw({"hnsw:space": "cosine"}, None)["space"]
    'cosine'
    """
    hnsw: dict[str, Any] = {
        "space": default_space,
        "max_neighbors": 16,
        "ef_construction": 100,
        "ef_search": 100,
    }
    for key, value in (metadata or {}).items():
        if not isinstance(key, str):
            raise InvalidArgumentError(
                f"collection metadata keys must be strings, got {shown(key)}"
            )
        if key in _HNSW_METADATA_KEYS:
            hnsw[_HNSW_METADATA_KEYS[key]] = value
        elif key.startswith("hnsw:") and key not in _HNSW_IGNORED:
            raise InvalidArgumentError(f"unknown HNSW setting {key!r} in collection metadata")
    config = dict(configuration or {})
    given = config.get("hnsw") or {}
    if not isinstance(given, Mapping):
        raise InvalidArgumentError("configuration['hnsw'] must be a dict")
    for key, value in given.items():
        if key in _HNSW_CONFIG_KEYS:
            hnsw[key] = value
        elif key not in _HNSW_CONFIG_IGNORED:
            raise InvalidArgumentError(f"unknown HNSW setting {key!r} in configuration")
    if not isinstance(hnsw["space"], str) or hnsw["space"] not in SPACES:
        raise InvalidArgumentError(
            f"unknown space {shown(hnsw['space'])}; expected one of {', '.join(SPACES)}"
        )
    for key in ("max_neighbors", "ef_construction", "ef_search"):
        low, high = HNSW_LIMITS[key]
        hnsw[key] = normalize_positive_int(
            hnsw[key], key, "collection configuration", minimum=low, maximum=high
        )
    return hnsw
