"""Issue 18: a pathological ``$regex`` request must not block other clients. With a
backtracking engine ``(a+)+$`` over a 27-character document took seconds and held the
server's heartbeat meanwhile; matching is now linear-time (RE2)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import vectorhouse
from vectorhouse.server import RunningServer


def test_pathological_regex_does_not_delay_heartbeats_or_queries(
    server: RunningServer, name: str
) -> None:
    def client() -> vectorhouse.HttpClient:
        return vectorhouse.HttpClient(host=server.host, port=server.port, headers=server.headers)

    with client() as setup:
        col = setup.create_collection(name, embedding_function=None)
        docs = ["a" * n + "!" for n in range(20, 40)] + ["a" * 200_000 + "!"]
        col.add(
            ids=[f"d{i}" for i in range(len(docs))],
            embeddings=[[float(i), 1.0] for i in range(len(docs))],
            documents=docs,
        )

    stop = threading.Event()
    regex_calls: list[float] = []

    def attack() -> None:
        with client() as c:
            target = c.get_collection(name)
            while not stop.is_set():
                start = time.perf_counter()
                got = target.get(where_document={"$regex": "(a+)+$"}, include=[])
                regex_calls.append(time.perf_counter() - start)
                assert got["ids"] == []

    def heartbeat_then_query(i: int) -> tuple[float, float]:
        with client() as c:
            start = time.perf_counter()
            c.heartbeat()
            beat = time.perf_counter() - start
            target = c.get_collection(name)
            start = time.perf_counter()
            res = target.query(query_embeddings=[[float(i), 1.0]], n_results=1, include=[])
            query = time.perf_counter() - start
            assert res["ids"] == [[f"d{i}"]]
            return beat, query

    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        time.sleep(0.2)  # the regex requests are running
        with ThreadPoolExecutor(max_workers=4) as pool:
            timings = list(pool.map(heartbeat_then_query, range(20)))
    finally:
        stop.set()
        attacker.join(timeout=30)
    assert regex_calls, "the pathological requests ran"
    assert len(timings) == 20
    slow = [(i, beat, query) for i, (beat, query) in enumerate(timings) if max(beat, query) > 0.2]
    assert not slow, f"calls over 200 ms while the regex ran: {slow}"
