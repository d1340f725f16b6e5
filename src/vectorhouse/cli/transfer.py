"""``export`` and ``import``: a collection as JSON Lines, and back, exactly.

The first line describes the collection (name, metadata, HNSW settings, embedding
function, dimension, record count); each further line is one record: ``id``,
``document``, ``metadata`` and ``embedding``. Embeddings are float32 written as the
decimal of their exact value, so an import stores the very same bits.

Both commands also work on Milvus (``--milvus URI``: a server, a cluster, or a
milvus-lite file such as ``./milvus.db``) instead of ``--db``, so a collection moves
between the embedded database and Milvus in either direction. ``import --resume``
finishes an interrupted import: records whose ids are already there are skipped.
``--progress`` shows a progress bar on standard error (on by default on a terminal).

Example::

    $ vectorhouse export -c notes -o notes.jsonl
    $ vectorhouse import notes.jsonl --db ./other --collection notes
    $ vectorhouse export -c notes | vectorhouse import - --milvus http://milvus:19530
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click
import numpy as np

from vectorhouse.api.embedding import NOT_GIVEN, resolve_embedding_function
from vectorhouse.cli.common import collection_option, db_option, get_collection, open_client
from vectorhouse.errors import EmbeddingError, InvalidArgumentError

F = Any

FORMAT = "vectorhouse-export"
VERSION = 1
_PAGE = 1_000


def header_of(col: Any) -> dict[str, Any]:
    """The first line of an export of ``col``.

    >>> import vectorhouse
    >>> col = vectorhouse.Client().create_collection("notes", embedding_function=None)
    >>> header = header_of(col)
    >>> header["format"], header["collection"], header["count"]
    ('vectorhouse-export', 'notes', 0)
    """
    config = col.configuration_json
    return {
        "format": FORMAT,
        "version": VERSION,
        "collection": col.name,
        "metadata": col.metadata,
        "configuration": {
            "hnsw": config.get("hnsw"),
            "embedding_function": config.get("embedding_function"),
        },
        "dimension": col.dimension,
        "count": col.count(),
    }


def records_of(col: Any) -> Iterator[dict[str, Any]]:
    """Every record of ``col`` in insertion order, page by page.

    >>> import vectorhouse
    >>> col = vectorhouse.Client().create_collection("notes", embedding_function=None)
    >>> col.add(ids=["a"], embeddings=[[0.1, 2.0]], documents=["x"])
    >>> list(records_of(col))
    [{'id': 'a', 'document': 'x', 'metadata': None, 'embedding': [0.10000000149011612, 2.0]}]
    """
    offset = 0
    while True:
        page = col.get(limit=_PAGE, offset=offset, include=["documents", "metadatas", "embeddings"])
        ids = page["ids"]
        for i, rid in enumerate(ids):
            yield {
                "id": rid,
                "document": page["documents"][i],
                "metadata": page["metadatas"][i],
                "embedding": page["embeddings"][i].astype(np.float64).tolist(),
            }
        if len(ids) < _PAGE:
            return
        offset += len(ids)


def milvus_option(fn: F) -> F:
    """``--milvus URI``: use Milvus (or a milvus-lite file) instead of ``--db``.

    >>> from click.testing import CliRunner
    >>> show = click.command()(milvus_option(lambda milvus: click.echo(milvus)))
    >>> CliRunner().invoke(show, ["--milvus", "http://h:19530"]).output.strip()
    'http://h:19530'
    """
    return click.option(
        "--milvus",
        "milvus",
        default=None,
        metavar="URI",
        envvar="VECTORHOUSE_MILVUS",
        help="Milvus URI (http://host:19530, or a milvus-lite file ./milvus.db) to use"
        " instead of --db (env VECTORHOUSE_MILVUS).",
    )(fn)


def progress_option(fn: F) -> F:
    """``--progress/--no-progress`` (default: on when standard error is a terminal)."""
    return click.option(
        "--progress/--no-progress",
        default=None,
        help="Show a progress bar on standard error [default: on a terminal].",
    )(fn)


@contextlib.contextmanager
def _client(db: Path, milvus: str | None, *, create: bool = False) -> Iterator[Any]:
    if milvus is None:
        with open_client(db, create=create) as client:
            yield client
        return
    from vectorhouse.milvus.client import MilvusClient

    with MilvusClient(uri=milvus) as client:
        yield client


@contextlib.contextmanager
def _bar(show: bool | None, total: int | None, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error; yields "advance by n"."""
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        yield lambda n: None
        return
    bar: Any = click.progressbar(length=total, label=label, file=sys.stderr)
    with bar:
        yield bar.update


def _line(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, allow_nan=False) + "\n"


@click.command()
@db_option
@milvus_option
@collection_option
@progress_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=Path("-"),
    show_default=True,
    help="File to write (- for standard output).",
)
def export(
    db: Path, milvus: str | None, collection: str, progress: bool | None, output: Path
) -> None:
    """Write a collection as JSON Lines: ids, documents, metadatas, embeddings.

    \b
    Example:
      vectorhouse export -c notes -o notes.jsonl
      vectorhouse export -c notes --milvus ./milvus.db -o notes.jsonl
    """
    with _client(db, milvus) as client:
        col = get_collection(client, collection)
        to_stdout = str(output) == "-"
        stream: IO[str]
        header = header_of(col)
        with (
            click.open_file(str(output), "w", encoding="utf-8", atomic=not to_stdout) as stream,
            _bar(progress, header["count"], "Exporting") as advance,
        ):
            stream.write(_line(header))
            n = 0
            for record in records_of(col):
                stream.write(_line(record))
                n += 1
                advance(1)
    if not to_stdout:
        click.echo(f"Exported {n:,} records of collection {collection!r} to {output}.")


class _StoredFunction:
    """Stands for an embedding function this process cannot build, so that an import
    keeps its name and config; it refuses to embed."""

    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self._name = name
        self._config = config

    def __call__(self, input: list[str]) -> list[list[float]]:
        raise EmbeddingError(f"embedding function {self._name!r} is not available here")

    def name(self) -> str:
        return self._name

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)


def _function(stored: dict[str, Any] | None, name: str) -> Any:
    if not stored or stored.get("type") != "known":
        if stored:
            click.echo(
                "Warning: the export's embedding function cannot be stored; the collection"
                " will take vectors only",
                err=True,
            )
        return None
    try:
        fn = resolve_embedding_function(stored, NOT_GIVEN, name)
    except EmbeddingError:
        fn = None
    return fn if fn is not None else _StoredFunction(stored["name"], stored.get("config", {}))


def _read_lines(stream: IO[str]) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(f"line {number} is not JSON: {exc.msg}") from exc


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@db_option
@milvus_option
@progress_option
@click.option(
    "--collection",
    "-c",
    default=None,
    help="Name of the new collection [default: the exported collection's name].",
)
@click.option(
    "--upsert", is_flag=True, help="Write into an existing collection, overwriting same ids."
)
@click.option(
    "--resume",
    is_flag=True,
    help="Finish an interrupted import: write only the records not there yet.",
)
def import_(
    file: Path,
    db: Path,
    milvus: str | None,
    progress: bool | None,
    collection: str | None,
    upsert: bool,
    resume: bool,
) -> None:
    """Load a file written by `vectorhouse export` into a new collection.

    \b
    Example:
      vectorhouse import notes.jsonl --db ./other_db --collection notes_copy
      vectorhouse import notes.jsonl --milvus http://milvus:19530 --resume
    """
    with click.open_file(str(file), "r", encoding="utf-8") as stream:
        lines = _read_lines(stream)
        first = next(lines, None)
        if first is None or not isinstance(first[1], dict) or first[1].get("format") != FORMAT:
            raise click.ClickException(f"{file} is not a vectorhouse export (no header line)")
        header = first[1]
        if header.get("version") != VERSION:
            raise click.ClickException(f"unsupported export version {header.get('version')!r}")
        name = collection or header["collection"]
        with (
            _client(db, milvus, create=True) as client,
            _bar(progress, header.get("count"), "Importing") as advance,
        ):
            exists = name in [c.name for c in client.list_collections()]
            if exists and not (upsert or resume):
                raise click.ClickException(
                    f"collection {name!r} already exists; choose another with --collection,"
                    " or pass --upsert to write into it"
                )
            configuration = header.get("configuration") or {}
            if exists:
                col = get_collection(client, name)
            else:
                col = client.create_collection(
                    name,
                    metadata=header.get("metadata"),
                    configuration={"hnsw": configuration.get("hnsw") or {}},
                    embedding_function=_function(configuration.get("embedding_function"), name),
                )
            n = skipped = 0
            batch: list[dict[str, Any]] = []
            write = col.upsert if exists and upsert else col.add
            for number, record in itertools.chain(lines, [(0, None)]):
                if record is not None:
                    if not isinstance(record, dict) or "id" not in record:
                        raise InvalidArgumentError(f"line {number} is not a record")
                    batch.append(record)
                if batch and (record is None or len(batch) >= _PAGE):
                    if exists and resume and not upsert:
                        there = set(col.get(ids=[r["id"] for r in batch], include=[])["ids"])
                        advance(len(there))
                        skipped += len(there)
                        batch = [r for r in batch if r["id"] not in there]
                        if not batch:
                            continue
                    write(
                        ids=[r["id"] for r in batch],
                        embeddings=np.asarray([r["embedding"] for r in batch], dtype=np.float32),
                        documents=[r.get("document") for r in batch],
                        metadatas=[r.get("metadata") for r in batch],
                    )
                    n += len(batch)
                    advance(len(batch))
                    batch = []
    more = f" ({skipped:,} already there)" if skipped else ""
    click.echo(f"Imported {n:,} records into collection {name!r}{more}.")
