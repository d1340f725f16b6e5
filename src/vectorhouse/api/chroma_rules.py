"""Chroma 1.5.9's refusals in the collection lifecycle that vectorhouse shares.

These are the cases where chromadb raises on ``create_collection`` /
``get_or_create_collection`` / ``modify`` / ``list_collections`` and vectorhouse
used to accept the call; each check raises with Chroma's sentence first.

>>> check_collection_metadata({"team": "a"}, "create_collection")
>>> check_collection_metadata({}, "create_collection")
Traceback (most recent call last):
...
vectorhouse.errors.InvalidMetadataError: Metadata cannot be empty (create_collection)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vectorhouse.errors import InvalidArgumentError, InvalidMetadataError
from vectorhouse.reprs import shown

__all__ = ["check_collection_metadata", "check_configuration", "check_list_window"]


def check_collection_metadata(metadata: Mapping[str, Any] | None, op: str) -> None:
    """A collection's metadata, as Chroma checks it: not empty, no None values, and no
    key starting with ``#`` or ``$`` (Chroma keeps those for itself).

    >>> check_collection_metadata({"$a": 1}, "modify")
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidMetadataError: Metadata key cannot start with '#' or '$': $a \
(modify)
    """
    if metadata is None or not isinstance(metadata, Mapping):
        return  # the general metadata validation reports other types
    if not metadata:
        if op == "modify":
            raise InvalidMetadataError(
                "Expected metadata to be a non-empty dict, got 0 metadata attributes (modify;"
                " to clear a collection's metadata give its keys with other values)"
            )
        raise InvalidMetadataError(f"Metadata cannot be empty ({op})")
    for key, value in metadata.items():
        if isinstance(key, str) and key.startswith(("#", "$")):
            raise InvalidMetadataError(f"Metadata key cannot start with '#' or '$': {key} ({op})")
        if value is None and op != "modify":
            raise InvalidMetadataError(
                f"Cannot convert Python object to MetadataValue: metadata[{key!r}] is None"
                f" ({op}; leave the key out instead)"
            )


def check_configuration(configuration: Mapping[str, Any] | None) -> None:
    """A collection's configuration: ``hnsw`` and ``spann`` exclude each other.

    >>> check_configuration({"hnsw": {"space": "ip"}})
    >>> check_configuration({"hnsw": {}, "spann": {}})
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidArgumentError: hnsw and spann cannot both be provided
    """
    if (
        isinstance(configuration, Mapping)
        and configuration.get("hnsw") is not None
        and configuration.get("spann") is not None
    ):
        raise InvalidArgumentError("hnsw and spann cannot both be provided")


def check_list_window(limit: Any, offset: Any) -> None:
    """``list_collections``'s ``limit``/``offset``: non-negative integers (Chroma fails
    on negative ones with an ``OverflowError``).

    >>> check_list_window(-1, None)
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidArgumentError: limit must be a non-negative integer in \
list_collections, got -1
    """
    for name, value in (("limit", limit), ("offset", offset)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgumentError(
                f"{name} must be a non-negative integer in list_collections, got {shown(value)}"
            )
