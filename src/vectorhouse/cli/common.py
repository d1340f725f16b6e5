"""What the commands share: options, opening the database, and printing.

Read commands take ``--json``; everything else prints for people. Records made by
``vectorhouse ingest`` are shown by where they came from::

    >>> location({"source": "docs/ops/logging.md", "line_start": 40, "line_end": 72})
    'docs/ops/logging.md#L40-72'
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np
from rich.console import Console

from vectorhouse.api.client import DATABASE_FILE, PersistentClient
from vectorhouse.api.collection import Collection
from vectorhouse.errors import CollectionNotFoundError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = "./vh_data"
DEFAULT_COLLECTION = "default"


def db_option(fn: F) -> F:
    """``--db PATH`` (env ``VECTORHOUSE_DB``).

    >>> from click.testing import CliRunner
    >>> show = click.command()(db_option(lambda db: click.echo(db)))
    >>> CliRunner().invoke(show, ["--db", "/tmp/x"]).output.strip()
    '/tmp/x'
    """
    return click.option(
        "--db",
        "db",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_DB,
        envvar="VECTORHOUSE_DB",
        show_default=True,
        help="Database folder (env VECTORHOUSE_DB).",
    )(fn)


def collection_option(fn: F) -> F:
    """``--collection/-c NAME`` (env ``VECTORHOUSE_COLLECTION``).

    >>> from click.testing import CliRunner
    >>> show = click.command()(collection_option(lambda collection: click.echo(collection)))
    >>> CliRunner().invoke(show, ["-c", "notes"]).output.strip()
    'notes'
    """
    return click.option(
        "--collection",
        "-c",
        "collection",
        default=DEFAULT_COLLECTION,
        envvar="VECTORHOUSE_COLLECTION",
        show_default=True,
        help="Collection name (env VECTORHOUSE_COLLECTION).",
    )(fn)


def json_option(fn: F) -> F:
    """``--json``: print JSON instead of text.

    >>> from click.testing import CliRunner
    >>> show = click.command()(json_option(lambda as_json: click.echo(as_json)))
    >>> CliRunner().invoke(show, ["--json"]).output.strip()
    'True'
    """
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")(fn)


def parse_json_option(value: str | None, option: str) -> Any:
    """The JSON value of an option such as ``--where``, or a usage error.

    >>> parse_json_option('{"ext": ".md"}', "--where")
    {'ext': '.md'}
    """
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not valid JSON ({exc.msg} at {exc.pos})", param_hint=option
        ) from exc


@contextlib.contextmanager
def open_client(db: Path, *, create: bool = False) -> Iterator[PersistentClient]:
    """The database at ``db``; read commands refuse to create one.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with open_client(folder, create=True) as client:
    ...     client.count_collections()
    0
    >>> with open_client(folder / "missing") as client:  # doctest: +ELLIPSIS
    ...     pass
    Traceback (most recent call last):
    ...
    click.exceptions.ClickException: no database at ... (make one with: ...)
    """
    if not create and not (db / DATABASE_FILE).is_file():
        raise click.ClickException(
            f"no database at {db} (make one with: vectorhouse ingest PATH --db {db})"
        )
    client = PersistentClient(path=db)
    try:
        yield client
    finally:
        client.close()


def get_collection(client: PersistentClient, name: str) -> Collection:
    """A collection, or an error that lists the ones there are.

    >>> import tempfile
    >>> with open_client(Path(tempfile.mkdtemp()), create=True) as client:
    ...     _ = client.create_collection("notes", embedding_function=None)
    ...     get_collection(client, "nope")
    Traceback (most recent call last):
    ...
    click.exceptions.ClickException: collection 'nope' does not exist; collections: notes
    """
    try:
        return client.get_collection(name)
    except CollectionNotFoundError as exc:
        names = [c.name for c in client.list_collections()]
        known = f"; collections: {', '.join(names)}" if names else "; the database is empty"
        raise click.ClickException(f"collection {name!r} does not exist{known}") from exc


def stdout_console() -> Console:
    """A console on the current standard output (tables, styled text).

    >>> stdout_console().file is sys.stdout
    True
    """
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def stderr_console() -> Console:
    """A console on standard error (progress bars).

    >>> stderr_console().file is sys.stderr
    True
    """
    return Console(file=sys.stderr, highlight=False)


def to_jsonable(value: Any) -> Any:
    """Arrays and numpy scalars as plain JSON values.

    >>> to_jsonable({"v": np.float32(0.5), "e": np.zeros((1, 2), np.float32)})
    {'v': 0.5, 'e': [[0.0, 0.0]]}
    """
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON.

    >>> echo_json({"ids": np.array([1, 2])})
    {
      "ids": [
        1,
        2
      ]
    }
    """
    click.echo(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False))


def location(metadata: dict[str, Any] | None, fallback: str = "") -> str:
    """Where a chunk came from: its file (or ``path``) and line or page span.

    >>> location({"source": "a.pdf", "page_start": 3, "page_end": 3})
    'a.pdf#page=3'
    >>> location(None, "rec1")
    'rec1'
    """
    meta = metadata or {}
    where = meta.get("path") or meta.get("source")
    if not isinstance(where, str) or not where:
        return fallback
    for unit, mark in (("line", "#L"), ("page", "#page=")):
        start, end = meta.get(f"{unit}_start"), meta.get(f"{unit}_end")
        if isinstance(start, int) and start > 0:
            span = str(start) if not isinstance(end, int) or end == start else f"{start}-{end}"
            return f"{where}{mark}{span}"
    return where


def preview(text: str | None, width: int = 80) -> str:
    """A document on one line, cut to ``width`` characters.

    >>> preview("Log rotation\\n\\nis configured   daily", 20)
    'Log rotation is con…'
    """
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def model_label(configuration: dict[str, Any]) -> str:
    """A collection's embedding function in a few words.

    >>> model_label({"embedding_function": {"type": "known", "name": "default",
    ...              "config": {"model": "all-MiniLM-L6-v2", "max_length": 256}}})
    'default/all-MiniLM-L6-v2'
    >>> model_label({"embedding_function": None})
    'none (vectors only)'
    """
    stored = configuration.get("embedding_function")
    if not stored:
        return "none (vectors only)"
    if stored.get("type") != "known":
        return "custom (not stored)"
    config = stored.get("config") or {}
    model = config.get("model_name") or config.get("model")
    return f"{stored['name']}/{model}" if model else str(stored["name"])


def format_table(headers: list[str], rows: list[list[str]], width: int = 100) -> str:
    """Aligned columns, two spaces apart; the last column is put on one line and cut
    so that lines fit in ``width``. Columns named ``#``, ``records`` or ``dimension``
    are right-aligned.

    >>> rows = [["1", "a.md#L1-3", "Logs rotate daily and are kept for two weeks."]]
    >>> print(format_table(["#", "source", "chunk"], rows, 40))
    #  source     chunk
    1  a.md#L1-3  Logs rotate daily and are…
    """
    right = {"#", "records", "dimension"}
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers[:-1])]
    room = max(20, width - sum(widths) - 2 * len(widths))

    def line(cells: list[str]) -> str:
        out = [
            c.rjust(w) if h in right else c.ljust(w)
            for c, w, h in zip(cells[:-1], widths, headers, strict=False)
        ]
        return "  ".join([*out, cells[-1]]).rstrip()

    last = headers[-1]
    lines = [line(headers)]
    for row in rows:
        cells = [*row[:-1], preview(row[-1], room) if last == "chunk" else row[-1]]
        lines.append(line(cells))
    return "\n".join(lines)
