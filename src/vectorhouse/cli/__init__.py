"""The ``vectorhouse`` command line: ingest folders, search them, look after collections.

Example::

    $ vectorhouse ingest ~/notes ./docs --db ./vh_data --collection notes
    $ vectorhouse query "how do I rotate the logs?" --db ./vh_data --collection notes -k 5

Errors print one line (``Error: ...``) and exit with status 1; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

from typing import Any

import click

from vectorhouse.cli.check import check
from vectorhouse.cli.collections import collections, delete, info
from vectorhouse.cli.ingest import ingest
from vectorhouse.cli.records import get, peek, query
from vectorhouse.cli.serve import serve
from vectorhouse.cli.transfer import export, import_
from vectorhouse.errors import VectorhouseError


class _Group(click.Group):
    """Turns errors into one line and an exit status, unless ``--debug`` is on."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            if _debug(ctx):
                raise
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except VectorhouseError as exc:
            if _debug(ctx):
                raise
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:
            if _debug(ctx):
                raise
            raise click.ClickException(
                f"{type(exc).__name__}: {exc} (run with --debug for the traceback)"
            ) from exc


def _debug(ctx: click.Context) -> bool:
    return bool((ctx.obj or {}).get("debug"))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vectorhouse")
@click.option(
    "--debug",
    is_flag=True,
    envvar="VECTORHOUSE_DEBUG",
    help="Show tracebacks instead of one-line errors (env VECTORHOUSE_DEBUG).",
)
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """vectorhouse: an embedded vector database with the embedding model built in.

    \b
    Examples:
      vectorhouse ingest ./docs --collection docs
      vectorhouse query "how do I rotate the logs?" --collection docs -k 5
      vectorhouse collections
    """
    ctx.obj = {"debug": debug}


for _command in (ingest, query, get, peek, collections, info, delete, export, import_):
    main.add_command(_command)
main.add_command(serve)
main.add_command(check)

__all__ = ["main"]
