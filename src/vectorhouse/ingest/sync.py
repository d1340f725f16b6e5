"""Incremental sync: make a collection hold exactly the chunks of a corpus's sources.

The manifest is the records themselves. Every chunk carries the metadata ``source``
(the source's name), ``source_hash`` (a hash of its content and of the chunk options)
and ``chunks`` (how many chunks the source gave). A source is *unchanged* when all its
stored records carry its current hash and there are ``chunks`` of them; otherwise it is
read again. So nothing can get out of step with the records: a write cut short by a
crash or Ctrl-C leaves a source with too few records or with two hashes, and the next
run finishes it, reusing the vectors already stored for unchanged text.

A sync runs in three passes:

1. *scan*: list the corpus's sources and hash each one (files are read, not parsed);
   compare with the stored hashes: new, changed, unchanged, deleted;
2. *read*: parse and chunk the new and changed sources into a spool file on disk (so
   that the number of chunks is known, and memory stays bounded);
3. *embed*: upsert the spooled chunks in batches (ids derive from the source, the
   chunk's position and its text, so a rerun overwrites rather than duplicates); once
   all of a changed source's chunks are written, delete its records with another
   hash; finally delete the records of sources that are gone.

    >>> import vectorhouse
    >>> from vectorhouse.ingest import StdlibCorpus
    >>> col = vectorhouse.Client().create_collection(
    ...     "doc", embedding_function=lambda texts: [[1.0, len(t)] for t in texts])
    >>> sync(col, StdlibCorpus(["fnmatch"])).summary()
    '1 module: 1 new, 0 changed, 0 deleted, 0 unchanged'
    >>> sync(col, StdlibCorpus(["fnmatch"])).summary()
    '1 module: 0 new, 0 changed, 0 deleted, 1 unchanged'
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from vectorhouse.errors import InvalidArgumentError
from vectorhouse.ingest.chunker import ChunkOptions, chunk_document, token_counter_for
from vectorhouse.ingest.document import Chunk, Document

DEFAULT_BATCH_SIZE = 128
"""Chunks per upsert: one transaction, and one call of the embedding function."""

_PAGE = 10_000
_DELETE_KEYS = 500


class Source(Protocol):
    """Something to ingest: a file, a module's documentation, ...

    >>> from vectorhouse.ingest import ModuleSource
    >>> source: Source = ModuleSource("csv")
    >>> source.key, source.ext
    ('stdlib://csv', '.py')
    """

    @property
    def key(self) -> str:
        """Its name, unique in a collection; stored as metadata ``source``."""

    @property
    def ext(self) -> str:
        """Its type, stored as metadata ``ext`` (``.md``, ``.pdf``, ...)."""

    def fingerprint(self) -> str:
        """A hash of its content, cheap next to :meth:`load`."""

    def load(self) -> Document:
        """Its text, as blocks."""


class Corpus(Protocol):
    """A set of sources, and the part of a collection's sources it answers for.

    >>> from vectorhouse.ingest import StdlibCorpus
    >>> corpus: Corpus = StdlibCorpus(["csv"])
    >>> corpus.noun, corpus.owns("stdlib://json"), corpus.owns("notes.md")
    ('modules', True, False)
    """

    @property
    def noun(self) -> str:
        """What its sources are called in messages (``files``, ``modules``)."""

    def sources(self) -> Iterable[Source]:
        """Its sources as of now."""

    def owns(self, key: str) -> bool:
        """Whether a stored source belongs here (if it is no longer among
        :meth:`sources`, it was deleted)."""


@dataclass
class SyncReport:
    """What a sync found and did.

    >>> r = SyncReport(noun="files", scanned=3, new=1, unchanged=2, chunks_written=5)
    >>> r.summary()
    '3 files: 1 new, 0 changed, 0 deleted, 2 unchanged'
    """

    noun: str = "files"
    scanned: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    empty: int = 0
    """New or changed sources that gave no text (and so no chunks)."""
    chunks_written: int = 0
    chunks_deleted: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """Sources that could not be read, with why; what was stored for them is kept."""
    excluded: list[str] = field(default_factory=list)
    """Sources left out by a size limit (treated as absent)."""
    seconds: float = 0.0
    embed_seconds: float = 0.0
    dry_run: bool = False
    changes: list[tuple[str, str]] = field(default_factory=list)
    """With ``dry_run``: ``("new" | "changed" | "deleted", source)`` for each change."""

    @property
    def chunks_per_second(self) -> float:
        """Chunks written per second of the embed pass."""
        return self.chunks_written / self.embed_seconds if self.embed_seconds > 0 else 0.0

    def summary(self) -> str:
        """One line: how many sources were new, changed, deleted and unchanged."""
        noun = self.noun if self.scanned != 1 else self.noun.rstrip("s")
        return (
            f"{self.scanned:,} {noun}: {self.new:,} new, {self.changed:,} changed,"
            f" {self.deleted:,} deleted, {self.unchanged:,} unchanged"
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data.

        >>> SyncReport().to_dict()["chunks_per_second"]
        0.0
        """
        data = asdict(self)
        data["skipped"] = [{"source": k, "reason": r} for k, r in self.skipped]
        data["changes"] = [{"change": c, "source": k} for c, k in self.changes]
        data["chunks_per_second"] = round(self.chunks_per_second, 1)
        data["seconds"] = round(self.seconds, 3)
        data["embed_seconds"] = round(self.embed_seconds, 3)
        return data


class Progress:
    """Where a sync reports progress; this one ignores it (subclass to show it).

    Phases: ``scan`` (total unknown), ``read`` (sources) and ``embed`` (chunks).

    >>> Progress().start("scan", None)
    """

    def start(self, phase: str, total: int | None) -> None:
        """A phase begins, with ``total`` steps when known."""

    def advance(self, amount: int = 1) -> None:
        """``amount`` more steps of the current phase are done."""

    def stop(self) -> None:
        """The current phase is over."""

    def planned(self, report: SyncReport) -> None:
        """The scan is over: ``report`` says what will be written and deleted."""


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def chunk_id(key: str, position: int, text: str) -> str:
    """The id of a chunk: its source, its position and a hash of its text.

    >>> chunk_id("docs/a.md", 0, "Hello")
    'docs/a.md#0-185f8db32271'
    """
    return f"{key}#{position}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"


def chunk_metadata(
    key: str, ext: str, source_hash: str, doc: Document, chunk: Chunk, position: int, count: int
) -> dict[str, Any]:
    """The metadata stored with a chunk.

    >>> from vectorhouse.ingest.document import Chunk, Document
    >>> chunk_metadata("a.md", ".md", "h", Document("A"), Chunk("x", 3, 4, "A"), 0, 1)
    ... # doctest: +NORMALIZE_WHITESPACE
    {'source': 'a.md', 'ext': '.md', 'chunk': 0, 'chunks': 1, 'title': 'A',
     'section': 'A', 'source_hash': 'h', 'line_start': 3, 'line_end': 4}
    """
    meta: dict[str, Any] = {
        "source": key,
        "ext": ext,
        "chunk": position,
        "chunks": count,
        "title": doc.title,
        "section": chunk.section,
        "source_hash": source_hash,
        **doc.metadata,
    }
    if chunk.start > 0:
        meta[f"{doc.unit}_start"] = chunk.start
        meta[f"{doc.unit}_end"] = max(chunk.start, chunk.end)
    return meta


@dataclass
class _Stored:
    """What a collection holds for one source: per hash, [records, expected chunks]."""

    by_hash: dict[str, list[int]] = field(default_factory=dict)

    def complete(self, source_hash: str) -> bool:
        if set(self.by_hash) != {source_hash}:
            return False
        count, expected = self.by_hash[source_hash]
        return count == expected


def stored_sources(collection: Any, owns: Any = None) -> dict[str, _Stored]:
    """The ingested sources of a collection (records with ``source`` and
    ``source_hash``), optionally only those ``owns(key)`` accepts; read page by page.

    >>> import vectorhouse
    >>> col = vectorhouse.Client().create_collection("docs", embedding_function=None)
    >>> col.add(ids=["a#0", "b"], embeddings=[[1.0], [2.0]],
    ...         metadatas=[{"source": "a", "source_hash": "h", "chunks": 1}, {"source": "b"}])
    >>> {k: v.by_hash for k, v in stored_sources(col).items()}
    {'a': {'h': [1, 1]}}
    """
    found: dict[str, _Stored] = {}
    offset = 0
    while True:
        page = collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
        metas = page["metadatas"] or []
        for meta in metas:
            key = (meta or {}).get("source")
            source_hash = (meta or {}).get("source_hash")
            if not isinstance(key, str) or not isinstance(source_hash, str):
                continue
            if owns is not None and not owns(key):
                continue
            entry = found.setdefault(key, _Stored()).by_hash.setdefault(source_hash, [0, -1])
            entry[0] += 1
            expected = meta.get("chunks")
            if entry[1] == -1:
                entry[1] = expected if isinstance(expected, int) else -2
            elif entry[1] != expected:
                entry[1] = -2  # records of one hash disagree: not complete
        if len(metas) < _PAGE:
            return found
        offset += len(metas)


def delete_ingested(collection: Any, keys: list[str], keep_hash: str | None = None) -> int:
    """Delete the records that ingestion wrote for the sources ``keys`` (those with a
    ``source_hash``), except those of ``keep_hash``; returns how many.

    >>> import vectorhouse
    >>> col = vectorhouse.Client().create_collection("docs", embedding_function=None)
    >>> col.add(ids=["a#0", "a#1", "mine"], embeddings=[[1.0], [2.0], [3.0]],
    ...         metadatas=[{"source": "a", "source_hash": "old"},
    ...                    {"source": "a", "source_hash": "new"}, {"source": "a"}])
    >>> delete_ingested(col, ["a"], keep_hash="new"), col.get()["ids"]
    (1, ['a#1', 'mine'])
    """
    where = {"source": keys[0]} if len(keys) == 1 else {"source": {"$in": keys}}
    found = collection.get(where=where, include=["metadatas"])
    ids = [
        rid
        for rid, meta in zip(found["ids"], found["metadatas"], strict=True)
        if isinstance((meta or {}).get("source_hash"), str) and meta["source_hash"] != keep_hash
    ]
    if not ids:
        return 0
    return int(collection.delete(ids=ids)["deleted"])


@dataclass
class _Planned:
    key: str
    source_hash: str
    chunks: int
    had_records: bool


def sync(
    collection: Any,
    corpus: Corpus,
    *,
    options: ChunkOptions | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> SyncReport:
    """Bring ``collection`` in line with ``corpus`` (see the module docstring): embed new
    and changed sources, delete what is gone, leave unchanged sources untouched.
    ``dry_run=True`` only scans and reports.

    >>> import vectorhouse
    >>> from vectorhouse.ingest import StdlibCorpus
    >>> col = vectorhouse.Client().create_collection(
    ...     "docs", embedding_function=lambda texts: [[1.0, len(t)] for t in texts])
    >>> report = sync(col, StdlibCorpus(["glob"]), dry_run=True)
    >>> report.changes, col.count()
    ([('new', 'stdlib://glob')], 0)
    """
    options = options or ChunkOptions()
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive integer, got {batch_size!r}")
    fn = collection.embedding_function
    if fn is None:
        raise InvalidArgumentError(
            f"collection {collection.name!r} has no embedding function to embed text with"
        )
    count, limit = token_counter_for(fn)
    if limit is not None and options.max_tokens > limit:
        raise InvalidArgumentError(
            f"chunks of {options.max_tokens} tokens are longer than the collection's model"
            f" reads ({limit} tokens); use at most {limit}"
        )
    hooks = progress or Progress()
    started = time.perf_counter()
    report = SyncReport(noun=corpus.noun, dry_run=dry_run)
    salt = "|" + options.signature()

    # 1. scan
    hooks.start("scan", None)
    current: list[tuple[Source, str]] = []
    keep: set[str] = set()
    for source in corpus.sources():
        report.scanned += 1
        try:
            current.append((source, _short_hash(source.fingerprint() + salt)))
        except InvalidArgumentError as exc:
            report.skipped.append((source.key, str(exc)))
            keep.add(source.key)
        hooks.advance()
    hooks.stop()
    report.excluded = list(getattr(corpus, "too_large", []))
    stored = stored_sources(collection, corpus.owns)
    to_write: list[tuple[Source, str, bool]] = []
    for source, source_hash in current:
        state = stored.pop(source.key, None)
        if state is None:
            report.new += 1
            to_write.append((source, source_hash, False))
        elif state.complete(source_hash):
            report.unchanged += 1
        else:
            report.changed += 1
            to_write.append((source, source_hash, True))
    removed = [key for key in stored if key not in keep]
    report.deleted = len(removed)
    hooks.planned(report)
    if dry_run:
        report.changes = [("changed" if had else "new", s.key) for s, _, had in to_write]
        report.changes += [("deleted", key) for key in removed]
        report.seconds = time.perf_counter() - started
        return report

    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        # 2. read and chunk
        planned: list[_Planned] = []
        hooks.start("read", len(to_write))
        for source, source_hash, had_records in to_write:
            try:
                doc = source.load()
            except InvalidArgumentError as exc:
                report.skipped.append((source.key, str(exc)))
                hooks.advance()
                continue
            chunks = chunk_document(
                doc, max_tokens=options.max_tokens, overlap=options.overlap, count=count
            )
            for i, chunk in enumerate(chunks):
                meta = chunk_metadata(
                    source.key, source.ext, source_hash, doc, chunk, i, len(chunks)
                )
                record = [chunk_id(source.key, i, chunk.text), chunk.text, meta]
                spool.write(json.dumps(record, ensure_ascii=False) + "\n")
            planned.append(_Planned(source.key, source_hash, len(chunks), had_records))
            report.empty += not chunks
            hooks.advance()
        hooks.stop()

        # 3. embed and write, then clean up
        spool.seek(0)
        hooks.start("embed", sum(p.chunks for p in planned))
        embed_started = time.perf_counter()
        _write(collection, spool, planned, batch_size, report, hooks)
        report.embed_seconds = time.perf_counter() - embed_started
        hooks.stop()
    for start in range(0, len(removed), _DELETE_KEYS):
        report.chunks_deleted += delete_ingested(collection, removed[start : start + _DELETE_KEYS])
    report.seconds = time.perf_counter() - started
    return report


def _write(
    collection: Any,
    spool: Any,
    planned: list[_Planned],
    batch_size: int,
    report: SyncReport,
    hooks: Progress,
) -> None:
    """Upsert the spooled chunks batch by batch; finish each source once all its
    chunks are in (delete its records of older versions)."""
    pending = iter(planned)
    nxt = next(pending, None)
    finished_through = 0  # chunks of the sources finished so far

    def finish_done() -> None:
        nonlocal nxt, finished_through
        while nxt is not None and finished_through + nxt.chunks <= report.chunks_written:
            finished_through += nxt.chunks
            if nxt.had_records:
                report.chunks_deleted += delete_ingested(
                    collection, [nxt.key], keep_hash=nxt.source_hash
                )
            nxt = next(pending, None)

    finish_done()  # leading sources without chunks
    ids: list[str] = []
    docs: list[str] = []
    metas: list[dict[str, Any]] = []
    for line in itertools.chain(_lines(spool), [None]):
        if line is not None:
            rid, doc, meta = json.loads(line)
            ids.append(rid)
            docs.append(doc)
            metas.append(meta)
        if ids and (line is None or len(ids) >= batch_size):
            collection.upsert(ids=ids, documents=docs, metadatas=metas)
            report.chunks_written += len(ids)
            hooks.advance(len(ids))
            ids, docs, metas = [], [], []
            finish_done()


def _lines(spool: Any) -> Iterable[str]:
    for line in spool:
        if line.strip():
            yield line
