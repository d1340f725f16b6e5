"""Vector index backends: the interface, the exact flat index and the HNSW index."""

from vectorhouse.index.base import (
    SPACES,
    IndexLoadError,
    IndexParams,
    SearchResult,
    VectorIndex,
)
from vectorhouse.index.flat import FlatIndex, exact_search, normalize_rows
from vectorhouse.index.hnsw import HnswIndex

__all__ = [
    "SPACES",
    "FlatIndex",
    "HnswIndex",
    "IndexLoadError",
    "IndexParams",
    "SearchResult",
    "VectorIndex",
    "exact_search",
    "normalize_rows",
]
