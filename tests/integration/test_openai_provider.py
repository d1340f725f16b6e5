"""OpenAIEmbeddingFunction against a real HTTP server on 127.0.0.1 that answers in
OpenAI's exact JSON shapes (success and error bodies)."""

from __future__ import annotations

import hashlib
import json
import random
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

pytest.importorskip("httpx")

import vectorhouse
from conftest import json_server
from vectorhouse.embeddings.base import call_embedding_function, function_config, lookup
from vectorhouse.embeddings.openai import OpenAIEmbeddingFunction
from vectorhouse.errors import EmbeddingError


def hash_vector(text: str, dim: int = 8) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vec = np.random.default_rng(seed).standard_normal(dim)
    return [float(x) for x in vec / np.linalg.norm(vec)]


def openai_error(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    """Answers POST /v1/embeddings; ``script`` holds canned replies used first, in order."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    script: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    shuffle: bool = False
    max_inputs: int | None = None  # answer 413 above this many inputs
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(
        self, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            self.requests.append(Recorded(path, headers, body))
            if self.script:
                return self.script.pop(0)
        if path != "/v1/embeddings":
            return 404, openai_error(f"Unknown path {path}", "invalid_request_error"), {}
        texts = body["input"]
        if self.max_inputs is not None and len(texts) > self.max_inputs:
            return 413, {"error": "batch size too large", "error_type": "Validation"}, {}
        dim = body.get("dimensions", 8)
        data = [
            {"object": "embedding", "index": i, "embedding": hash_vector(t, dim)}
            for i, t in enumerate(texts)
        ]
        if self.shuffle:
            random.Random(len(texts)).shuffle(data)
        n = sum(len(t.split()) for t in texts)
        usage = {"prompt_tokens": n, "total_tokens": n}
        return 200, {"object": "list", "data": data, "model": body["model"], "usage": usage}, {}


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    with json_server(fake.reply) as base:
        fake.url = base + "/v1"
        yield fake


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-from-env")
    return "sk-test-from-env"


def make(server: FakeOpenAI, **kwargs: Any) -> OpenAIEmbeddingFunction:
    kwargs.setdefault("model_name", "text-embedding-3-small")
    return OpenAIEmbeddingFunction(api_base=server.url, retry_base_delay=0.001, **kwargs)


def test_embeds_texts_as_float32_vectors_in_order(server: FakeOpenAI) -> None:
    out = make(server)(["hello world", "goodbye"])
    assert [v.dtype for v in out] == [np.float32, np.float32]
    np.testing.assert_array_equal(out[1], np.asarray(hash_vector("goodbye"), dtype=np.float32))
    (req,) = server.requests
    assert req.path == "/v1/embeddings"
    assert req.body == {
        "model": "text-embedding-3-small",
        "input": ["hello world", "goodbye"],
        "encoding_format": "float",
    }


def test_empty_input_sends_no_request(server: FakeOpenAI) -> None:
    assert make(server)([]) == []
    assert server.requests == []


def test_api_key_is_read_from_the_env_var_at_call_time(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    ef = make(server, api_key_env_var="MY_EMBED_KEY", organization_id="org-7")
    monkeypatch.setenv("MY_EMBED_KEY", "sk-set-after-construction")
    ef(["x"])
    headers = server.requests[0].headers
    assert headers["authorization"] == "Bearer sk-set-after-construction"
    assert headers["openai-organization"] == "org-7"


def test_direct_api_key_wins_and_stays_out_of_config_and_repr(server: FakeOpenAI) -> None:
    ef = make(server, api_key="sk-direct-secret")
    ef(["x"])
    assert server.requests[0].headers["authorization"] == "Bearer sk-direct-secret"
    assert "sk-direct-secret" not in json.dumps(ef.get_config())
    assert "sk-direct-secret" not in repr(ef)
    assert "sk-direct-secret" not in json.dumps(function_config(ef))


def test_missing_key_fails_at_call_not_construction_for_openai(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    ef = OpenAIEmbeddingFunction()  # constructing never needs the key
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        ef(["x"])


def test_missing_key_is_fine_for_another_server(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    make(server)(["x"])
    assert "authorization" not in server.requests[0].headers


def test_429_waits_for_retry_after_then_succeeds(server: FakeOpenAI, sleeps: list[float]) -> None:
    limited = openai_error("Rate limit reached for requests", "requests", "rate_limit_exceeded")
    server.script.append((429, limited, {"Retry-After": "2"}))
    out = make(server)(["a", "b"])
    assert len(out) == 2 and len(server.requests) == 2
    assert sleeps == [2.0]


def test_retry_after_ms_is_honoured(server: FakeOpenAI, sleeps: list[float]) -> None:
    limited = openai_error("Rate limit reached", "requests", "rate_limit_exceeded")
    server.script.append((429, limited, {"retry-after-ms": "20", "Retry-After": "1"}))
    make(server)(["a"])
    assert sleeps == [0.02]


def test_500_then_success_backs_off_once(server: FakeOpenAI, sleeps: list[float]) -> None:
    server.script.append((500, openai_error("The server had an error", "server_error"), {}))
    assert len(make(server)(["a"])) == 1
    assert len(server.requests) == 2
    assert len(sleeps) == 1 and 0.00075 <= sleeps[0] <= 0.001


def test_persistent_5xx_gives_up_after_max_retries(server: FakeOpenAI, sleeps: list[float]) -> None:
    for _ in range(10):
        server.script.append((503, openai_error("Overloaded", "server_error"), {}))
    with pytest.raises(EmbeddingError, match=r"openai: HTTP 503 .* after 3 attempts: Overloaded"):
        make(server, max_retries=2)(["a"])
    assert len(server.requests) == 3
    assert sleeps == sorted(sleeps) and len(sleeps) == 2  # exponential


def test_401_fails_at_once_with_the_server_message(server: FakeOpenAI, sleeps: list[float]) -> None:
    server.script.append(
        (
            401,
            openai_error(
                "Incorrect API key provided: sk-te***env.",
                "invalid_request_error",
                "invalid_api_key",
            ),
            {},
        )
    )
    with pytest.raises(EmbeddingError) as info:
        make(server)(["a"])
    message = str(info.value)
    assert "openai" in message and "HTTP 401" in message
    assert "Incorrect API key provided" in message and "invalid_api_key" in message
    assert len(server.requests) == 1 and sleeps == []


def test_400_fails_at_once_with_the_server_message(server: FakeOpenAI, sleeps: list[float]) -> None:
    bad = openai_error(
        "This model's maximum context length is 8192 tokens", "invalid_request_error"
    )
    server.script.append((400, bad, {}))
    with pytest.raises(EmbeddingError, match=r"HTTP 400.*maximum context length"):
        make(server)(["a"])
    assert len(server.requests) == 1 and sleeps == []


def test_a_5000_text_call_is_split_under_2048_inputs(server: FakeOpenAI) -> None:
    texts = [f"text {i}" for i in range(5000)]
    out = make(server)(texts)
    assert [len(r.body["input"]) for r in server.requests] == [2048, 2048, 904]
    np.testing.assert_array_equal(out[4999], np.asarray(hash_vector("text 4999"), np.float32))


def test_batches_also_respect_the_byte_budget(server: FakeOpenAI) -> None:
    make(server, max_batch_bytes=25)(["x" * 10] * 5 + ["y" * 40])
    assert [len(r.body["input"]) for r in server.requests] == [2, 2, 1, 1]


def test_413_splits_the_batch_in_halves(server: FakeOpenAI) -> None:
    server.max_inputs = 32
    texts = [f"t{i}" for i in range(100)]
    out = make(server)(texts)
    assert [len(r.body["input"]) for r in server.requests] == [100, 50, 25, 25, 25, 25]
    np.testing.assert_array_equal(out[99], np.asarray(hash_vector("t99"), np.float32))


def test_shuffled_data_is_put_back_in_index_order(server: FakeOpenAI) -> None:
    server.shuffle = True
    texts = [f"doc {i}" for i in range(20)]
    out = make(server)(texts)
    for text, vec in zip(texts, out, strict=True):
        np.testing.assert_array_equal(vec, np.asarray(hash_vector(text), np.float32))


def test_wrong_number_of_embeddings_is_an_error(server: FakeOpenAI) -> None:
    one = {"object": "embedding", "index": 0, "embedding": [1.0, 2.0]}
    server.script.append((200, {"object": "list", "data": [one], "model": "m"}, {}))
    with pytest.raises(EmbeddingError, match="sent 2 texts"):
        make(server)(["a", "b"])


def test_data_without_index_is_taken_in_order(server: FakeOpenAI) -> None:
    data = [{"object": "embedding", "embedding": [float(i), 1.0]} for i in range(3)]
    server.script.append((200, {"object": "list", "data": data, "model": "m"}, {}))
    assert [v[0] for v in make(server)(["a", "b", "c"])] == [0.0, 1.0, 2.0]


def test_malformed_data_is_an_embedding_error(server: FakeOpenAI) -> None:
    server.script.append((200, {"object": "list", "data": ["oops"], "model": "m"}, {}))
    with pytest.raises(EmbeddingError, match="malformed"):
        make(server)(["a"])


def test_dimensions_are_passed_through(server: FakeOpenAI) -> None:
    out = make(server, dimensions=5)(["a"])
    assert server.requests[0].body["dimensions"] == 5
    assert out[0].shape == (5,)


def test_config_round_trips_without_secrets(server: FakeOpenAI) -> None:
    ef = make(server, api_key="sk-secret", dimensions=64, organization_id="org-1")
    config = ef.get_config()
    assert config == {
        "api_key_env_var": "OPENAI_API_KEY",
        "model_name": "text-embedding-3-small",
        "api_base": server.url,
        "dimensions": 64,
        "organization_id": "org-1",
    }
    assert "sk-secret" not in json.dumps(config)
    assert lookup("openai") is OpenAIEmbeddingFunction
    rebuilt = OpenAIEmbeddingFunction.build_from_config(json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config
    rebuilt(["a"])  # the rebuilt one finds its key in the environment
    assert server.requests[0].headers["authorization"] == "Bearer sk-test-from-env"
    assert ef.default_space() == "cosine" and not ef.is_legacy()


def test_unreachable_server_is_an_embedding_error(sleeps: list[float]) -> None:
    ef = OpenAIEmbeddingFunction(api_base="http://127.0.0.1:9/v1", max_retries=1)
    with pytest.raises(EmbeddingError, match=r"could not reach .* after 2 attempt"):
        ef(["a"])
    assert len(sleeps) == 1


def test_missing_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch, server: FakeOpenAI) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ImportError, match=r"vectorhouse\[openai\]"):
        make(server)(["a"])


def test_a_collection_embeds_documents_and_queries_through_it(server: FakeOpenAI) -> None:
    with vectorhouse.Client() as client:
        col = client.create_collection("docs", embedding_function=make(server))
        col.add(ids=["a", "b"], documents=["red apple", "blue sky"])
        hits = col.query(query_texts=["blue sky"], n_results=1)
        assert hits["ids"] == [["b"]]
    vectors = call_embedding_function(make(server), ["red apple"])
    assert vectors.shape == (1, 8)
