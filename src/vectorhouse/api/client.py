"""Clients: the entry points that own an engine (in memory or on disk).

>>> import vectorhouse
>>> with vectorhouse.Client() as client:
...     col = client.get_or_create_collection("docs")
...     client.count_collections()
1
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import time
import uuid
import weakref
from pathlib import Path
from typing import Any

from vectorhouse import __version__
from vectorhouse.api import chroma_rules
from vectorhouse.api import validation as v
from vectorhouse.api.collection import Collection
from vectorhouse.api.embedding import (
    NOT_GIVEN,
    default_embedding_function,
    resolve_embedding_function,
    stored_function_config,
)
from vectorhouse.api.search_run import normalize_lexical
from vectorhouse.config import Settings
from vectorhouse.engine.check import CheckReport, run_check
from vectorhouse.engine.engine import Engine
from vectorhouse.errors import InvalidArgumentError, ResetNotAllowedError
from vectorhouse.reprs import shown
from vectorhouse.storage.connection import open_connection
from vectorhouse.storage.store import CollectionRow, Store

DATABASE_FILE = "vectorhouse.sqlite3"
INDEX_DIR = "index"


def _close_engine(ref: weakref.ReferenceType[Engine]) -> None:
    engine = ref()
    if engine is not None:
        engine.close()


def _release(engine: Engine, hook: functools.partial[None]) -> None:
    """A client nobody holds any more: save its indexes and drop its exit hook."""
    atexit.unregister(hook)
    try:
        engine.close()
    except Exception:  # a finalizer must not raise; the index is rebuilt if unsaved
        logging.getLogger("vectorhouse").exception("closing an abandoned client failed")


class Client:
    """A database client; ``Client()`` keeps everything in memory.

    Chroma's ``tenant`` and ``database`` arguments are accepted and ignored.

    >>> client = Client()
    >>> client.heartbeat() > 0
    True
    """

    def __init__(
        self,
        settings: Settings | None = None,
        tenant: str = "default_tenant",
        database: str = "default_database",
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._verified: set[tuple[str, str]] = set()
        if path is None:
            self._path: Path | None = None
            self._key = f"memory:{uuid.uuid4()}"
            conn = open_connection(":memory:", busy_timeout_s=self.settings.busy_timeout_s)
            self._engine = Engine(Store(conn), None, self.settings)
        else:
            self._path = Path(path).expanduser().resolve()
            self._path.mkdir(parents=True, exist_ok=True)
            self._key = str(self._path)
            conn = open_connection(
                self._path / DATABASE_FILE, busy_timeout_s=self.settings.busy_timeout_s
            )
            self._engine = Engine(Store(conn), self._path / INDEX_DIR, self.settings)
            # Save indexes at interpreter exit, or when the client is dropped, even if
            # close() is never called. Each client has its own hook object, so
            # unregistering one leaves the others' in place.
            hook = functools.partial(_close_engine, weakref.ref(self._engine))
            atexit.register(hook)
            self._finalizer = weakref.finalize(self, _release, self._engine, hook)

    @property
    def path(self) -> Path | None:
        """The database folder, or None in memory."""
        return self._path

    # -- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        """Save indexes and release the database. Further calls raise ``ClientClosedError``."""
        self._engine.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def heartbeat(self) -> int:
        """Nanoseconds since the epoch (proof of life, as in Chroma)."""
        self._engine._check_open()
        return time.time_ns()

    def get_version(self) -> str:
        """The vectorhouse version."""
        return __version__

    def get_max_batch_size(self) -> int:
        """The largest batch advised per call (larger ones work: they are chunked)."""
        return self.settings.max_batch_size

    def get_settings(self) -> Settings:
        """The client's settings."""
        return self.settings

    def reset(self) -> bool:
        """Delete every collection; only with ``Settings(allow_reset=True)``."""
        if not self.settings.allow_reset:
            raise ResetNotAllowedError(
                "reset() is disabled; create the client with Settings(allow_reset=True)"
            )
        self._engine.reset()
        return True

    def check(self, repair: bool = False) -> CheckReport:
        """Verify the database: SQLite's integrity, each collection's index (saved file
        and graph in memory) against the records, and the full-text tables; with
        ``repair=True`` rebuild the derived ones that disagree. Nothing is raised for a
        problem found: the report lists them (``report.ok`` is False while any is left).

        >>> Client().check().ok
        True
        """
        return run_check(self._engine, repair=v.normalize_bool(repair, "repair", "check"))

    # -- collections ----------------------------------------------------------------

    def _collection(self, row: CollectionRow, embedding_function: Any) -> Collection:
        stored = row.configuration.get("embedding_function")
        fn = resolve_embedding_function(stored, embedding_function, row.name, row.dimension)
        return Collection(self, row, fn)

    def create_collection(
        self,
        name: str,
        configuration: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        embedding_function: Any = NOT_GIVEN,
        data_loader: Any = None,
        get_or_create: bool = False,
    ) -> Collection:
        """Create a collection; ``get_or_create=True`` returns an existing one instead.

        >>> Client().create_collection("docs", metadata={"hnsw:space": "cosine"}).name
        'docs'
        """
        v.validate_collection_name(name)
        get_or_create = v.normalize_bool(get_or_create, "get_or_create", "create_collection")
        chroma_rules.check_collection_metadata(metadata, "create_collection")
        if metadata is not None:
            metadata = v.normalize_metadata(metadata, "metadata", allow_none_values=False)
        if configuration is not None and not isinstance(configuration, dict):
            raise InvalidArgumentError("configuration must be a dict")
        chroma_rules.check_configuration(configuration)
        fn = default_embedding_function() if embedding_function is NOT_GIVEN else embedding_function
        if configuration and configuration.get("embedding_function") is not None:
            fn = configuration["embedding_function"]
        space_default = "l2"
        hnsw = v.normalize_hnsw(metadata, configuration, space_default)
        stored = {"hnsw": hnsw, "embedding_function": stored_function_config(fn)}
        stored["lexical"] = normalize_lexical(configuration)
        row = self._engine.create_collection(name, metadata, stored, get_or_create=get_or_create)
        return self._collection(row, embedding_function if get_or_create else fn)

    def get_collection(
        self, name: str, embedding_function: Any = NOT_GIVEN, data_loader: Any = None
    ) -> Collection:
        """An existing collection; raises ``CollectionNotFoundError``.

        >>> c = Client(); _ = c.create_collection("docs"); c.get_collection("docs").name
        'docs'
        """
        name = v.normalize_lookup_name(name)
        return self._collection(self._engine.get_collection(name), embedding_function)

    def get_collection_by_id(
        self, id: uuid.UUID | str, embedding_function: Any = NOT_GIVEN, data_loader: Any = None
    ) -> Collection:
        """An existing collection by its id (stable across renames), as in Chroma.

        >>> c = Client(); col = c.create_collection("docs")
        >>> c.get_collection_by_id(col.id).name
        'docs'
        """
        try:
            if not isinstance(id, (str, uuid.UUID)):
                raise ValueError(id)
            cid = str(uuid.UUID(str(id)))
        except ValueError:
            raise InvalidArgumentError(f"a collection id is a UUID, got {shown(id)}") from None
        return self._collection(self._engine.collection_by_id(cid), embedding_function)

    def get_or_create_collection(
        self,
        name: str,
        configuration: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        embedding_function: Any = NOT_GIVEN,
        data_loader: Any = None,
    ) -> Collection:
        """The collection called ``name``, created if missing (metadata then applies).

        >>> Client().get_or_create_collection("docs").count()
        0
        """
        return self.create_collection(
            name,
            configuration=configuration,
            metadata=metadata,
            embedding_function=embedding_function,
            get_or_create=True,
        )

    def list_collections(
        self, limit: int | None = None, offset: int | None = None
    ) -> list[Collection]:
        """All collections, oldest first.

        >>> Client().list_collections()
        []
        """
        chroma_rules.check_list_window(limit, offset)
        lim = None if limit is None else v.normalize_positive_int(limit, "limit", "list", minimum=0)
        off = 0 if offset is None else v.normalize_positive_int(offset, "offset", "list", minimum=0)
        names = self._engine.list_collections(lim, off)
        return [self.get_collection(n) for n in names]

    def count_collections(self) -> int:
        """How many collections exist.

        >>> Client().count_collections()
        0
        """
        return int(self._engine.count_collections())

    def delete_collection(self, name: str) -> None:
        """Delete a collection and all its records.

        >>> c = Client(); _ = c.create_collection("docs"); c.delete_collection("docs")
        """
        self._engine.delete_collection(v.normalize_lookup_name(name))

    def __repr__(self) -> str:
        where = "memory" if self._path is None else str(self._path)
        return f"{type(self).__name__}({where})"


class PersistentClient(Client):
    """A client whose database lives in the folder ``path`` (created if missing).

    >>> import tempfile
    >>> with PersistentClient(path=tempfile.mkdtemp()) as client:
    ...     client.create_collection("docs").name
    'docs'
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "./vh_data",
        settings: Settings | None = None,
        tenant: str = "default_tenant",
        database: str = "default_database",
    ) -> None:
        super().__init__(settings, tenant, database, path=path)


def EphemeralClient(
    settings: Settings | None = None,
    tenant: str = "default_tenant",
    database: str = "default_database",
) -> Client:
    """An in-memory client (the same as ``Client()``).

    >>> EphemeralClient().count_collections()
    0
    """
    return Client(settings, tenant, database)
