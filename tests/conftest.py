"""Shared fixtures: clients of every kind over temporary folders, and a deterministic
fake embedding function for tests that do not need the real model."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorhouse
from vectorhouse.embeddings import http as vh_http
from vectorhouse.embeddings.base import EmbeddingFunction, register

Reply = Callable[[str, dict[str, str], Any], tuple[int, Any, dict[str, str]]]
"""A stub server's answer to ``(path, lower-cased headers, JSON body)``:
``(status, JSON body, extra headers)``."""


@contextlib.contextmanager
def json_server(reply: Reply) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (a free port) answering JSON POSTs with ``reply``;
    yields its base URL and shuts it down cleanly."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body, extra = reply(self.path, headers, json.loads(raw))
            out = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries of HTTP providers record their waits here instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(vh_http, "_sleep", recorded.append)
    return recorded


@register
class FakeEmbeddingFunction(EmbeddingFunction):
    """Bag of hashed words: texts sharing words get close vectors. Deterministic."""

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.calls = 0

    def __call__(self, input: list[str]) -> list[np.ndarray]:
        self.calls += 1
        out = []
        for text in input:
            vec = np.zeros(self.dim, dtype=np.float32)
            for word in text.lower().split():
                digest = hashlib.sha256(word.encode()).digest()
                vec[digest[0] % self.dim] += 1.0
            vec[-1] += 0.01
            out.append(vec / np.linalg.norm(vec))
        return out

    @staticmethod
    def name() -> str:
        return "fake-test"

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> FakeEmbeddingFunction:
        return FakeEmbeddingFunction(int(config["dim"]))


@pytest.fixture
def fake_ef() -> FakeEmbeddingFunction:
    return FakeEmbeddingFunction()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "db"


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A milvus-lite database started once for the session (in-process, on 127.0.0.1)
    and stopped at its end; skipped where the ``milvus`` extra is not installed."""
    pytest.importorskip("pymilvus")
    server_manager = pytest.importorskip("milvus_lite.server_manager")
    uri = str(tmp_path_factory.mktemp("milvus") / "milvus.db")
    yield uri
    server_manager.server_manager_instance.release_server(uri)


@pytest.fixture
def milvus_client(milvus_uri: str) -> Iterator[vectorhouse.Client]:
    """A client of the Milvus backend with an exact (FLAT) index; empty at the start."""
    settings = vectorhouse.Settings(allow_reset=True)
    try:
        c = vectorhouse.MilvusClient(uri=milvus_uri, index_type="FLAT", settings=settings)
        c.reset()
    except vectorhouse.ServerUnavailableError:
        # The shared milvus-lite server can drop its gRPC channel after a Ray run in the
        # same process ("Too many pings"); start it afresh once for the next tests.
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(milvus_uri)
        c = vectorhouse.MilvusClient(uri=milvus_uri, index_type="FLAT", settings=settings)
        c.reset()
    yield c
    c.close()
    with vectorhouse.MilvusClient(uri=milvus_uri, settings=settings) as cleaner:
        cleaner.reset()


def _embedded_client(kind: str, tmp_path: Path) -> vectorhouse.Client:
    if kind == "memory":
        return vectorhouse.Client(vectorhouse.Settings(allow_reset=True))
    return vectorhouse.PersistentClient(
        path=tmp_path / "db", settings=vectorhouse.Settings(allow_reset=True)
    )


@pytest.fixture(params=["memory", "persistent", "milvus"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[vectorhouse.Client]:
    """A client of every kind: in memory, on disk, and on Milvus (milvus-lite)."""
    if request.param == "milvus":
        yield request.getfixturevalue("milvus_client")
        return
    c = _embedded_client(request.param, tmp_path)
    yield c
    c.close()


@pytest.fixture(params=["memory", "persistent"])
def embedded_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[vectorhouse.Client]:
    """A client of the embedded engine, in memory and on disk (features Milvus lacks)."""
    c = _embedded_client(request.param, tmp_path)
    yield c
    c.close()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
