"""Batch embedding on Ray (``pip install 'vectorhouse[ray]'``): the collection's own
model, in a pool of Ray actors, writing into an embedded or a Milvus collection.

:func:`embed_into` follows Ray Data's conventions: ``dataset.map_batches`` with a
callable class, so each actor loads the model once and embeds many batches. The
vectors go back to the driver, which writes them into the collection with ``upsert``
(so a run that stopped can be run again: nothing is duplicated). Embedding, not
writing, is what takes the time (about 120 texts/s per two cores).

:class:`RayEmbeddingFunction` wraps a collection's function so that every call is
split over Ray actors; the collection sees the same function (same name and
config), so the same-model rule holds. ``vectorhouse ingest --ray`` uses it.

Ray is imported only when one of these is called. On a laptop or in tests,
``ray.init(num_cpus=2, include_dashboard=False)`` before the call starts Ray locally;
with no Ray running, these functions start a local one the same way. On a cluster,
``ray.init(address="ray://head:10001")`` (or ``address=`` here) is the only change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from vectorhouse.api.embedding import DRIFT_MIN_COSINE, PROBE_TEXT, check_same_model
from vectorhouse.embeddings.base import call_embedding_function, function_config, lookup
from vectorhouse.errors import EmbeddingDriftError, InvalidArgumentError, NotSupportedError

__all__ = ["RayEmbeddingFunction", "embed_into"]

log = logging.getLogger("vectorhouse.ray")

EMBEDDING_COLUMN = "__vectorhouse_embedding"


def _ray(address: str | None) -> Any:
    """The ``ray`` module, connected (to ``address``, or a local Ray on this machine)."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise NotSupportedError(
            "batch embedding on Ray needs Ray: pip install 'vectorhouse[ray]'"
        ) from exc
    if not ray.is_initialized():
        if address is None or address == "local":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    return ray


def _rebuild(stored: dict[str, Any], threads: int) -> Any:
    """The embedding function described by ``stored`` ({"name", "config"})."""
    cls = lookup(stored["name"])
    if cls is None:
        raise NotSupportedError(
            f"embedding function {stored['name']!r} is not registered in the Ray worker"
        )
    fn = cls.build_from_config(stored.get("config", {}))
    if hasattr(fn, "num_threads"):
        fn.num_threads = threads  # a runtime setting: the vectors do not change
    return fn


class _Embedder:
    """A Ray actor's state: the model, loaded once, and checked against the collection's
    fingerprint so that no worker embeds with another model."""

    def __init__(
        self,
        stored: dict[str, Any],
        fingerprint: list[float] | None,
        text_column: str,
        threads: int,
    ) -> None:
        self.fn = _rebuild(stored, threads)
        self.text_column = text_column
        if fingerprint is not None:
            probe = call_embedding_function(self.fn, [PROBE_TEXT])[0].astype(np.float64)
            ref = np.asarray(fingerprint, dtype=np.float64)
            cosine = float(probe @ ref / (np.linalg.norm(probe) * np.linalg.norm(ref) or 1.0))
            if cosine < DRIFT_MIN_COSINE:
                raise EmbeddingDriftError(
                    f"a Ray worker's model does not give the collection's vectors (probe"
                    f" cosine {cosine:.4f}); install the same model on every node"
                )

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        texts = [str(t) for t in batch[self.text_column]]
        batch[EMBEDDING_COLUMN] = call_embedding_function(self.fn, texts)
        return batch

    def embed(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The same as calling the actor (a named method for Ray actor handles)."""
        return self(batch)


def _stored_function(collection: Any) -> tuple[dict[str, Any], list[float] | None]:
    fn = collection.embedding_function
    stored = function_config(fn) if fn is not None else None
    if stored is None:
        raise InvalidArgumentError(
            f"collection {collection.name!r} has no embedding function that Ray workers can"
            " rebuild (one with name() and get_config(), such as the default model)"
        )
    # The collection's own check: dimension, drift, and the fingerprint stored if new.
    check_same_model(collection._client, str(collection._row.id), collection.name, fn)
    fingerprint = collection.configuration_json.get("fingerprint", {}).get("vector")
    return stored, fingerprint


def embed_into(
    dataset: Any,
    collection: Any,
    *,
    text_column: str = "text",
    id_column: str = "id",
    metadata_columns: Sequence[str] = (),
    batch_size: int = 256,
    concurrency: int = 1,
    num_cpus: float = 1.0,
    write_batch_size: int = 1_000,
    address: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Embed ``dataset[text_column]`` with the collection's model on ``concurrency`` Ray
    actors and upsert the records (ids from ``id_column``, the text as the document,
    ``metadata_columns`` as metadata) into ``collection``; returns how many.

    ``dataset`` is a ``ray.data.Dataset`` (or anything ``ray.data.from_items`` takes).
    ``progress`` is called with the number of records written so far.

    >>> import vectorhouse, ray  # doctest: +SKIP
    >>> ray.init(num_cpus=2, include_dashboard=False)  # doctest: +SKIP
    >>> col = vectorhouse.Client().create_collection("docs")  # doctest: +SKIP
    >>> ds = ray.data.from_items([{"id": "a", "text": "hello"}])  # doctest: +SKIP
    >>> embed_into(ds, col, concurrency=2)  # doctest: +SKIP
    1
    """
    for name, value in (("batch_size", batch_size), ("concurrency", concurrency)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgumentError(f"embed_into: {name} must be a positive int, got {value!r}")
    ray = _ray(address)
    stored, fingerprint = _stored_function(collection)
    if not hasattr(dataset, "map_batches"):
        dataset = ray.data.from_items(list(dataset))
    embedded = dataset.map_batches(
        _Embedder,
        fn_constructor_kwargs={
            "stored": stored,
            "fingerprint": fingerprint,
            "text_column": text_column,
            "threads": max(1, int(num_cpus)),
        },
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        num_cpus=num_cpus,
        batch_format="numpy",
    )
    written = 0
    for batch in embedded.iter_batches(batch_size=write_batch_size, batch_format="numpy"):
        ids = [str(i) for i in batch[id_column]]
        metadatas = None
        if metadata_columns:
            metadatas = [
                {c: _plain(batch[c][i]) for c in metadata_columns} for i in range(len(ids))
            ]
        collection.upsert(
            ids=ids,
            embeddings=np.asarray(batch[EMBEDDING_COLUMN], dtype=np.float32),
            documents=[str(t) for t in batch[text_column]],
            metadatas=metadatas,
        )
        written += len(ids)
        if progress is not None:
            progress(written)
    return written


def _plain(value: Any) -> Any:
    """A numpy scalar from a Ray batch as the Python value metadata takes."""
    return value.item() if isinstance(value, np.generic) else value


class RayEmbeddingFunction:
    """The function ``fn`` run on ``concurrency`` Ray actors: each call is split into
    that many parts, embedded in parallel, and put back in order.

    It has ``fn``'s name and config, so a collection takes it as its own model.

    >>> from vectorhouse import DefaultEmbeddingFunction
    >>> RayEmbeddingFunction(DefaultEmbeddingFunction()).name()  # starts no actor yet
    'default'
    """

    def __init__(
        self,
        fn: Any,
        *,
        concurrency: int = 2,
        num_cpus: float = 1.0,
        address: str | None = None,
    ) -> None:
        stored = function_config(fn)
        if stored is None:
            raise InvalidArgumentError(
                "RayEmbeddingFunction needs a function with name() and get_config()"
            )
        self._fn = fn
        self._stored = stored
        self.concurrency = concurrency
        self.num_cpus = num_cpus
        self.address = address
        self._actors: list[Any] = []
        self.seconds = 0.0

    def name(self) -> str:
        """The wrapped function's name."""
        return str(self._stored["name"])

    def get_config(self) -> dict[str, Any]:
        """The wrapped function's config."""
        return dict(self._stored.get("config", {}))

    def _pool(self) -> list[Any]:
        if not self._actors:
            ray = _ray(self.address)
            actor = ray.remote(num_cpus=self.num_cpus)(_Embedder)
            self._actors = [
                actor.remote(self._stored, None, "text", max(1, int(self.num_cpus)))
                for _ in range(self.concurrency)
            ]
        return self._actors

    def __call__(self, input: list[str]) -> npt.NDArray[np.float32]:
        texts = list(input)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        started = time.perf_counter()
        actors = self._pool()
        import ray

        parts = np.array_split(np.arange(len(texts)), min(len(actors), len(texts)))
        futures = [
            actor.embed.remote({"text": [texts[i] for i in part]})
            for actor, part in zip(actors, parts, strict=False)
        ]
        out = np.concatenate([r[EMBEDDING_COLUMN] for r in ray.get(futures)])
        self.seconds += time.perf_counter() - started
        return out

    def close(self) -> None:
        """Stop the actors."""
        if self._actors:
            import ray

            for actor in self._actors:
                ray.kill(actor)
            self._actors = []
