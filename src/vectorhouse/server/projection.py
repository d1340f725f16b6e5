"""A 2-D map of embeddings: principal component analysis with numpy, for the console.

The console draws a collection's vectors as points on a plane: the projection onto the
two directions of largest variance of a sample of them. The fitted projection (mean,
two components) travels to the browser and back, so a query's vector lands on the same
map as the records it was searched against.

    >>> import numpy as np
    >>> vectors = np.array([[0.0, 0.0, 1.0], [2.0, 0.0, 1.0], [4.0, 0.0, 1.0]], np.float32)
    >>> pca = fit_pca(vectors)
    >>> pca.transform(vectors)[:, 0].tolist()
    [-2.0, 0.0, 2.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vectorhouse.errors import InvalidArgumentError

EXACT_MAX_DIM = 1024
"""Up to this dimension the components come from the exact covariance matrix; above
it, from a seeded randomized subspace iteration (a 3,072-d covariance would cost more
than the whole map is worth)."""

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Projection:
    """A fitted 2-D principal component projection.

    >>> p = Projection(np.zeros(2), np.eye(2), normalize=False, explained=(0.5, 0.5))
    >>> p.transform(np.array([[3.0, 4.0]])).tolist()
    [[3.0, 4.0]]
    """

    mean: Floats
    """The mean of the (normalised, when ``normalize``) sample, shape ``(d,)``."""
    components: Floats
    """Two unit directions, shape ``(2, d)``; the second is zero when ``d == 1``."""
    normalize: bool
    """Scale vectors to unit length before projecting (cosine collections)."""
    explained: tuple[float, float]
    """The fraction of the sample's variance along each component."""

    @property
    def dimension(self) -> int:
        """The dimension of the vectors it projects."""
        return int(self.mean.shape[0])

    def transform(self, vectors: npt.ArrayLike) -> Floats:
        """The 2-D coordinates of ``vectors`` (shape ``(n, d)``), shape ``(n, 2)``.

        >>> p = Projection(np.ones(2), np.eye(2), normalize=True, explained=(1.0, 0.0))
        >>> p.transform([[3.0, 4.0]]).round(2).tolist()
        [[-0.4, -0.2]]
        """
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dimension:
            raise InvalidArgumentError(
                f"cannot project vectors of shape {x.shape} with a {self.dimension}-d projection"
            )
        if self.normalize:
            x = _unit_rows(x)
        out: Floats = (x - self.mean) @ self.components.T
        return out

    def to_json(self) -> dict[str, Any]:
        """The projection as JSON-ready data (what :meth:`from_json` reads back).

        >>> Projection(np.zeros(1), np.array([[1.0], [0.0]]), False, (1.0, 0.0)).to_json()
        {'mean': [0.0], 'components': [[1.0], [0.0]], 'normalize': False, 'explained': [1.0, 0.0]}
        """
        return {
            "mean": self.mean.tolist(),
            "components": self.components.tolist(),
            "normalize": self.normalize,
            "explained": list(self.explained),
        }

    @classmethod
    def from_json(cls, value: Any) -> Projection:
        """A projection sent back by a client; anything malformed raises
        :class:`~vectorhouse.errors.InvalidArgumentError`.

        >>> Projection.from_json({"mean": [0.0], "components": [[1.0], [0.0]]}).dimension
        1
        >>> Projection.from_json({"mean": [0.0]})
        Traceback (most recent call last):
        ...
        vectorhouse.errors.InvalidArgumentError: projection.components must be 2 lists of 1 numbers
        """
        if not isinstance(value, Mapping):
            raise InvalidArgumentError("projection must be an object with mean and components")
        mean = _finite_array(value.get("mean"), "projection.mean")
        if mean.ndim != 1 or mean.shape[0] == 0:
            raise InvalidArgumentError("projection.mean must be a non-empty list of numbers")
        d = mean.shape[0]
        problem = f"projection.components must be 2 lists of {d} numbers"
        raw = value.get("components")
        if not isinstance(raw, list) or len(raw) != 2:
            raise InvalidArgumentError(problem)
        components = _finite_array(raw, "projection.components")
        if components.shape != (2, d):
            raise InvalidArgumentError(problem)
        normalize = value.get("normalize", False)
        if not isinstance(normalize, bool):
            raise InvalidArgumentError("projection.normalize must be true or false")
        return cls(mean, components, normalize, (math.nan, math.nan))


def _finite_array(value: Any, what: str) -> Floats:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidArgumentError(f"{what} must hold numbers only") from exc
    if arr.dtype != np.float64 or not np.isfinite(arr).all():
        raise InvalidArgumentError(f"{what} must hold finite numbers only")
    return arr


def _unit_rows(x: Floats) -> Floats:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: Floats = x / np.where(norms > 0, norms, 1.0)
    return out


def _orient(components: Floats) -> Floats:
    """Flip each component so that its largest coordinate (by size) is positive: the
    same data gives the same picture every time."""
    for row in components:
        if row.any() and row[np.argmax(np.abs(row))] < 0:
            row *= -1.0
    return components


def _top_two_exact(centred: Floats) -> tuple[Floats, Floats]:
    cov = centred.T @ centred
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:2]
    return values[order], vectors[:, order].T


def _top_two_randomized(centred: Floats, seed: int, iterations: int = 6) -> tuple[Floats, Floats]:
    """The two leading right singular vectors by subspace iteration (Halko, Martinsson
    and Tropp 2011, algorithm 4.4), with a fixed seed."""
    rng = np.random.default_rng(seed)
    width = min(12, centred.shape[1])
    basis, _ = np.linalg.qr(centred.T @ rng.standard_normal((centred.shape[0], width)))
    for _ in range(iterations):
        basis, _ = np.linalg.qr(centred.T @ (centred @ basis))
    small = basis.T @ (centred.T @ (centred @ basis))
    values, vectors = np.linalg.eigh(small)
    order = np.argsort(values)[::-1][:2]
    return values[order], (basis @ vectors[:, order]).T


def fit_pca(
    vectors: npt.ArrayLike,
    *,
    normalize: bool = False,
    exact_max_dim: int = EXACT_MAX_DIM,
    seed: int = 0,
) -> Projection:
    """The 2-D principal component projection of ``vectors`` (shape ``(n, d)``, n >= 1).

    With ``normalize`` the vectors are first scaled to unit length (what cosine distance
    compares). Components are oriented so that the same data always gives the same map.

    >>> pca = fit_pca([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.5], [0.0, -0.5]])
    >>> pca.components.tolist(), [round(e, 2) for e in pca.explained]
    ([[1.0, 0.0], [0.0, 1.0]], [0.8, 0.2])
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise InvalidArgumentError(f"PCA needs a non-empty 2-D array of vectors, got {x.shape}")
    if normalize:
        x = _unit_rows(x)
    mean = x.mean(axis=0)
    centred = x - mean
    d = x.shape[1]
    if d == 1:
        values = np.array([float(centred[:, 0] @ centred[:, 0]), 0.0])
        components = np.array([[1.0], [0.0]])
    elif d <= exact_max_dim:
        values, components = _top_two_exact(centred)
    else:
        values, components = _top_two_randomized(centred, seed)
    components = _orient(np.ascontiguousarray(components, dtype=np.float64))
    total = float((centred * centred).sum())
    explained = (0.0, 0.0)
    if total > 0:
        clipped = np.clip(values, 0.0, None) / total
        explained = (float(clipped[0]), float(clipped[1]))
    return Projection(mean, components, normalize, explained)


def sample_positions(n: int, k: int, seed: int = 0) -> npt.NDArray[np.int64]:
    """Up to ``k`` of the positions ``0..n-1``, drawn without replacement with ``seed``
    and kept in order (all of them when ``n <= k``).

    >>> sample_positions(5, 10).tolist()
    [0, 1, 2, 3, 4]
    >>> len(sample_positions(1000, 10)), sample_positions(1000, 10).tolist() == sorted(
    ...     sample_positions(1000, 10).tolist())
    (10, True)
    """
    if n <= k:
        return np.arange(n, dtype=np.int64)
    chosen = np.random.default_rng(seed).choice(n, size=k, replace=False)
    return np.sort(chosen).astype(np.int64)
