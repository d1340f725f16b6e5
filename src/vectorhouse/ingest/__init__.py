"""Document ingestion: files, folders and other sources into a collection, incrementally.

Readers turn files (text, Markdown, reStructuredText, HTML, source code, PDF) into
blocks; the chunker cuts them by structure under a token limit of the collection's
model; :func:`sync` writes only what changed. The ``vectorhouse ingest`` command is a
thin face over :func:`ingest_files`.

    >>> import pathlib, tempfile, vectorhouse
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "ops.md").write_text("# Logs\\n\\nLogs rotate daily.\\n")
    >>> col = vectorhouse.Client().create_collection(
    ...     "notes", embedding_function=lambda texts: [[1.0, len(t)] for t in texts])
    >>> ingest_files(col, [folder], base=folder).summary()
    '1 file: 1 new, 0 changed, 0 deleted, 0 unchanged'
    >>> col.get()["documents"]
    ['Logs\\n\\nLogs rotate daily.']
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from vectorhouse.ingest.chunker import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_OVERLAP,
    ChunkOptions,
    chunk_document,
    token_counter_for,
)
from vectorhouse.ingest.document import Block, Chunk, Document
from vectorhouse.ingest.files import DEFAULT_MAX_BYTES, FileCorpus, FileSource
from vectorhouse.ingest.readers import kind_of, read_document
from vectorhouse.ingest.stdlib import DEMO_MODULES, ModuleSource, StdlibCorpus, module_document
from vectorhouse.ingest.sync import (
    DEFAULT_BATCH_SIZE,
    Corpus,
    Progress,
    Source,
    SyncReport,
    stored_sources,
    sync,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_OVERLAP",
    "DEMO_MODULES",
    "Block",
    "Chunk",
    "ChunkOptions",
    "Corpus",
    "Document",
    "FileCorpus",
    "FileSource",
    "ModuleSource",
    "Progress",
    "Source",
    "StdlibCorpus",
    "SyncReport",
    "chunk_document",
    "ingest_files",
    "kind_of",
    "module_document",
    "read_document",
    "stored_sources",
    "sync",
    "token_counter_for",
]


def ingest_files(
    collection: object,
    paths: Sequence[str | os.PathLike[str]],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    gitignore: bool = True,
    hidden: bool = False,
    base: str | os.PathLike[str] | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    options: ChunkOptions | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> SyncReport:
    """Sync the files under ``paths`` into ``collection`` (see :class:`FileCorpus` for
    which files are taken and :func:`sync` for what is written).

    >>> import pathlib, tempfile, vectorhouse
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("Hello.")
    >>> col = vectorhouse.Client().create_collection(
    ...     "files", embedding_function=lambda texts: [[1.0, len(t)] for t in texts])
    >>> ingest_files(col, [folder], base=folder).chunks_written
    1
    >>> (folder / "a.txt").unlink()
    >>> ingest_files(col, [folder], base=folder).summary(), col.count()
    ('0 files: 0 new, 0 changed, 1 deleted, 0 unchanged', 0)
    """
    corpus = FileCorpus(
        paths,
        include=include,
        exclude=exclude,
        gitignore=gitignore,
        hidden=hidden,
        base=base,
        max_bytes=max_bytes,
    )
    return sync(
        collection,
        corpus,
        options=options,
        batch_size=batch_size,
        progress=progress,
        dry_run=dry_run,
    )
