"""Commands over collections: ``collections``, ``info`` and ``delete``.

Example::

    $ vectorhouse collections --db ./vh_data
    name   records  model                     dimension  space
    notes    9,873  default/all-MiniLM-L6-v2        384  cosine
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import click
import numpy as np

from vectorhouse.api.client import DATABASE_FILE, INDEX_DIR
from vectorhouse.cli.common import (
    collection_option,
    db_option,
    echo_json,
    format_table,
    get_collection,
    json_option,
    model_label,
    open_client,
    parse_json_option,
)
from vectorhouse.ingest import stored_sources


def _summary(col: Any) -> dict[str, Any]:
    config = col.configuration_json
    return {
        "name": col.name,
        "records": col.count(),
        "model": model_label(config),
        "dimension": col.dimension,
        "space": (config.get("hnsw") or {}).get("space"),
    }


@click.command()
@db_option
@json_option
def collections(db: Path, as_json: bool) -> None:
    """List the collections: records, model, dimension and distance space.

    \b
    Example:
      vectorhouse collections --db ./vh_data
    """
    with open_client(db) as client:
        rows = [_summary(c) for c in client.list_collections()]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"No collections in {db}.")
        return
    headers = ["name", "records", "model", "dimension", "space"]
    table = [
        [
            row["name"],
            f"{row['records']:,}",
            row["model"],
            "-" if row["dimension"] is None else str(row["dimension"]),
            str(row["space"]),
        ]
        for row in rows
    ]
    click.echo(format_table(headers, table))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _human(n: int) -> str:
    """Bytes for people.

    >>> _human(512), _human(123_456_789)
    ('512 B', '117.7 MiB')
    """
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _fingerprint(config: dict[str, Any]) -> dict[str, Any] | None:
    stored = config.get("fingerprint")
    if not stored:
        return None
    vector = np.asarray(stored.get("vector", []), dtype=np.float32)
    return {
        "probe": stored.get("probe"),
        "dimension": stored.get("dimension"),
        "sha256": hashlib.sha256(vector.tobytes()).hexdigest(),
    }


@click.command()
@click.argument("name", required=False)
@db_option
@collection_option
@json_option
def info(name: str | None, db: Path, collection: str, as_json: bool) -> None:
    """Show one collection: model, fingerprint, settings, counts and disk use.

    NAME (or --collection) picks the collection. "sources" counts the files (or
    other sources) written by `vectorhouse ingest`; the database size covers all
    collections, the index size this one's.

    \b
    Example:
      vectorhouse info notes --db ./vh_data
    """
    with open_client(db) as client:
        col = get_collection(client, name or collection)
        config = col.configuration_json
        sources = stored_sources(col)
        data = {
            **_summary(col),
            "id": str(col.id),
            "sources": len(sources),
            "embedding_function": config.get("embedding_function"),
            "fingerprint": _fingerprint(config),
            "hnsw": config.get("hnsw"),
            "metadata": col.metadata,
            "disk": {
                "database_bytes": sum(
                    _size(db / (DATABASE_FILE + s)) for s in ("", "-wal", "-shm")
                ),
                "index_bytes": sum(
                    _size(p) for p in (db / INDEX_DIR).glob(f"{col.id}.*") if p.is_file()
                ),
            },
        }
    if as_json:
        echo_json(data)
        return
    fp = data["fingerprint"]
    hnsw = data["hnsw"] or {}
    fn = data["embedding_function"] or {}
    lines = [
        ("collection", data["name"]),
        ("id", data["id"]),
        ("records", f"{data['records']:,}"),
        ("sources", f"{data['sources']:,} ingested"),
        ("model", data["model"]),
        ("model config", json.dumps(fn.get("config", {}), sort_keys=True) if fn else "-"),
        ("dimension", "-" if data["dimension"] is None else str(data["dimension"])),
        ("space", str(hnsw.get("space"))),
        ("hnsw", " ".join(f"{k}={v}" for k, v in sorted(hnsw.items()) if k != "space")),
        (
            "fingerprint",
            f"sha256 {fp['sha256'][:16]} of the {fp['dimension']}-d probe vector"
            if fp
            else "none yet (set by the first embedding)",
        ),
        ("metadata", json.dumps(data["metadata"], ensure_ascii=False, sort_keys=True)),
        ("database", f"{_human(data['disk']['database_bytes'])} (all collections)"),
        ("index", _human(data["disk"]["index_bytes"])),
    ]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        click.echo(f"{key:<{width}}  {value}")


@click.command()
@db_option
@collection_option
@click.option("--id", "ids", multiple=True, metavar="ID", help="A record id (repeatable).")
@click.option("--where", metavar="JSON", help="Delete the records matching this filter.")
@click.option("--where-document", metavar="JSON", help="Delete records whose document matches.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before deleting a collection.")
def delete(
    db: Path,
    collection: str,
    ids: tuple[str, ...],
    where: str | None,
    where_document: str | None,
    yes: bool,
) -> None:
    """Delete records (by --id/--where/--where-document), or a whole collection.

    Without --id, --where or --where-document the collection itself is deleted,
    after a confirmation (skipped with --yes).

    \b
    Example:
      vectorhouse delete -c notes --where '{"ext": ".pdf"}'
      vectorhouse delete -c notes --yes
    """
    where_value = parse_json_option(where, "--where")
    where_doc_value = parse_json_option(where_document, "--where-document")
    with open_client(db) as client:
        col = get_collection(client, collection)
        if ids or where_value is not None or where_doc_value is not None:
            deleted = col.delete(
                ids=list(ids) or None, where=where_value, where_document=where_doc_value
            )["deleted"]
            plural = "" if deleted == 1 else "s"
            click.echo(f"Deleted {deleted:,} record{plural} from collection {collection!r}.")
            return
        count = col.count()
        if not yes:
            click.confirm(
                f"Delete collection {collection!r} and its {count:,} records?", abort=True
            )
        client.delete_collection(collection)
        click.echo(f"Deleted collection {collection!r} ({count:,} records).")
