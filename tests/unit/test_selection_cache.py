"""The filter cache keeps blocks of candidate vectors within its byte budget."""

from __future__ import annotations

import numpy as np

from vectorhouse.engine.selection import SelectionCache
from vectorhouse.index.flat import ExactBlock


def _block(n: int) -> ExactBlock:
    rng = np.random.default_rng(n)
    return ExactBlock.build(np.arange(n), rng.standard_normal((n, 8)).astype(np.float32), "l2")


def test_attaching_a_block_over_budget_drops_the_least_recently_used_block() -> None:
    size = _block(10).nbytes
    cache = SelectionCache(max_entries=8, max_block_bytes=2 * size)
    first, second, third = (cache.put(("c", 1, f), np.arange(10)) for f in "abc")
    cache.attach(first, _block(10))
    cache.attach(second, _block(10))
    cache.get(("c", 1, "a"))  # first is now the most recently used
    cache.attach(third, _block(10))
    assert (first.block is not None, second.block is None, third.block is not None) == (
        True,
        True,
        True,
    )
    assert cache.block_bytes == 2 * size


def test_a_block_larger_than_the_whole_budget_is_not_kept() -> None:
    cache = SelectionCache(max_entries=8, max_block_bytes=100)
    sel = cache.put(("c", 1, "a"), np.arange(10))
    cache.attach(sel, _block(10))
    assert sel.block is None and cache.block_bytes == 0


def test_forgetting_a_collection_releases_its_blocks() -> None:
    cache = SelectionCache(max_entries=8, max_block_bytes=1 << 20)
    sel = cache.put(("c", 1, "a"), np.arange(10))
    cache.attach(sel, _block(10))
    cache.forget("c")
    assert cache.block_bytes == 0 and cache.get(("c", 1, "a")) is None
