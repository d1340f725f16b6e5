"""``vectorhouse check``: verify a database and, with ``--repair``, rebuild what is
derived from it (index files, full-text tables).

Exit status, for scripts: 0 when nothing is wrong, 3 when problems were found and all
were repaired, 4 when a problem is left (1 and 2 stay click's: errors and bad usage).

Example::

    $ vectorhouse check --db ./vh_data
    ok     sqlite     database: integrity_check ok
    ok     index      notes: index file agrees (9,873 vectors)
    ok     full_text  documents_fts: agrees with the records
    No problems found.
"""

from __future__ import annotations

from pathlib import Path

import click

from vectorhouse.cli.common import db_option, echo_json, json_option, open_client

EXIT_REPAIRED = 3
EXIT_PROBLEMS = 4


@click.command()
@db_option
@click.option(
    "--repair", is_flag=True, help="Rebuild index files and full-text tables that disagree."
)
@json_option
def check(db: Path, repair: bool, as_json: bool) -> None:
    """Verify the database, each collection's index, and the full-text tables.

    SQLite's own integrity check runs first; each collection's saved index file (and
    its records) are compared one by one; the full-text tables are checked against the
    records. --repair rebuilds the index files and tables that disagree (SQLite itself
    is the source of truth and cannot be rebuilt). Exit status 0: no problems; 3:
    problems found and all repaired; 4: problems left.

    \b
    Example:
      vectorhouse check --db ./vh_data
      vectorhouse check --db ./vh_data --repair --json
    """
    with open_client(db) as client:
        report = client.check(repair=repair)
    if as_json:
        echo_json(report.to_dict())
    else:
        for f in report.findings:
            status = "ok" if f.ok else ("fixed" if f.repaired else "FAIL")
            click.echo(f"{status:<5}  {f.check:<9}  {f.subject}: {f.detail}")
        if not report.found_problems:
            click.echo("No problems found.")
        elif report.ok:
            click.echo("Problems found and repaired.")
        else:
            left = sum(f.problem for f in report.findings)
            hint = (
                ""
                if repair
                else " (--repair rebuilds index files and full-text tables, and recounts records)"
            )
            click.echo(f"{left} problem(s) found{hint}.")
    if not report.found_problems:
        return
    raise click.exceptions.Exit(EXIT_REPAIRED if report.ok else EXIT_PROBLEMS)
