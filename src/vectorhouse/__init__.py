"""vectorhouse: an embedded vector database with embedding models built in.

>>> import vectorhouse
>>> client = vectorhouse.Client()
>>> col = client.create_collection("docs", embedding_function=None)
>>> col.add(ids=["a"], embeddings=[[1.0, 0.0]], documents=["hello"])
>>> col.query(query_embeddings=[[1.0, 0.0]], n_results=1)["documents"]
[['hello']]
"""

__version__ = "0.1.0"

from vectorhouse.api.client import Client, EphemeralClient, PersistentClient
from vectorhouse.api.collection import Collection
from vectorhouse.api.http_client import (
    AsyncHttpClient,
    AsyncHttpCollection,
    HttpClient,
    HttpCollection,
)
from vectorhouse.api.search import K, Key, Knn, Limit, Rrf, Search, SearchResult, Select, Val
from vectorhouse.config import Settings
from vectorhouse.embeddings.base import EmbeddingFunction
from vectorhouse.embeddings.default import DefaultEmbeddingFunction
from vectorhouse.engine.check import CheckFinding, CheckReport
from vectorhouse.engine.hybrid import Fusion
from vectorhouse.errors import (
    AuthenticationError,
    ClientClosedError,
    CollectionExistsError,
    CollectionNotFoundError,
    ConflictError,
    DatabaseCorruptError,
    DatabaseLockedError,
    DimensionMismatchError,
    DiskFullError,
    DuplicateIDError,
    EmbeddingDriftError,
    EmbeddingError,
    EmbeddingFunctionConflictError,
    IDAlreadyExistsError,
    InvalidArgumentError,
    InvalidCollectionNameError,
    InvalidEmbeddingError,
    InvalidFilterError,
    InvalidIDError,
    InvalidIncludeError,
    InvalidMetadataError,
    InvalidNResultsError,
    NotFoundError,
    NotSupportedError,
    ReadOnlyDatabaseError,
    ReadOnlyError,
    ResetNotAllowedError,
    ServerError,
    ServerUnavailableError,
    StorageError,
    StorageIOError,
    VectorhouseError,
)
from vectorhouse.milvus.client import MilvusClient
from vectorhouse.types import GetResult, Hit, QueryResult, Record

__all__ = [
    "AsyncHttpClient",
    "AsyncHttpCollection",
    "AuthenticationError",
    "CheckFinding",
    "CheckReport",
    "Client",
    "ClientClosedError",
    "Collection",
    "CollectionExistsError",
    "CollectionNotFoundError",
    "ConflictError",
    "DatabaseCorruptError",
    "DatabaseLockedError",
    "DefaultEmbeddingFunction",
    "DimensionMismatchError",
    "DiskFullError",
    "DuplicateIDError",
    "EmbeddingDriftError",
    "EmbeddingError",
    "EmbeddingFunction",
    "EmbeddingFunctionConflictError",
    "EphemeralClient",
    "Fusion",
    "GetResult",
    "Hit",
    "HttpClient",
    "HttpCollection",
    "IDAlreadyExistsError",
    "InvalidArgumentError",
    "InvalidCollectionNameError",
    "InvalidEmbeddingError",
    "InvalidFilterError",
    "InvalidIDError",
    "InvalidIncludeError",
    "InvalidMetadataError",
    "InvalidNResultsError",
    "K",
    "Key",
    "Knn",
    "Limit",
    "MilvusClient",
    "NotFoundError",
    "NotSupportedError",
    "PersistentClient",
    "QueryResult",
    "ReadOnlyDatabaseError",
    "ReadOnlyError",
    "Record",
    "ResetNotAllowedError",
    "Rrf",
    "Search",
    "SearchResult",
    "Select",
    "ServerError",
    "ServerUnavailableError",
    "Settings",
    "StorageError",
    "StorageIOError",
    "Val",
    "VectorhouseError",
    "__version__",
]
