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
from vectorhouse.config import Settings
from vectorhouse.embeddings.base import EmbeddingFunction
from vectorhouse.embeddings.default import DefaultEmbeddingFunction
from vectorhouse.errors import (
    AuthenticationError,
    ClientClosedError,
    CollectionExistsError,
    CollectionNotFoundError,
    ConflictError,
    DatabaseLockedError,
    DimensionMismatchError,
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
    ResetNotAllowedError,
    ServerError,
    ServerUnavailableError,
    StorageError,
    VectorhouseError,
)
from vectorhouse.types import GetResult, Hit, QueryResult, Record

__all__ = [
    "AsyncHttpClient",
    "AsyncHttpCollection",
    "AuthenticationError",
    "Client",
    "ClientClosedError",
    "Collection",
    "CollectionExistsError",
    "CollectionNotFoundError",
    "ConflictError",
    "DatabaseLockedError",
    "DefaultEmbeddingFunction",
    "DimensionMismatchError",
    "DuplicateIDError",
    "EmbeddingDriftError",
    "EmbeddingError",
    "EmbeddingFunction",
    "EmbeddingFunctionConflictError",
    "EphemeralClient",
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
    "NotFoundError",
    "PersistentClient",
    "QueryResult",
    "Record",
    "ResetNotAllowedError",
    "ServerError",
    "ServerUnavailableError",
    "Settings",
    "StorageError",
    "VectorhouseError",
    "__version__",
]
