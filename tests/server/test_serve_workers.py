"""``vectorhouse serve --workers N``: several processes on one port and one database."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np

import vectorhouse
from vectorhouse.server.launch import running_server


def _worker_pids(proc_pid: int) -> list[int]:
    children = Path(f"/proc/{proc_pid}/task/{proc_pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def test_two_workers_serve_one_database_and_see_each_others_writes(tmp_path: Path) -> None:
    with running_server(tmp_path / "db", args=["--workers", "2"]) as server:
        assert any("2 workers" in line for line in server.output)
        assert server.process is not None
        assert len(_worker_pids(server.process.pid)) >= 2
        rng = np.random.default_rng(3)
        vectors = rng.standard_normal((40, 8)).astype(np.float32)
        with vectorhouse.HttpClient(host=server.host, port=server.port) as client:
            col = client.create_collection("docs", embedding_function=None)
        # A new connection per call: the kernel hands them to either worker.
        for start in range(0, 40, 4):
            with vectorhouse.HttpClient(host=server.host, port=server.port) as client:
                col = client.get_collection("docs")
                col.add(
                    ids=[f"r{i}" for i in range(start, start + 4)],
                    embeddings=vectors[start : start + 4],
                )
                assert col.count() >= start + 4
        for i in range(0, 40, 5):
            with vectorhouse.HttpClient(host=server.host, port=server.port) as client:
                col = client.get_collection("docs")
                found = col.query(query_embeddings=vectors[i : i + 1], n_results=1)
                assert found["ids"] == [[f"r{i}"]]
                assert col.count() == 40
        assert httpx.get(server.url + "/api/v2/heartbeat").status_code == 200
    assert server.process.returncode == 0
