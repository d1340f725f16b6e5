"""100 kill -9 trials: a writer SIGKILLed at seeded points loses nothing it
acknowledged, leaves no half-applied batch, and queries still equal exact search.

Ten databases (chains, one per test) get ten trials each. In a trial a child process
(kill9_workload.py) opens the database and runs a seeded sequence of add, upsert,
update, delete (by ids and by filter) and reembed calls, printing each call's number
once it returned. Half of the trials are killed by the parent a seeded time after a
seeded number of acknowledgements (during start-up, mid-batch, between calls); the
other half die by SIGKILL at the n-th call of a chosen step: inside an index save, in
the middle of a storage batch, during a re-embedding run or its switch-over, or after
a write committed but before it was acknowledged.

After each trial the parent reopens the database and requires it to equal, exactly
(ids, vectors, documents, metadata), either the model of every acknowledged call or
that plus the call in flight: anything else is a lost acknowledged write or a half
batch. Then queries must equal numpy brute force over ``get(include=["embeddings"])``
(tie-aware, plain and filtered), and a query for every record through the graph alone
must return exactly the stored records at exact distances.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from kill9_workload import DIM, NAME, SEED, Op, State, apply, ops_for
from vhcheck import assert_graph_holds, assert_queries_exact

import vectorhouse
from crashkit import CRASH_ENV, run_until_killed

pytestmark = pytest.mark.reliability

WORKLOAD = Path(__file__).with_name("kill9_workload.py")
CHAINS = 10
TRIALS = 10
SPACES = ("l2", "cosine", "ip")

HOOKS: list[tuple[str, str | None]] = [
    # (module:function:n-th call, an operation kind the trial must contain)
    ("vectorhouse.engine.index_files:_fsync:1", None),  # new graph in its temporary file
    ("vectorhouse.engine.index_files:_fsync:2", None),  # graph in place, manifest not yet
    ("vectorhouse.engine.index_files:IndexFiles._unlink:1", None),  # pruning the old one
    ("vectorhouse.index.graph:GraphIndex.save:2", None),  # the second save starts
    ("vectorhouse.storage.store:Store._insert_metadata:2", "add"),  # rows in, metadata not
    ("vectorhouse.storage.store:Store.update:1", "update"),  # inside an update batch
    ("vectorhouse.storage.store:Store.delete:1", "delete"),  # inside a delete
    ("vectorhouse.storage.store:Store.stage_vectors:2", "reembed"),  # mid re-embedding
    ("vectorhouse.storage.store:Store.finish_reembed_run:1", "reembed"),  # the switch-over
    ("vectorhouse.engine.engine:Engine._apply:2", None),  # committed, not acknowledged
]


def same(found: State, want: State) -> bool:
    if found.keys() != want.keys():
        return False
    return all(
        np.array_equal(found[rid][0], want[rid][0])
        and found[rid][1] == want[rid][1]
        and found[rid][2] == want[rid][2]
        for rid in want
    )


def difference(found: State, want: State) -> str:
    lost = sorted(want.keys() - found.keys())
    extra = sorted(found.keys() - want.keys())
    changed = sorted(
        rid
        for rid in want.keys() & found.keys()
        if not (np.array_equal(found[rid][0], want[rid][0]) and found[rid][1:] == want[rid][1:])
    )
    return (
        f"missing {lost[:5]} ({len(lost)}), extra {extra[:5]} ({len(extra)}),"
        f" changed {changed[:5]} ({len(changed)})"
    )


def reopen_and_check(
    path: Path, candidates: list[State], in_flight: Op | None, space: str, rng: np.random.Generator
) -> int:
    """Which candidate state the database holds (after checking queries)."""
    with vectorhouse.PersistentClient(path=path) as client:
        col = client.get_collection(NAME)
        got = col.get(include=["embeddings", "documents", "metadatas"])
        vectors = np.asarray(got["embeddings"], dtype=np.float32).reshape(-1, DIM)
        found = {
            rid: (vec, doc, meta)
            for rid, vec, doc, meta in zip(
                got["ids"], vectors, got["documents"], got["metadatas"], strict=True
            )
        }
        matches = [i for i, want in enumerate(candidates) if same(found, want)]
        flight = "none" if in_flight is None else f"{in_flight.kind} of {len(in_flight.ids)}"
        assert matches, (
            "the database is neither the acknowledged state nor that plus the call in flight"
            f" ({flight}): against the acknowledged state {difference(found, candidates[0])}"
        )
        assert col.count() == len(found)
        assert_queries_exact(
            col, got["ids"], vectors, got["metadatas"], space, rng, dim=DIM, where_key="g"
        )
    assert_graph_holds(path, NAME, got["ids"], vectors, space, int(rng.integers(2**31)))
    return matches[0]


@pytest.mark.parametrize("chain", range(CHAINS))
def test_kill9_trials_lose_no_acknowledged_write_and_leave_no_half_batch(
    tmp_path: Path, chain: int
) -> None:
    path = tmp_path / "db"
    space = SPACES[chain % len(SPACES)]
    with vectorhouse.PersistentClient(path=path) as client:
        client.create_collection(NAME, embedding_function=None, metadata={"hnsw:space": space})
    rng = np.random.default_rng([SEED, chain, 99])
    state: State = {}
    stats: Counter[str] = Counter()
    for trial in range(TRIALS):
        n_ops = int(rng.integers(4, 11))
        save_every = int(rng.choice([10, 25, 60]))
        env = dict(os.environ)
        env.pop(CRASH_ENV, None)
        must = None
        if trial % 2 == 0:
            mode, kill_after, delay = "timing", int(rng.integers(0, n_ops)), rng.uniform(0, 0.04)
        else:
            mode, kill_after, delay = "hook", None, 0.0
            env[CRASH_ENV], must = HOOKS[int(rng.integers(len(HOOKS)))]
        ops = ops_for(chain, trial, n_ops, must)
        args = (path, chain, trial, n_ops, save_every, mode, must or "")
        lines = run_until_killed(
            [sys.executable, str(WORKLOAD), *map(str, args)],
            tmp_path / f"trial-{trial}.stderr",
            kill_after=kill_after,
            delay_s=float(delay),
            env=env,
        )
        done = [int(line) for line in lines if line != "end"]
        assert done == list(range(len(done)))
        for op in ops[: len(done)]:
            state = apply(state, op)
        in_flight = ops[len(done)] if len(done) < n_ops else None
        candidates = [state] if in_flight is None else [state, apply(state, in_flight)]
        chosen = reopen_and_check(path, candidates, in_flight, space, rng)
        state = candidates[chosen]
        stats["trials"] += 1
        stats[f"{mode} kills"] += 1
        if mode == "hook" and "end" not in lines:
            stats[f"died at {env[CRASH_ENV].split(':')[1]}"] += 1
        if chosen == 1 and not same(candidates[0], candidates[1]):
            stats["call in flight committed"] += 1
        stats["acknowledged calls"] += len(done)
    stats["records at the end"] = len(state)
    print(f"chain {chain} ({space}): {dict(sorted(stats.items()))}")
    assert stats["trials"] == TRIALS
