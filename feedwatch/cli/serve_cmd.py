"""`feedwatch serve`: browse the store in a web page (Datasette, read-only)."""

from __future__ import annotations

import os

import click

from feedwatch.cli.common import USAGE, say_error
from feedwatch.cli.options import config_option, db_option
from feedwatch.errors import FeedwatchError


@click.command(
    "serve",
    epilog="""\b
Examples:
  feedwatch serve                                  # http://127.0.0.1:8001/feedwatch
  feedwatch serve --db /tmp/watch.db --port 8080
  FEEDWATCH_SERVE_PASSWORD=... feedwatch serve --host 0.0.0.0""",
)
@config_option
@db_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback needs FEEDWATCH_SERVE_PASSWORD set: every "
    "request must then carry it (HTTP Basic auth with any user name, or a bearer token).",
)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
def serve_command(config_file: str | None, db_path: str, host: str, port: int) -> None:
    """Browse the store in a web browser: search, campaigns, channels, post histories.

    Datasette over the database, read-only: polling and ingest can go on while
    it serves, and nothing in the pages can change the store. The pages are
    described in the README's "Browse" section; every query is also JSON and CSV.
    """
    from feedwatch.serve import PASSWORD_ENV, serve
    from feedwatch.store import default_db_path
    from feedwatch.store.backend import is_url
    from feedwatch.store.pg import redact

    path = db_path or str(default_db_path())
    if is_url(path):  # Datasette reads SQLite files only
        say_error(
            FeedwatchError(
                f"{redact(path)}: serve reads an SQLite store only (Datasette cannot reach PostgreSQL). Copy it: "
                "feedwatch migrate-store --from URL --to copy.db, then feedwatch serve --db copy.db"
            )
        )
        raise SystemExit(USAGE)
    try:
        serve(
            path,
            host,
            port,
            os.environ.get(PASSWORD_ENV) or None,
            ready=lambda url: click.echo(f"Serving {path} read-only at {url} (Ctrl-C stops)", err=True),
        )
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None
