"""Issue 11.7: ``get`` answers in insertion order, as Chroma 1.5.9 does, with
``limit``/``offset``, filters and ``ids`` (whatever order ``ids`` lists), also after
upserts (an updated record keeps its place) and deletes (a re-added id goes last);
on memory, persistent and HTTP clients. Each sequence runs on chromadb as well."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

IDS = [f"id{i:02d}" for i in range(30)]


def _history(col: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(IDS))
    for start in range(0, 20, 5):
        batch = order[start : start + 5]
        col.add(
            ids=batch,
            embeddings=rng.random((5, 3)).tolist(),
            metadatas=[{"k": int(rng.integers(3))} for _ in batch],
            documents=[f"doc {i}" for i in batch],
        )
    col.upsert(ids=[order[3], order[25]], embeddings=rng.random((2, 3)).tolist())
    col.delete(ids=[order[1], order[7]])
    col.add(ids=[order[7], order[26]], embeddings=rng.random((2, 3)).tolist())
    col.update(ids=[order[0]], metadatas=[{"k": 9}])


CALLS: dict[str, dict[str, Any]] = {
    "all": {},
    "page": {"limit": 4, "offset": 3},
    "offset only": {"offset": 5},
    "filtered page": {"where": {"k": {"$gte": 1}}, "limit": 3, "offset": 1},
    "document filter": {"where_document": {"$contains": "doc"}, "limit": 6},
    "ids reversed": {"ids": list(reversed(IDS))},
    "ids with limit": {"ids": list(reversed(IDS)), "limit": 3, "offset": 2},
    "ids and filter": {"ids": IDS[::-1], "where": {"k": {"$ne": 0}}},
}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_get_order_is_insertion_order_as_in_chroma(
    seed: int, vh_client: Any, chroma_collection: Callable[..., Any]
) -> None:
    chroma = chroma_collection()
    ours = vh_client.create_collection("ordered", embedding_function=None)
    _history(chroma, seed)
    _history(ours, seed)
    for name, kwargs in CALLS.items():
        assert ours.get(include=[], **kwargs)["ids"] == chroma.get(include=[], **kwargs)["ids"], (
            name
        )
    assert ours.peek(3)["ids"] == chroma.peek(3)["ids"]
