"""Vector index backends: the interface, the exact flat index and the HNSW graph."""

from vectorhouse.index.base import (
    SPACES,
    IndexLoadError,
    IndexParams,
    SearchResult,
    VectorIndex,
)
from vectorhouse.index.flat import FlatIndex, exact_search, normalize_rows
from vectorhouse.index.graph import GraphIndex

__all__ = [
    "SPACES",
    "FlatIndex",
    "GraphIndex",
    "IndexLoadError",
    "IndexParams",
    "SearchResult",
    "VectorIndex",
    "exact_search",
    "normalize_rows",
]
