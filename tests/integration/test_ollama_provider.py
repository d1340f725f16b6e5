"""OllamaEmbeddingFunction against a real HTTP server on 127.0.0.1 that answers like
Ollama's ``POST /api/embed``."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

pytest.importorskip("httpx")

from conftest import json_server
from vectorhouse.embeddings.base import function_config, lookup
from vectorhouse.embeddings.ollama import OllamaEmbeddingFunction
from vectorhouse.errors import EmbeddingError

MODELS = {"nomic-embed-text": 6, "all-minilm": 4}


def hash_vector(text: str, dim: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return [float(x) for x in np.random.default_rng(seed).standard_normal(dim)]


@dataclass
class FakeOllama:
    url: str = ""
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    script: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(
        self, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            self.requests.append((path, body))
            if self.script:
                return self.script.pop(0)
        if path != "/api/embed":
            return 404, {"error": "404 page not found"}, {}
        model = body.get("model")
        if model not in MODELS:
            return 404, {"error": f'model "{model}" not found, try pulling it first'}, {}
        texts = body["input"]
        vectors = [hash_vector(t, MODELS[model]) for t in texts]
        return (
            200,
            {"model": model, "embeddings": vectors, "total_duration": 1, "prompt_eval_count": 1},
            {},
        )


@pytest.fixture
def server() -> Iterator[FakeOllama]:
    fake = FakeOllama()
    with json_server(fake.reply) as base:
        fake.url = base + ""
        yield fake


def make(server: FakeOllama, **kwargs: Any) -> OllamaEmbeddingFunction:
    return OllamaEmbeddingFunction(url=server.url, retry_base_delay=0.001, **kwargs)


def test_embeds_through_api_embed(server: FakeOllama) -> None:
    out = make(server)(["hello", "world"])
    assert [v.dtype for v in out] == [np.float32, np.float32]
    np.testing.assert_array_equal(out[1], np.asarray(hash_vector("world", 6), np.float32))
    assert server.requests == [
        ("/api/embed", {"model": "nomic-embed-text", "input": ["hello", "world"]})
    ]


def test_url_may_carry_the_endpoint_path(server: FakeOllama) -> None:
    ef = OllamaEmbeddingFunction(url=server.url + "/api/embed/", model_name="all-minilm")
    assert ef.url == server.url
    assert ef(["x"])[0].shape == (4,)


def test_many_texts_go_in_batches(server: FakeOllama) -> None:
    out = make(server, max_batch_size=100)([f"t{i}" for i in range(250)])
    assert [len(body["input"]) for _, body in server.requests] == [100, 100, 50]
    np.testing.assert_array_equal(out[249], np.asarray(hash_vector("t249", 6), np.float32))


def test_unknown_model_fails_at_once_with_ollamas_message(
    server: FakeOllama, sleeps: list[float]
) -> None:
    with pytest.raises(EmbeddingError) as info:
        make(server, model_name="nope")(["x"])
    message = str(info.value)
    assert message.startswith("ollama: HTTP 404")
    assert 'model "nope" not found, try pulling it first' in message
    assert len(server.requests) == 1 and sleeps == []


def test_500_then_success_is_retried(server: FakeOllama, sleeps: list[float]) -> None:
    server.script.append((500, {"error": "llama runner process has terminated"}, {}))
    assert len(make(server)(["x"])) == 1
    assert len(server.requests) == 2 and len(sleeps) == 1


def test_429_honours_retry_after(server: FakeOllama, sleeps: list[float]) -> None:
    server.script.append((429, {"error": "server busy"}, {"Retry-After": "3"}))
    make(server)(["x"])
    assert sleeps == [3.0]


def test_persistent_500_reports_the_last_message(server: FakeOllama, sleeps: list[float]) -> None:
    for _ in range(5):
        server.script.append((500, {"error": "out of memory"}, {}))
    with pytest.raises(EmbeddingError, match=r"HTTP 500 .* after 2 attempts: out of memory"):
        make(server, max_retries=1)(["x"])


def test_wrong_number_of_embeddings_is_an_error(server: FakeOllama) -> None:
    server.script.append((200, {"model": "nomic-embed-text", "embeddings": [[1.0]]}, {}))
    with pytest.raises(EmbeddingError, match="sent 2 texts"):
        make(server)(["a", "b"])


def test_unreachable_server_is_an_embedding_error(sleeps: list[float]) -> None:
    ef = OllamaEmbeddingFunction(url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(EmbeddingError, match=r"ollama: could not reach http://127\.0\.0\.1:9"):
        ef(["x"])
    assert sleeps == []


def test_config_round_trips(server: FakeOllama) -> None:
    ef = make(server, model_name="all-minilm", timeout=5)
    assert ef.get_config() == {"url": server.url, "model_name": "all-minilm"}
    assert lookup("ollama") is OllamaEmbeddingFunction
    assert function_config(ef) == {"name": "ollama", "config": ef.get_config()}
    rebuilt = OllamaEmbeddingFunction.build_from_config(json.loads(json.dumps(ef.get_config())))
    np.testing.assert_array_equal(rebuilt(["q"])[0], ef(["q"])[0])
    chroma_style = {"url": server.url, "model_name": "all-minilm", "timeout": 7}
    assert OllamaEmbeddingFunction.build_from_config(chroma_style).timeout == 7.0
    assert ef.default_space() == "cosine"


def test_empty_input_sends_no_request(server: FakeOllama) -> None:
    assert make(server)([]) == []
    assert server.requests == []


def test_missing_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch, server: FakeOllama) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ImportError, match=r"vectorhouse\[ollama\]"):
        make(server)(["a"])
