"""The ``vectorhouse`` command line.

Example:
    $ vectorhouse --help
"""

from __future__ import annotations

import click

from vectorhouse.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vectorhouse")
def main() -> None:
    """vectorhouse: an embedded vector database with the embedding model built in."""


main.add_command(serve)
