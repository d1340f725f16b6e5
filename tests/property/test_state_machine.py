"""Random add/upsert/update/delete sequences against an in-memory model of a collection.

The model is an insertion-ordered dict ``id -> Record``: ``get()`` returns records in
storage rowid order, which is the order of first insertion (an upsert or update of an
existing id keeps its place; a deleted id that is added again goes to the end), exactly
the order in which a Python dict keeps its keys. After every step the collection must
hold what the model holds (``count``, ``get`` of every field) and ``query`` must agree,
tie-aware, with exact search over the model. The persistent variant also closes and
reopens the client, or drops it without saving its index (as a crash would), between
steps; its index is saved every few changes so that reopening loads a saved graph and
replays the writes after it.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import vectorhouse
from vectorhouse.filters.evaluate import evaluate
from vectorhouse.filters.parse import parse_where, parse_where_document
from vectorhouse.index.flat import exact_search

MAX_DIM = 8
IDS = [f"id{i}" for i in range(24)]
NAME = "state-machine"
MAX_RECORDS = 300
BULK = 80
TOLERANCE = 1e-4

# Coordinates on a half-integer grid: many exact ties and duplicate vectors, and the
# zero vector now and then (cosine distance 1 to everything).
coordinates = st.lists(st.integers(-3, 3), min_size=MAX_DIM, max_size=MAX_DIM)
documents = st.sampled_from(["apple pie", "apricot", "banana", "cherry pie", ""])
meta_values: dict[str, st.SearchStrategy[Any]] = {
    "g": st.sampled_from(["a", "b", "c"]),
    "n": st.integers(0, 4) | st.sampled_from([1.5, 2.5]),
    "f": st.booleans(),
}
new_metadata = st.fixed_dictionaries({}, optional=meta_values)
# In upsert/update a key given as None removes it.
changed_metadata = st.fixed_dictionaries(
    {}, optional={k: st.none() | v for k, v in meta_values.items()}
)
id_batches = st.lists(st.sampled_from(IDS), min_size=1, max_size=6, unique=True)

WHERES: list[dict[str, Any] | None] = [
    None,
    {"g": "a"},
    {"g": {"$ne": "b"}},
    {"n": {"$gte": 2}},
    {"n": {"$lt": 1.5}},
    {"f": True},
    {"$or": [{"g": "c"}, {"n": {"$in": [0, 3]}}]},
    {"$and": [{"g": {"$in": ["a", "b"]}}, {"f": {"$ne": True}}]},
]
WHERE_DOCUMENTS: list[dict[str, Any] | None] = [None, {"$contains": "pie"}, {"$contains": "ap"}]


@dataclass
class Record:
    vector: np.ndarray
    document: str | None
    metadata: dict[str, Any] | None


def _merge(current: dict[str, Any] | None, change: dict[str, Any] | None) -> Any:
    if change is None:
        return current
    merged = dict(current or {})
    for key, value in change.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _matches(record: Record, where: Any, where_document: Any) -> bool:
    return evaluate(parse_where(where), record.metadata, record.document) and evaluate(
        parse_where_document(where_document), record.metadata, record.document
    )


class CollectionMachine(RuleBasedStateMachine):
    """A collection driven by random writes, compared with a dict after every step."""

    def open_client(self) -> vectorhouse.Client:
        return vectorhouse.Client()

    @initialize(
        space=st.sampled_from(["l2", "cosine", "ip"]),
        dim=st.integers(4, MAX_DIM),
        seed=st.integers(0, 2**32 - 1),
    )
    def start(self, space: str, dim: int, seed: int) -> None:
        self.space, self.dim = space, dim
        self.rng = np.random.default_rng(seed)
        self.model: dict[str, Record] = {}
        self.bulk_counter = 0
        self.client = self.open_client()
        self.col = self.client.create_collection(
            NAME, configuration={"hnsw": {"space": space}}, embedding_function=None
        )

    def teardown(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()

    def vectors(self, rows: list[list[int]]) -> np.ndarray:
        return (np.array(rows, dtype=np.float32)[:, : self.dim]) / 2

    # -- writes ---------------------------------------------------------------------

    @rule(
        data=st.data(),
        ids=id_batches,
        with_docs=st.booleans(),
        with_metas=st.booleans(),
    )
    def add(self, data: st.DataObject, ids: list[str], with_docs: bool, with_metas: bool) -> None:
        n = len(ids)
        vecs = self.vectors(data.draw(st.lists(coordinates, min_size=n, max_size=n)))
        docs = (
            data.draw(st.lists(st.none() | documents, min_size=n, max_size=n))
            if with_docs
            else None
        )
        metas = (
            data.draw(st.lists(st.none() | new_metadata, min_size=n, max_size=n))
            if with_metas
            else None
        )
        self.col.add(ids=ids, embeddings=vecs, documents=docs, metadatas=metas)
        for j, rid in enumerate(ids):
            if rid in self.model:
                continue  # as in Chroma: an existing record is kept, the new one skipped
            self.model[rid] = Record(
                vecs[j],
                None if docs is None else docs[j],
                None if metas is None else metas[j],
            )

    @rule(data=st.data(), ids=id_batches, with_docs=st.booleans(), with_metas=st.booleans())
    def upsert(
        self, data: st.DataObject, ids: list[str], with_docs: bool, with_metas: bool
    ) -> None:
        n = len(ids)
        vecs = self.vectors(data.draw(st.lists(coordinates, min_size=n, max_size=n)))
        docs = data.draw(st.lists(documents, min_size=n, max_size=n)) if with_docs else None
        metas = (
            data.draw(st.lists(st.none() | changed_metadata, min_size=n, max_size=n))
            if with_metas
            else None
        )
        self.col.upsert(ids=ids, embeddings=vecs, documents=docs, metadatas=metas)
        self._apply_changes(ids, vecs, docs, metas, insert_missing=True)

    @rule(
        data=st.data(),
        ids=id_batches,
        fields=st.sets(st.sampled_from(["embeddings", "documents", "metadatas"]), min_size=1),
    )
    def update(self, data: st.DataObject, ids: list[str], fields: set[str]) -> None:
        n = len(ids)
        vecs = docs = metas = None
        # Without an embedding function new documents need new embeddings (as in Chroma).
        if fields & {"embeddings", "documents"}:
            vecs = self.vectors(data.draw(st.lists(coordinates, min_size=n, max_size=n)))
        if "documents" in fields:
            docs = data.draw(st.lists(documents, min_size=n, max_size=n))
        if "metadatas" in fields:
            metas = data.draw(st.lists(st.none() | changed_metadata, min_size=n, max_size=n))
        self.col.update(ids=ids, embeddings=vecs, documents=docs, metadatas=metas)
        self._apply_changes(ids, vecs, docs, metas, insert_missing=False)

    def _apply_changes(
        self,
        ids: list[str],
        vecs: np.ndarray | None,
        docs: list[str] | None,
        metas: list[dict[str, Any] | None] | None,
        *,
        insert_missing: bool,
    ) -> None:
        for j, rid in enumerate(ids):
            old = self.model.get(rid)
            meta = None if metas is None else metas[j]
            if old is None:
                if insert_missing:
                    assert vecs is not None
                    self.model[rid] = Record(
                        vecs[j], None if docs is None else docs[j], _merge(None, meta)
                    )
                continue
            if vecs is not None:
                old.vector = vecs[j]
            if docs is not None:
                old.document = docs[j]
            old.metadata = _merge(old.metadata, meta)

    @precondition(lambda self: len(self.model) < MAX_RECORDS - BULK)
    @rule(n=st.integers(1, BULK))
    def bulk_add(self, n: int) -> None:
        # Grows the collection towards a few hundred records, so that queries go
        # through the HNSW graph with many nodes, not just a handful.
        ids = [f"bulk{self.bulk_counter + i}" for i in range(n)]
        self.bulk_counter += n
        vecs = (self.rng.integers(-3, 4, (n, self.dim)) / 2).astype(np.float32)
        metas = [{"g": "abc"[i % 3], "n": i % 5} for i in range(n)]
        self.col.add(ids=ids, embeddings=vecs, metadatas=metas)
        for rid, vec, meta in zip(ids, vecs, metas, strict=True):
            self.model[rid] = Record(vec, None, meta)

    @precondition(lambda self: len(self.model) > 0)
    @rule(share=st.floats(0.05, 0.5))
    def bulk_upsert_new_vectors(self, share: float) -> None:
        # Many in-place vector replacements (hnswlib's updatePoint) at once.
        existing = list(self.model)
        chosen = self.rng.choice(len(existing), max(1, int(share * len(existing))), replace=False)
        ids = [existing[i] for i in sorted(chosen)]
        vecs = (self.rng.integers(-3, 4, (len(ids), self.dim)) / 2).astype(np.float32)
        self.col.upsert(ids=ids, embeddings=vecs)
        for rid, vec in zip(ids, vecs, strict=True):
            self.model[rid].vector = vec

    @rule(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=8, unique=True))
    def delete_by_ids(self, ids: list[str]) -> None:
        present = [i for i in ids if i in self.model]
        assert self.col.delete(ids=ids) == {"deleted": len(present)}
        for rid in present:
            del self.model[rid]

    @rule(
        where=st.sampled_from(WHERES[1:]),
        where_document=st.sampled_from(WHERE_DOCUMENTS),
        ids=st.none() | st.lists(st.sampled_from(IDS), min_size=1, max_size=8, unique=True),
    )
    def delete_by_filter(self, where: Any, where_document: Any, ids: list[str] | None) -> None:
        gone = [
            rid
            for rid, rec in self.model.items()
            if (ids is None or rid in ids) and _matches(rec, where, where_document)
        ]
        got = self.col.delete(ids=ids, where=where, where_document=where_document)
        assert got == {"deleted": len(gone)}
        for rid in gone:
            del self.model[rid]

    # -- reads beyond the invariants -------------------------------------------------

    @rule(
        where=st.sampled_from(WHERES),
        where_document=st.sampled_from(WHERE_DOCUMENTS),
        limit=st.none() | st.integers(0, 6),
        offset=st.none() | st.integers(0, 6),
    )
    def get_filtered_page(
        self, where: Any, where_document: Any, limit: int | None, offset: int | None
    ) -> None:
        want = [rid for rid, rec in self.model.items() if _matches(rec, where, where_document)]
        start = offset or 0
        want = want[start:] if limit is None else want[start : start + limit]
        got = self.col.get(
            where=where, where_document=where_document, limit=limit, offset=offset, include=[]
        )
        assert got["ids"] == want

    @rule(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=8, unique=True))
    def get_by_ids_in_insertion_order(self, ids: list[str]) -> None:
        got = self.col.get(ids=ids, include=["documents"])
        assert got["ids"] == [i for i in self.model if i in ids]  # as Chroma
        assert got["documents"] == [self.model[i].document for i in got["ids"]]

    # -- invariants -----------------------------------------------------------------

    @invariant()
    def count_and_contents_match(self) -> None:
        if not hasattr(self, "col"):
            return
        assert self.col.count() == len(self.model)
        got = self.col.get(include=["embeddings", "documents", "metadatas"])
        assert got["ids"] == list(self.model)
        assert got["documents"] == [r.document for r in self.model.values()]
        assert got["metadatas"] == [r.metadata for r in self.model.values()]
        want = (
            np.stack([r.vector for r in self.model.values()])
            if self.model
            else np.zeros((0, 0), np.float32)
        )
        assert got["embeddings"] is not None
        if self.model:
            np.testing.assert_array_equal(got["embeddings"], want)
        else:
            assert len(got["embeddings"]) == 0

    @invariant()
    def query_agrees_with_exact_search(self) -> None:
        if not hasattr(self, "col"):
            return
        plain = (None, None)
        filtered = (
            WHERES[self.rng.integers(1, len(WHERES))],
            WHERE_DOCUMENTS[self.rng.integers(3)],
        )
        for where, where_document in (plain, filtered):
            self._check_query(where, where_document)

    def _check_query(self, where: Any, where_document: Any) -> None:
        if self.model and self.rng.random() < 0.5:
            query = list(self.model.values())[self.rng.integers(len(self.model))].vector
        else:
            query = (self.rng.integers(-3, 4, self.dim) / 2).astype(np.float32)
        n_results = int(self.rng.integers(1, 11))
        got = self.col.query(
            query_embeddings=[query],
            n_results=n_results,
            where=where,
            where_document=where_document,
            include=["distances", "documents", "metadatas"],
        )
        ids, dists = got["ids"][0], got["distances"][0]
        candidates = [
            (rid, rec) for rid, rec in self.model.items() if _matches(rec, where, where_document)
        ]
        context = f"query={query.tolist()} n={n_results} where={where} doc={where_document}"
        if not candidates:
            assert ids == [] and dists == [], context
            return
        vectors = np.stack([rec.vector for _, rec in candidates])
        labels = np.arange(len(candidates), dtype=np.int64)
        exact = exact_search(query[None, :], vectors, labels, len(candidates), self.space)
        true_distance = {
            candidates[int(lab)][0]: float(d)
            for lab, d in zip(exact.labels[0], exact.distances[0], strict=True)
        }
        k = min(n_results, len(candidates))
        kth = float(exact.distances[0][k - 1])
        assert len(ids) == k and len(set(ids)) == k, context
        assert all(a <= b for a, b in itertools.pairwise(dists)), context
        np.testing.assert_allclose(dists, exact.distances[0][:k], atol=TOLERANCE, err_msg=context)
        for rid, dist in zip(ids, dists, strict=True):
            assert rid in true_distance, f"{rid} does not exist or match the filter; {context}"
            assert abs(true_distance[rid] - dist) <= TOLERANCE, context
            assert true_distance[rid] <= kth + TOLERANCE, f"{rid} is not in the top {k}; {context}"
        assert got["documents"][0] == [self.model[i].document for i in ids]
        assert got["metadatas"][0] == [self.model[i].metadata for i in ids]


class PersistentCollectionMachine(CollectionMachine):
    """The same, on disk, with reopening and crash-like abandoning of the client."""

    client_settings = vectorhouse.Settings(index_save_every=5)

    def open_client(self) -> vectorhouse.Client:
        if not hasattr(self, "path"):
            self.path = Path(tempfile.mkdtemp(prefix="vh-state-"))
        return vectorhouse.PersistentClient(path=self.path, settings=self.client_settings)

    def teardown(self) -> None:
        super().teardown()
        if hasattr(self, "path"):
            shutil.rmtree(self.path, ignore_errors=True)

    @rule()
    def reopen(self) -> None:
        self.client.close()
        self.client = self.open_client()
        self.col = self.client.get_collection(NAME)

    @rule()
    def reopen_after_crash(self) -> None:
        # What a killed process leaves: committed rows, index files of the last save.
        engine = self.client._engine
        engine._indexes.clear()
        engine.close()
        self.client = self.open_client()
        self.col = self.client.get_collection(NAME)


STATE_MACHINE_SETTINGS = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
)

TestInMemoryCollection = CollectionMachine.TestCase
TestInMemoryCollection.settings = STATE_MACHINE_SETTINGS
TestPersistentCollection = PersistentCollectionMachine.TestCase
TestPersistentCollection.settings = STATE_MACHINE_SETTINGS
