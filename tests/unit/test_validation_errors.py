"""Bad input gets a clear error from the exception tree, and nothing is written."""

from __future__ import annotations

import numpy as np
import pytest

import vectorhouse
from vectorhouse.api.validation import validate_collection_name


@pytest.fixture
def col() -> vectorhouse.Collection:
    c = vectorhouse.Client().create_collection("docs", embedding_function=None)
    c.add(ids=["a"], embeddings=[[1.0, 2.0]], documents=["kept"])
    return c


@pytest.mark.parametrize(
    "name", ["ab", "-abc", "abc-", "a..b", "192.168.1.1", "a b c", "x" * 513, 5]
)
def test_invalid_collection_names_are_refused(name: object) -> None:
    with pytest.raises(vectorhouse.InvalidCollectionNameError):
        validate_collection_name(name)
    with pytest.raises(ValueError):
        vectorhouse.Client().create_collection(name)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["abc", "my_docs", "a.b-c_d", "x" * 512, "A1B"])
def test_valid_collection_names_are_accepted(name: str) -> None:
    assert validate_collection_name(name) == name


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"ids": ["b", "b"], "embeddings": [[1, 2], [3, 4]]}, vectorhouse.DuplicateIDError, "'b'"),
        ({"ids": [""], "embeddings": [[1, 2]]}, vectorhouse.InvalidIDError, "non-empty"),
        ({"ids": [3], "embeddings": [[1, 2]]}, vectorhouse.InvalidIDError, "strings"),
        ({"ids": ["b", "c"], "embeddings": [[1, 2]]}, vectorhouse.InvalidArgumentError, "unequal"),
        (
            {"ids": ["b"], "embeddings": [[float("nan"), 1]]},
            vectorhouse.InvalidEmbeddingError,
            "finite",
        ),
        (
            {"ids": ["b"], "embeddings": [[float("inf"), 1]]},
            vectorhouse.InvalidEmbeddingError,
            "finite",
        ),
        ({"ids": ["b"], "embeddings": [["x", 1]]}, vectorhouse.InvalidEmbeddingError, "numbers"),
        (
            {"ids": ["b", "c"], "embeddings": [[1, 2], [1]]},
            vectorhouse.InvalidEmbeddingError,
            "same length",
        ),
        (
            {"ids": ["b"], "embeddings": [[1, 2, 3]]},
            vectorhouse.DimensionMismatchError,
            "2-dimensional",
        ),
        (
            {"ids": ["b"], "embeddings": [[1, 2]], "metadatas": [{"a": {"b": 1}}]},
            vectorhouse.InvalidMetadataError,
            "'a'",
        ),
        (
            {"ids": ["b"], "embeddings": [[1, 2]], "metadatas": [{"a": []}]},
            vectorhouse.InvalidMetadataError,
            "empty list",
        ),
        (
            {"ids": ["b"], "embeddings": [[1, 2]], "metadatas": [{"a": [1, "x"]}]},
            vectorhouse.InvalidMetadataError,
            "one type",
        ),
        (
            {"ids": ["b"], "embeddings": [[1, 2]], "metadatas": [{"a": float("nan")}]},
            vectorhouse.InvalidMetadataError,
            "NaN",
        ),
        (
            {"ids": ["b"], "embeddings": [[1, 2]], "documents": [5]},
            vectorhouse.InvalidArgumentError,
            "strings",
        ),
        ({"ids": ["b"]}, vectorhouse.InvalidArgumentError, "embeddings or documents"),
    ],
)
def test_bad_add_raises_clear_error_and_writes_nothing(
    col: vectorhouse.Collection, kwargs: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        col.add(**kwargs)
    assert col.get(include=["documents", "embeddings"])["documents"] == ["kept"]
    assert col.count() == 1


def test_strict_add_refuses_an_existing_id_and_writes_nothing() -> None:
    # Moved here from the table above: by default add skips existing ids (as Chroma
    # does); Settings(strict_add_ids=True) keeps the earlier refusal.
    strict = vectorhouse.Client(settings=vectorhouse.Settings(strict_add_ids=True))
    c = strict.create_collection("docs", embedding_function=None)
    c.add(ids=["a"], embeddings=[[1.0, 2.0]], documents=["kept"])
    with pytest.raises(vectorhouse.IDAlreadyExistsError, match="upsert"):
        c.add(ids=["a", "b"], embeddings=[[1, 2], [3, 4]])
    assert c.get(include=["documents"])["documents"] == ["kept"]
    assert c.count() == 1


def test_argument_errors_are_value_errors() -> None:
    assert issubclass(vectorhouse.InvalidArgumentError, ValueError)
    assert issubclass(vectorhouse.CollectionNotFoundError, vectorhouse.NotFoundError)
    assert not issubclass(vectorhouse.NotFoundError, vectorhouse.InvalidArgumentError)
    assert vectorhouse.DimensionMismatchError.code == "dimension_mismatch"


@pytest.mark.parametrize("n", [0, -1, True, 1.5, "3"])
def test_bad_n_results_is_refused(col: vectorhouse.Collection, n: object) -> None:
    with pytest.raises(vectorhouse.InvalidArgumentError, match="n_results"):
        col.query(query_embeddings=[[1, 2]], n_results=n)  # type: ignore[arg-type]


def test_unknown_include_field_is_refused(col: vectorhouse.Collection) -> None:
    with pytest.raises(vectorhouse.InvalidIncludeError, match="'distances'"):
        col.get(include=["distances"])
    with pytest.raises(vectorhouse.InvalidIncludeError, match="'vectors'"):
        col.query(query_embeddings=[[1, 2]], include=["vectors"])


def test_query_dimension_mismatch_is_refused(col: vectorhouse.Collection) -> None:
    with pytest.raises(vectorhouse.DimensionMismatchError):
        col.query(query_embeddings=[[1, 2, 3]])


def test_invalid_filter_names_its_path(col: vectorhouse.Collection) -> None:
    with pytest.raises(vectorhouse.InvalidFilterError, match=r"\$and\[1\]\.year"):
        col.get(where={"$and": [{"a": 1}, {"year": {"$gt": "x"}}]})


def test_unknown_collection_is_not_found() -> None:
    with pytest.raises(vectorhouse.CollectionNotFoundError, match="'missing'"):
        vectorhouse.Client().get_collection("missing")


def test_numpy_inputs_are_accepted(col: vectorhouse.Collection) -> None:
    col.add(ids=np.array(["n1"]).tolist(), embeddings=np.array([[3, 4]], dtype=np.int64))
    col.add(ids=["n2"], embeddings=[np.array([5.0, 6.0])], metadatas=[{"k": np.int64(3)}])
    assert col.get(ids=["n2"])["metadatas"] == [{"k": 3}]
