"""`feedwatch watch`: keep the configured channels and folders up to date, on a schedule, until stopped."""

from __future__ import annotations

import logging

import click

from feedwatch.cli.common import OK, PARTLY_FAILED, USAGE, log_to_stderr, say_error
from feedwatch.cli.options import config_option, db_option
from feedwatch.cli.poll_cmd import load
from feedwatch.errors import ConfigError, FeedwatchError


@click.command(
    "watch",
    epilog="""\b
Examples:
  feedwatch watch                                 # the channels and folders in config/feedwatch.toml
  feedwatch watch --config my.toml --db data/feedwatch.db""",
)
@db_option
@config_option
def watch_command(db_path: str, config_file: str | None) -> None:
    """Poll every configured channel and folder on its interval, and build the digest on its schedule.

    Logs one line per poll. Stop with Ctrl-C or SIGTERM: the current write
    finishes and feedwatch exits 0; the next start resumes where it stopped.
    """
    log_to_stderr(logging.INFO, "%(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%S")
    config = load(config_file)
    if not config.channels and not config["folders.paths"]:
        say_error(
            FeedwatchError("nothing to watch: list channels ([[channels]]) or folders (folders.paths) in the config")
        )
        raise SystemExit(USAGE)
    from feedwatch.scheduler import Watcher

    try:
        Watcher(config, db_path).run()
    except FeedwatchError as exc:  # a database it cannot use: one line before any job starts
        say_error(exc)
        raise SystemExit(USAGE if isinstance(exc, ConfigError) else PARTLY_FAILED) from None
    raise SystemExit(OK)
