"""One collection, one model: the function is stored, rebuilt, checked and swapped whole."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorhouse
from conftest import FakeEmbeddingFunction
from vectorhouse.embeddings.base import EmbeddingFunction, register


@register
class ScaledFake(FakeEmbeddingFunction):
    """The fake model with a tunable twist: ``skew`` changes its vectors slightly."""

    def __init__(self, dim: int = 16, skew: float = 0.0) -> None:
        super().__init__(dim)
        self.skew = skew

    def __call__(self, input: list[str]) -> list[np.ndarray]:
        out = super().__call__(input)
        return [v + self.skew * np.roll(v, 1) for v in out]

    @staticmethod
    def name() -> str:
        return "scaled-fake-test"

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}  # the skew is NOT part of the config: a silent change

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ScaledFake:
        return ScaledFake(int(config["dim"]))


@register
class DigestFake(EmbeddingFunction):
    """Unrelated texts get unrelated (hash-derived) vectors; equal texts equal ones."""

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim

    def __call__(self, input: list[str]) -> list[np.ndarray]:
        out = []
        for text in input:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
            out.append(np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32))
        return out

    @staticmethod
    def name() -> str:
        return "digest-fake-test"

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> DigestFake:
        return DigestFake(int(config["dim"]))


class Counting(EmbeddingFunction):
    """A legacy (unnamed) function that counts the texts it embeds."""

    def __init__(self) -> None:
        self.texts = 0

    def __call__(self, input: list[str]) -> list[list[float]]:
        self.texts += len(input)
        return [[float(len(t)), 1.0, float(t.count("a"))] for t in input]


def test_stored_function_is_rebuilt_when_none_is_passed(db_path: Path) -> None:
    with vectorhouse.PersistentClient(path=db_path) as client:
        client.create_collection("docs", embedding_function=FakeEmbeddingFunction(dim=8))
    with vectorhouse.PersistentClient(path=db_path) as client:
        fn = client.get_collection("docs").embedding_function
        assert isinstance(fn, FakeEmbeddingFunction) and fn.dim == 8


def test_other_function_passed_explicitly_is_a_conflict(fake_ef: FakeEmbeddingFunction) -> None:
    client = vectorhouse.Client()
    col = client.create_collection("docs", embedding_function=fake_ef)
    col.add(ids=["a"], documents=["hello world"])
    with pytest.raises(vectorhouse.EmbeddingFunctionConflictError) as err:
        client.get_collection("docs", embedding_function=ScaledFake())
    assert "fake-test" in str(err.value) and "scaled-fake-test" in str(err.value)
    assert "16-d" in str(err.value)
    with pytest.raises(vectorhouse.EmbeddingFunctionConflictError):
        client.get_collection("docs", embedding_function=FakeEmbeddingFunction(dim=32))
    assert client.get_collection("docs", embedding_function=FakeEmbeddingFunction()).count() == 1


def test_silent_model_change_raises_drift_before_anything_is_written(db_path: Path) -> None:
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.create_collection("docs", embedding_function=ScaledFake())
        col.add(ids=["a"], documents=["hello world"])
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.get_collection("docs", embedding_function=ScaledFake(skew=0.3))
        with pytest.raises(vectorhouse.EmbeddingDriftError, match="reembed"):
            col.add(ids=["b"], documents=["another text"])
        with pytest.raises(vectorhouse.EmbeddingDriftError):
            col.query(query_texts=["hello"])
        assert col.count() == 1
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.get_collection("docs", embedding_function=ScaledFake(skew=0.0001))
        col.add(ids=["b"], documents=["tiny numeric noise is the same model"])
        assert col.count() == 2


def test_function_of_another_dimension_fails_before_writing() -> None:
    client = vectorhouse.Client()
    col = client.create_collection("docs", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 2.0]])
    col = client.get_collection("docs", embedding_function=FakeEmbeddingFunction(dim=4))
    with pytest.raises(vectorhouse.DimensionMismatchError, match="4-dimensional"):
        col.add(ids=["b"], documents=["text"])
    assert col.count() == 1


def test_unchanged_text_is_not_embedded_again() -> None:
    fn = Counting()
    col = vectorhouse.Client().create_collection("docs", embedding_function=fn)
    col.add(ids=["a", "b"], documents=["alpha", "banana"])
    after_add = fn.texts
    col.upsert(ids=["a", "b", "c"], documents=["alpha", "banana", "cherry"])
    assert fn.texts == after_add + 1  # only "cherry"
    col.update(ids=["a"], documents=["banana"])  # text another record already has
    assert fn.texts == after_add + 1
    got = col.get(ids=["a", "b"], include=["embeddings"])["embeddings"]
    assert got[0].tolist() == got[1].tolist() == [6.0, 1.0, 3.0]


def test_supplied_vectors_are_never_reused_for_text() -> None:
    fn = Counting()
    col = vectorhouse.Client().create_collection("docs", embedding_function=fn)
    col.add(ids=["a"], embeddings=[[9.0, 9.0, 9.0]], documents=["alpha"])
    col.add(ids=["b"], documents=["alpha"])
    assert col.get(ids=["b"], include=["embeddings"])["embeddings"].tolist() == [[5.0, 1.0, 2.0]]


def test_reembed_switches_every_record_and_resumes(db_path: Path) -> None:
    old = DigestFake(dim=8)
    new = DigestFake(dim=12)
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.create_collection("docs", embedding_function=old)
        col.add(ids=[f"r{i}" for i in range(50)], documents=[f"text number {i}" for i in range(50)])
        # An interrupted run: stage part of the vectors, then stop.
        col._engine.models.start_reembed(col._row.id, {"function": "x"})
        calls = 0

        def failing(texts: list[str]) -> list[np.ndarray]:
            nonlocal calls
            calls += 1
            if calls > 3:  # the probe, then two batches of 10
                raise RuntimeError("power cut")
            return new(texts)

        failing.name = new.name  # type: ignore[attr-defined]
        failing.get_config = new.get_config  # type: ignore[attr-defined]
        with pytest.raises(vectorhouse.EmbeddingError):
            col.reembed(failing, batch_size=10)
        assert col.get(ids=["r0"], include=["embeddings"])["embeddings"].shape == (1, 8)
        assert col.query(query_texts=["text number 3"], n_results=1)["ids"] == [["r3"]]
        report = col.reembed(new, batch_size=10)
        assert report["reembedded"] == 30  # 20 were staged by the interrupted run
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.get_collection("docs")
        assert isinstance(col.embedding_function, DigestFake)
        assert col.embedding_function.dim == 12
        assert col.get(ids=["r0"], include=["embeddings"])["embeddings"].shape == (1, 12)
        assert col.query(query_texts=["text number 7"], n_results=1)["ids"] == [["r7"]]


def test_reembed_reports_records_without_documents() -> None:
    col = vectorhouse.Client().create_collection("docs", embedding_function=Counting())
    col.add(ids=["a", "b"], documents=["alpha", "beta"])
    col.add(ids=["raw"], embeddings=[[1.0, 1.0, 1.0]])
    with pytest.raises(vectorhouse.InvalidArgumentError, match="'raw'"):
        col.reembed(FakeEmbeddingFunction())
    assert col.count() == 3
    report = col.reembed(FakeEmbeddingFunction(), delete_without_documents=True)
    assert report == {"reembedded": 2, "deleted_without_documents": ["raw"]}
    assert col.get()["ids"] == ["a", "b"]
