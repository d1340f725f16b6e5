"""The Milvus backend: the engine interface of :class:`vectorhouse.engine.engine.Engine`
(what :class:`~vectorhouse.api.collection.Collection` and the client call) over a Milvus
server, a Milvus cluster or milvus-lite, through pymilvus.

Validation happens before this module, in the same code as for the embedded engine;
requests arrive typed (ids, float32 arrays, filter ASTs). Every pymilvus error is
translated once, in :meth:`MilvusEngine._call`.

One vectorhouse collection is one Milvus collection called ``vh_<name>`` (``_``, ``-``
and ``.`` spelled ``__``, ``_h``, ``_d``), with the fields::

    id (VARCHAR primary key)   seq (INT64, insertion order)   vector (FLOAT_VECTOR)
    document (VARCHAR, "" when absent)   has_document (BOOL)
    metadata_json (VARCHAR: the metadata as given)   filt (JSON: typed, see expr.py)

Its id, name, metadata, configuration (the embedding function's config and model
fingerprint included) and dimension are collection properties (``vectorhouse.*``).
A collection created before its first record has a placeholder 2-d vector field; the
first write recreates it (still empty) with the real dimension.

>>> MilvusEngine.__name__
'MilvusEngine'
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from vectorhouse.engine.engine import QueryRows
from vectorhouse.engine.existing_ids import ids_to_add
from vectorhouse.errors import (
    ClientClosedError,
    CollectionExistsError,
    CollectionNotFoundError,
    DimensionMismatchError,
    InvalidCollectionNameError,
    NotSupportedError,
    ServerUnavailableError,
    StorageError,
    VectorhouseError,
)
from vectorhouse.filters.parse import Node
from vectorhouse.milvus.expr import to_expression, typed_metadata
from vectorhouse.milvus.layout import (
    BATCH_BYTES,
    BATCH_ROWS,
    FIELDS,
    MAX_NAME,
    MAX_TEXT,
    MAX_TOPK,
    METRICS,
    PLACEHOLDER_DIM,
    PREFIX,
    and_,
    distance,
    id_batches,
    ids_expr,
    merge,
    milvus_name,
    take,
    to_rows,
    vectorhouse_name,
)
from vectorhouse.storage.store import CollectionRow, RecordRows, dumps

log = logging.getLogger("vectorhouse.milvus")

T = TypeVar("T")


class _Models:
    """The model bookkeeping the collection layer asks the engine for."""

    def __init__(self, engine: MilvusEngine) -> None:
        self._engine = engine

    def embedded_texts(self, cid: str, texts: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """No reuse of stored vectors on Milvus: every text is embedded."""
        return {}

    def ensure_fingerprint(self, cid: str, fingerprint: Mapping[str, Any]) -> dict[str, Any]:
        """Store the collection's model fingerprint unless it has one; return the stored one."""
        row = self._engine.collection_by_id(cid)
        stored = row.configuration.get("fingerprint")
        if stored is not None:
            return dict(stored)
        config = {**row.configuration, "fingerprint": dict(fingerprint)}
        self._engine.modify_collection(cid, configuration=config)
        return dict(fingerprint)

    def _unsupported(self, *args: Any, **kwargs: Any) -> Any:
        raise NotSupportedError(
            "reembed is not supported by the Milvus backend: export the collection,"
            " and import it into a new one with the new model"
        )

    records_without_documents = _unsupported
    start_reembed = _unsupported
    records_to_reembed = _unsupported
    stage_vectors = _unsupported
    finish_reembed = _unsupported


def _message(exc: Exception) -> str:
    """A pymilvus exception's message (its ``message`` field, else its text)."""
    return str(getattr(exc, "message", "") or exc)


class MilvusEngine:
    """The engine interface over one pymilvus ``MilvusClient`` connection."""

    supports_lexical = False  # dense search only: query(mode=...) and search() refuse

    def __init__(
        self,
        uri: str,
        *,
        token: str = "",
        db_name: str = "",
        index_type: str = "HNSW",
        timeout: float | None = None,
        strict_add_ids: bool = False,
    ) -> None:
        try:
            import pymilvus
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise NotSupportedError(
                "the Milvus backend needs pymilvus: pip install 'vectorhouse[milvus]'"
            ) from exc
        self._pymilvus = pymilvus
        self.index_type = index_type.upper()
        self.strict_add_ids = strict_add_ids
        self.lock = threading.RLock()
        self.closed = False
        self.models = _Models(self)
        self._by_id: dict[str, str] = {}
        self._last_seq = 0
        self._loaded: set[str] = set()
        # milvus-lite searches unsealed (growing) data by brute force in Python, 10-40x
        # slower than after a flush; a Milvus server indexes growing segments itself
        # and limits flush calls, so only a local file is flushed before a search.
        self._flush_before_search = "://" not in uri
        # Collections flushed on this connection since it last wrote to them. One not
        # in it is flushed before a search: also on a new connection, as another client
        # may have written to the file without searching.
        self._flushed: set[str] = set()
        # pymilvus pings its channel every 10 s. milvus-lite's in-process gRPC server
        # tolerates that for about 3 minutes of a call without data, then answers with
        # a GOAWAY ("too_many_pings") that cancels the call; pymilvus sends it again,
        # so a call that long (a filter milvus-lite evaluates row by row in Python over
        # 200,000 records) never finished. Pings check a network path; a local file
        # has none.
        options = {} if "://" in uri else {"grpc_options": {"grpc.keepalive_time_ms": 2**31 - 1}}
        self._connect: Callable[[], Any] = partial(
            pymilvus.MilvusClient,
            uri=uri,
            token=token,
            db_name=db_name,
            timeout=timeout,
            **options,
        )
        self._client: Any = None
        self._client = self._call(self._connect)

    # -- errors, once -----------------------------------------------------------------

    def _call(self, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        """Run one pymilvus call, translating its errors into vectorhouse's tree.

        When the connection was lost (a dropped gRPC channel, a restarted server), it
        connects again; an ``idempotent`` call is then tried once more, any other (an
        insert, creating, renaming or dropping a collection) raises
        ``ServerUnavailableError``, since it may or may not have been applied, and the
        next call runs on the new connection."""
        try:
            return fn()
        except self._pymilvus.exceptions.MilvusException as exc:
            message = _message(exc)
            if not self._connection_lost(exc) or self._client is None or self.closed:
                raise self._translate(exc) from exc
            if not self._reconnect():
                raise ServerUnavailableError(f"Milvus is not reachable: {message}") from exc
            if not idempotent:
                raise ServerUnavailableError(
                    f"the connection to Milvus was lost ({message}) and made again; this"
                    " request may not have been applied: check, then retry it"
                ) from exc
            log.warning("the connection to Milvus was lost (%s); connected again", message)
        except (OSError, RuntimeError) as exc:
            raise StorageError(f"Milvus call failed: {exc}") from exc
        try:
            return fn()
        except self._pymilvus.exceptions.MilvusException as exc:
            raise self._translate(exc) from exc
        except (OSError, RuntimeError) as exc:
            raise StorageError(f"Milvus call failed: {exc}") from exc

    def _connection_lost(self, exc: Exception) -> bool:
        message = _message(exc).lower()
        return getattr(exc, "code", None) == 2 or any(
            sign in message
            for sign in ("fail connecting", "unavailable", "should create connection first")
        )

    def _reconnect(self) -> bool:
        """Replace the connection; whether the new one could be made."""
        try:
            fresh = self._connect()
        except Exception:  # still unreachable: the caller reports it
            log.debug("connecting to Milvus again failed", exc_info=True)
            return False
        with contextlib.suppress(Exception):
            self._client.close()
        self._client = fresh
        self._loaded.clear()  # a restarted server has nothing loaded
        return True

    def _translate(self, exc: Exception) -> VectorhouseError:
        """The vectorhouse error for a pymilvus exception."""
        code = getattr(exc, "code", None)
        message = _message(exc)
        if self._connection_lost(exc):
            return ServerUnavailableError(f"Milvus is not reachable: {message}")
        if code == 100 or "does not exist" in message or "not found" in message.lower():
            return CollectionNotFoundError(f"Milvus: {message}")
        return StorageError(f"Milvus refused the request: {message}")

    def _check_open(self) -> None:
        if self.closed:
            raise ClientClosedError("the client is closed")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self.lock:
            if not self.closed:
                self.closed = True
                try:
                    self._client.close()
                except Exception:  # closing must not raise; the server keeps the data
                    log.debug("closing the Milvus connection failed", exc_info=True)

    # -- collections --------------------------------------------------------------------

    def _next_seq(self, n: int) -> int:
        """The first of ``n`` increasing sequence numbers (insertion order across calls)."""
        start = max(self._last_seq + 1, time.time_ns() // 1000)
        self._last_seq = start + n - 1
        return start

    def _row(self, mname: str) -> CollectionRow:
        info = self._call(lambda: self._client.describe_collection(mname))
        props = info.get("properties", {})
        if "vectorhouse.id" not in props:
            raise CollectionNotFoundError(
                f"Milvus collection {mname!r} was not made by vectorhouse"
            )
        dim = props.get("vectorhouse.dimension", "")
        row = CollectionRow(
            id=props["vectorhouse.id"],
            name=props["vectorhouse.name"],
            metadata=json.loads(props.get("vectorhouse.metadata", "null")),
            configuration=json.loads(props.get("vectorhouse.configuration", "{}")),
            dimension=int(dim) if dim else None,
            last_seq=0,
        )
        self._by_id[row.id] = mname
        return row

    def _mname(self, name: str) -> str:
        mname = milvus_name(name)
        if len(mname) > MAX_NAME:
            raise InvalidCollectionNameError(
                f"collection name {name!r} is too long for Milvus (at most"
                f" {MAX_NAME - len(PREFIX)} characters, '_', '-' and '.' counting twice)"
            )
        return mname

    def _create(self, mname: str, dim: int, props: Mapping[str, str]) -> None:
        pm = self._pymilvus
        hnsw = json.loads(props["vectorhouse.configuration"]).get("hnsw", {})
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", pm.DataType.VARCHAR, is_primary=True, max_length=MAX_TEXT)
        schema.add_field("seq", pm.DataType.INT64)
        schema.add_field("vector", pm.DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("document", pm.DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_field("has_document", pm.DataType.BOOL)
        schema.add_field("metadata_json", pm.DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_field("filt", pm.DataType.JSON)
        params = self._client.prepare_index_params()
        index_params: dict[str, Any] = {}
        if self.index_type == "HNSW":
            index_params = {
                "M": int(hnsw.get("max_neighbors", 16)),
                "efConstruction": int(hnsw.get("ef_construction", 100)),
            }
        params.add_index(
            "vector",
            index_type=self.index_type,
            metric_type=METRICS[hnsw.get("space", "l2")],
            params=index_params,
        )
        self._call(
            lambda: self._client.create_collection(
                mname,
                schema=schema,
                index_params=params,
                properties=dict(props),
                consistency_level="Strong",
            ),
            idempotent=False,
        )
        self._loaded.add(mname)

    def create_collection(
        self,
        name: str,
        metadata: Mapping[str, Any] | None,
        configuration: Mapping[str, Any],
        *,
        get_or_create: bool = False,
    ) -> CollectionRow:
        """Create a collection, or return the existing one when ``get_or_create``."""
        with self.lock:
            self._check_open()
            mname = self._mname(name)
            if self._call(lambda: self._client.has_collection(mname)):
                if get_or_create:
                    return self._row(mname)
                raise CollectionExistsError(f"collection {name!r} already exists")
            props = {
                "vectorhouse.id": str(uuid.uuid4()),
                "vectorhouse.name": name,
                "vectorhouse.metadata": json.dumps(metadata),
                "vectorhouse.configuration": json.dumps(configuration),
                "vectorhouse.dimension": "",
                "vectorhouse.created": str(time.time_ns()),
            }
            self._create(mname, PLACEHOLDER_DIM, props)
            return self._row(mname)

    def get_collection(self, name: str) -> CollectionRow:
        """The collection called ``name``; raises ``CollectionNotFoundError``."""
        with self.lock:
            self._check_open()
            mname = self._mname(name)
            if not self._call(lambda: self._client.has_collection(mname)):
                raise CollectionNotFoundError(f"collection {name!r} does not exist")
            return self._row(mname)

    def _names(self) -> list[tuple[int, str, str]]:
        """(created, name, milvus name) of every vectorhouse collection, oldest first."""
        out = []
        for mname in self._call(self._client.list_collections):
            if vectorhouse_name(mname) is None:
                continue
            props = self._call(partial(self._client.describe_collection, mname)).get(
                "properties", {}
            )
            if "vectorhouse.id" in props:
                out.append(
                    (int(props.get("vectorhouse.created", 0)), props["vectorhouse.name"], mname)
                )
        return sorted(out)

    def collection_by_id(self, cid: str) -> CollectionRow:
        """The collection with id ``cid``; raises ``CollectionNotFoundError``."""
        with self.lock:
            self._check_open()
            mname = self._by_id.get(cid)
            if mname is not None:
                try:
                    row = self._row(mname)
                    if row.id == cid:
                        return row
                except CollectionNotFoundError:
                    pass
            for _, _, m in self._names():
                if self._row(m).id == cid:
                    return self._row(m)
            raise CollectionNotFoundError(f"collection {cid} does not exist (it was deleted)")

    def list_collections(self, limit: int | None = None, offset: int = 0) -> list[str]:
        """Collection names, oldest first."""
        with self.lock:
            self._check_open()
            names = [name for _, name, _ in self._names()]
            return names[offset:] if limit is None else names[offset : offset + limit]

    def count_collections(self) -> int:
        """How many collections exist."""
        return len(self.list_collections())

    def delete_collection(self, name: str) -> None:
        """Drop a collection and its records."""
        with self.lock:
            row = self.get_collection(name)
            mname = self._mname(name)
            self._call(lambda: self._client.drop_collection(mname), idempotent=False)
            self._by_id.pop(row.id, None)
            self._loaded.discard(mname)

    def modify_collection(
        self,
        cid: str,
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        configuration: Mapping[str, Any] | None = None,
    ) -> CollectionRow:
        """Rename a collection and/or replace its metadata or configuration."""
        with self.lock:
            row = self.collection_by_id(cid)
            mname = self._by_id[cid]
            if name is not None and name != row.name:
                target = self._mname(name)
                if self._call(lambda: self._client.has_collection(target)):
                    raise CollectionExistsError(f"collection {name!r} already exists")
                self._call(lambda: self._client.rename_collection(mname, target), idempotent=False)
                mname = self._by_id[cid] = target
                self._loaded.discard(mname)
            props: dict[str, str] = {}
            if name is not None:
                props["vectorhouse.name"] = name
            if metadata is not None:
                props["vectorhouse.metadata"] = json.dumps(metadata)
            if configuration is not None:
                props["vectorhouse.configuration"] = json.dumps(configuration)
            if props:
                self._call(
                    lambda: self._client.alter_collection_properties(mname, properties=props)
                )
            return self._row(mname)

    def reset(self) -> None:
        """Delete every collection."""
        with self.lock:
            for name in self.list_collections():
                self.delete_collection(name)

    # -- helpers ------------------------------------------------------------------------

    def _ready(self, cid: str) -> tuple[CollectionRow, str]:
        """The collection and its Milvus name, loaded for reads."""
        self._check_open()
        row = self.collection_by_id(cid)
        mname = self._by_id[cid]
        if mname not in self._loaded:
            self._call(lambda: self._client.load_collection(mname))
            self._loaded.add(mname)
        return row, mname

    def _dimension(self, row: CollectionRow, mname: str, dim: int) -> None:
        """Check ``dim`` against the collection; give a new collection its dimension."""
        if row.dimension is not None:
            if row.dimension != dim:
                raise DimensionMismatchError(
                    f"collection {row.name!r} holds {row.dimension}-dimensional embeddings;"
                    f" got {dim}-dimensional ones"
                )
            return
        info = self._call(lambda: self._client.describe_collection(mname))
        props = dict(info.get("properties", {}))
        props["vectorhouse.dimension"] = str(dim)
        if dim != PLACEHOLDER_DIM:
            # Still empty: recreate it with the real dimension.
            self._call(lambda: self._client.drop_collection(mname), idempotent=False)
            self._loaded.discard(mname)
            self._create(mname, dim, props)
        else:
            self._call(
                lambda: self._client.alter_collection_properties(
                    mname, properties={"vectorhouse.dimension": str(dim)}
                )
            )

    def _query_all(self, mname: str, expr: str, fields: Sequence[str]) -> list[dict[str, Any]]:
        """Every record matching ``expr`` (in pages under Milvus' result limit)."""
        first = self._call(
            lambda: self._client.query(
                mname, filter=expr, output_fields=list(fields), limit=MAX_TOPK
            )
        )
        if len(first) < MAX_TOPK:
            return list(first)
        out: list[dict[str, Any]] = []
        iterator = self._call(
            lambda: self._client.query_iterator(
                mname, batch_size=MAX_TOPK, filter=expr, output_fields=list(fields)
            )
        )
        try:
            while True:
                batch = self._call(iterator.next)
                if not batch:
                    break
                out.extend(batch)
        finally:
            iterator.close()
        return out

    def _select(
        self, mname: str, ids: Sequence[str] | None, node: Node | None, fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Records matching ids and/or a filter, with ``fields``, in no particular order."""
        expr = to_expression(node)
        if ids is None:
            return self._query_all(mname, expr, fields)
        out: list[dict[str, Any]] = []
        for batch in id_batches(ids):
            out.extend(
                self._call(
                    partial(
                        self._client.query,
                        mname,
                        filter=and_(ids_expr(batch), expr),
                        output_fields=list(fields),
                    )
                )
            )
        return out

    def _entities(
        self,
        ids: Sequence[str],
        seqs: Sequence[int],
        vectors: npt.NDArray[np.float32],
        documents: Sequence[str | None],
        metadatas: Sequence[Mapping[str, Any] | None],
    ) -> list[dict[str, Any]]:
        rows = []
        for rid, seq, vec, doc, meta in zip(ids, seqs, vectors, documents, metadatas, strict=True):
            meta_json = "" if meta is None else dumps(dict(meta))
            for what, text in (("document", doc or ""), ("metadata", meta_json), ("id", rid)):
                if len(text.encode("utf-8")) > MAX_TEXT:
                    raise NotSupportedError(
                        f"record {rid!r}: its {what} is longer than the {MAX_TEXT} bytes a"
                        " Milvus VARCHAR field holds"
                    )
            rows.append(
                {
                    "id": rid,
                    "seq": int(seq),
                    "vector": vec.tolist(),
                    "document": doc or "",
                    "has_document": doc is not None,
                    "metadata_json": meta_json,
                    "filt": typed_metadata(meta),
                }
            )
        return rows

    def _write(self, mname: str, rows: list[dict[str, Any]], *, upsert: bool) -> None:
        """Send rows in requests under Milvus' message limits."""
        batch: list[dict[str, Any]] = []
        size = 0
        for entity in rows:
            cost = 4 * len(entity["vector"]) + len(entity["document"]) * 4
            cost += len(entity["metadata_json"]) * 3 + len(entity["id"]) + 64
            if batch and (size + cost > BATCH_BYTES or len(batch) >= BATCH_ROWS):
                self._send(mname, batch, upsert=upsert)
                batch, size = [], 0
            batch.append(entity)
            size += cost
        if batch:
            self._send(mname, batch, upsert=upsert)

    def _send(self, mname: str, batch: list[dict[str, Any]], *, upsert: bool) -> None:
        self._flushed.discard(mname)
        if upsert:
            self._call(lambda: self._client.upsert(mname, batch))
        else:
            self._call(lambda: self._client.insert(mname, batch), idempotent=False)

    # -- writes -------------------------------------------------------------------------

    def add(
        self,
        cid: str,
        ids: Sequence[str],
        embeddings: npt.NDArray[np.float32],
        documents: Sequence[str | None],
        metadatas: Sequence[Mapping[str, Any] | None],
        doc_hashes: Sequence[int | None] | None = None,
    ) -> None:
        """Insert new records; ids that exist are skipped, as by the embedded engine
        (with ``strict_add_ids``, any existing id raises ``IDAlreadyExistsError`` and
        nothing is written)."""
        with self.lock:
            row, mname = self._ready(cid)
            self._dimension(row, mname, int(embeddings.shape[1]))
            row, mname = self._ready(cid)
            existing = {r["id"] for r in self._select(mname, ids, None, ["id"])}
            keep = ids_to_add(ids, existing, strict=self.strict_add_ids, collection=row.name)
            if not keep:
                return
            if len(keep) < len(ids):
                ids = [ids[i] for i in keep]
                embeddings = embeddings[keep]
                documents = [documents[i] for i in keep]
                metadatas = [metadatas[i] for i in keep]
            start = self._next_seq(len(ids))
            seqs = range(start, start + len(ids))
            self._write(
                mname, self._entities(ids, seqs, embeddings, documents, metadatas), upsert=False
            )

    def upsert(
        self,
        cid: str,
        ids: Sequence[str],
        embeddings: npt.NDArray[np.float32] | None,
        documents: Sequence[str | None] | None,
        metadatas: Sequence[Mapping[str, Any] | None] | None,
        *,
        insert_missing: bool = True,
        doc_hashes: Sequence[int | None] | None = None,
    ) -> None:
        """Insert new ids and update existing ones; metadata is merged key by key (a key
        given as None is removed); ``insert_missing=False`` is ``update``."""
        with self.lock:
            row, mname = self._ready(cid)
            if embeddings is not None:
                self._dimension(row, mname, int(embeddings.shape[1]))
                row, mname = self._ready(cid)
            fields = [*FIELDS, "vector"]
            current = {r["id"]: r for r in self._select(mname, ids, None, fields)}
            missing = [i for i, rid in enumerate(ids) if rid not in current]
            if missing and not insert_missing:
                log.warning(
                    "update: %d id(s) do not exist in collection %r and were skipped",
                    len(missing),
                    row.name,
                )
            start = self._next_seq(len(ids))
            out_ids, seqs, vecs, docs, metas = [], [], [], [], []
            for i, rid in enumerate(ids):
                old = current.get(rid)
                if old is None and not insert_missing:
                    continue
                new_meta = None if metadatas is None else metadatas[i]
                new_doc = None if documents is None else documents[i]
                if old is None:
                    assert embeddings is not None, "validated: upsert has vectors"
                    vec = embeddings[i]
                    meta = merge(None, new_meta)
                    doc = new_doc
                    seq = start + i
                else:
                    vec = (
                        np.asarray(old["vector"], dtype=np.float32)
                        if embeddings is None
                        else embeddings[i]
                    )
                    old_meta = json.loads(old["metadata_json"]) if old["metadata_json"] else None
                    meta = old_meta if new_meta is None else merge(old_meta, new_meta)
                    old_doc = old["document"] if old["has_document"] else None
                    doc = old_doc if new_doc is None else new_doc
                    seq = int(old["seq"])
                out_ids.append(rid)
                seqs.append(seq)
                vecs.append(np.asarray(vec, dtype=np.float32))
                docs.append(doc)
                metas.append(meta)
            if out_ids:
                matrix = np.stack(vecs)
                self._write(mname, self._entities(out_ids, seqs, matrix, docs, metas), upsert=True)

    def delete(
        self, cid: str, ids: Sequence[str] | None, node: Node | None, *, limit: int | None = None
    ) -> int:
        """Delete the records selected by ids and/or a filter (at most ``limit``, the
        first in insertion order); returns how many."""
        with self.lock:
            _, mname = self._ready(cid)
            found = self._ordered_ids(mname, ids, node)[:limit]
            for batch in id_batches(found):
                self._call(partial(self._client.delete, mname, filter=ids_expr(batch)))
            return len(found)

    # -- reads --------------------------------------------------------------------------

    def count(self, cid: str) -> int:
        """The number of records in a collection."""
        with self.lock:
            _, mname = self._ready(cid)
            res = self._call(
                lambda: self._client.query(mname, filter="", output_fields=["count(*)"])
            )
            return int(res[0]["count(*)"])

    def _fetch(
        self, mname: str, dim: int | None, ids: Sequence[str], include: Sequence[str]
    ) -> RecordRows:
        """The records ``ids`` in that order, with the fields of ``include``."""
        fields = list(FIELDS)
        if "embeddings" in include:
            fields.append("vector")
        found = {r["id"]: r for r in self._select(mname, ids, None, fields)} if ids else {}
        chosen = [found[i] for i in ids if i in found]
        return to_rows(chosen, include, dim)

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
        """Records selected by ids and/or a filter, in insertion order (or ``ids`` order)."""
        with self.lock:
            row, mname = self._ready(cid)
            ordered = self._ordered_ids(mname, ids, node)
            end = None if limit is None else offset + limit
            return self._fetch(mname, row.dimension, ordered[offset:end], include)

    def _ordered_ids(self, mname: str, ids: Sequence[str] | None, node: Node | None) -> list[str]:
        """The selected ids in insertion order (as ``get`` returns them, also for ``ids``)."""
        matches = self._select(mname, ids, node, ["id", "seq"])
        return [r["id"] for r in sorted(matches, key=lambda r: (r["seq"], r["id"]))]

    def query(
        self,
        cid: str,
        queries: npt.NDArray[np.float32],
        n_results: int,
        node: Node | None,
        include: Sequence[str],
        ids: Sequence[str] | None = None,
    ) -> list[QueryRows]:
        """The nearest records to each query vector, among those matching the filter."""
        with self.lock:
            row, mname = self._ready(cid)
            if row.dimension is None:
                return [QueryRows(to_rows([], include, None)) for _ in range(len(queries))]
            if queries.shape[1] != row.dimension:
                raise DimensionMismatchError(
                    f"collection {row.name!r} holds {row.dimension}-dimensional"
                    f" embeddings; got {queries.shape[1]}-dimensional query embeddings"
                )
            if n_results > MAX_TOPK:
                raise NotSupportedError(
                    f"query: the Milvus backend returns at most {MAX_TOPK} results per"
                    f" query; got n_results={n_results}"
                )
            hnsw = row.configuration.get("hnsw", {})
            space = hnsw.get("space", "l2")
            expr = to_expression(node)
            if ids is not None:
                # Milvus has no "search among these ids" besides an id filter.
                expr = and_(ids_expr(list(dict.fromkeys(ids))), expr)
            params: dict[str, Any] = {"metric_type": METRICS[space]}
            if self.index_type == "HNSW":
                params["params"] = {"ef": max(int(hnsw.get("ef_search", 100)), n_results)}
            if self._flush_before_search and mname not in self._flushed:
                self._call(lambda: self._client.flush(mname))
                self._flushed.add(mname)
            per_request = max(1, MAX_TOPK // n_results)
            hits: list[list[tuple[str, float]]] = []
            for start in range(0, len(queries), per_request):
                chunk = queries[start : start + per_request]
                res = self._call(
                    partial(
                        self._client.search,
                        mname,
                        data=[q.tolist() for q in chunk],
                        limit=n_results,
                        filter=expr,
                        output_fields=["id"],
                        search_params=params,
                    )
                )
                for one in res:
                    hits.append([(h["id"], distance(space, float(h["distance"]))) for h in one])
            wanted = list(dict.fromkeys(rid for one in hits for rid, _ in one))
            fetched = self._fetch(mname, row.dimension, wanted, include)
            at = {rid: i for i, rid in enumerate(fetched.ids)}
            out = []
            for one in hits:
                keep = [(at[rid], d) for rid, d in one if rid in at]
                out.append(QueryRows(take(fetched, [p for p, _ in keep]), [d for _, d in keep]))
            return out
