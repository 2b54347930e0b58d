"""`feedwatch migrate-store`: copy a store from SQLite to PostgreSQL (or back), verified by counts."""

from __future__ import annotations

import os

import click

from feedwatch.cli.common import OK, PARTLY_FAILED, USAGE, say_error, write_line
from feedwatch.cli.rows_out import table
from feedwatch.errors import FeedwatchError


@click.command(
    "migrate-store",
    epilog="""\b
Examples:
  feedwatch migrate-store --from data/feedwatch.db --to postgresql://feedwatch@db.example.org/feedwatch
  feedwatch migrate-store --from postgresql://feedwatch@db.example.org/feedwatch --to copy.db
  feedwatch migrate-store --from data/feedwatch.db --to postgresql://localhost/feedwatch --replace""",
)
@click.option("--from", "source", required=True, metavar="PATH|URL", help="The store to copy: a file or a URL.")
@click.option("--to", "target", required=True, metavar="PATH|URL", help="The store to fill: a file or a URL.")
@click.option("--replace", is_flag=True, help="Empty the target first when it holds data (else it is refused).")
def migrate_store_command(source: str, target: str, replace: bool) -> None:
    """Copy every post, version, sighting, run and detector and digest table from one store into another.

    An SQLite file goes into PostgreSQL (postgresql://USER@HOST:PORT/DATABASE) and back. The copy is
    one transaction of the target, so a copy that fails leaves it as it was; the rows of every table are
    counted on both sides at the end and printed. A target that already holds data is refused unless
    --replace is given. The source is only read.
    """
    from feedwatch.store import Store
    from feedwatch.store.backend import is_url
    from feedwatch.store.transfer import copy_store

    if not is_url(source) and not os.path.isfile(source):
        what = "is a folder, not a database file" if os.path.isdir(source) else "no database there"
        say_error(FeedwatchError(f"{source}: {what}. Give the store to copy with --from (a file or a URL)"))
        raise SystemExit(USAGE)
    try:
        with Store.open(source, writing=False) as old, Store.open(target) as new:
            counted = copy_store(old, new, replace=replace)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    rows = [{"table": c.table, "source": c.source, "target": c.target} for c in counted]
    for line in table(rows, [("table", "table", 0), ("source", "source", 0), ("target", "target", 0)]):
        write_line(line)
    total = sum(c.target for c in counted)
    write_line(f"Copied {total:,} rows in {len(counted)} tables; every count matches.")
    raise SystemExit(OK)
