"""Fusion of dense and lexical lists: the vectorised sums and ordering give exactly what
adding up each record's contributions one by one gives."""

from __future__ import annotations

import numpy as np
import pytest

from vectorhouse.engine.hybrid import Ranked, _normalised, fuse_rrf, fuse_weighted


def _by_hand(contributions: list[list[tuple[int, float]]]) -> tuple[list[int], list[float]]:
    """Running sums per label in list order, best first, ties by smaller label."""
    total: dict[int, float] = {}
    for contribution in contributions:
        for label, value in contribution:
            total[label] = total.get(label, 0.0) + value
    order = sorted(total.items(), key=lambda item: (-item[1], item[0]))
    return [x for x, _ in order], [-s for _, s in order]


def _lists(rng: np.random.Generator, ties: bool) -> tuple[Ranked, Ranked]:
    """A dense and a lexical list over overlapping labels, best first."""
    pool = rng.choice(400, size=120, replace=False)
    dense_ids = rng.choice(pool, size=int(rng.integers(0, 60)), replace=False)
    lex_ids = rng.choice(pool, size=int(rng.integers(0, 60)), replace=False)
    if ties:  # few distinct values: equal scores, equal fused sums
        dense = np.sort(rng.integers(0, 3, len(dense_ids)) / 4.0)
        lex = np.sort(-rng.integers(0, 3, len(lex_ids)).astype(np.float64))
    else:
        dense = np.sort(rng.random(len(dense_ids)))
        lex = np.sort(-rng.random(len(lex_ids)) * 12)
    return (dense_ids.astype(np.int64), dense), (lex_ids.astype(np.int64), lex)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("weight", [0.0, 0.5, 0.6, 0.7, 1.0])
def test_weighted_fusion_equals_summing_each_records_contributions(
    ties: bool, weight: float
) -> None:
    rng = np.random.default_rng(15)
    for _ in range(200):
        dense, lex = _lists(rng, ties)
        expected = _by_hand(
            [
                [(x, w * s) for x, s in zip(ids.tolist(), _normalised(sc).tolist(), strict=True)]
                for (ids, sc), w in ((dense, weight), (lex, 1.0 - weight))
            ]
        )
        labels, scores = fuse_weighted(dense, lex, weight)
        assert (labels.tolist(), scores.tolist()) == expected
        assert labels.dtype == np.int64 and scores.dtype == np.float64


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize(("weights", "k"), [((1.0, 1.0), 60), ((1.2, 0.8), 60), ((1.0, 1.0), 1)])
def test_rrf_fusion_equals_summing_each_records_contributions(
    ties: bool, weights: tuple[float, float], k: int
) -> None:
    rng = np.random.default_rng(16)
    for _ in range(200):
        (dense_ids, _), (lex_ids, _) = _lists(rng, ties)
        expected = _by_hand(
            [
                [(x, w / (k + rank)) for rank, x in enumerate(ids.tolist())]
                for ids, w in zip((dense_ids, lex_ids), weights, strict=True)
            ]
        )
        labels, scores = fuse_rrf([dense_ids, lex_ids], list(weights), k)
        assert (labels.tolist(), scores.tolist()) == expected


def test_fusing_two_empty_lists_gives_an_empty_list() -> None:
    empty = (np.zeros(0, np.int64), np.zeros(0, np.float64))
    for labels, scores in (fuse_weighted(empty, empty, 0.6), fuse_rrf([empty[0]] * 2, [1, 1], 60)):
        assert labels.tolist() == [] and scores.tolist() == []
        assert labels.dtype == np.int64 and scores.dtype == np.float64
