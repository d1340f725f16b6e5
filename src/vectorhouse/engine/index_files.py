"""Index files on disk: atomic saves with an "applied through seq N" watermark.

A collection's index is saved as ``<cid>.<seq>.hnsw`` beside a ``<cid>.<seq>.json``
manifest; ``seq`` is the watermark: every write up to and including it is in the file.
The graph file is written to a temporary name and renamed, and the manifest (which
records the graph file's size) is renamed into place after it, so a reader that finds a
manifest finds a complete graph. Older generations are removed after a save.

    >>> import tempfile
    >>> files = IndexFiles(Path(tempfile.mkdtemp()))
    >>> files.latest("no-such-collection") is None
    True
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

from vectorhouse.index.base import IndexParams
from vectorhouse.index.hnsw import HnswIndex

log = logging.getLogger("vectorhouse")

ADD_THREADS = -1
"""hnswlib threads for inserts: one per core."""


class IndexFiles:
    """The folder of saved index files of one database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _generations(self, collection_id: str) -> list[int]:
        if not self.directory.is_dir():
            return []
        seqs = []
        for entry in self.directory.glob(f"{collection_id}.*.json"):
            try:
                seqs.append(int(entry.name.split(".")[1]))
            except (IndexError, ValueError):
                continue
        return sorted(seqs, reverse=True)

    def _paths(self, collection_id: str, seq: int) -> tuple[Path, Path]:
        stem = f"{collection_id}.{seq:020d}"
        return self.directory / f"{stem}.hnsw", self.directory / f"{stem}.json"

    def latest(self, collection_id: str) -> int | None:
        """The watermark of the newest saved generation, or None.

        >>> IndexFiles(Path("/nonexistent")).latest("c") is None
        True
        """
        gens = self._generations(collection_id)
        return gens[0] if gens else None

    def load(self, collection_id: str, params: IndexParams) -> tuple[HnswIndex, int] | None:
        """Load the newest usable generation as ``(index, watermark)``, or None.

        A generation that fails to load (truncated, garbage, other parameters) is
        removed with a logged warning; the caller rebuilds from storage.
        """
        for seq in self._generations(collection_id):
            graph, manifest = self._paths(collection_id, seq)
            try:
                meta = json.loads(manifest.read_text("utf-8"))
                if _identity(meta.get("params")) != _identity(asdict(params)):
                    raise ValueError("saved with other index parameters")
                if graph.stat().st_size != meta["size"]:
                    raise ValueError("graph file size differs from its manifest")
                index = HnswIndex.load(graph, params, add_threads=ADD_THREADS)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning(
                    "index file %s is unusable (%s); it will be rebuilt from storage",
                    graph,
                    exc,
                )
                self._unlink(manifest, graph)
                continue
            return index, seq
        return None

    def save(self, collection_id: str, seq: int, index: HnswIndex) -> None:
        """Save ``index`` as the generation ``seq``, atomically, then prune older ones."""
        self.directory.mkdir(parents=True, exist_ok=True)
        graph, manifest = self._paths(collection_id, seq)
        tmp_graph = graph.with_name(f".{graph.name}.{os.getpid()}.tmp")
        tmp_manifest = manifest.with_name(f".{manifest.name}.{os.getpid()}.tmp")
        index.save(tmp_graph)
        _fsync(tmp_graph)
        os.replace(tmp_graph, graph)
        tmp_manifest.write_text(
            json.dumps({"seq": seq, "size": graph.stat().st_size, "params": asdict(index.params)}),
            "utf-8",
        )
        _fsync(tmp_manifest)
        os.replace(tmp_manifest, manifest)
        self._prune(collection_id, seq)

    def _prune(self, collection_id: str, keep: int) -> None:
        """Remove older generations, and what saves that died half-way left behind:
        graphs without a manifest and temporary files of processes that are gone."""
        for old in self._generations(collection_id):
            if old < keep:
                self._unlink(*reversed(self._paths(collection_id, old)))
        for entry in self.directory.glob(f"{collection_id}.*.hnsw"):
            parts = entry.name.split(".")
            if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < keep:
                self._unlink(entry)
        for entry in self.directory.glob(f".{collection_id}.*.tmp"):
            pid = entry.name.split(".")[-2]
            if pid.isdigit() and not _process_alive(int(pid)):
                self._unlink(entry)

    def remove_all(self, collection_id: str) -> None:
        """Remove every saved generation of a collection, and leftovers of failed saves."""
        self._prune(collection_id, 2**63)

    @staticmethod
    def _unlink(*paths: Path) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _identity(params: object) -> object:
    """Parameters that shape the graph (``ef_search`` is a query-time setting)."""
    if not isinstance(params, dict):
        return params
    return {k: v for k, v in params.items() if k != "ef_search"}


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process is not saving this collection right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
