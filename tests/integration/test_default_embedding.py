"""The bundled all-MiniLM-L6-v2 model: fidelity, batch independence, laziness, config."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vectorhouse.embeddings import default
from vectorhouse.embeddings.base import function_config, lookup
from vectorhouse.embeddings.default import DefaultEmbeddingFunction
from vectorhouse.errors import EmbeddingError, InvalidArgumentError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], np.ndarray]:
    meta = json.loads((FIXTURES / "minilm_reference.json").read_text("utf-8"))
    vectors = np.load(FIXTURES / "minilm_reference.npy")
    assert vectors.shape == (len(meta["texts"]), 384)
    return meta["texts"], vectors


@pytest.fixture(scope="module")
def ef() -> DefaultEmbeddingFunction:
    return DefaultEmbeddingFunction()


@pytest.fixture(scope="module")
def embedded(ef: DefaultEmbeddingFunction, reference: tuple[list[str], np.ndarray]) -> np.ndarray:
    return np.stack(ef(reference[0]))


def test_vectors_match_sentence_transformers_fp32(
    embedded: np.ndarray, reference: tuple[list[str], np.ndarray]
) -> None:
    cosines = np.sum(embedded.astype(np.float64) * reference[1], axis=1)
    print(f"cosine vs reference over {len(cosines)} texts: min {cosines.min():.5f}", end=" ")
    print(f"mean {cosines.mean():.6f}")
    assert cosines.min() >= 0.995
    assert cosines.mean() >= 0.999


def test_vectors_are_384_float32_unit_length(embedded: np.ndarray) -> None:
    assert embedded.dtype == np.float32
    assert embedded.shape[1] == 384
    np.testing.assert_allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-5)


def test_a_text_gets_the_same_vector_alone_or_in_any_batch(
    ef: DefaultEmbeddingFunction,
    embedded: np.ndarray,
    reference: tuple[list[str], np.ndarray],
) -> None:
    texts = reference[0]
    alone = np.stack([ef([text])[0] for text in texts])
    worst = float(np.abs(alone - embedded).max())
    rng = np.random.default_rng(20240611)
    for _ in range(3):
        perm = rng.permutation(len(texts))
        fn = DefaultEmbeddingFunction(batch_size=int(rng.integers(1, 40)))
        shuffled = np.stack(fn([texts[i] for i in perm]))
        worst = max(worst, float(np.abs(shuffled - alone[perm]).max()))
    print(f"largest difference between batchings: {worst:.2e}")
    assert worst <= 1e-6


def test_results_come_back_in_input_order(
    ef: DefaultEmbeddingFunction, reference: tuple[list[str], np.ndarray]
) -> None:
    texts, vectors = reference
    # Long texts first, short last, with a duplicate: sorting by length must not leak out.
    picks = [*sorted(range(0, len(texts), 7), key=lambda i: -len(texts[i])), 0]
    out = np.stack(ef([texts[i] for i in picks]))
    cosines = np.sum(out * vectors[picks], axis=1)
    assert cosines.min() >= 0.995
    np.testing.assert_allclose(out[-1], ef([texts[0]])[0], atol=1e-6)


def test_empty_input_gives_empty_output(ef: DefaultEmbeddingFunction) -> None:
    assert ef([]) == []


def test_texts_past_max_length_are_truncated(ef: DefaultEmbeddingFunction) -> None:
    long = " ".join(f"word{i}" for i in range(400))
    a, b = ef([long, long + " and then something entirely different"])
    np.testing.assert_array_equal(a, b)
    short = DefaultEmbeddingFunction(max_length=8)
    x, y = short(["one two three four five six", "one two three four five six seven"])
    np.testing.assert_array_equal(x, y)


def test_seed_texts_rank_as_expected(ef: DefaultEmbeddingFunction) -> None:
    docs = ["I love Python programming", "JavaScript is fun", "I enjoy cooking pasta"]
    query = ef.embed_query(["coding in Python"])[0]
    scores = [float(np.dot(query, vec)) for vec in ef(docs)]
    assert sorted(docs, key=lambda d: -scores[docs.index(d)]) == docs


def test_constructing_does_not_load_the_model(tmp_path: Path) -> None:
    missing = tmp_path / "missing.onnx"
    fn = DefaultEmbeddingFunction(_model_path=missing)  # no file: fine until first call
    assert fn._cache_key() not in default._MODELS
    assert fn.get_config()["model"] == "all-MiniLM-L6-v2"
    with pytest.raises(EmbeddingError, match=r"missing\.onnx"):
        fn(["hello"])
    assert fn._cache_key() not in default._MODELS


def test_model_loads_once_per_config_even_under_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[Any] = []
    real_load = default._load

    def counting_load(*args: Any) -> Any:
        loads.append(args)
        return real_load(*args)

    monkeypatch.setattr(default, "_load", counting_load)
    fns = [DefaultEmbeddingFunction(max_length=100, num_threads=1) for _ in range(8)]
    assert fns[0]._cache_key() not in default._MODELS
    barrier = threading.Barrier(len(fns))
    results: list[np.ndarray] = [np.empty(0)] * len(fns)

    def work(i: int) -> None:
        barrier.wait()
        results[i] = np.stack(fns[i](["same text", f"text number {i}"]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1
    assert all(np.array_equal(r[0], results[0][0]) for r in results)


def test_config_round_trips_and_is_registered(ef: DefaultEmbeddingFunction) -> None:
    assert DefaultEmbeddingFunction.name() == "default"
    assert lookup("default") is DefaultEmbeddingFunction
    config = ef.get_config()
    assert config == {"model": "all-MiniLM-L6-v2", "max_length": 256}
    assert json.loads(json.dumps(config)) == config
    rebuilt = DefaultEmbeddingFunction.build_from_config(config)
    assert isinstance(rebuilt, DefaultEmbeddingFunction)
    assert rebuilt.get_config() == config
    assert function_config(ef) == {"name": "default", "config": config}
    assert not ef.is_legacy()
    assert ef.default_space() == "cosine"
    # Runtime settings change speed, never vectors: they stay out of the identity.
    fast = DefaultEmbeddingFunction(batch_size=4, num_threads=1)
    assert fast.get_config() == config
    custom = DefaultEmbeddingFunction.build_from_config({**config, "max_length": 64})
    assert custom.max_length == 64
    with pytest.raises(EmbeddingError, match="only runs"):
        DefaultEmbeddingFunction.build_from_config({"model": "bge-small"})


@pytest.mark.parametrize(
    "kwargs",
    [{"batch_size": 0}, {"max_length": 513}, {"max_length": True}, {"num_threads": 0}],
)
def test_bad_settings_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        DefaultEmbeddingFunction(**kwargs)


def test_bad_input_is_rejected(ef: DefaultEmbeddingFunction) -> None:
    with pytest.raises(InvalidArgumentError, match="single string"):
        ef("hello")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"input\[1\]"):
        ef(["ok", 3])  # type: ignore[list-item]


def test_tampered_model_file_is_refused(tmp_path: Path) -> None:
    original, _, _ = default._package_model()
    good = tmp_path / "good.onnx"
    shutil.copyfile(original, good)
    vec = DefaultEmbeddingFunction(num_threads=1, _model_path=good)(["hello"])[0]
    assert vec.shape == (384,)

    bad = tmp_path / "bad.onnx"
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(EmbeddingError, match=r"bad\.onnx.*corrupt or was replaced.*sha256"):
        DefaultEmbeddingFunction(num_threads=1, _model_path=bad)(["hello"])
