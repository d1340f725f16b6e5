"""The engine: the only code that touches both storage and the index.

Writes go to SQLite in one transaction, then to the in-memory index. Reads run in
parallel with each other and with a write in progress, each on its thread's own SQLite
connection in one snapshot (see :mod:`vectorhouse.engine.locks` for how the snapshot
and the in-memory index are kept in step). A read that finds the index behind its
snapshot (another process wrote) brings it up to date first, then plans:
exact search over a small filtered candidate set (or a repeated filter's cached block of
candidates, see :mod:`vectorhouse.engine.selection`), the HNSW graph otherwise, with an
exact fallback whenever the graph returns fewer results than exist.

Inputs are trusted: ``vectorhouse.api.validation`` checked them.

    >>> import numpy as np
    >>> from vectorhouse.storage.connection import open_connection
    >>> from vectorhouse.storage.store import Store
    >>> engine = Engine(Store(open_connection(":memory:")), index_dir=None)
    >>> col = engine.create_collection("docs", None, {"hnsw": {"space": "l2"}})
    >>> engine.add(col.id, ["a"], np.ones((1, 2), np.float32), [None], [None])
    >>> engine.count(col.id)
    1
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from vectorhouse.config import Settings
from vectorhouse.engine import lexical
from vectorhouse.engine.background import IndexWorker, merge
from vectorhouse.engine.combine import QueryCombiner
from vectorhouse.engine.consistency import graph_problem
from vectorhouse.engine.existing_ids import ids_to_add
from vectorhouse.engine.index_files import ADD_THREADS, Expected, IndexFiles
from vectorhouse.engine.locks import SharedExclusive, WriterLock
from vectorhouse.engine.models import ModelRecords
from vectorhouse.engine.postings import PostingsCache
from vectorhouse.engine.selection import Selection, SelectionCache
from vectorhouse.engine.state import IndexState
from vectorhouse.errors import (
    ClientClosedError,
    CollectionExistsError,
    CollectionNotFoundError,
    DimensionMismatchError,
)
from vectorhouse.index.base import IndexParams, Labels, SearchResult
from vectorhouse.index.flat import ExactBlock, FlatIndex, exact_rank
from vectorhouse.index.graph import GraphIndex
from vectorhouse.storage.store import CollectionRow, RecordRows, Store

log = logging.getLogger("vectorhouse")

_RERANK_EXTRA = 10
"""The graph is asked for ``k + max(k, this)`` candidates, re-ranked in float32."""


def _not_found(name: str) -> str:
    """Chroma's sentence first (callers match on it), then which name was looked up."""
    return f"Collection [{name}] does not exist (no collection is named {name!r})"


Node = Any  # a parsed filter
Metadata = Mapping[str, Any]
T = TypeVar("T")

_READ_TRIES = 3
"""Parallel attempts of a read whose index keeps falling behind its snapshot (other
processes writing) before it runs under the writer's lock."""


class _Stale(Exception):
    """A parallel read found the index of collection ``cid`` behind its snapshot."""

    def __init__(self, cid: str) -> None:
        super().__init__(cid)
        self.cid = cid


@dataclass
class QueryRows:
    """Results of one query: records (nearest first) and their distances."""

    rows: RecordRows
    distances: list[float] = field(default_factory=list)


def index_params(row: CollectionRow) -> IndexParams:
    """The index parameters stored in a collection's configuration.

    >>> row = CollectionRow("c", "n", None, {"hnsw": {"space": "ip"}}, 3, 0)
    >>> index_params(row).space
    'ip'
    """
    hnsw = row.configuration.get("hnsw", {})
    return IndexParams(
        space=hnsw.get("space", "l2"),
        dim=row.dimension or 0,
        M=hnsw.get("max_neighbors", 16),
        ef_construction=hnsw.get("ef_construction", 100),
        ef_search=hnsw.get("ef_search", 100),
    )


def lexical_config(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """A collection's lexical settings (collections made before they existed get the
    defaults).

    >>> lexical_config({"lexical": {"stemming": "porter"}})["stemming"]
    'porter'
    """
    return {**lexical.DEFAULT_CONFIG, **dict(configuration.get("lexical") or {})}


class Engine:
    """Collections and records over one store and (optionally persistent) indexes."""

    supports_lexical = True  # keeps a BM25 table per collection (engine/lexical.py)

    def __init__(
        self, store: Store, index_dir: Path | None, settings: Settings | None = None
    ) -> None:
        self.store = store
        self.settings = settings or Settings()
        self.files = IndexFiles(index_dir, store.database_id()) if index_dir is not None else None
        self._save_warned: set[str] = set()
        self._rw = SharedExclusive()
        self.lock = WriterLock(store.tx.lock, self._rw)
        """One writer at a time; changing the in-memory index also excludes readers."""
        store.tx.before_commit = self._before_commit
        self._reads = threading.local()  # .mode: None, "parallel" or "locked"
        self._lazy = threading.Lock()  # parallel readers making a collection's exact copy
        self._combiner = QueryCombiner(self._combined_query)
        self._indexes: dict[str, IndexState] = {}
        self._selections = SelectionCache(
            max_entries=32, max_block_bytes=self.settings.exact_cache_max_bytes
        )
        self.term_counts = lexical.TermCounts()  # BM25 query terms' document counts
        self.lexical_ready: set[str] = set()  # collections whose BM25 table exists
        self.postings = (
            PostingsCache(
                store.path,
                min_documents=self.settings.lexical_postings_min_documents,
                max_bytes=self.settings.lexical_postings_max_bytes,
                busy_timeout_s=self.settings.busy_timeout_s,
            )
            if store.path is not None
            else None
        )
        self.closed = False
        self.models = ModelRecords(self)
        self._worker = IndexWorker(self)

    # -- lifecycle ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ClientClosedError("this client was closed; open a new one")

    def _before_commit(self) -> None:
        # A writer's commit and its index update happen while no read runs.
        if self.lock.held():
            self._rw.acquire_exclusive()

    def _exclusive(self) -> None:
        """Inside the writer's lock: exclude readers too, before changing index state."""
        assert self.lock.held() and self._read_mode() != "parallel"
        self._rw.acquire_exclusive()

    def _read_mode(self) -> str | None:
        """How this thread is reading now: None (not), "parallel" or "locked"."""
        mode: str | None = getattr(self._reads, "mode", None)
        return mode

    def _read(self, fn: Callable[[], T], *, index: bool = False) -> T:
        """Run ``fn`` in one snapshot: in parallel with other reads and with a write in
        progress, on this thread's read connection, when the database is a file; under
        the writer's lock otherwise (an in-memory database, or a thread that is the
        writer). ``index``: ``fn`` uses the in-memory index (:meth:`_read_state`).
        Nested reads join the outer one's snapshot."""
        local = self._reads
        if self._read_mode() is not None:
            return fn()
        if self.store.parallel_reads and not self.lock.held():
            for _ in range(_READ_TRIES):
                try:
                    with self._rw.shared():
                        self._check_open()
                        local.mode = "parallel"
                        try:
                            with self.store.reading():
                                return fn()
                        finally:
                            local.mode = None
                except _Stale as stale:
                    self._sync_collection(stale.cid)
        with self.lock:
            if index:
                self._exclusive()
            self._check_open()
            local.mode = "locked"
            try:
                with self.store.tx.snapshot():
                    return fn()
            finally:
                local.mode = None

    def _sync_collection(self, cid: str) -> None:
        """Bring a collection's in-memory index up to the latest commit."""
        with self.lock:
            self._exclusive()
            self._check_open()
            with self.store.tx.snapshot():
                row = self.store.collection_by_id(cid)
                if row is not None:
                    self._synced_state(row)

    def _read_state(self, row: CollectionRow) -> IndexState | None:
        """Inside :meth:`_read` (``index=True``): the collection's index, which reflects
        exactly the snapshot being read. A parallel read only uses it as it is; when it
        is missing or behind, the read starts again after :meth:`_sync_collection`."""
        if self._read_mode() != "parallel":
            return self._synced_state(row)
        if row.dimension is None:
            return None
        state = self._indexes.get(row.id)
        if (
            state is None
            or state.from_file
            or state.synced != row.last_seq
            or state.index.params != index_params(row)
        ):
            raise _Stale(row.id)
        if state.index.deleted_fraction > self.settings.index_rebuild_deleted_fraction:
            if not self.settings.index_background:
                raise _Stale(row.id)
            self._worker.wake()
        return state

    def flush(self) -> None:
        """Save every index that has unsaved changes (persistent databases only)."""
        with self.lock:
            self._exclusive()
            for cid in list(self._indexes):
                self._save(cid)

    def close(self) -> None:
        """Finish inserting this process's writes into the graphs, save indexes and close
        the database. Closing twice is harmless."""
        self._worker.stop()
        if self.postings is not None:
            self.postings.close()
        with self.lock:
            self._exclusive()  # reads in progress finish first
            if self.closed:
                return
            try:
                for state in self._indexes.values():
                    if state.wrote and state.tail is not None:
                        state.drain()
                self.flush()
            finally:
                self.closed = True
                for state in self._indexes.values():
                    state.index.close()
                self._indexes.clear()
                self.store.close()

    # -- collections ----------------------------------------------------------------

    def create_collection(
        self,
        name: str,
        metadata: Metadata | None,
        configuration: Mapping[str, Any],
        *,
        get_or_create: bool = False,
    ) -> CollectionRow:
        """Create a collection, or return the existing one when ``get_or_create``."""
        with self.lock:
            self._check_open()
            with self.store.tx.atomic():
                existing = self.store.collection_by_name(name)
                if existing is not None:
                    if get_or_create:
                        return existing
                    raise CollectionExistsError(f"collection {name!r} already exists")
                cid = str(uuid.uuid4())
                self.store.create_collection(
                    cid, name, metadata, configuration, self.store.next_seq()
                )
                lexical.create(self.store.conn, cid, lexical_config(configuration))
                row = self.store.collection_by_id(cid)
            assert row is not None
            return row

    def get_collection(self, name: str) -> CollectionRow:
        """The collection called ``name``; raises ``CollectionNotFoundError``."""

        def read() -> CollectionRow:
            row = self.store.collection_by_name(name)
            if row is None:
                raise CollectionNotFoundError(_not_found(name))
            return row

        return self._read(read)

    def collection_by_id(self, cid: str) -> CollectionRow:
        """The collection with id ``cid``; raises ``CollectionNotFoundError``."""
        return self._read(lambda: self._collection(cid))

    def _collection(self, cid: str) -> CollectionRow:
        row = self.store.collection_by_id(cid)
        if row is None:
            raise CollectionNotFoundError(f"Collection [{cid}] does not exist (it was deleted)")
        return row

    def list_collections(self, limit: int | None = None, offset: int = 0) -> list[str]:
        """Collection names, oldest first."""
        return self._read(lambda: self.store.collection_names(limit, offset))

    def count_collections(self) -> int:
        """How many collections exist."""
        return self._read(self.store.count_collections)

    def delete_collection(self, name: str) -> None:
        """Delete a collection, its records and its index files."""
        with self.lock:
            self._check_open()
            with self.store.tx.atomic():
                row = self.store.collection_by_name(name)
                if row is None:
                    raise CollectionNotFoundError(_not_found(name))
                lexical.drop(self.store.conn, row.id)
                self.store.delete_collection(row.id)
            self.lexical_ready.discard(row.id)
            self._indexes.pop(row.id, None)
            self._selections.forget(row.id)
            if self.files is not None:
                self.files.remove_all(row.id)

    def modify_collection(
        self,
        cid: str,
        *,
        name: str | None = None,
        metadata: Metadata | None = None,
        configuration: Mapping[str, Any] | None = None,
    ) -> CollectionRow:
        """Rename a collection and/or replace its metadata or configuration."""
        with self.lock:
            self._check_open()
            with self.store.tx.atomic():
                row = self.collection_by_id(cid)
                taken = name is not None and name != row.name
                if taken and self.store.collection_by_name(str(name)) is not None:
                    raise CollectionExistsError(f"collection {name!r} already exists")
                self.store.update_collection(
                    cid,
                    seq=self.store.next_seq(),
                    name=name,
                    metadata=metadata,
                    configuration=configuration,
                )
            return self.collection_by_id(cid)

    def reset(self) -> None:
        """Delete every collection."""
        with self.lock:
            for name in self.list_collections():
                self.delete_collection(name)

    # -- writes ---------------------------------------------------------------------

    def _begin_write(self, cid: str, dim: int | None) -> tuple[CollectionRow, int]:
        """Inside a transaction: the collection, checked against ``dim``, and a new seq."""
        row = self.collection_by_id(cid)
        seq = self.store.next_seq()
        if dim is not None:
            if row.dimension is None:
                self.store.update_collection(cid, seq=seq, dimension=dim)
            elif row.dimension != dim:
                raise DimensionMismatchError(
                    f"collection {row.name!r} holds {row.dimension}-dimensional embeddings;"
                    f" got {dim}-dimensional ones"
                )
        self.store.update_collection(cid, seq=seq)
        return row, seq

    def add(
        self,
        cid: str,
        ids: Sequence[str],
        embeddings: npt.NDArray[np.float32],
        documents: Sequence[str | None],
        metadatas: Sequence[Metadata | None],
        doc_hashes: Sequence[int | None] | None = None,
    ) -> None:
        """Insert new records; ids that exist are skipped (Chroma's ``add``).

        With ``Settings(strict_add_ids=True)`` an existing id raises
        ``IDAlreadyExistsError`` instead and nothing is written.

        ``doc_hashes[i]`` is the hash of the text ``embeddings[i]`` was computed from by
        the collection's function (None for a supplied vector); it lets unchanged text
        reuse its vector later.
        """
        with self.lock:
            self._check_open()
            with self.store.tx.atomic():
                row, seq = self._begin_write(cid, embeddings.shape[1])
                existing = self.store.rowids_for(cid, ids)
                keep = ids_to_add(
                    ids, existing, strict=self.settings.strict_add_ids, collection=row.name
                )
                if len(keep) < len(ids):
                    ids = [ids[i] for i in keep]
                    embeddings = embeddings[keep]
                    documents = [documents[i] for i in keep]
                    metadatas = [metadatas[i] for i in keep]
                    doc_hashes = None if doc_hashes is None else [doc_hashes[i] for i in keep]
                labels = (
                    self.store.insert(cid, ids, embeddings, documents, metadatas, seq, doc_hashes)
                    if ids
                    else None
                )
            if labels is None:
                self._apply(cid, row, seq, None, None, None)
            else:
                self._apply(cid, row, seq, labels, embeddings, None)

    def upsert(
        self,
        cid: str,
        ids: Sequence[str],
        embeddings: npt.NDArray[np.float32] | None,
        documents: Sequence[str | None] | None,
        metadatas: Sequence[Metadata | None] | None,
        *,
        insert_missing: bool = True,
        doc_hashes: Sequence[int | None] | None = None,
    ) -> None:
        """Insert new ids and update existing ones (Chroma's ``upsert``).

        With ``insert_missing=False`` this is ``update``: ids that do not exist are
        skipped. Metadata of existing records is merged key by key; a key given as
        None is removed.
        """
        with self.lock:
            self._check_open()
            dim = None if embeddings is None else embeddings.shape[1]
            with self.store.tx.atomic():
                row, seq = self._begin_write(cid, dim)
                existing = self.store.rowids_for(cid, ids)
                old_pos = [i for i, rid in enumerate(ids) if rid in existing]
                new_pos = [i for i, rid in enumerate(ids) if rid not in existing]
                if new_pos and not insert_missing:
                    log.warning(
                        "update: %d id(s) do not exist in collection %r and were skipped",
                        len(new_pos),
                        row.name,
                    )
                    new_pos = []
                labels_parts: list[Labels] = []
                vector_parts: list[npt.NDArray[np.float32]] = []
                if new_pos:
                    assert embeddings is not None
                    new_vecs = embeddings[new_pos]
                    labels_parts.append(
                        self.store.insert(
                            cid,
                            [ids[i] for i in new_pos],
                            new_vecs,
                            [None if documents is None else documents[i] for i in new_pos],
                            # A key given as None means "absent" for a new record too.
                            [
                                None if metadatas is None else _merge_metadata(None, metadatas[i])
                                for i in new_pos
                            ],
                            seq,
                            None if doc_hashes is None else [doc_hashes[i] for i in new_pos],
                        )
                    )
                    vector_parts.append(new_vecs)
                if old_pos:
                    rowids = [existing[ids[i]] for i in old_pos]
                    merged = new_docs = None
                    if metadatas is not None or documents is not None:
                        # None means "keep what is stored", for a document as for metadata.
                        current = self.store.read(cid, dimension=None, rowids=rowids)
                        where = {r: p for p, r in enumerate(current.rowids)}
                        if metadatas is not None:
                            assert current.metadatas is not None
                            merged = [
                                _merge_metadata(current.metadatas[where[r]], metadatas[i])
                                for r, i in zip(rowids, old_pos, strict=True)
                            ]
                        if documents is not None:
                            assert current.documents is not None
                            new_docs = [
                                current.documents[where[r]]
                                if documents[i] is None
                                else documents[i]
                                for r, i in zip(rowids, old_pos, strict=True)
                            ]
                    old_vecs = None if embeddings is None else embeddings[old_pos]
                    self.store.update(
                        rowids,
                        seq,
                        embeddings=old_vecs,
                        documents=new_docs,
                        metadatas=merged,
                        doc_hashes=None if doc_hashes is None else [doc_hashes[i] for i in old_pos],
                    )
                    if old_vecs is not None:
                        labels_parts.append(np.array(rowids, dtype=np.int64))
                        vector_parts.append(old_vecs)
            if labels_parts:
                self._apply(
                    cid,
                    row,
                    seq,
                    np.concatenate(labels_parts),
                    np.concatenate(vector_parts),
                    None,
                )
            else:
                self._apply(cid, row, seq, None, None, None)

    def delete(
        self, cid: str, ids: Sequence[str] | None, node: Node | None, *, limit: int | None = None
    ) -> int:
        """Delete the records selected by ids and/or a filter (at most ``limit``, the
        first in insertion order); returns how many."""
        with self.lock:
            self._check_open()
            with self.store.tx.atomic():
                row, seq = self._begin_write(cid, None)
                rowids = self.store.filter_rowids(cid, node, ids)
                if limit is not None:
                    rowids = rowids[:limit]  # filter_rowids is in rowid (= get) order
                self.store.delete(cid, rowids.tolist(), seq)
            self._apply(cid, row, seq, None, None, rowids)
            if len(rowids):
                self.store.purge_log(int(self.settings.busy_timeout_s * 1000))
            return len(rowids)

    # -- reads ----------------------------------------------------------------------

    def count(self, cid: str) -> int:
        """The number of records in a collection."""

        def read() -> int:
            self._collection(cid)
            return self.store.count(cid)

        return self._read(read)

    def get(
        self,
        cid: str,
        *,
        ids: Sequence[str] | None,
        node: Node | None,
        limit: int | None,
        offset: int,
        include: Sequence[str],
    ) -> RecordRows:
        """Records selected by ids and/or a filter, in insertion order (as Chroma's
        ``get``, also when ``ids`` are given in another order)."""

        def read() -> RecordRows:
            row = self._collection(cid)
            return self.store.read(
                cid,
                dimension=row.dimension,
                ids=ids,
                node=node,
                limit=limit,
                offset=offset,
                documents="documents" in include,
                metadatas="metadatas" in include,
                embeddings="embeddings" in include,
            )

        return self._read(read)

    def query(
        self,
        cid: str,
        queries: npt.NDArray[np.float32],
        n_results: int,
        node: Node | None,
        include: Sequence[str],
        ids: Sequence[str] | None = None,
    ) -> list[QueryRows]:
        """The nearest records to each query vector, among those matching the filter.

        One-vector queries from threads querying at the same moment are answered
        together, in one snapshot (:mod:`vectorhouse.engine.combine`)."""
        if (
            len(queries) == 1
            and self.store.parallel_reads
            and self._read_mode() is None
            and not self.lock.held()
        ):
            key = (cid, n_results, node, tuple(include), None if ids is None else tuple(ids))
            rows: QueryRows = self._combiner.submit(key, queries[0])
            return [rows]
        return self._query(cid, queries, n_results, node, include, ids)

    def _combined_query(self, key: Any, queries: npt.NDArray[np.float32]) -> list[QueryRows]:
        cid, n_results, node, include, ids = key
        return self._query(cid, queries, n_results, node, include, ids)

    def _query(
        self,
        cid: str,
        queries: npt.NDArray[np.float32],
        n_results: int,
        node: Node | None,
        include: Sequence[str],
        ids: Sequence[str] | None,
    ) -> list[QueryRows]:
        def read() -> list[QueryRows]:
            row = self._query_row(cid, queries)
            state = self._read_state(row)
            if state is None:
                return [QueryRows(_empty_rows(include)) for _ in range(len(queries))]
            result = self._search(row, state, queries, n_results, node, ids)
            ranked = list(zip(result.labels, result.distances, strict=True))
            return self.fetch_ranked(cid, row.dimension, ranked, include)

        return self._read(read, index=True)

    def _query_row(self, cid: str, queries: npt.NDArray[np.float32]) -> CollectionRow:
        """The collection, checked against the query vectors' dimension."""
        row = self._collection(cid)
        if row.dimension is not None and queries.shape[1] != row.dimension:
            raise DimensionMismatchError(
                f"collection {row.name!r} holds {row.dimension}-dimensional"
                f" embeddings; got {queries.shape[1]}-dimensional query embeddings"
            )
        return row

    def fetch_ranked(
        self,
        cid: str,
        dimension: int | None,
        ranked: Sequence[tuple[npt.NDArray[Any], npt.NDArray[Any]]],
        include: Sequence[str],
    ) -> list[QueryRows]:
        """The records of ranked rowid lists (inside the caller's lock and snapshot), in
        their order, with their scores as distances; rowids with no record (deleted
        since they were ranked) are left out. All lists are read with one query;
        ``dimension`` is needed only when embeddings are included.

        >>> from vectorhouse.storage.connection import open_connection
        >>> engine = Engine(Store(open_connection(":memory:")), index_dir=None)
        >>> col = engine.create_collection("docs", None, {})
        >>> engine.add(col.id, ["a", "b"], np.eye(2, dtype=np.float32), ["x", "y"], [None] * 2)
        >>> with engine.lock, engine.store.tx.snapshot():
        ...     found = engine.fetch_ranked(col.id, 2, [(np.array([2, 1, 9]), np.array(
        ...         [0.5, 0.75, 1.0]))], ["documents"])
        >>> found[0].rows.ids, found[0].rows.documents, found[0].distances
        (['b', 'a'], ['y', 'x'], [0.5, 0.75])
        """
        wanted = sorted({x for labels, _ in ranked for x in labels.tolist()})
        fetched = self.store.read(
            cid,
            dimension=dimension,
            rowids=wanted,
            documents="documents" in include,
            metadatas="metadatas" in include,
            embeddings="embeddings" in include,
        )
        position = {r: i for i, r in enumerate(fetched.rowids)}
        out = []
        for labels, scores in ranked:
            keep = [
                (position[x], s)
                for x, s in zip(labels.tolist(), scores.tolist(), strict=True)
                if x in position
            ]
            out.append(QueryRows(_take(fetched, [p for p, _ in keep]), [s for _, s in keep]))
        return out

    def _search(
        self,
        row: CollectionRow,
        state: IndexState,
        queries: npt.NDArray[np.float32],
        n_results: int,
        node: Node | None,
        ids: Sequence[str] | None,
    ) -> SearchResult:
        index = state.index
        sel: Selection | None = None
        if node is None and ids is None:
            allowed = None
            n_candidates = state.live
        else:
            sel = self._filtered(row, node, ids)
            allowed = sel.rowids
            n_candidates = len(allowed)
        k = min(n_results, n_candidates)
        if k == 0:
            empty = np.zeros(0, dtype=np.int64)
            return SearchResult([empty] * len(queries), [np.zeros(0, np.float32)] * len(queries))
        settings = self.settings
        if n_candidates <= settings.exact_search_max_candidates or (
            sel is not None
            and (sel.block is not None or sel.uses > 1)
            and n_candidates <= settings.exact_cache_max_candidates
            and n_candidates <= settings.exact_cache_max_fraction * state.live
            and self._selections.fits(n_candidates * (index.params.dim * 4 + 12))
        ):
            return self._exact(row, state, queries, k, allowed, sel)
        graph_k = min(n_candidates, k + max(k, _RERANK_EXTRA))
        result = self._rerank(row, queries, index.search(queries, graph_k, allowed), k)
        if state.tail is not None and len(state.tail):
            result = merge(result, state.tail.search(queries, k, allowed), k)
        short = [i for i, labels in enumerate(result.labels) if len(labels) < k]
        if short:
            fallback = self._exact(row, state, queries[short], k, allowed, sel)
            for j, i in enumerate(short):
                result.labels[i] = fallback.labels[j]
                result.distances[i] = fallback.distances[j]
        return result

    def _rerank(
        self, row: CollectionRow, queries: npt.NDArray[np.float32], found: SearchResult, k: int
    ) -> SearchResult:
        """The ``k`` nearest of the graph's candidates by their float32 vectors in storage
        (the graph's own are float16): exact distances, computed as exact search does.
        A candidate whose record is gone is dropped (the row may come back short)."""
        wanted = np.sort(np.concatenate([*found.labels, np.empty(0, np.int64)]))
        if len(wanted) == 0:
            return found
        # Unique by hand: np.unique's first call imports a numpy submodule (~17 ms),
        # paid by the first query after a reopen.
        wanted = wanted[np.concatenate(([True], wanted[1:] != wanted[:-1]))]
        stored, vectors = self.store.vectors_of(row.id, row.dimension or 0, wanted.tolist())
        space = index_params(row).space
        labels, distances = [], []
        for query, candidates in zip(queries, found.labels, strict=True):
            pos = np.searchsorted(stored, candidates)
            pos[pos == len(stored)] = 0
            pos = pos[stored[pos] == candidates] if len(stored) else pos[:0]
            best, dist = exact_rank(query, vectors[pos], stored[pos], k, space)
            labels.append(best)
            distances.append(dist)
        return SearchResult(labels, distances)

    def _exact(
        self,
        row: CollectionRow,
        state: IndexState,
        queries: npt.NDArray[np.float32],
        k: int,
        allowed: Labels | None,
        sel: Selection | None = None,
    ) -> SearchResult:
        """Exact search over the allowed records (all when None): from the filter's cached
        block, else from the in-memory copy when the collection has one, else over vectors
        read from storage. ``sel``, when given, is the selection whose rowids are
        ``allowed``; the candidates gathered for it are kept as its block (budget
        permitting)."""
        if state.flat is None and state.small:
            with self._lazy:  # parallel readers: one makes it (from the same snapshot)
                if state.flat is None and state.small:
                    flat = FlatIndex(state.index.params)
                    dim = state.index.params.dim
                    for labels, vectors in self.store.vectors_since(row.id, 0, dim):
                        flat.add(labels, vectors)
                    state.flat = flat
        cached = None if sel is None else sel.block  # read once: a reader may drop it
        if cached is not None:
            return cached.search(queries, k)
        if state.flat is not None:
            if sel is None:
                return state.flat.search(queries, k, allowed)
            block = state.flat.block(sel.rowids)
            self._selections.attach(sel, block)
            return block.search(queries, k)
        labels, vectors = self.store.vectors_of(
            row.id, row.dimension or 0, None if allowed is None else allowed.tolist()
        )
        block = ExactBlock.build(labels, vectors, state.index.params.space)
        if sel is not None:
            self._selections.attach(sel, block)
        return block.search(queries, k)

    def _filtered(
        self, row: CollectionRow, node: Node | None, ids: Sequence[str] | None, *, use: bool = True
    ) -> Selection:
        """The records a filter passes (cached per collection version). ``use`` False:
        not counted as a use by the dense planner (which keeps the vectors of filters
        used more than once)."""
        key = (row.id, row.last_seq, (node, None if ids is None else tuple(ids)))
        sel = self._selections.get(key, use=use)
        if sel is None:
            rowids = self.store.filter_rowids(row.id, node, ids)
            sel = self._selections.put(key, rowids, uses=int(use))
        return sel

    def selected_rowids(
        self, row: CollectionRow, node: Node | None, ids: Sequence[str] | None
    ) -> Labels:
        """The rowids (ascending) of the collection's records that pass a filter, for
        lexical ranking inside a read (cached with the dense planner's, not counted as
        its use)."""
        return self._filtered(row, node, ids, use=False).rowids

    # -- index maintenance ----------------------------------------------------------

    def _apply(
        self,
        cid: str,
        row_before: CollectionRow,
        seq: int,
        labels: Labels | None,
        vectors: npt.NDArray[np.float32] | None,
        removed: Labels | None,
    ) -> None:
        """Apply a committed write to the loaded index, if there is one."""
        self._exclusive()
        state = self._indexes.get(cid)
        if state is None:
            if row_before.dimension is not None:
                # Not loaded in this process yet: load (or rebuild) it, which also
                # catches up with this write.
                loaded = self._synced_state(self.collection_by_id(cid))
                if loaded is not None and labels is not None and len(labels):
                    loaded.wrote = True
                self._save_if_due(cid)
                return
            if vectors is None:
                return
            # The collection's first vectors: start its index here.
            row = self.collection_by_id(cid)
            state = self._new_state(index_params(row), row_before.last_seq, with_copy=True)
            self._indexes[cid] = state
        if labels is not None and vectors is not None and len(labels):
            state.wrote = True
            inline = self.settings.index_tail_inline_max
            background = self.settings.index_background
            if background and (
                state.index.is_view or state.tail is not None or len(labels) > inline
            ):
                # Off the write path: the background thread inserts these into the graph
                # (a memory-mapped graph is read into memory there first); until then
                # queries search them exactly.
                state.add_to_tail(
                    labels, vectors, self.settings.exact_copy_max_vectors, state.synced
                )
                room = self.settings.index_tail_max_bytes // (4 * max(1, vectors.shape[1]))
                state.drain(keep=room)  # only when the tail holds more than fits
                self._worker.wake()
            else:
                state.add(labels, vectors, self.settings.exact_copy_max_vectors)
                state.unsaved += len(labels)
        if removed is not None and len(removed):
            state.remove(removed)
            state.unsaved += len(removed)
        if state.synced == row_before.last_seq:
            # Nobody else wrote in between: the index now reflects everything up to seq.
            state.set_synced(seq)
        self._save_if_due(cid)

    def _save_if_due(self, cid: str) -> None:
        state = self._indexes.get(cid)
        if state is not None and state.unsaved >= self.settings.index_save_every:
            self._save(cid)

    def _synced_state(self, row: CollectionRow) -> IndexState | None:
        """The collection's index, loaded or built, caught up to the latest write."""
        self._exclusive()
        if row.dimension is None:
            return None
        params = index_params(row)
        state = self._indexes.get(row.id)
        if state is not None and state.index.params != params:
            if replace(state.index.params, ef_search=params.ef_search) == params:
                state.index.params = params  # only the query-time ef changed
            else:
                state = None
        if state is None:
            state = self._load_or_new(row, params)
            self._indexes[row.id] = state
            if state.synced < row.last_seq:
                self._catch_up(row, state)
            if state.from_file:
                state.from_file = False
                pending = 0 if state.tail is None else len(state.tail)
                problem = graph_problem(self.store, row, state.index, pending=pending)
                if problem is not None:
                    log.warning(
                        "the index file of collection %r does not match the database (%s);"
                        " rebuilding it from storage",
                        row.name,
                        problem,
                    )
                    if self.files is not None:
                        self.files.remove_all(row.id)
                    state = self._new_state(params, 0, with_copy=state.small)
                    self._indexes[row.id] = state
        if state.synced < row.last_seq:
            self._catch_up(row, state)
        if state.index.deleted_fraction <= self.settings.index_rebuild_deleted_fraction:
            return state
        if self.settings.index_background:
            self._worker.wake()  # rebuilt off the query path; this graph serves meanwhile
        else:
            log.info("rebuilding the index of %r to drop deleted entries", row.name)
            state = self._new_state(params, 0, with_copy=self._small(row.id))
            self._indexes[row.id] = state
            self._catch_up(row, state)
        return state

    def _small(self, cid: str) -> bool:
        return self.store.count(cid) <= self.settings.exact_copy_max_vectors

    def _new_state(self, params: IndexParams, watermark: int, *, with_copy: bool) -> IndexState:
        return IndexState(
            GraphIndex(params, threads=ADD_THREADS),
            watermark=watermark,
            flat=FlatIndex(params) if with_copy else None,
            small=with_copy,
        )

    def _load_or_new(self, row: CollectionRow, params: IndexParams) -> IndexState:
        if self.files is not None:
            loaded = self.files.load(Expected(self.files.database_id, row.id, params, row.last_seq))
            if loaded.index is not None:
                # The exact copy of a small collection is made when first needed; the
                # graph's size stands for the collection's (it is checked against
                # storage right after catching up).
                small = len(loaded.index) <= self.settings.exact_copy_max_vectors
                return IndexState(
                    loaded.index, watermark=loaded.watermark, small=small, from_file=True
                )
            if self.store.count(row.id) > 0:
                log.warning(
                    "no usable index file for collection %r (%s); rebuilding it from storage",
                    row.name,
                    loaded.problem or "there is none",
                )
        return self._new_state(params, 0, with_copy=self._small(row.id))

    def _catch_up(self, row: CollectionRow, state: IndexState) -> None:
        """Bring ``state`` up to ``row.last_seq``: a few vectors go into the graph at
        once, more go to the exact tail for the background thread (see
        :mod:`vectorhouse.engine.background`)."""
        assert row.dimension is not None
        changed = 0
        mirror_max = self.settings.exact_copy_max_vectors
        inline = self.settings.index_tail_inline_max if self.settings.index_background else -1
        since = state.synced
        removed = self.store.deleted_since(row.id, since)
        if len(removed):
            state.remove(removed)
        for labels, vectors in self.store.vectors_since(row.id, since, row.dimension):
            in_graph = state.tail is None and not state.index.is_view
            if inline < 0 or (in_graph and changed + len(labels) <= inline):
                state.add(labels, vectors, mirror_max)
                changed += len(labels)
            else:
                state.add_to_tail(labels, vectors, mirror_max, row.last_seq)
        state.unsaved += changed + len(removed)
        state.set_synced(row.last_seq)
        if state.tail is not None:
            self._worker.wake()

    def wait_for_index(self, timeout: float = 60.0) -> bool:
        """Wait until background index work is done (tails drained, rebuilds swapped
        in); whether it finished within ``timeout`` seconds.

        >>> from vectorhouse.storage.connection import open_connection
        >>> Engine(Store(open_connection(":memory:")), index_dir=None).wait_for_index()
        True
        """
        deadline = time.monotonic() + timeout
        limit = self.settings.index_rebuild_deleted_fraction
        while True:
            with self.lock:
                pending = any(
                    s.tail is not None or s.index.deleted_fraction > limit
                    for s in self._indexes.values()
                )
            if not pending and not self._worker.busy:
                return True
            if self.closed or time.monotonic() > deadline:
                return False
            if pending:
                self._worker.wake()
            time.sleep(0.01)

    def _save(self, cid: str) -> None:
        state = self._indexes.get(cid)
        if state is None or self.files is None or state.unsaved == 0:
            return
        latest = self.files.latest(cid)
        if latest is not None and latest >= state.watermark:
            state.unsaved = 0
            return
        try:
            self.files.save(cid, state.watermark, state.index)
        except OSError as exc:
            # Once per kind of failure: a read-only folder fails every save alike, and
            # the index keeps working in memory (it is rebuilt or replayed on open).
            kind = f"{type(exc).__name__}:{exc.errno}"
            level = logging.DEBUG if kind in self._save_warned else logging.WARNING
            self._save_warned.add(kind)
            log.log(
                level,
                "could not save the index of collection %s (%s); it keeps working in"
                " memory and is brought up to date from storage on the next open",
                cid,
                exc,
            )
            return
        state.unsaved = 0


def _merge_metadata(current: Metadata | None, update: Metadata | None) -> dict[str, Any] | None:
    if update is None:
        return None if current is None else dict(current)
    merged = dict(current or {})
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _empty_rows(include: Sequence[str]) -> RecordRows:
    return RecordRows(
        rowids=[],
        ids=[],
        documents=[] if "documents" in include else None,
        metadatas=[] if "metadatas" in include else None,
        embeddings=None,
    )


def _take(rows: RecordRows, positions: Sequence[int]) -> RecordRows:
    return RecordRows(
        rowids=[rows.rowids[p] for p in positions],
        ids=[rows.ids[p] for p in positions],
        documents=None if rows.documents is None else [rows.documents[p] for p in positions],
        metadatas=None if rows.metadatas is None else [rows.metadatas[p] for p in positions],
        embeddings=None if rows.embeddings is None else rows.embeddings[list(positions)],
    )
