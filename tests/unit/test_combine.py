"""The query combiner: concurrent one-vector queries answered in batches."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vectorhouse.engine.combine import QueryCombiner


def test_a_query_alone_runs_at_once_in_a_batch_of_one() -> None:
    seen: list[int] = []

    def run(key: int, vectors: np.ndarray) -> list[float]:
        seen.append(len(vectors))
        return [float(v[0]) + key for v in vectors]

    assert QueryCombiner(run).submit(1, np.array([2.0])) == 3.0
    assert seen == [1]


def test_queries_arriving_during_a_run_are_answered_together_each_with_its_own_result() -> None:
    batches: list[list[float]] = []
    first_started = threading.Event()
    release = threading.Event()

    def run(key: str, vectors: np.ndarray) -> list[float]:
        batches.append([float(v[0]) for v in vectors])
        if len(batches) == 1:
            first_started.set()
            release.wait(10)
        return [float(v[0]) * 10 for v in vectors]

    combiner = QueryCombiner(run)
    results: dict[int, float] = {}

    def ask(i: int) -> None:
        results[i] = combiner.submit("k", np.array([float(i)]))

    first = threading.Thread(target=ask, args=(0,))
    first.start()
    assert first_started.wait(10)
    others = [threading.Thread(target=ask, args=(i,)) for i in range(1, 6)]
    for t in others:
        t.start()
    while sum(len(w) for w in combiner._pending.values()) < 5:
        time.sleep(0.001)
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert results == {i: i * 10.0 for i in range(6)}
    assert batches[0] == [0.0] and sorted(batches[1]) == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_a_failing_batch_gives_each_caller_its_own_result_or_error() -> None:
    gate = threading.Event()
    started = threading.Event()

    def run(key: str, vectors: np.ndarray) -> list[float]:
        if not started.is_set():
            started.set()
            gate.wait(10)
        if any(v[0] < 0 for v in vectors):
            raise ValueError(f"negative among {len(vectors)}")
        return [float(v[0]) for v in vectors]

    combiner = QueryCombiner(run)
    outcome: dict[int, object] = {}

    def ask(i: int) -> None:
        try:
            outcome[i] = combiner.submit("k", np.array([float(i)]))
        except ValueError as exc:
            outcome[i] = str(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in (0, 1, -2, 3)]
    threads[0].start()
    assert started.wait(10)
    for t in threads[1:]:
        t.start()
    while sum(len(w) for w in combiner._pending.values()) < 3:
        time.sleep(0.001)
    gate.set()
    for t in threads:
        t.join(10)
    assert outcome == {0: 0.0, 1: 1.0, -2: "negative among 1", 3: 3.0}


def test_queries_of_different_shapes_are_not_batched_together() -> None:
    combiner = QueryCombiner(lambda key, vectors: [key] * len(vectors))
    assert combiner.submit("a", np.zeros(1)) == "a"
    assert combiner.submit("b", np.zeros(1)) == "b"


def test_an_error_of_a_query_alone_is_raised_to_its_caller() -> None:
    def run(key: str, vectors: np.ndarray) -> list[float]:
        raise KeyError(key)

    with pytest.raises(KeyError):
        QueryCombiner(run).submit("k", np.zeros(1))
