"""How the Milvus backend lays out a collection: names, fields, limits, and the
conversion between Milvus rows and :class:`~vectorhouse.storage.store.RecordRows`.

>>> milvus_name("my-docs.v2")
'vh_my_hdocs_dv2'
>>> vectorhouse_name("vh_my_hdocs_dv2")
'my-docs.v2'
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from vectorhouse.milvus.expr import literal
from vectorhouse.storage.store import RecordRows

PREFIX = "vh_"
PLACEHOLDER_DIM = 2
MAX_NAME = 255
MAX_TEXT = 65_535
"""The longest VARCHAR Milvus stores (bytes); longer documents or metadata are refused."""
BATCH_BYTES = 8 * 1024 * 1024
"""Writes are sent in requests of at most this many bytes (Milvus' gRPC limit is 64 MiB)."""
BATCH_ROWS = 5_000
ID_LIST_CHARS = 50_000
"""An ``id in [...]`` expression holds at most this many characters of ids."""
MAX_TOPK = 16_384
"""Milvus' largest ``limit`` for one search, and ``offset + limit`` for one query."""
METRICS = {"l2": "L2", "cosine": "COSINE", "ip": "IP"}
FIELDS = ("id", "seq", "document", "has_document", "metadata_json")


def milvus_name(name: str) -> str:
    """The Milvus collection name of a vectorhouse collection name."""
    return PREFIX + name.replace("_", "__").replace("-", "_h").replace(".", "_d")


def vectorhouse_name(mname: str) -> str | None:
    """The vectorhouse name of a Milvus collection name, or None if it is not one.

    >>> vectorhouse_name(milvus_name("a_b-c.d"))
    'a_b-c.d'
    """
    if not mname.startswith(PREFIX):
        return None
    out, i, body = [], 0, mname[len(PREFIX) :]
    while i < len(body):
        ch = body[i]
        if ch == "_":
            nxt = body[i + 1 : i + 2]
            mapped = {"_": "_", "h": "-", "d": "."}.get(nxt)
            if mapped is None:
                return None
            out.append(mapped)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def id_batches(ids: Sequence[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for rid in ids:
        if batch and (size + len(rid) + 4 > ID_LIST_CHARS):
            yield batch
            batch, size = [], 0
        batch.append(rid)
        size += len(rid) + 4
    if batch:
        yield batch


def ids_expr(ids: Sequence[str]) -> str:
    return "id in [" + ", ".join(literal(i) for i in ids) + "]"


def and_(*parts: str) -> str:
    kept = [p for p in parts if p]
    return " and ".join(f"({p})" for p in kept) if len(kept) > 1 else (kept[0] if kept else "")


def distance(space: str, score: float) -> float:
    """Chroma's distance from Milvus' score: squared L2 as is; ``1 - similarity`` else."""
    return score if space == "l2" else 1.0 - score


def merge(current: Mapping[str, Any] | None, update: Mapping[str, Any] | None) -> Any:
    if update is None:
        return None if current is None else dict(current)
    merged = dict(current or {})
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def to_rows(
    records: Sequence[Mapping[str, Any]], include: Sequence[str], dim: int | None
) -> RecordRows:
    embeddings = None
    if "embeddings" in include:
        embeddings = (
            np.asarray([r["vector"] for r in records], dtype=np.float32)
            if records
            else np.zeros((0, dim or 0), dtype=np.float32)
        )
    return RecordRows(
        rowids=[int(r["seq"]) for r in records],
        ids=[str(r["id"]) for r in records],
        documents=[r["document"] if r["has_document"] else None for r in records]
        if "documents" in include
        else None,
        metadatas=[json.loads(r["metadata_json"]) if r["metadata_json"] else None for r in records]
        if "metadatas" in include
        else None,
        embeddings=embeddings,
    )


def take(rows: RecordRows, positions: Sequence[int]) -> RecordRows:
    return RecordRows(
        rowids=[rows.rowids[p] for p in positions],
        ids=[rows.ids[p] for p in positions],
        documents=None if rows.documents is None else [rows.documents[p] for p in positions],
        metadatas=None if rows.metadatas is None else [rows.metadatas[p] for p in positions],
        embeddings=None if rows.embeddings is None else rows.embeddings[list(positions)],
    )
