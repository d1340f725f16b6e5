"""Index files on disk: atomic saves with an "applied through seq N" watermark.

A collection's index is saved as ``<cid>.<seq>.usearch`` beside a ``<cid>.<seq>.json``
manifest; ``seq`` is the watermark: every write up to and including it is in the file.
The graph file is written to a temporary name and renamed, and the manifest (which
records the graph file's size and checksum) is renamed into place after it, so a reader
that finds a manifest finds a complete graph. Older generations are removed after a
save.

The manifest (format :data:`FORMAT`) says whose graph it is: the database's random id,
the collection's id, the dimension, the space and the graph parameters, the watermark,
the graph file's size, its CRC-32, and the CRC-32 of a fixed sample of its blocks. A
generation is used only if every one of them agrees with the database and the watermark
is not ahead of the collection's latest write (a database restored from an older
backup); anything else, including a manifest that is not a JSON object of that shape,
makes the engine rebuild from storage.

Opening checks the size and :func:`sample_checksum` (the headers and links in full, the
vectors in samples: about a tenth of the file), so that a graph opens in milliseconds as
a memory-mapped view; the whole file's CRC is checked by :meth:`IndexFiles.inspect`
(``vectorhouse check``). A vector damaged where the sample does not look cannot give a
wrong answer: the engine re-ranks every graph result with the float32 vectors in SQLite
and searches exactly whenever the graph comes back short.

    >>> import tempfile
    >>> files = IndexFiles(Path(tempfile.mkdtemp()))
    >>> files.latest("no-such-collection") is None
    True
"""

from __future__ import annotations

import errno
import json
import logging
import mmap
import os
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vectorhouse.index.base import IndexParams
from vectorhouse.index.graph import GraphIndex, vector_region

log = logging.getLogger("vectorhouse")

ADD_THREADS = 0
"""usearch threads for inserts: 0 is one per core."""

FORMAT = 3
"""The version of the index file format. Version 1 (no format field, no identity) was
written by the first release and version 2 (an hnswlib graph, ``.hnsw``) by the next;
their files are rebuilt once, with a warning."""

SUFFIX = ".usearch"
_OLD_SUFFIXES = (".hnsw",)
_SAMPLE_BLOCKS = 32
_SAMPLE_BYTES = 8 * 1024

_MAX_MANIFEST_BYTES = 64 * 1024
_MAX_SEQ = 2**63 - 1


@dataclass(frozen=True)
class Expected:
    """What a collection's index file must agree with: the database and the collection
    as storage has them now."""

    database_id: str
    collection_id: str
    params: IndexParams
    last_seq: int


@dataclass(frozen=True)
class Loaded:
    """The outcome of :meth:`IndexFiles.load`: a graph and its watermark, or why none."""

    index: GraphIndex | None
    watermark: int = 0
    problem: str | None = None
    """Why the newest generation could not be used (None when it was, or there was none)."""


class IndexSaveError(OSError):
    """An index file could not be written; the message says what failed."""


class IndexFiles:
    """The folder of saved index files of one database."""

    def __init__(self, directory: Path, database_id: str = "") -> None:
        self.directory = directory
        self.database_id = database_id

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
        return self.directory / f"{stem}{SUFFIX}", self.directory / f"{stem}.json"

    def latest(self, collection_id: str) -> int | None:
        """The watermark of the newest saved generation, or None.

        >>> IndexFiles(Path("/nonexistent")).latest("c") is None
        True
        """
        gens = self._generations(collection_id)
        return gens[0] if gens else None

    def load(self, expected: Expected) -> Loaded:
        """Load the newest usable generation of ``expected.collection_id``.

        A generation that cannot be used (truncated, garbage, another collection's or
        database's, other parameters, a watermark ahead of the database) is removed
        where the folder allows it, and the first reason is returned in
        :attr:`Loaded.problem`; the caller rebuilds from storage and says so once.

        >>> import tempfile
        >>> want = Expected("db", "c", IndexParams("l2", 2), 0)
        >>> IndexFiles(Path(tempfile.mkdtemp())).load(want)
        Loaded(index=None, watermark=0, problem=None)
        """
        problem: str | None = None
        for seq in self._generations(expected.collection_id):
            graph, manifest = self._paths(expected.collection_id, seq)
            try:
                reason = check_manifest(read_manifest(manifest), expected, seq, graph, full=False)
                if reason is None:
                    return Loaded(GraphIndex.load(graph, expected.params, threads=ADD_THREADS), seq)
            except (OSError, ValueError) as exc:
                reason = str(exc)
            problem = problem or f"index file {graph.name}: {reason}"
            self._unlink(manifest, graph, *(graph.with_suffix(s) for s in _OLD_SUFFIXES))
        return Loaded(None, problem=problem)

    def inspect(self, expected: Expected) -> Loaded | None:
        """Check the newest generation as :meth:`load` would, removing nothing; None
        when there is no saved generation.

        >>> import tempfile
        >>> want = Expected("d", "c", IndexParams("l2", 2), 0)
        >>> IndexFiles(Path(tempfile.mkdtemp())).inspect(want) is None
        True
        """
        gens = self._generations(expected.collection_id)
        if not gens:
            return None
        graph, manifest = self._paths(expected.collection_id, gens[0])
        try:
            reason = check_manifest(read_manifest(manifest), expected, gens[0], graph)
            if reason is None:
                index = GraphIndex.load(graph, expected.params, threads=ADD_THREADS)
                return Loaded(index, gens[0])
        except (OSError, ValueError) as exc:
            reason = str(exc)
        return Loaded(None, gens[0], f"index file {graph.name}: {reason}")

    def save(self, collection_id: str, seq: int, index: GraphIndex) -> None:
        """Save ``index`` as the generation ``seq``, atomically, then prune older ones.

        Raises :class:`IndexSaveError` (an ``OSError``) saying what failed: a folder
        that cannot be created or written to, a full disk.
        """
        graph, manifest = self._paths(collection_id, seq)
        tmp_graph = graph.with_name(f".{graph.name}.{os.getpid()}.tmp")
        tmp_manifest = manifest.with_name(f".{manifest.name}.{os.getpid()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Create the file here, so that a folder that cannot be written says so.
            with open(tmp_graph, "wb"):
                pass
        except OSError as exc:
            raise IndexSaveError(
                exc.errno or errno.EIO,
                f"cannot write to the index folder {self.directory}: {exc.strerror or exc}",
            ) from exc
        index.save(tmp_graph)
        size = tmp_graph.stat().st_size
        if size == 0:
            self._unlink(tmp_graph)
            raise IndexSaveError(
                errno.EIO, f"the graph writer wrote nothing to {tmp_graph} (is the disk full?)"
            )
        checksum = file_checksum(tmp_graph)
        sampled = sample_checksum(tmp_graph)
        _fsync(tmp_graph)
        os.replace(tmp_graph, graph)
        params = index.params
        tmp_manifest.write_text(
            json.dumps(
                {
                    "format": FORMAT,
                    "database_id": self.database_id,
                    "collection_id": collection_id,
                    "dimension": params.dim,
                    "space": params.space,
                    "params": asdict(params),
                    "seq": seq,
                    "size": size,
                    "checksum": checksum,
                    "sample_checksum": sampled,
                }
            ),
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
        for suffix in (SUFFIX, *_OLD_SUFFIXES):
            for entry in self.directory.glob(f"{collection_id}.*{suffix}"):
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
        """Remove files, best effort: a file that is gone already, or a folder that is
        read-only, leaves the file in place (it is checked again on every open)."""
        for path in paths:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.debug("could not remove %s: %s", path, exc)


def read_manifest(path: Path) -> Any:
    """The JSON value in a manifest file; ``ValueError`` when it is not JSON at all.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "m.json"
    >>> _ = path.write_text("null")
    >>> read_manifest(path) is None
    True
    """
    with open(path, "rb") as fh:
        raw = fh.read(_MAX_MANIFEST_BYTES + 1)
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise ValueError(f"manifest is larger than {_MAX_MANIFEST_BYTES} bytes")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"manifest is not JSON: {exc}") from exc
    except ValueError as exc:  # json.JSONDecodeError, and ints of too many digits
        raise ValueError(f"manifest is not JSON: {exc}") from exc


def check_manifest(
    meta: Any, expected: Expected, seq: int, graph: Path, *, full: bool = True
) -> str | None:
    """Why the manifest ``meta`` (any JSON value) of generation ``seq`` does not fit
    ``expected``, or None when it does and ``graph`` has its size and checksum (the
    whole file's with ``full``, else the sampled blocks').

    >>> want = Expected("db", "c", IndexParams("l2", 2), 5)
    >>> check_manifest([], want, 5, Path("/nonexistent"))
    'manifest is not a JSON object'
    >>> check_manifest({"seq": 5, "size": 1, "params": {}}, want, 5, Path("/nonexistent"))
    'written in index format 1 by an earlier release; the current format is 3'
    """
    if not isinstance(meta, dict):
        return "manifest is not a JSON object"
    version = meta.get("format", 1)
    if version != FORMAT or not _is_int(version):
        shown = version if _is_int(version) else repr(version)
        return (
            f"written in index format {shown} by an earlier release; the current format is {FORMAT}"
        )
    params = expected.params
    checks: list[tuple[str, object, object]] = [
        ("database id", meta.get("database_id"), expected.database_id),
        ("collection id", meta.get("collection_id"), expected.collection_id),
        ("dimension", meta.get("dimension"), params.dim),
        ("space", meta.get("space"), params.space),
        ("graph parameters", _shape(meta.get("params")), _shape(asdict(params))),
        ("watermark", meta.get("seq"), seq),
    ]
    for what, found, want in checks:
        if found != want or type(found) is not type(want):
            return f"{what} {_short(found)} does not match this database's {_short(want)}"
    if seq > expected.last_seq:
        return (
            f"its watermark (write {seq}) is ahead of the database (write"
            f" {expected.last_seq}): the database was restored from an older copy"
        )
    size, checksum = meta.get("size"), meta.get("checksum")
    sampled = meta.get("sample_checksum")
    if not _is_int(size) or not isinstance(checksum, str) or not isinstance(sampled, str):
        return "manifest has no valid size or checksum"
    actual = graph.stat().st_size
    if actual != size:
        return f"graph file has {actual} bytes, its manifest says {size}"
    if sample_checksum(graph) != sampled or (full and file_checksum(graph) != checksum):
        return "graph file's checksum differs from its manifest (the file was altered)"
    return None


def sample_checksum(path: Path) -> str:
    """What opening a graph checks: the CRC-32 of the file's size, of every byte
    outside its block of vectors (headers and the graph's links: all that could lead
    the search astray in memory), and of fixed samples of the vectors (a damaged vector
    cannot: results are re-ranked with the vectors in SQLite). The whole file is read
    only by :func:`file_checksum`.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "f"
    >>> _ = path.write_bytes(b"abc")
    >>> sample_checksum(path)
    'crc32-open:09bf1083'
    """
    size = path.stat().st_size
    start, end = vector_region(path)
    crc = zlib.crc32(str(size).encode())
    with open(path, "rb") as fh:
        crc = _crc_range(fh, 0, start, crc)
        step = max((end - start) // _SAMPLE_BLOCKS, 1)
        for offset in range(start, end, step):
            fh.seek(offset)
            crc = zlib.crc32(fh.read(min(_SAMPLE_BYTES, end - offset)), crc)
        crc = _crc_range(fh, end, size, crc)
    return f"crc32-open:{crc:08x}"


def _crc_range(fh: Any, start: int, end: int, crc: int) -> int:
    """The CRC-32 of bytes ``start:end`` of an open file, read through a memory map."""
    if end <= start:
        return crc
    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm, memoryview(mm) as view:
        for at in range(start, min(end, len(mm)), 1 << 24):
            with view[at : min(at + (1 << 24), end)] as chunk:
                crc = zlib.crc32(chunk, crc)
    return crc


def file_checksum(path: Path) -> str:
    """The CRC-32 of a file, as the manifest records it.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "f"
    >>> _ = path.write_bytes(b"abc")
    >>> file_checksum(path)
    'crc32:352441c2'
    """
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return f"crc32:{crc:08x}"


def _is_int(value: object) -> bool:
    return type(value) is int and 0 <= value <= _MAX_SEQ


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _shape(params: object) -> object:
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
