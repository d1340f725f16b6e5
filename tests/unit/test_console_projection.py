"""The console's PCA projection, its query-word highlighting and the read-only rule."""

from __future__ import annotations

import numpy as np
import pytest

from vectorhouse.errors import InvalidArgumentError
from vectorhouse.server.console_routes import matched_terms, metadata_columns, query_terms
from vectorhouse.server.projection import Projection, fit_pca, sample_positions
from vectorhouse.server.read_only import is_read_request


def data(n: int = 200, dim: int = 32, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # two clearly leading directions, then slowly falling variances
    scales = np.concatenate([[6.0, 4.0], np.linspace(2.0, 0.1, dim - 2)])
    return (rng.normal(size=(n, dim)) * scales + 2.0).astype(np.float32)


def svd_components(x: np.ndarray) -> np.ndarray:
    centred = x.astype(np.float64) - x.mean(axis=0)
    return np.linalg.svd(centred, full_matrices=False)[2][:2]


def test_components_match_numpy_svd_up_to_sign() -> None:
    x = data()
    pca = fit_pca(x)
    cos = np.abs(np.sum(pca.components * svd_components(x), axis=1))
    np.testing.assert_allclose(cos, [1.0, 1.0], atol=1e-9)
    assert pca.explained[0] > pca.explained[1] > 0


def test_the_randomized_path_for_wide_vectors_finds_the_same_components() -> None:
    x = data(n=300, dim=64)
    exact = fit_pca(x)
    randomized = fit_pca(x, exact_max_dim=16)
    np.testing.assert_allclose(randomized.components, exact.components, atol=1e-4)
    np.testing.assert_allclose(randomized.explained, exact.explained, rtol=1e-6)


def test_the_same_data_in_another_order_gives_the_same_map() -> None:
    x = data()
    order = np.random.default_rng(0).permutation(len(x))
    a, b = fit_pca(x), fit_pca(x[order])
    np.testing.assert_allclose(a.components, b.components, atol=1e-9)
    np.testing.assert_allclose(a.transform(x)[order], b.transform(x[order]), atol=1e-9)
    for row in a.components:  # oriented: the largest coordinate is positive
        assert row[np.argmax(np.abs(row))] > 0


def test_normalize_projects_unit_vectors_so_scale_does_not_move_a_point() -> None:
    x = data()
    pca = fit_pca(x, normalize=True)
    np.testing.assert_allclose(pca.transform(x[:5] * 7.5), pca.transform(x[:5]), atol=1e-6)
    assert not fit_pca(x).normalize


@pytest.mark.parametrize(
    "vectors",
    [[[1.0]], [[1.0], [3.0]], [[2.0, 2.0]], [[1.0, 1.0, 1.0]] * 4, [[0.0, 0.0]] * 3],
    ids=["one-1d", "two-1d", "one-point", "identical", "zeros"],
)
def test_degenerate_samples_give_finite_points(vectors: list[list[float]]) -> None:
    pca = fit_pca(vectors, normalize=True)
    xy = pca.transform(vectors)
    assert xy.shape == (len(vectors), 2)
    assert np.isfinite(xy).all()
    assert np.isfinite(pca.explained).all()


def test_an_empty_or_flat_input_is_an_argument_error() -> None:
    for bad in ([], [1.0, 2.0], [[]]):
        with pytest.raises(InvalidArgumentError, match="PCA needs"):
            fit_pca(bad)


def test_a_projection_round_trips_through_json() -> None:
    x = data(n=50, dim=8)
    pca = fit_pca(x, normalize=True)
    back = Projection.from_json(pca.to_json())
    assert back.normalize is True
    np.testing.assert_allclose(back.transform(x), pca.transform(x))


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        {"mean": [], "components": [[], []]},
        {"mean": [0.0, 0.0], "components": [[1.0, 0.0]]},
        {"mean": [0.0, 0.0], "components": [[1.0, 0.0], [0.0]]},
        {"mean": [0.0, "x"], "components": [[1.0, 0.0], [0.0, 1.0]]},
        {"mean": [0.0, float("nan")], "components": [[1.0, 0.0], [0.0, 1.0]]},
        {"mean": [0.0, 1e400], "components": [[1.0, 0.0], [0.0, 1.0]]},
        {"mean": [[0.0, 0.0]], "components": [[1.0, 0.0], [0.0, 1.0]]},
        {"mean": [0.0], "components": [[1.0], [0.0]], "normalize": "yes"},
        {"mean": [0.0], "components": {"a": 1}},
    ],
)
def test_a_malformed_projection_is_an_argument_error(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="projection"):
        Projection.from_json(value)


def test_projecting_vectors_of_another_dimension_is_an_argument_error() -> None:
    pca = fit_pca(data(n=10, dim=4))
    with pytest.raises(InvalidArgumentError, match="4-d projection"):
        pca.transform(np.zeros((1, 5)))


def test_sample_positions_are_unique_sorted_and_seeded() -> None:
    a = sample_positions(100_000, 20_000, seed=5)
    assert len(a) == len(set(a.tolist())) == 20_000
    assert (np.diff(a) > 0).all() and a[0] >= 0 and a[-1] < 100_000
    assert (a == sample_positions(100_000, 20_000, seed=5)).all()
    assert not (a == sample_positions(100_000, 20_000, seed=6)).all()


def test_query_terms_and_their_matches_ignore_case_and_stop_words() -> None:
    terms = query_terms("Where is the Café? café, CAFÉ and naïve_test")
    assert terms == ["café", "naïve", "test"]
    assert matched_terms(terms, "A CAFÉ owner; a test-pilot") == ["café", "test"]
    assert matched_terms(terms, "unnaïve contest") == []
    assert matched_terms(["a.b"], "a.b and axb") == ["a.b"]
    assert matched_terms(["x"], None) == []


def test_metadata_columns_keep_the_most_common_keys_first() -> None:
    columns = metadata_columns([{"b": 1, "a": True}, {"a": False}, {"c": [1, 2]}])
    assert list(columns) == ["a", "b", "c"]
    assert columns == {"a": [True, False, None], "b": [1, None, None], "c": [None, None, "1, 2"]}


@pytest.mark.parametrize(
    ("method", "path", "reads"),
    [
        ("GET", "/", True),
        ("HEAD", "/console/static/console.js", True),
        ("OPTIONS", "/api/v2/tenants/t/databases/d/collections/c/add", True),
        ("POST", "/api/v2/tenants/t/databases/d/collections/c/get", True),
        ("POST", "/api/v2/tenants/t/databases/d/collections/c/query", True),
        ("POST", "/v1/embeddings", True),
        ("POST", "/console/api/collections/c/map", True),
        ("POST", "/api/v2/tenants/t/databases/d/collections/c/add", False),
        ("POST", "/api/v2/tenants/t/databases/d/collections/c/upsert", False),
        ("POST", "/api/v2/tenants/t/databases/d/collections/c/update", False),
        ("POST", "/api/v2/tenants/t/databases/d/collections/c/delete", False),
        ("POST", "/api/v2/tenants/t/databases/d/collections", False),
        ("POST", "/api/v2/tenants/t/databases/d/collections/c/get/x", False),
        ("POST", "/api/v2/reset", False),
        ("POST", "/v1/other", False),
        ("PUT", "/api/v2/tenants/t/databases/d/collections/c", False),
        ("DELETE", "/api/v2/tenants/t/databases/d/collections/c", False),
        ("PATCH", "/console/api/collections/c/map", False),
    ],
)
def test_read_only_lets_through_only_the_listed_reads(method: str, path: str, reads: bool) -> None:
    assert is_read_request(method, path) is reads
