"""``vectorhouse serve``: run the HTTP server (see vectorhouse.server)."""

from __future__ import annotations

import click


@click.command()
def serve() -> None:
    """Serve a database over HTTP (not available yet)."""
    raise click.ClickException("the HTTP server is not available yet")
