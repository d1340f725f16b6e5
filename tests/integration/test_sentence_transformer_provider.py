"""SentenceTransformerEmbeddingFunction.

Most tests put a small stand-in ``sentence_transformers`` module in ``sys.modules``, so
loading, caching, locking and config are checked without PyTorch. One test uses the
real package, and skips unless it is installed and the model is already on disk.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import types
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest

from vectorhouse.embeddings import sentence_transformer as st_module
from vectorhouse.embeddings.base import function_config, lookup
from vectorhouse.embeddings.sentence_transformer import SentenceTransformerEmbeddingFunction
from vectorhouse.errors import EmbeddingError, InvalidArgumentError


class StandInModel:
    loads: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []

    def __init__(self, model_name: str, device: str = "cpu", **kwargs: Any) -> None:
        if model_name == "missing-model":
            raise OSError(f"{model_name} is not a local folder and is not a valid model id")
        time.sleep(0.02)  # widen the window in which racing threads could load twice
        StandInModel.loads.append((model_name, device, kwargs))
        self.dim = int(kwargs.get("truncate_dim") or 3)

    def encode(
        self, texts: list[str], convert_to_numpy: bool, normalize_embeddings: bool
    ) -> np.ndarray:
        assert convert_to_numpy
        out = np.array([[len(t), 1.0, 2.0, 0.5][: self.dim] for t in texts], dtype=np.float64)
        if normalize_embeddings:
            out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[StandInModel]]:
    module = types.ModuleType("sentence_transformers")
    module.SentenceTransformer = StandInModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", module)
    monkeypatch.setattr(st_module, "_MODELS", {})
    StandInModel.loads = []
    yield StandInModel


def test_encodes_to_float32_vectors(stand_in: type[StandInModel]) -> None:
    out = SentenceTransformerEmbeddingFunction()(["ab", "abcd"])
    assert [v.dtype for v in out] == [np.float32, np.float32]
    assert [v.tolist() for v in out] == [[2.0, 1.0, 2.0], [4.0, 1.0, 2.0]]


def test_normalize_embeddings_is_passed_to_encode(stand_in: type[StandInModel]) -> None:
    (vec,) = SentenceTransformerEmbeddingFunction(normalize_embeddings=True)(["abc"])
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-6


def test_model_loads_lazily_once_per_config(stand_in: type[StandInModel]) -> None:
    a = SentenceTransformerEmbeddingFunction("m1")
    b = SentenceTransformerEmbeddingFunction("m1")
    c = SentenceTransformerEmbeddingFunction("m1", device="cuda")
    d = SentenceTransformerEmbeddingFunction("m1", truncate_dim=2)
    assert stand_in.loads == []  # nothing loads at construction
    for ef in (a, b, c, d, a):
        ef(["x"])
    assert stand_in.loads == [
        ("m1", "cpu", {}),
        ("m1", "cuda", {}),
        ("m1", "cpu", {"truncate_dim": 2}),
    ]
    assert d(["x"])[0].shape == (2,)


def test_threads_racing_to_the_first_call_load_once(stand_in: type[StandInModel]) -> None:
    ef = SentenceTransformerEmbeddingFunction("m2")
    barrier = threading.Barrier(8)
    results: list[int] = []

    def work() -> None:
        barrier.wait()
        results.append(len(ef(["hello"])))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1] * 8
    assert stand_in.loads == [("m2", "cpu", {})]


def test_config_round_trips(stand_in: type[StandInModel]) -> None:
    ef = SentenceTransformerEmbeddingFunction(
        "m3", device="cpu", normalize_embeddings=True, truncate_dim=2
    )
    config = ef.get_config()
    assert config == {
        "model_name": "m3",
        "device": "cpu",
        "normalize_embeddings": True,
        "kwargs": {"truncate_dim": 2},
    }
    assert lookup("sentence_transformer") is SentenceTransformerEmbeddingFunction
    assert function_config(ef) == {"name": "sentence_transformer", "config": config}
    rebuilt = SentenceTransformerEmbeddingFunction.build_from_config(json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config
    np.testing.assert_array_equal(rebuilt(["ab"])[0], ef(["ab"])[0])
    assert ef.default_space() == "cosine"


def test_kwargs_must_be_json_values() -> None:
    with pytest.raises(InvalidArgumentError, match="JSON"):
        SentenceTransformerEmbeddingFunction(model_kwargs={"dtype": object()})


def test_a_model_that_cannot_load_is_an_embedding_error(stand_in: type[StandInModel]) -> None:
    with pytest.raises(EmbeddingError, match="could not load model 'missing-model'"):
        SentenceTransformerEmbeddingFunction("missing-model")(["x"])


def test_without_the_package_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.setattr(st_module, "_MODELS", {})
    ef = SentenceTransformerEmbeddingFunction()  # construction never needs the package
    with pytest.raises(ImportError, match=r"vectorhouse\[sentence-transformers\]"):
        ef(["x"])


def test_real_package_embeds_when_the_model_is_on_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sentence_transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ef = SentenceTransformerEmbeddingFunction("all-MiniLM-L6-v2", normalize_embeddings=True)
    try:
        out = ef(["a red apple", "a blue sky"])
    except EmbeddingError as exc:
        pytest.skip(f"all-MiniLM-L6-v2 is not on disk here: {exc}")
    assert [v.shape for v in out] == [(384,), (384,)]
    assert abs(float(np.linalg.norm(out[0])) - 1.0) < 1e-5
