"""Read commands over records: ``query``, ``get`` and ``peek``.

Example::

    $ vectorhouse query "how do I rotate the logs?" --collection notes -k 5
     #  distance  source                      chunk
     1  0.312     docs/ops/logging.md#L40-72  Log rotation is configured with ...
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import click

from vectorhouse.cli.common import (
    collection_option,
    db_option,
    echo_json,
    format_table,
    get_collection,
    json_option,
    location,
    open_client,
    parse_json_option,
)


def _filters(where: str | None, where_document: str | None) -> dict[str, Any]:
    return {
        "where": parse_json_option(where, "--where"),
        "where_document": parse_json_option(where_document, "--where-document"),
    }


where_option = click.option(
    "--where", metavar="JSON", help='Metadata filter, e.g. \'{"ext": ".md"}\'.'
)
where_document_option = click.option(
    "--where-document",
    metavar="JSON",
    help='Document filter, e.g. \'{"$contains": "rotate"}\'.',
)


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """Print rows under headers in aligned columns; the last column (a document) is cut
    to fit the terminal's width (``COLUMNS``, else 100 when not a terminal).

    >>> print_table(["id", "chunk"], [["a", "Hello"], ["bb", "World"]])
    id  chunk
    a   Hello
    bb  World
    """
    click.echo(format_table(headers, rows, shutil.get_terminal_size((100, 24)).columns))


@click.command()
@click.argument("text")
@db_option
@collection_option
@click.option(
    "-k",
    "--n-results",
    "k",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="How many results.",
)
@where_option
@where_document_option
@click.option(
    "--mode",
    type=click.Choice(["dense", "lexical", "hybrid"]),
    default="dense",
    show_default=True,
    help="dense: by meaning; lexical: BM25 over the words; hybrid: both, fused.",
)
@click.option(
    "--fusion",
    type=click.Choice(["rrf", "weighted"]),
    default=None,
    help="How --mode hybrid fuses the two rankings (default: the library's).",
)
@json_option
def query(
    text: str,
    db: Path,
    collection: str,
    k: int,
    where: str | None,
    where_document: str | None,
    mode: str,
    fusion: str | None,
    as_json: bool,
) -> None:
    """Search a collection by meaning: the K chunks nearest to TEXT.

    With --mode lexical the chunks are ranked by BM25 over their words, with --mode
    hybrid by both, fused; the score column is then lower-is-better too (minus the
    BM25 or fused score).

    \b
    Example:
      vectorhouse query "how do I rotate the logs?" --collection notes -k 5
      vectorhouse query "rotate logs" -c notes --where '{"ext": ".md"}' --json
      vectorhouse query "ERR_CONN_RESET" -c notes --mode hybrid
    """
    filters = _filters(where, where_document)
    extra: dict[str, Any] = {} if mode == "dense" else {"mode": mode, "fusion": fusion}
    with open_client(db) as client:
        col = get_collection(client, collection)
        result = col.query(query_texts=[text], n_results=k, **filters, **extra)
    hits = result.hits[0]
    if as_json:
        echo_json(
            {
                "query": text,
                "collection": collection,
                **({} if mode == "dense" else {"mode": mode}),
                "results": [
                    {
                        "id": h.id,
                        "distance": h.distance,
                        "source": location(h.metadata, ""),
                        "document": h.document,
                        "metadata": h.metadata,
                    }
                    for h in hits
                ],
            }
        )
        return
    if not hits:
        click.echo("No results.")
        return
    rows = [
        [
            str(rank),
            "" if hit.distance is None else f"{hit.distance:.3f}",
            location(hit.metadata, hit.id),
            hit.document or "",
        ]
        for rank, hit in enumerate(hits, start=1)
    ]
    print_table(["#", "distance" if mode == "dense" else "score", "source", "chunk"], rows)


def _records_json(result: Any, with_embeddings: bool) -> dict[str, Any]:
    data = {
        "ids": result["ids"],
        "documents": result["documents"],
        "metadatas": result["metadatas"],
    }
    if with_embeddings:
        data["embeddings"] = result["embeddings"]
    return data


def _print_records(result: Any, with_embeddings: bool) -> None:
    embeddings = result["embeddings"] if with_embeddings else None
    for i, rid in enumerate(result["ids"]):
        if i:
            click.echo("")
        click.echo(rid)
        meta = result["metadatas"][i]
        if meta is not None:
            click.echo(f"  metadata: {json.dumps(meta, ensure_ascii=False)}")
        if embeddings is not None:
            vector = ", ".join(f"{x:.4f}" for x in embeddings[i][:4])
            more = ", ..." if len(embeddings[i]) > 4 else ""
            click.echo(f"  embedding: [{vector}{more}] ({len(embeddings[i])}-d)")
        doc = result["documents"][i]
        if doc is not None:
            click.echo("  document:")
            for line in doc.split("\n"):
                click.echo(f"    {line}".rstrip())
    count = len(result["ids"])
    click.echo(f"{'' if not count else chr(10)}{count:,} record{'s' if count != 1 else ''}")


@click.command()
@db_option
@collection_option
@click.option("--id", "ids", multiple=True, metavar="ID", help="A record id (repeatable).")
@where_option
@where_document_option
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many.")
@click.option("--offset", type=click.IntRange(min=0), default=None, help="Skip this many first.")
@click.option("--embeddings", is_flag=True, help="Include the embeddings.")
@json_option
def get(
    db: Path,
    collection: str,
    ids: tuple[str, ...],
    where: str | None,
    where_document: str | None,
    limit: int | None,
    offset: int | None,
    embeddings: bool,
    as_json: bool,
) -> None:
    """Show records by id and/or filter, whole (document and metadata).

    \b
    Example:
      vectorhouse get -c notes --id 'docs/ops/logging.md#3-5f2c09a1be47'
      vectorhouse get -c notes --where '{"source": "docs/ops/logging.md"}' --json
    """
    filters = _filters(where, where_document)
    include = ["documents", "metadatas", *(["embeddings"] if embeddings else [])]
    with open_client(db) as client:
        col = get_collection(client, collection)
        result = col.get(
            ids=list(ids) or None, limit=limit, offset=offset, include=include, **filters
        )
    if as_json:
        echo_json(_records_json(result, embeddings))
    else:
        _print_records(result, embeddings)


@click.command()
@db_option
@collection_option
@click.option(
    "-n", "--limit", type=click.IntRange(min=1), default=10, show_default=True, help="How many."
)
@json_option
def peek(db: Path, collection: str, limit: int, as_json: bool) -> None:
    """Show the first records of a collection, one line each.

    \b
    Example:
      vectorhouse peek --collection notes -n 5
    """
    with open_client(db) as client:
        col = get_collection(client, collection)
        result = col.get(limit=limit, include=["documents", "metadatas"])
    if as_json:
        echo_json(_records_json(result, False))
        return
    if not result["ids"]:
        click.echo(f"Collection {collection!r} is empty.")
        return
    rows = [
        [rid, location(meta, ""), doc or ""]
        for rid, doc, meta in zip(
            result["ids"], result["documents"], result["metadatas"], strict=True
        )
    ]
    print_table(["id", "source", "chunk"], rows)
