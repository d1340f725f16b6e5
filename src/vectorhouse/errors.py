"""The whole exception tree of vectorhouse.

Every error raised on purpose by vectorhouse derives from :class:`VectorhouseError`
and carries a stable ``code`` string that survives serialisation (HTTP bodies, CLI
``--json`` output)::

    VectorhouseError                          code
    ├── InvalidArgumentError (ValueError)     invalid_argument
    │   ├── InvalidCollectionNameError        invalid_collection_name
    │   ├── InvalidIDError                    invalid_id
    │   ├── DuplicateIDError                  duplicate_id
    │   ├── InvalidEmbeddingError             invalid_embedding
    │   │   └── DimensionMismatchError        dimension_mismatch
    │   ├── InvalidMetadataError              invalid_metadata
    │   ├── InvalidFilterError                invalid_filter
    │   ├── InvalidIncludeError               invalid_include
    │   └── InvalidNResultsError (TypeError)  invalid_n_results
    ├── NotFoundError                         not_found
    │   └── CollectionNotFoundError           collection_not_found
    ├── ConflictError                         conflict
    │   ├── CollectionExistsError             collection_exists
    │   ├── IDAlreadyExistsError              id_already_exists
    │   └── EmbeddingFunctionConflictError    embedding_function_conflict
    ├── EmbeddingError                        embedding_error
    │   └── EmbeddingDriftError               embedding_drift
    ├── ResetNotAllowedError                  reset_not_allowed
    ├── ClientClosedError                     client_closed
    ├── NotSupportedError                     not_supported
    ├── StorageError                          storage_error
    │   ├── DatabaseLockedError               database_locked
    │   ├── DatabaseCorruptError              database_corrupt
    │   ├── DiskFullError                     disk_full
    │   ├── ReadOnlyDatabaseError             read_only_database
    │   ├── StorageIOError                    storage_io_error
    │   └── IndexLoadError (ValueError)       index_load_error
    ├── AuthenticationError (PermissionError) unauthorized
    ├── ReadOnlyError (PermissionError)       read_only
    └── ServerError                           server_error
        └── ServerUnavailableError            server_unavailable
            (also a ConnectionError)

``IndexLoadError`` never reaches callers of the public API: an unusable index file is
rebuilt from storage, with a logged warning.

The storage errors say what to do in their message: restore a damaged database
from a backup, free space, make the files writable. A write that raised one of them
stored nothing, and the next call works once the cause is gone.

The last four come from talking to a server (``HttpClient``): a missing or wrong
token, a write sent to a read-only server, a server that failed, and one that cannot
be reached or is shutting down.

Argument errors also subclass :class:`ValueError` so that code written for Chroma,
which catches ``ValueError``, keeps working. Errors raised by libraries underneath
(``sqlite3``, ``usearch``) are translated where they arrive, with ``raise ... from``.
"""

from __future__ import annotations


class VectorhouseError(Exception):
    """Base class of every error vectorhouse raises on purpose.

    >>> import vectorhouse
    >>> try:
    ...     vectorhouse.Client().get_collection("missing")
    ... except vectorhouse.VectorhouseError as exc:
    ...     print(exc.code)
    collection_not_found
    """

    code = "vectorhouse_error"


class InvalidArgumentError(VectorhouseError, ValueError):
    """An argument given to the public API is malformed."""

    code = "invalid_argument"


class InvalidCollectionNameError(InvalidArgumentError):
    """A collection name breaks the naming rules."""

    code = "invalid_collection_name"


class InvalidIDError(InvalidArgumentError):
    """A record id is empty, not a string, or otherwise unusable."""

    code = "invalid_id"


class DuplicateIDError(InvalidArgumentError):
    """The same id appears more than once in one call."""

    code = "duplicate_id"


class InvalidEmbeddingError(InvalidArgumentError):
    """An embedding is not a finite, non-empty sequence of numbers."""

    code = "invalid_embedding"


class DimensionMismatchError(InvalidEmbeddingError):
    """An embedding's length differs from the collection's dimension."""

    code = "dimension_mismatch"


class InvalidMetadataError(InvalidArgumentError):
    """A metadata mapping holds a key or value that cannot be stored."""

    code = "invalid_metadata"


class InvalidFilterError(InvalidArgumentError):
    """A ``where`` or ``where_document`` filter is malformed; the message names its path."""

    code = "invalid_filter"


class InvalidIncludeError(InvalidArgumentError):
    """``include`` names a field that does not exist."""

    code = "invalid_include"


class InvalidNResultsError(InvalidArgumentError, TypeError):
    """``n_results`` is not a positive integer.

    Also a :class:`TypeError`: Chroma raises ``TypeError`` for a count below one and
    ``ValueError`` for a count that is not an int, so both ``except`` clauses work.

    >>> issubclass(InvalidNResultsError, TypeError), issubclass(InvalidNResultsError, ValueError)
    (True, True)
    """

    code = "invalid_n_results"


class NotFoundError(VectorhouseError):
    """Something named by the caller does not exist."""

    code = "not_found"


class CollectionNotFoundError(NotFoundError, ValueError):
    """No collection has the given name.

    Also a :class:`ValueError`, since that is what Chroma raises here.
    """

    code = "collection_not_found"


class ConflictError(VectorhouseError):
    """The request conflicts with what is already stored."""

    code = "conflict"


class CollectionExistsError(ConflictError, ValueError):
    """``create_collection`` was asked for a name that is taken."""

    code = "collection_exists"


class IDAlreadyExistsError(ConflictError, ValueError):
    """``add`` was given ids that are already stored (use ``upsert`` to overwrite)."""

    code = "id_already_exists"


class EmbeddingFunctionConflictError(ConflictError, ValueError):
    """A collection was opened with an embedding function other than the one it was built with."""

    code = "embedding_function_conflict"


class EmbeddingError(VectorhouseError):
    """Computing embeddings failed or gave unusable output."""

    code = "embedding_error"


class EmbeddingDriftError(EmbeddingError):
    """The embedding function no longer gives the vectors it gave when the collection was built."""

    code = "embedding_drift"


class ResetNotAllowedError(VectorhouseError):
    """``reset()`` was called without ``Settings(allow_reset=True)``."""

    code = "reset_not_allowed"


class ClientClosedError(VectorhouseError):
    """The client (or a collection of it) was used after ``close()``."""

    code = "client_closed"


class NotSupportedError(VectorhouseError):
    """The call is valid, but the backend in use cannot do it (e.g. a ``$regex`` that
    the Milvus backend cannot translate).

    >>> NotSupportedError("no").code
    'not_supported'
    """

    code = "not_supported"


class StorageError(VectorhouseError):
    """The database file could not be read or written."""

    code = "storage_error"


class DatabaseLockedError(StorageError):
    """Another process held the write lock for longer than the configured timeout."""

    code = "database_locked"


class DatabaseCorruptError(StorageError):
    """The database file is damaged or is not a vectorhouse database.

    >>> DatabaseCorruptError("x").code
    'database_corrupt'
    """

    code = "database_corrupt"


class DiskFullError(StorageError):
    """The disk (or a file size limit) has no room for the write; nothing was stored.

    >>> issubclass(DiskFullError, StorageError)
    True
    """

    code = "disk_full"


class ReadOnlyDatabaseError(StorageError):
    """The database file or its folder cannot be written.

    >>> ReadOnlyDatabaseError("x").code
    'read_only_database'
    """

    code = "read_only_database"


class StorageIOError(StorageError):
    """Reading or writing the database file failed at the operating system level.

    >>> StorageIOError("x").code
    'storage_io_error'
    """

    code = "storage_io_error"


class IndexLoadError(StorageError, ValueError):
    """An index file is missing, truncated, corrupt, or was built with other parameters.

    >>> import pathlib
    >>> from vectorhouse.index import GraphIndex, IndexParams
    >>> try:
    ...     GraphIndex.load(pathlib.Path("/nonexistent.usearch"), IndexParams("l2", 3))
    ... except IndexLoadError as exc:
    ...     print(exc.code)
    index_load_error
    """

    code = "index_load_error"


class AuthenticationError(VectorhouseError, PermissionError):
    """The server refused the request: its bearer token is missing or wrong.

    >>> issubclass(AuthenticationError, PermissionError)
    True
    """

    code = "unauthorized"


class ReadOnlyError(VectorhouseError, PermissionError):
    """The server refused a write: it was started read-only (``vectorhouse serve
    --read-only``).

    >>> issubclass(ReadOnlyError, PermissionError)
    True
    """

    code = "read_only"


class ServerError(VectorhouseError):
    """The server failed to answer a request (an internal error, or an answer that
    is not a vectorhouse one).

    >>> ServerError("boom").code
    'server_error'
    """

    code = "server_error"


class ServerUnavailableError(ServerError, ConnectionError):
    """The server cannot be reached (after retries) or is shutting down.

    >>> issubclass(ServerUnavailableError, ConnectionError)
    True
    """

    code = "server_unavailable"
