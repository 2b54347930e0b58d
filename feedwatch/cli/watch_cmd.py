"""`feedwatch watch`: keep the configured channels and folders up to date, on a schedule, until stopped."""

from __future__ import annotations

import logging

import click

from feedwatch.cli.common import OK, USAGE, log_to_stderr, say_error
from feedwatch.cli.poll_cmd import CONFIG, DB, load
from feedwatch.errors import FeedwatchError


@click.command(
    "watch",
    epilog="""\b
Examples:
  feedwatch watch                                 # the channels and folders in config/feedwatch.toml
  feedwatch watch --config my.toml --db data/feedwatch.db""",
)
@DB
@CONFIG
def watch_command(db: str | None, config_file: str | None) -> None:
    """Poll every configured channel and folder on its interval, and build the digest on its schedule.

    Logs one line per poll. Stop with Ctrl-C or SIGTERM: the current write
    finishes and feedwatch exits 0; the next start resumes where it stopped.
    """
    log_to_stderr(logging.INFO, "%(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%S")
    config = load(config_file)
    if not config.channels and not config["folders.paths"]:
        say_error(FeedwatchError("nothing to watch: list channels ([[channels]]) or folders (folders.paths) "
                                 "in the config"))
        raise SystemExit(USAGE)
    from feedwatch.scheduler import Watcher

    try:
        Watcher(config, db).run()
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None
    raise SystemExit(OK)
