"""The seeded writes of the kill -9 trials, their effect on an in-memory model, and the
child process that performs them.

A trial's operations depend only on ``(chain, trial)``; what they do depends on the
state before, which the parent knows. Every record carries the same metadata keys
(``t``, ``o``, ``i``, ``g``), so an upsert's key-by-key metadata merge equals
replacement, and every record has a document, so re-embedding covers them all.

Run as a script (the child)::

    python kill9_workload.py DB CHAIN TRIAL N_OPS SAVE_EVERY {timing|hook}

It prints an operation's number once the call returned, then ``end``; in ``hook`` mode
it then dies by SIGKILL (the crash hook never fired), in ``timing`` mode it waits to be
killed.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from vhcheck import GenerationEmbeddingFunction

DIM = 8
NAME = "trials"
SEED = 1212
POOL = 120
"""upsert, update and delete draw their ids from u0 ... u119."""
KINDS = ("add", "add", "upsert", "upsert", "update", "delete", "delete", "delete_where", "reembed")

Record = tuple[np.ndarray, str, dict[str, Any]]
State = dict[str, Record]


@dataclass
class Op:
    kind: str
    ids: list[str]
    vectors: np.ndarray | None = None
    documents: list[str] | None = None
    metadatas: list[dict[str, Any]] | None = None
    group: int = 0
    generation: int = 0


def ops_for(chain: int, trial: int, n_ops: int, must: str | None = None) -> list[Op]:
    """The operations of one trial (``must``: a kind that has to appear)."""
    rng = np.random.default_rng([SEED, chain, trial])
    kinds = [KINDS[int(rng.integers(len(KINDS)))] for _ in range(n_ops)]
    if must is not None and must not in kinds:
        kinds[int(rng.integers(n_ops))] = must
    ops = []
    for o, kind in enumerate(kinds):
        if kind == "add":
            ids = [f"a{trial}-{o}-{i}" for i in range(int(rng.integers(1, 61)))]
        elif kind in ("upsert", "update", "delete"):
            size = int(rng.integers(1, {"upsert": 31, "update": 21, "delete": 16}[kind]))
            ids = [f"u{j}" for j in rng.choice(POOL, size, replace=False)]
        else:
            ids = []
        n = len(ids)
        op = Op(kind, ids, group=int(rng.integers(5)), generation=chain * 10_000 + trial * 100 + o)
        if kind in ("add", "upsert", "update"):
            op.vectors = rng.standard_normal((n, DIM)).astype(np.float32)
            op.documents = [
                f"document {chain}-{trial}-{o}-{i} {rng.integers(1000)}" for i in range(n)
            ]
            op.metadatas = [
                {"t": trial, "o": o, "i": i, "g": int(rng.integers(5))} for i in range(n)
            ]
        ops.append(op)
    return ops


def apply(state: State, op: Op) -> State:
    """The state after ``op`` (a new dict; ``state`` is left as it was)."""
    out = dict(state)
    if op.kind in ("add", "upsert", "update"):
        assert op.vectors is not None and op.documents is not None and op.metadatas is not None
        for rid, vec, doc, meta in zip(op.ids, op.vectors, op.documents, op.metadatas, strict=True):
            if op.kind == "add":
                assert rid not in out
            if op.kind != "update" or rid in out:
                out[rid] = (vec, doc, meta)
    elif op.kind == "delete":
        for rid in op.ids:
            out.pop(rid, None)
    elif op.kind == "delete_where":
        out = {rid: rec for rid, rec in out.items() if rec[2]["g"] != op.group}
    elif op.kind == "reembed":
        ef = GenerationEmbeddingFunction(op.generation, DIM)
        out = {rid: (ef.vector(doc), doc, meta) for rid, (_, doc, meta) in out.items()}
    else:
        raise ValueError(op.kind)
    return out


def perform(col: Any, op: Op) -> None:
    """Run ``op`` against a collection."""
    if op.kind == "add":
        col.add(ids=op.ids, embeddings=op.vectors, documents=op.documents, metadatas=op.metadatas)
    elif op.kind == "upsert":
        col.upsert(
            ids=op.ids, embeddings=op.vectors, documents=op.documents, metadatas=op.metadatas
        )
    elif op.kind == "update":
        col.update(
            ids=op.ids, embeddings=op.vectors, documents=op.documents, metadatas=op.metadatas
        )
    elif op.kind == "delete":
        col.delete(ids=op.ids)
    elif op.kind == "delete_where":
        col.delete(where={"g": op.group})
    elif op.kind == "reembed":
        col.reembed(GenerationEmbeddingFunction(op.generation, DIM), batch_size=16)
    else:
        raise ValueError(op.kind)


def child(argv: list[str]) -> None:
    path, chain, trial, n_ops, save_every, mode, must = argv
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import crashkit
    import vectorhouse

    crashkit.crash_hook_from_env()
    rng = np.random.default_rng([SEED, int(chain), int(trial), 1])
    client = vectorhouse.PersistentClient(
        path=path, settings=vectorhouse.Settings(index_save_every=int(save_every))
    )
    col = client.get_collection(NAME)
    for o, op in enumerate(ops_for(int(chain), int(trial), int(n_ops), must or None)):
        perform(col, op)
        print(o, flush=True)
        if rng.random() < 0.3:  # reads between writes load and catch up the index
            col.query(query_embeddings=rng.standard_normal((1, DIM)), n_results=3)
    print("end", flush=True)
    if mode == "hook":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(120)


if __name__ == "__main__":
    child(sys.argv[1:])
