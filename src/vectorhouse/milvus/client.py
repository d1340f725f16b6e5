"""``MilvusClient``: the vectorhouse client API over Milvus (a server, a cluster, or
milvus-lite in a local file).

    >>> import tempfile, os, vectorhouse
    >>> with vectorhouse.MilvusClient(uri=os.path.join(tempfile.mkdtemp(), "m.db")) as client:
    ...     col = client.create_collection("docs", embedding_function=None)
    ...     col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["x", "y"])
    ...     col.query(query_embeddings=[[0.9, 0.1]], n_results=1)["ids"]
    [['a']]
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from vectorhouse.api.client import Client
from vectorhouse.config import Settings


def _normalize_uri(uri: str) -> str:
    """pymilvus' spelling of a URI: ``milvus://h:p`` becomes ``http://h:p``.

    >>> _normalize_uri("milvus://db.internal:19530"), _normalize_uri("./milvus.db")
    ('http://db.internal:19530', './milvus.db')
    """
    if uri.startswith("milvus://"):
        return "http://" + uri[len("milvus://") :]
    return uri


class MilvusClient(Client):
    """A client whose collections live in Milvus; the collection API is unchanged.

    ``uri`` is a Milvus server or cluster (``"http://host:19530"``, ``"milvus://host:19530"``,
    ``"https://..."`` for a managed one, with ``token=``), or a local file such as
    ``"./milvus.db"``, which runs milvus-lite (``pip install 'vectorhouse[milvus]'``).
    ``index_type`` is the Milvus index of new collections: ``"HNSW"`` (with the
    collection's ``hnsw`` settings), ``"FLAT"`` (exact) or another Milvus index type
    such as ``"AUTOINDEX"``.

    >>> import tempfile, os
    >>> client = MilvusClient(uri=os.path.join(tempfile.mkdtemp(), "m.db"), index_type="FLAT")
    >>> client.list_collections()
    []
    >>> client.close()
    """

    def __init__(
        self,
        uri: str = "./milvus.db",
        *,
        token: str = "",
        db_name: str = "",
        index_type: str = "HNSW",
        timeout: float | None = None,
        settings: Settings | None = None,
    ) -> None:
        from vectorhouse.milvus.engine import MilvusEngine

        self.settings = settings or Settings()
        self._verified: set[tuple[str, str]] = set()
        self._path: Path | None = None
        self.uri = _normalize_uri(str(uri))
        self._key = f"milvus:{self.uri}:{db_name}:{uuid.uuid4()}"
        self._engine: Any = MilvusEngine(
            self.uri,
            token=token,
            db_name=db_name,
            index_type=index_type,
            timeout=timeout,
            strict_add_ids=self.settings.strict_add_ids,
        )

    def __repr__(self) -> str:
        return f"MilvusClient({self.uri})"
