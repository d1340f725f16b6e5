"""``vectorhouse ingest``: files and folders into a collection, incrementally.

Example::

    $ vectorhouse ingest ~/notes ./docs --db ./vh_data --collection notes
    Scanning 1,284 files ... 1,102 new, 3 changed, 2 deleted, 177 unchanged
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    ProgressColumn,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBar
from rich.text import Text

from vectorhouse.api.client import DATABASE_FILE, Client
from vectorhouse.cli.common import (
    collection_option,
    db_option,
    echo_json,
    open_client,
    stderr_console,
)
from vectorhouse.ingest import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_TOKENS,
    DEFAULT_OVERLAP,
    ChunkOptions,
    FileCorpus,
    Progress,
    SyncReport,
    sync,
)
from vectorhouse.ingest.sync import Corpus


class _Rate(ProgressColumn):
    """Steps per second, with a unit."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        if not speed and task.elapsed and task.completed:
            speed = task.completed / task.elapsed  # too few steps for rich's estimate
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else f"- {self.unit}/s")


class BarProgress(Progress):
    """Progress bars on a console (when it is a terminal), and the scan's summary line.

    >>> import io
    >>> lines = []
    >>> hooks = BarProgress(Console(file=io.StringIO()), lines.append)
    >>> hooks.planned(SyncReport(noun="files", scanned=2, new=2))
    >>> lines
    ['Scanning 2 files ... 2 new, 0 changed, 0 deleted, 0 unchanged']
    """

    def __init__(
        self, console: Console, echo: Callable[[str], None], *, bars: bool | None = None
    ) -> None:
        self.console = console
        self.echo = echo
        self.bars = console.is_terminal if bars is None else bars
        self.noun = "files"
        self._bar: RichBar | None = None
        self._task: Any = None
        self.interrupted = False
        """Set by a first Ctrl-C; the sync stops at its next step (see _interruptible)."""

    def _stop_if_interrupted(self) -> None:
        if self.interrupted:
            raise KeyboardInterrupt

    def start(self, phase: str, total: int | None) -> None:
        self._stop_if_interrupted()
        if not self.bars or (total is not None and total == 0):
            return
        if phase == "scan":
            columns: list[str | ProgressColumn] = [
                SpinnerColumn(),
                TextColumn("Scanning {task.completed:,.0f} " + self.noun),
                TimeElapsedColumn(),
            ]
        else:
            label = "Reading" if phase == "read" else "Embedding"
            unit = self.noun if phase == "read" else "chunks"
            columns = [
                TextColumn(f"{label} {{task.total:,.0f}} {unit}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
                _Rate(unit),
                TimeRemainingColumn(elapsed_when_finished=True),
            ]
        self._bar = RichBar(*columns, console=self.console, transient=phase != "embed")
        self._bar.start()
        self._task = self._bar.add_task(phase, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, amount)
        self._stop_if_interrupted()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def planned(self, report: SyncReport) -> None:
        noun = report.noun if report.scanned != 1 else report.noun.rstrip("s")
        self.echo(
            f"Scanning {report.scanned:,} {noun} ... {report.new:,} new,"
            f" {report.changed:,} changed, {report.deleted:,} deleted,"
            f" {report.unchanged:,} unchanged"
        )


@contextlib.contextmanager
def _interruptible(hooks: BarProgress) -> Iterator[None]:
    """While open, a first Ctrl-C only asks the sync to stop at its next step (between
    batches, where nothing is half-written) and a second one stops it at once. A bare
    KeyboardInterrupt can land anywhere, a finaliser included, where Python swallows it
    and the run would go on."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: Any) -> None:
        if hooks.interrupted:
            raise KeyboardInterrupt
        hooks.interrupted = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_sync(
    collection: Any,
    corpus: Corpus,
    *,
    options: ChunkOptions,
    batch_size: int,
    quiet: bool,
    as_json: bool,
    dry_run: bool = False,
) -> SyncReport:
    """Sync with progress bars and summary lines as the flags ask; an interrupted run
    says how to resume and exits with status 130.

    >>> import vectorhouse
    >>> from vectorhouse.ingest import StdlibCorpus
    >>> col = vectorhouse.Client().create_collection(
    ...     "docs", embedding_function=lambda texts: [[1.0, len(t)] for t in texts])
    >>> _ = run_sync(col, StdlibCorpus(["glob"]), options=ChunkOptions(), batch_size=8,
    ...              quiet=False, as_json=False)  # doctest: +ELLIPSIS
    Scanning 1 module ... 1 new, 0 changed, 0 deleted, 0 unchanged
    Wrote 4 chunks in ... s (... chunks/s); collection 'docs' holds 4 chunks
    """
    echo: Callable[[str], None] = (lambda _: None) if quiet or as_json else click.echo
    hooks = BarProgress(stderr_console(), echo, bars=None if not quiet else False)
    hooks.noun = corpus.noun
    try:
        with _interruptible(hooks):
            report = sync(
                collection,
                corpus,
                options=options,
                batch_size=batch_size,
                progress=hooks,
                dry_run=dry_run,
            )
    except KeyboardInterrupt:
        hooks.stop()
        click.echo(
            "Interrupted. What was written is kept; run the same command again to finish"
            " (nothing is embedded twice or duplicated).",
            err=True,
        )
        raise click.exceptions.Exit(130) from None
    finally:
        hooks.stop()
    for key, reason in report.skipped:
        click.echo(f"Warning: skipped {key}: {reason}", err=True)
    if as_json:
        echo_json({**report.to_dict(), "collection": collection.name, "count": collection.count()})
    elif dry_run:
        for change, key in report.changes:
            echo(f"  {change:<8} {key}")
    elif not quiet:
        echo(result_line(report, collection.name, collection.count()))
    return report


def result_line(report: SyncReport, name: str, count: int) -> str:
    """The last line of an ingest.

    >>> result_line(SyncReport(scanned=1, unchanged=1), "notes", 7)
    "Up to date: collection 'notes' holds 7 chunks"
    >>> result_line(SyncReport(chunks_written=8, embed_seconds=2.0), "notes", 8)
    "Wrote 8 chunks in 2.0 s (4 chunks/s); collection 'notes' holds 8 chunks"
    """
    holds = f"collection {name!r} holds {count:,} chunks"
    if not report.chunks_written and not report.chunks_deleted:
        return f"Up to date: {holds}"
    parts = []
    if report.chunks_written:
        parts.append(
            f"Wrote {report.chunks_written:,} chunks in {report.embed_seconds:.1f} s"
            f" ({report.chunks_per_second:,.0f} chunks/s)"
        )
    if report.chunks_deleted:
        parts.append(f"deleted {report.chunks_deleted:,} old chunks")
    text = ", ".join(parts)
    return f"{text[0].upper()}{text[1:]}; {holds}"


@contextlib.contextmanager
def _target(db: Path, collection: str, dry_run: bool) -> Iterator[Client]:
    """The database to ingest into; a dry run of a collection that does not exist yet
    runs against an empty one in memory, so that it creates nothing."""
    exists = (db / DATABASE_FILE).is_file()
    if dry_run and exists:
        with open_client(db) as client:
            if collection in [c.name for c in client.list_collections()]:
                yield client
                return
    if dry_run:
        with Client() as memory:
            yield memory
        return
    with open_client(db, create=True) as client:
        yield client


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@db_option
@collection_option
@click.option(
    "--include",
    "-i",
    multiple=True,
    metavar="GLOB",
    help="Only files matching GLOB (repeatable; .gitignore syntax; any type, read as text).",
)
@click.option(
    "--exclude",
    "-x",
    multiple=True,
    metavar="GLOB",
    help="Leave out files and folders matching GLOB (repeatable).",
)
@click.option("--no-gitignore", is_flag=True, help="Do not obey .gitignore files.")
@click.option("--hidden", is_flag=True, help="Also take hidden files and folders (.name).")
@click.option(
    "--chunk-tokens",
    type=click.IntRange(min=16),
    default=DEFAULT_MAX_TOKENS,
    show_default=True,
    help="Most tokens (of the collection's model) per chunk.",
)
@click.option(
    "--overlap",
    type=click.IntRange(min=0),
    default=DEFAULT_OVERLAP,
    show_default=True,
    help="Tokens repeated between consecutive chunks of a section.",
)
@click.option(
    "--max-file-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_MAX_BYTES / 2**20,
    show_default=True,
    help="Leave out files larger than this (MiB).",
)
@click.option(
    "--base",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Folder that source names are relative to [default: the current folder].",
)
@click.option(
    "--space",
    type=click.Choice(["cosine", "l2", "ip"]),
    default="cosine",
    show_default=True,
    help="Distance of a collection created here.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Chunks embedded and written per transaction.",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Embed on Ray actors (the [ray] extra): a local Ray, or the cluster at ADDRESS"
    " (ray://head:10001, or 'auto').",
)
@click.option(
    "--ray-actors",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Ray actors that embed in parallel (with --ray).",
)
@click.option("--dry-run", is_flag=True, help="Only scan and say what would change.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors and warnings.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ingest(
    paths: tuple[Path, ...],
    db: Path,
    collection: str,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    no_gitignore: bool,
    hidden: bool,
    chunk_tokens: int,
    overlap: int,
    max_file_mb: float,
    base: Path | None,
    space: str,
    batch_size: int,
    ray_address: str | None,
    ray_actors: int,
    dry_run: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Ingest files and folders into a collection, embedding only what changed.

    Takes text, Markdown, reStructuredText, HTML (text only), source code and PDF
    files (PDF needs the [pdf] extra), obeying .gitignore. Files are cut into chunks
    by headings and paragraphs; each chunk gets the metadata source, ext, chunk,
    title, section and line_start/line_end (page_start/page_end for PDF).

    Running it again embeds only new and changed files, and deletes the chunks of
    files that are gone (or no longer selected) under the PATHS given. An
    interrupted run is finished by running it again. The collection is created
    (with the built-in model) if missing.

    \b
    Example:
      vectorhouse ingest ~/notes ./docs --db ./vh_data --collection notes
      vectorhouse ingest . -c code --include '*.py' --exclude 'tests/**'
      vectorhouse ingest ./docs -c docs --ray ray://head:10001 --ray-actors 8
    """
    options = ChunkOptions(max_tokens=chunk_tokens, overlap=overlap)
    corpus = FileCorpus(
        list(paths),
        include=include,
        exclude=exclude,
        gitignore=not no_gitignore,
        hidden=hidden,
        base=base,
        max_bytes=int(max_file_mb * 2**20),
    )
    with _target(db, collection, dry_run) as client:
        col = client.get_or_create_collection(collection, metadata={"hnsw:space": space})
        if ray_address is not None and not dry_run:
            from vectorhouse.ray import RayEmbeddingFunction

            on_ray = RayEmbeddingFunction(
                col.embedding_function, concurrency=ray_actors, address=ray_address
            )
            col = client.get_collection(collection, embedding_function=on_ray)
        run_sync(
            col,
            corpus,
            options=options,
            batch_size=batch_size,
            quiet=quiet,
            as_json=as_json,
            dry_run=dry_run,
        )
