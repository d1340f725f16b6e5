"""What the engine keeps about a collection's embedding model: its fingerprint, vectors
that can be reused for unchanged text, and the staged vectors of a re-embedding run.

Reached as ``engine.models``; callers (the collection API) run the model itself.

    >>> import numpy as np
    >>> from vectorhouse.engine.engine import Engine
    >>> from vectorhouse.storage.connection import open_connection
    >>> from vectorhouse.storage.store import Store
    >>> engine = Engine(Store(open_connection(":memory:")), index_dir=None)
    >>> col = engine.create_collection("docs", None, {})
    >>> engine.models.ensure_fingerprint(col.id, {"vector": [1.0], "dimension": 1})["dimension"]
    1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vectorhouse.errors import InvalidArgumentError

if TYPE_CHECKING:
    from vectorhouse.engine.engine import Engine


class _Retry(Exception):
    """Internal: records changed during a re-embedding run; roll back and stage them."""


class ModelRecords:
    """Model bookkeeping of one engine's collections (all under the engine's lock)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def embedded_texts(self, cid: str, texts: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """Vectors already computed by the collection's function for any of ``texts``."""
        with self._engine.lock:
            self._engine._check_open()
            row = self._engine.collection_by_id(cid)
            if row.dimension is None:
                return {}
            return self._engine.store.embedded_texts(cid, texts, row.dimension)

    def ensure_fingerprint(self, cid: str, fingerprint: Mapping[str, Any]) -> dict[str, Any]:
        """Store the collection's model fingerprint unless it has one; return the stored one."""
        with self._engine.lock:
            self._engine._check_open()
            with self._engine.store.tx.atomic():
                row = self._engine.collection_by_id(cid)
                stored = row.configuration.get("fingerprint")
                if stored is not None:
                    return dict(stored)
                config = {**row.configuration, "fingerprint": dict(fingerprint)}
                self._engine.store.update_collection(
                    cid, seq=self._engine.store.next_seq(), configuration=config
                )
            return dict(fingerprint)

    def records_without_documents(self, cid: str, limit: int = 20) -> tuple[int, list[str]]:
        """How many records have no document, and the first ``limit`` of their ids."""
        with self._engine.lock:
            self._engine._check_open()
            rows = self._engine.store.conn.execute(
                "SELECT id FROM records WHERE collection_id = ? AND document IS NULL"
                " ORDER BY rowid",
                (cid,),
            ).fetchall()
            return len(rows), [r[0] for r in rows[:limit]]

    def start_reembed(self, cid: str, function: Mapping[str, Any]) -> None:
        """Begin (or resume, when ``function`` is the same) a re-embedding run."""
        with self._engine.lock:
            self._engine._check_open()
            with self._engine.store.tx.atomic():
                self._engine.collection_by_id(cid)
                if self._engine.store.reembed_run(cid) != dict(function):
                    self._engine.store.start_reembed_run(cid, function)

    def records_to_reembed(self, cid: str, limit: int) -> list[tuple[int, str, str | None, int]]:
        """Records whose new vector is missing or older than the record."""
        with self._engine.lock:
            self._engine._check_open()
            return self._engine.store.records_to_reembed(cid, limit)

    def stage_vectors(
        self,
        cid: str,
        rows: Sequence[tuple[int, int]],
        vectors: npt.NDArray[np.float32],
        hashes: Sequence[int | None],
    ) -> None:
        """Keep re-embedded vectors until the run switches over (survives a crash)."""
        with self._engine.lock:
            self._engine._check_open()
            with self._engine.store.tx.atomic():
                self._engine.store.stage_vectors(cid, rows, vectors, hashes)

    def finish_reembed(
        self,
        cid: str,
        configuration: Mapping[str, Any],
        dimension: int,
        *,
        delete_without_documents: bool,
    ) -> list[str] | None:
        """Switch every record to its staged vector in one transaction.

        Records without a document are deleted when ``delete_without_documents`` (their
        ids are returned), else they make the switch fail. Returns None, changing
        nothing, when records changed since they were staged: the caller stages those
        and calls again.
        """
        with self._engine.lock:
            self._engine._check_open()
            try:
                with self._engine.store.tx.atomic():
                    row, seq = self._engine._begin_write(cid, None)
                    if self._engine.store.records_to_reembed(cid, 1):
                        raise _Retry
                    missing = self._engine.store.conn.execute(
                        "SELECT rowid, id FROM records WHERE collection_id = ?"
                        " AND document IS NULL",
                        (cid,),
                    ).fetchall()
                    if missing and not delete_without_documents:
                        raise InvalidArgumentError(
                            f"{len(missing)} record(s) of collection {row.name!r} have no"
                            " document to re-embed, e.g. "
                            + ", ".join(repr(m[1]) for m in missing[:5])
                            + "; pass delete_without_documents=True to delete them"
                        )
                    self._engine.store.delete(cid, [m[0] for m in missing], seq)
                    self._engine.store.finish_reembed_run(cid, seq)
                    self._engine.store.update_collection(
                        cid, seq=seq, configuration=configuration, dimension=dimension
                    )
            except _Retry:
                return None
            # The new vectors get a new graph, built from storage on the next read.
            self._engine._indexes.pop(cid, None)
            if self._engine.files is not None:
                self._engine.files.remove_all(cid)
            return [m[1] for m in missing]
