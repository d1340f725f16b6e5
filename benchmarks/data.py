"""Seeded synthetic benchmark data and its exact ground truth, cached as .npy files.

The data set: ``n`` unit vectors of dimension ``dim`` drawn around ``n_clusters`` Gaussian
cluster centres, and ``n_queries`` held-out queries drawn the same way. Each record has
the id ``r<i>``, the metadata ``{"cluster": int, "even": i % 2 == 0}`` and a short
document (:func:`document`). Ground truth is exact: the top-10 by inner product (the
same order as L2 and cosine for unit vectors), for the whole set and for each filter
(:data:`FILTERS`), plus the whole set less a seeded 10% that the delete benchmark removes.

Run it directly to build (or check) a cache folder and print its summary::

    .venv/bin/python benchmarks/data.py --n 20000 --queries 200

Only numpy and the standard library are used, so the chroma venv can import it too.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
FORMAT_VERSION = 1
K = 10
GEN_CHUNK = 100_000
"""Rows generated per random stream; fixed so a data set does not depend on memory."""
GT_CHUNK = 50_000
"""Training rows scored per step of the exact search."""

FILTERS = ("even", "clus10", "clus1")
"""Filtered-query scenarios: even==True (50%), whole clusters (~10%), whole clusters (~1%)."""
FILTER_TARGET_FRACTION = {"even": 0.5, "clus10": 0.10, "clus1": 0.01}

_WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
)  # fmt: skip


@dataclass(frozen=True)
class DataSpec:
    """What defines a synthetic data set; its cache folder is named from these fields."""

    n: int
    n_queries: int = 1_000
    dim: int = 384
    n_clusters: int = 2_000
    noise: float = 1.0
    """Norm of the Gaussian offset from a (unit) centre, before normalising."""
    delete_fraction: float = 0.10
    seed: int = 20_250_101

    @property
    def name(self) -> str:
        return (
            f"synth-n{self.n}-q{self.n_queries}-d{self.dim}-c{self.n_clusters}"
            f"-z{self.noise:g}-s{self.seed}-v{FORMAT_VERSION}"
        )


def record_id(i: int) -> str:
    """The id of record ``i``."""
    return f"r{i}"


def record_index(record_id_: str) -> int:
    """The row of a record id made by :func:`record_id`."""
    return int(record_id_[1:])


def document(i: int, cluster: int) -> str:
    """A short deterministic document for record ``i``."""
    a, b, c = (_WORDS[(i * p + cluster) % len(_WORDS)] for p in (7, 13, 31))
    return f"Record {i} of cluster {cluster}: {a} {b} {c}."


def metadata(i: int, cluster: int) -> dict[str, Any]:
    """The metadata of record ``i``."""
    return {"cluster": int(cluster), "even": i % 2 == 0}


def where_clause(name: str, filters: dict[str, Any]) -> dict[str, Any]:
    """The Chroma ``where`` dict of a filter in :data:`FILTERS`."""
    if name == "even":
        return {"even": True}
    return {"cluster": {"$in": [int(c) for c in filters[name]["clusters"]]}}


def read_rows(path: Path, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a 2-D C-order .npy file, read without memory-mapping it.

    Plain reads keep the file's pages out of the process's RSS, which is measured.
    """
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        assert not fortran and len(shape) == 2
        stop = min(stop, shape[0])
        f.seek(f.tell() + start * shape[1] * dtype.itemsize)
        flat = np.fromfile(f, dtype=dtype, count=max(stop - start, 0) * shape[1])
    return flat.reshape(-1, shape[1])


def _unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _around(centres: np.ndarray, labels: np.ndarray, noise: float, rng: Any) -> np.ndarray:
    dim = centres.shape[1]
    x = rng.standard_normal((len(labels), dim), dtype=np.float32)
    x *= np.float32(noise / np.sqrt(dim))
    x += centres[labels]
    return _unit(x)


def _choose_clusters(counts: np.ndarray, fraction: float, rng: Any) -> list[int]:
    """Whole clusters, in seeded random order, until they hold ``fraction`` of the rows."""
    target = fraction * counts.sum()
    chosen: list[int] = []
    total = 0
    for c in rng.permutation(len(counts)):
        if total >= target:
            break
        chosen.append(int(c))
        total += int(counts[c])
    return sorted(chosen)


def _merge_topk(
    best_s: np.ndarray, best_i: np.ndarray, scores: np.ndarray, offset: int
) -> tuple[np.ndarray, np.ndarray]:
    k = best_s.shape[1]
    kk = min(k, scores.shape[1])
    part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    cand_s = np.concatenate([best_s, np.take_along_axis(scores, part, axis=1)], axis=1)
    cand_i = np.concatenate([best_i, part + offset], axis=1)
    order = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(cand_s, order, axis=1), np.take_along_axis(cand_i, order, axis=1)


def ensure_dataset(spec: DataSpec, cache_dir: Path = CACHE_DIR, log: Any = print) -> Path:
    """The cache folder of ``spec``, generated first if it is missing or incomplete."""
    folder = cache_dir / spec.name
    if (folder / "info.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    root = np.random.SeedSequence(spec.seed)
    s_centres, s_labels, s_queries, s_filters, s_delete, s_rows = root.spawn(6)

    centres = _unit(np.random.default_rng(s_centres).standard_normal((spec.n_clusters, spec.dim)))
    centres = centres.astype(np.float32)
    labels = np.random.default_rng(s_labels).integers(0, spec.n_clusters, spec.n, dtype=np.int32)
    q_rng = np.random.default_rng(s_queries)
    q_labels = q_rng.integers(0, spec.n_clusters, spec.n_queries, dtype=np.int32)
    queries = _around(centres, q_labels, spec.noise, q_rng)

    train_path = folder / "train.npy"
    train = np.lib.format.open_memmap(
        train_path, mode="w+", dtype=np.float32, shape=(spec.n, spec.dim)
    )
    starts = range(0, spec.n, GEN_CHUNK)
    for start, seed in zip(starts, s_rows.spawn(len(starts)), strict=True):
        stop = min(start + GEN_CHUNK, spec.n)
        rng = np.random.default_rng(seed)
        train[start:stop] = _around(centres, labels[start:stop], spec.noise, rng)
    train.flush()
    del train
    log(f"  generated {spec.n:,} x {spec.dim} vectors in {time.perf_counter() - t0:.1f}s")

    counts = np.bincount(labels, minlength=spec.n_clusters)
    f_rng = np.random.default_rng(s_filters)
    filters: dict[str, Any] = {"even": {"where": {"even": True}}}
    for name in ("clus10", "clus1"):
        filters[name] = {"clusters": _choose_clusters(counts, FILTER_TARGET_FRACTION[name], f_rng)}
    n_delete = round(spec.delete_fraction * spec.n)
    deleted = np.sort(np.random.default_rng(s_delete).choice(spec.n, n_delete, replace=False))

    masks = {
        "all": None,
        "even": np.arange(spec.n) % 2 == 0,
        "clus10": np.isin(labels, filters["clus10"]["clusters"]),
        "clus1": np.isin(labels, filters["clus1"]["clusters"]),
        "alive": ~np.isin(np.arange(spec.n), deleted),
    }
    for name in FILTERS:
        mask = masks[name]
        assert mask is not None
        filters[name]["pass_fraction"] = float(mask.mean())
        filters[name]["where"] = where_clause(name, filters)

    t1 = time.perf_counter()
    best = {
        m: (np.full((spec.n_queries, K), -np.inf, np.float32), np.zeros((spec.n_queries, K), int))
        for m in masks
    }
    for start in range(0, spec.n, GT_CHUNK):
        block = read_rows(train_path, start, start + GT_CHUNK)
        scores = queries @ block.T
        for name, mask in masks.items():
            s = (
                scores
                if mask is None
                else np.where(mask[start : start + len(block)], scores, -np.inf)
            )
            best[name] = _merge_topk(*best[name], s, start)
    for name, (_, idx) in best.items():
        np.save(folder / f"gt_{name}.npy", idx.astype(np.int64))
    log(f"  exact ground truth for {len(masks)} sets in {time.perf_counter() - t1:.1f}s")

    np.save(folder / "labels.npy", labels)
    np.save(folder / "queries.npy", queries)
    np.save(folder / "query_labels.npy", q_labels)
    np.save(folder / "deleted.npy", deleted.astype(np.int64))
    info = {
        "spec": asdict(spec),
        "name": spec.name,
        "k": K,
        "filters": filters,
        "deleted": int(n_delete),
        "generate_s": round(time.perf_counter() - t0, 2),
    }
    # info.json last: its presence marks a complete cache folder.
    (folder / "info.json").write_text(json.dumps(info, indent=1))
    return folder


def load_info(folder: Path) -> dict[str, Any]:
    """The ``info.json`` of a cache folder."""
    info: dict[str, Any] = json.loads((folder / "info.json").read_text())
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--clusters", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=DataSpec.seed)
    args = parser.parse_args()
    spec = DataSpec(n=args.n, n_queries=args.queries, n_clusters=args.clusters, seed=args.seed)
    folder = ensure_dataset(spec)
    info = load_info(folder)
    print(folder)
    for name in FILTERS:
        print(f"  {name}: {info['filters'][name]['pass_fraction']:.4f} of records pass")


if __name__ == "__main__":
    main()
