"""Shared fixtures: clients of every kind over temporary folders, and a deterministic
fake embedding function for tests that do not need the real model."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorhouse
from vectorhouse.embeddings.base import EmbeddingFunction, register


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


@pytest.fixture(params=["memory", "persistent"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[vectorhouse.Client]:
    if request.param == "memory":
        c = vectorhouse.Client(vectorhouse.Settings(allow_reset=True))
    else:
        c = vectorhouse.PersistentClient(
            path=tmp_path / "db", settings=vectorhouse.Settings(allow_reset=True)
        )
    yield c
    c.close()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
