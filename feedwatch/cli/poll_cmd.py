"""`feedwatch poll` (one pass over channels) and `feedwatch run` (one full monitoring cycle)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from feedwatch.cli.common import OK, PARTLY_FAILED, USAGE, log_to_stderr, say_error, write_line
from feedwatch.cli.options import config_option, db_option
from feedwatch.config import ChannelSpec, Config, config_path, load_config, parse_backfill, valid_username
from feedwatch.display import shown
from feedwatch.errors import FeedwatchError

if TYPE_CHECKING:
    from feedwatch.poll import Report


def report_line(report: Report) -> None:
    """Print a source's line: stdout when it went well, stderr (one line) when it failed."""
    if report.ok:
        write_line(shown(report.line()))
    else:
        click.echo(click.style("error: ", fg="red") + shown(report.error_line()), err=True)


def load(config_file: str | None) -> Config:
    try:
        return load_config(config_path(config_file))
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None


def chosen_channels(config: Config, names: tuple[str, ...]) -> list[ChannelSpec]:
    """Return the named channels (their configured settings when listed, else web), or all configured ones."""
    if not names:
        return list(config.channels)
    known = {c.name.lower(): c for c in config.channels}
    specs = []
    for name in names:
        try:
            bare = valid_username(name)
        except FeedwatchError as exc:
            say_error(exc)
            raise SystemExit(USAGE) from None
        specs.append(
            known.get(bare.lower(), ChannelSpec(bare, "web", config["poll.interval"], config["poll.backfill"]))
        )
    return specs


def backfill_option(value: str | None) -> Any:
    from feedwatch.poll import KEEP

    if value is None:
        return KEEP
    try:
        return parse_backfill(value, "--backfill")
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None


BACKFILL = click.option(
    "--backfill",
    default=None,
    metavar="DAYS|all",
    help="History to read on a channel's first poll (default: the config's, 60 days).",
)


@click.command(
    "poll",
    epilog="""\b
Examples:
  feedwatch poll                                  # every channel in config/feedwatch.toml
  feedwatch poll MFARussia mod_russia_en --db data/feedwatch.db --backfill all
  FEEDWATCH_TME_BASE_URL=http://127.0.0.1:8080 feedwatch poll MFARussia""",
)
@click.argument("channels", nargs=-1)
@db_option
@config_option
@BACKFILL
def poll_command(channels: tuple[str, ...], db_path: str, config_file: str | None, backfill: str | None) -> None:
    """Poll channels once and store what is new: the named CHANNELS, or every configured one.

    Named channels need no config (they are read from the t.me/s web preview).
    Prints a line per channel (new, updated, errors); exit 1 when any failed.
    """
    log_to_stderr(logging.WARNING)
    config = load(config_file)
    specs = chosen_channels(config, channels)
    if not specs:
        say_error(FeedwatchError("no channels to poll: name some, or list them in the config ([[channels]])"))
        raise SystemExit(USAGE)
    days = backfill_option(backfill)
    from feedwatch.poll import poll_once

    try:
        reports = poll_once(config, specs, db=db_path, backfill=days, on_report=report_line)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    raise SystemExit(OK if all(r.ok for r in reports) else PARTLY_FAILED)


@click.command(
    "run",
    epilog="""\b
Examples:
  feedwatch run                                   # what scripts/run does
  feedwatch run --config my.toml --db /tmp/x.db""",
)
@db_option
@config_option
def run_command(db_path: str, config_file: str | None) -> None:
    """One full monitoring cycle: ingest the watched folders, poll every channel, print a summary.

    On a terminal the summary goes on: what the cycle read (posts, new
    campaigns, top hashtags), where the store is, and the commands to try next.

    Each source gets a line; a failed source is one line on stderr and the
    cycle still completes. Exit 1 when a source failed for a lasting reason
    (no public preview, changed markup, ...); sources that were merely
    unreachable or rate limited are retried on the next run and keep exit 0,
    so a scheduled job does not wake anyone for a transient fault.
    """
    log_to_stderr(logging.WARNING)
    config = load(config_file)
    from feedwatch.poll import run_cycle

    started = datetime.now(UTC)
    try:
        summary = run_cycle(config, db=db_path, on_report=report_line)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    for line in summary.lines():
        write_line(line)
    if sys.stdout.isatty():  # a person is reading: what the cycle read, where it is, what to try next
        from feedwatch.cli.first_hour import cycle_lines

        write_line("")
        for line in cycle_lines(db_path, started, datetime.now(UTC)):
            write_line(line)
    raise SystemExit(PARTLY_FAILED if summary.lasting_failures else OK)
