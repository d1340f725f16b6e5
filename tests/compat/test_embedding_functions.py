"""Issue 11.5: chromadb ``EmbeddingFunction`` subclasses passed straight in as
``embedding_function=``, including legacy ones that define only ``__call__`` (their
``name()``/``get_config()`` are the base class's, returning ``NotImplemented``). As in
Chroma, such a function is recorded as legacy/unnamed and must be passed again when
the collection is opened."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

import vectorhouse


class LegacyFunction(EmbeddingFunction[Documents]):
    """A chromadb function as many users wrote them: only ``__call__``."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        return [[float(len(t)), float(t.count("a")), 1.0] for t in input]  # type: ignore[misc]


class NamedFunction(LegacyFunction):
    """A chromadb function with a name and config vectorhouse does not know."""

    @staticmethod
    def name() -> str:
        return "compat-named"

    def get_config(self) -> dict[str, Any]:
        return {"size": 3}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> NamedFunction:
        return NamedFunction()


DOCS = ["a", "banana", "cherry pie", "aaa"]


def _use(col: Any) -> list[list[str]]:
    col.add(ids=[f"d{i}" for i in range(len(DOCS))], documents=DOCS)
    ids: list[list[str]] = col.query(query_texts=["bananas"], n_results=2)["ids"]
    return ids


# chromadb itself warns that a legacy function is deprecated; vectorhouse does not.
@pytest.mark.filterwarnings("ignore:legacy embedding function config:DeprecationWarning")
@pytest.mark.parametrize("function", [LegacyFunction, NamedFunction])
def test_chroma_embedding_function_is_accepted_and_embeds_like_in_chroma(
    function: type, tmp_path: Path, chroma_collection: Callable[..., Any]
) -> None:
    expected = _use(chroma_collection(embedding_function=function()))
    for client in (vectorhouse.Client(), vectorhouse.PersistentClient(path=str(tmp_path))):
        with client:
            col = client.create_collection("chroma-ef", embedding_function=function())
            assert _use(col) == expected


def test_legacy_function_is_recorded_as_legacy_and_must_be_passed_again(tmp_path: Path) -> None:
    with vectorhouse.PersistentClient(path=str(tmp_path)) as client:
        col = client.create_collection("legacy", embedding_function=LegacyFunction())
        _use(col)
        assert col.configuration_json["embedding_function"] == {"type": "legacy"}
    with vectorhouse.PersistentClient(path=str(tmp_path)) as client:
        reopened = client.get_collection("legacy")
        assert reopened.embedding_function is None
        with pytest.raises(vectorhouse.InvalidArgumentError, match="passed again"):
            reopened.query(query_texts=["bananas"], n_results=1)
        # vectors still work without it
        assert reopened.query(query_embeddings=[[6.0, 3.0, 1.0]], n_results=1)["ids"] == [["d1"]]
        again = client.get_collection("legacy", embedding_function=LegacyFunction())
        assert again.query(query_texts=["bananas"], n_results=1)["ids"] == [["d1"]]


def test_named_function_vectorhouse_cannot_build_must_be_passed_again(tmp_path: Path) -> None:
    with vectorhouse.PersistentClient(path=str(tmp_path)) as client:
        _use(client.create_collection("named", embedding_function=NamedFunction()))
    with vectorhouse.PersistentClient(path=str(tmp_path)) as client:
        stored = client.get_collection("named").configuration_json["embedding_function"]
        assert stored == {"type": "known", "name": "compat-named", "config": {"size": 3}}
        with pytest.raises(vectorhouse.InvalidArgumentError, match="compat-named"):
            client.get_collection("named").query(query_texts=["x"], n_results=1)
        col = client.get_collection("named", embedding_function=NamedFunction())
        assert col.query(query_texts=["bananas"], n_results=1)["ids"] == [["d1"]]
