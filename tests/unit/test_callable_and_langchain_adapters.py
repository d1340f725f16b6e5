"""CallableEmbeddingFunction, and the adapters in both directions with LangChain."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

import vectorhouse
from vectorhouse.embeddings.base import (
    EmbeddingFunction,
    call_embedding_function,
    function_config,
    register,
)
from vectorhouse.embeddings.callable import CallableEmbeddingFunction
from vectorhouse.embeddings.langchain import LangChainEmbeddingFunction, to_langchain
from vectorhouse.errors import EmbeddingError, EmbeddingFunctionConflictError, InvalidArgumentError


def lengths(texts: list[str]) -> list[list[float]]:
    return [[float(len(t)), 1.0] for t in texts]


class DuckEmbeddings:
    """LangChain's two methods without LangChain; queries get a distinct last value."""

    def __init__(self) -> None:
        self.document_calls: list[list[str]] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.document_calls.append(list(texts))
        return [[float(len(t)), 0.0] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [float(len(text)), 1.0]


# --- CallableEmbeddingFunction ---------------------------------------------------


def test_callable_returns_float32_vectors() -> None:
    out = CallableEmbeddingFunction(lengths)(["ab", "abcd"])
    assert [v.dtype for v in out] == [np.float32, np.float32]
    assert [v.tolist() for v in out] == [[2.0, 1.0], [4.0, 1.0]]


def test_callable_accepts_arrays_from_the_wrapped_function() -> None:
    ef = CallableEmbeddingFunction(lambda texts: np.ones((len(texts), 3)))
    assert call_embedding_function(ef, ["a", "b"]).shape == (2, 3)


def test_unnamed_callable_is_legacy() -> None:
    ef = CallableEmbeddingFunction(lengths)
    assert ef.is_legacy()
    assert function_config(ef) is None
    with pytest.raises(NotImplementedError):
        ef.get_config()


def test_named_callable_is_stored_by_name_but_cannot_be_rebuilt() -> None:
    ef = CallableEmbeddingFunction(lengths, name="lengths-v1")
    assert not ef.is_legacy()
    assert function_config(ef) == {"name": "lengths-v1", "config": {}}
    with pytest.raises(NotImplementedError, match="pass it again"):
        CallableEmbeddingFunction.build_from_config({})
    assert "lengths" in repr(ef) and "lengths-v1" in repr(ef)


def test_callable_rejects_non_callables_and_taken_names() -> None:
    @register
    class Taken(EmbeddingFunction):
        @staticmethod
        def name() -> str:
            return "taken-by-a-test"

    with pytest.raises(InvalidArgumentError, match="must be callable"):
        CallableEmbeddingFunction("not a function")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="Taken"):
        CallableEmbeddingFunction(lengths, name="taken-by-a-test")
    with pytest.raises(InvalidArgumentError):
        CallableEmbeddingFunction(lengths, name="  ")


def test_callable_failure_surfaces_as_embedding_error() -> None:
    def broken(texts: list[str]) -> list[list[float]]:
        raise RuntimeError("model crashed")

    with pytest.raises(EmbeddingError, match="model crashed"):
        call_embedding_function(CallableEmbeddingFunction(broken), ["a"])


def test_a_collection_remembers_a_named_callable_by_name() -> None:
    with vectorhouse.Client() as client:
        first = CallableEmbeddingFunction(lengths, name="lengths-v1")
        col = client.create_collection("docs", embedding_function=first)
        col.add(ids=["a"], documents=["hello"])
        assert client.get_collection("docs", embedding_function=first).count() == 1
        other = CallableEmbeddingFunction(lengths, name="lengths-v2")
        with pytest.raises(EmbeddingFunctionConflictError):
            client.get_collection("docs", embedding_function=other)
        assert client.get_collection("docs").embedding_function is None


# --- LangChain -> vectorhouse ------------------------------------------------------


def test_langchain_documents_and_queries_take_their_own_paths() -> None:
    duck = DuckEmbeddings()
    ef = LangChainEmbeddingFunction(duck)
    docs = call_embedding_function(ef, ["abc", "de"])
    queries = call_embedding_function(ef, ["abc"], query=True)
    assert docs.tolist() == [[3.0, 0.0], [2.0, 0.0]]
    assert queries.tolist() == [[3.0, 1.0]]
    assert duck.document_calls == [["abc", "de"]]


def test_langchain_wrapper_is_legacy_unless_named() -> None:
    assert LangChainEmbeddingFunction(DuckEmbeddings()).is_legacy()
    named = LangChainEmbeddingFunction(DuckEmbeddings(), name="duck-v1")
    assert function_config(named) == {"name": "duck-v1", "config": {}}
    assert "DuckEmbeddings" in repr(named)


def test_langchain_wrapper_rejects_objects_without_the_methods() -> None:
    with pytest.raises(InvalidArgumentError, match="no embed_documents"):
        LangChainEmbeddingFunction(CallableEmbeddingFunction(lengths))


def test_real_langchain_embeddings_are_wrapped() -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.embeddings import DeterministicFakeEmbedding

    lc = DeterministicFakeEmbedding(size=7)
    ef = LangChainEmbeddingFunction(lc)
    out = ef(["hello", "world"])
    assert [v.shape for v in out] == [(7,), (7,)]
    np.testing.assert_allclose(out[0], np.asarray(lc.embed_documents(["hello"])[0], np.float32))


# --- vectorhouse -> LangChain ------------------------------------------------------


def test_to_langchain_gives_a_langchain_embeddings() -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.embeddings import Embeddings

    lc = to_langchain(CallableEmbeddingFunction(lengths))
    assert isinstance(lc, Embeddings)
    docs = lc.embed_documents(["ab", "abc"])
    assert docs == [[2.0, 1.0], [3.0, 1.0]]
    assert all(type(x) is float for row in docs for x in row)
    assert lc.embed_query("abcd") == [4.0, 1.0]
    assert lc.embed_documents([]) == []


def test_to_langchain_uses_the_functions_embed_query() -> None:
    pytest.importorskip("langchain_core")

    class QueryAware(EmbeddingFunction):
        def __call__(self, input: list[str]) -> list[Any]:
            return [[0.0, 1.0] for _ in input]

        def embed_query(self, input: list[str]) -> list[Any]:
            return [[1.0, 0.0] for _ in input]

    lc = to_langchain(QueryAware())
    assert lc.embed_query("q") == [1.0, 0.0]
    assert lc.embed_documents(["d"]) == [[0.0, 1.0]]


def test_to_langchain_accepts_a_plain_callable_and_reports_failures() -> None:
    pytest.importorskip("langchain_core")
    assert to_langchain(lengths).embed_query("abc") == [3.0, 1.0]
    with pytest.raises(EmbeddingError, match="2 vectors for 1 texts"):
        to_langchain(lambda texts: [[1.0], [2.0]]).embed_query("x")


def test_to_langchain_unwraps_a_wrapped_langchain_object() -> None:
    duck = DuckEmbeddings()
    unwrapped: object = to_langchain(LangChainEmbeddingFunction(duck))
    assert unwrapped is duck


def test_round_trip_through_langchain_keeps_the_vectors() -> None:
    pytest.importorskip("langchain_core")
    ef = CallableEmbeddingFunction(lengths)
    back = LangChainEmbeddingFunction(to_langchain(ef))
    np.testing.assert_array_equal(
        call_embedding_function(back, ["abc"]), call_embedding_function(ef, ["abc"])
    )


def test_to_langchain_without_langchain_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain_core", None)
    monkeypatch.setitem(sys.modules, "langchain_core.embeddings", None)
    with pytest.raises(ImportError, match=r"vectorhouse\[langchain\]"):
        to_langchain(lengths)


# --- the public import path --------------------------------------------------------


def test_embedding_functions_module_exports_lazily() -> None:
    import subprocess

    code = (
        "import sys\n"
        "import vectorhouse.embedding_functions as ef\n"
        "assert ef.OpenAIEmbeddingFunction.name() == 'openai'\n"
        "assert ef.OllamaEmbeddingFunction.name() == 'ollama'\n"
        "assert ef.SentenceTransformerEmbeddingFunction.name() == 'sentence_transformer'\n"
        "assert ef.EmbeddingFunction.__module__ == 'vectorhouse.embeddings.base'\n"
        "heavy = ('httpx', 'langchain_core', 'sentence_transformers', 'torch', 'onnxruntime')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_embedding_functions_all_is_sorted_and_resolvable() -> None:
    import vectorhouse.embedding_functions as ef

    assert ef.__all__ == sorted(ef.__all__)
    assert "DefaultEmbeddingFunction" in ef.__all__
    for name in ef.__all__:
        if name != "DefaultEmbeddingFunction":  # owned by embeddings/default.py
            assert getattr(ef, name) is not None
    with pytest.raises(AttributeError):
        _ = ef.NoSuchFunction
