"""What ``add`` does with ids that are already stored, for every backend.

>>> ids_to_add(["a", "b"], {"a"}, strict=False, collection="docs")
[1]
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

from vectorhouse.errors import IDAlreadyExistsError

__all__ = ["ids_to_add"]

log = logging.getLogger("vectorhouse")


def ids_to_add(
    ids: Sequence[str], existing: Collection[str], *, strict: bool, collection: str
) -> list[int]:
    """The positions of ``ids`` to insert: all but the ``existing`` ones, which are
    skipped with one logged warning (Chroma's ``add``). With ``strict``, any existing id
    raises :class:`IDAlreadyExistsError` instead, before anything is written.

    >>> ids_to_add(["a"], {"a"}, strict=True, collection="docs")
    Traceback (most recent call last):
    ...
    vectorhouse.errors.IDAlreadyExistsError: ids already exist in collection 'docs': 'a'; \
use upsert() to overwrite them
    """
    if not existing:
        return list(range(len(ids)))
    if strict:
        listed = ", ".join(repr(i) for i in sorted(existing)[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise IDAlreadyExistsError(
            f"ids already exist in collection {collection!r}: {listed}{more};"
            " use upsert() to overwrite them"
        )
    keep = [i for i, rid in enumerate(ids) if rid not in existing]
    log.warning(
        "add: %d id(s) already exist in collection %r and were skipped"
        " (existing records are kept; upsert() overwrites them)",
        len(ids) - len(keep),
        collection,
    )
    return keep
