"""The end-to-end demo run by `make demo`: store precomputed vectors, then search them.

It builds a persistent database in ./vh_data from 20,000 seeded vectors drawn around
200 cluster centres (each record with a document and metadata), reopens it, and runs
plain, filtered and document-filtered queries, printing what it found and how long
each step took.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

import vectorhouse

PATH = Path("vh_data/demo")
N, DIM, CLUSTERS = 20_000, 384, 200


def main() -> None:
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)
    labels = rng.integers(0, CLUSTERS, N)
    vectors = centres[labels] + 0.3 * rng.standard_normal((N, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    shutil.rmtree(PATH, ignore_errors=True)
    t0 = time.perf_counter()
    with vectorhouse.PersistentClient(path=PATH) as client:
        col = client.create_collection(
            "demo", metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        for start in range(0, N, 5_000):
            stop = start + 5_000
            col.add(
                ids=[f"rec{i}" for i in range(start, stop)],
                embeddings=vectors[start:stop],
                documents=[f"record {i} of cluster {labels[i]}" for i in range(start, stop)],
                metadatas=[
                    {"cluster": int(labels[i]), "even": bool(i % 2 == 0)}
                    for i in range(start, stop)
                ],
            )
    print(f"stored {N:,} vectors of {DIM} dimensions in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    client = vectorhouse.PersistentClient(path=PATH)
    col = client.get_collection("demo")
    query = vectors[123] + 0.02 * rng.standard_normal(DIM).astype(np.float32)
    res = col.query(query_embeddings=[query], n_results=3)
    print(f"reopened and ran the first query in {(time.perf_counter() - t0) * 1000:.0f} ms")
    print("nearest to a noisy copy of rec123:")
    for hit in res.hits[0]:
        print(f"  {hit.id:<9} distance {hit.distance:.3f}  {hit.document!r}")

    cluster = int(labels[123])
    res = col.query(
        query_embeddings=[query],
        n_results=3,
        where={"$and": [{"cluster": cluster}, {"even": False}]},
    )
    print(f"same query, only odd records of cluster {cluster}:")
    for hit in res.hits[0]:
        print(f"  {hit.id:<9} distance {hit.distance:.3f}  {hit.metadata}")

    res = col.query(
        query_embeddings=[query], n_results=2, where_document={"$contains": "record 77"}
    )
    print("same query, only documents containing 'record 77':", res["ids"][0])

    t0 = time.perf_counter()
    for q in vectors[:200]:
        col.query(query_embeddings=[q], n_results=10)
    per_query = (time.perf_counter() - t0) / 200 * 1000
    print(f"200 queries (n_results=10): {per_query:.2f} ms each")
    print(f"{col.count():,} records in {PATH}/")
    client.close()


if __name__ == "__main__":
    main()
