"""`feedwatch worker` (run jobs from the shared queue) and `feedwatch queue` (what is queued)."""

from __future__ import annotations

import dataclasses
import logging
import os

import click

from feedwatch.cli.common import OK, PARTLY_FAILED, USAGE, log_to_stderr, say_error, write_line
from feedwatch.cli.options import config_option, db_option
from feedwatch.cli.poll_cmd import load
from feedwatch.config import Config
from feedwatch.errors import ConfigError, FeedwatchError

queue_option = click.option(
    "--queue",
    "queue",
    default=None,
    metavar="URL",
    help="PostgreSQL URL of the job queue [default: $FEEDWATCH_QUEUE, else the config's worker.queue, "
    "else --db when it is a PostgreSQL URL].",
)


def _queue(option: str | None, config: Config, db: str) -> str:
    from feedwatch.workers import resolve_queue

    try:
        return resolve_queue(option, config, db, dict(os.environ))
    except ConfigError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None


@click.command(
    "worker",
    epilog="""\b
Examples:
  feedwatch worker --queue postgresql://feedwatch@db.example/feedwatch     (network)
  feedwatch worker --source-address 192.0.2.12 --session data/analyst2     (network)""",
)
@db_option
@config_option
@queue_option
@click.option(
    "--source-address",
    default=None,
    metavar="ADDR",
    help="The local address this worker's requests leave from [default: the config's web.source_address].",
)
@click.option(
    "--session",
    default=None,
    metavar="PATH",
    help="This worker's Telethon session file [default: the config's telethon.session].",
)
@click.option("--name", default=None, help="The worker's name in its log [default: the host and pid].")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64), help="Jobs run at once.")
def worker_command(
    db_path: str,
    config_file: str | None,
    queue: str | None,
    source_address: str | None,
    session: str | None,
    name: str | None,
    concurrency: int,
) -> None:
    """Run polls, folder scans, campaign detection and digests as jobs from the shared PostgreSQL queue.

    Start one on each machine (or address, or Telegram account): together they
    poll every configured channel on its interval, one poll of a channel at a
    time, and store into the one database. Stop with Ctrl-C or SIGTERM; a
    killed worker's channels are taken up by the others after
    worker.stalled_after seconds, from the stored marks.
    """
    log_to_stderr(logging.INFO, "%(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%S")
    config = load(config_file)
    overrides = {}
    if source_address is not None:
        overrides["web.source_address"] = source_address
    if session is not None:
        overrides["telethon.session"] = session
    if overrides:
        config = dataclasses.replace(config, values={**config.values, **overrides})
    url = _queue(queue, config, db_path)
    if not config.channels and not config["folders.paths"]:
        say_error(
            FeedwatchError("nothing to poll: list channels ([[channels]]) or folders (folders.paths) in the config")
        )
        raise SystemExit(USAGE)
    from feedwatch import workers

    try:
        runtime = workers.start(config, db_path, url)
        workers.run(runtime, name=name or f"{os.uname().nodename}-{os.getpid()}", concurrency=concurrency)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(USAGE if isinstance(exc, ConfigError) else PARTLY_FAILED) from None
    raise SystemExit(OK)


@click.command(
    "queue",
    epilog="""\b
Examples:
  feedwatch queue --queue postgresql://feedwatch@db.example/feedwatch     (network)""",
)
@db_option
@config_option
@queue_option
def queue_command(db_path: str, config_file: str | None, queue: str | None) -> None:
    """Show the jobs the workers are running and those waiting, with when each is due (UTC)."""
    from feedwatch import workers

    config = load(config_file)
    url = _queue(queue, config, db_path)
    try:
        rows = workers.queue_rows(url)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    running = sum(1 for row in rows if row["status"] == "doing")
    write_line(f"{running} running, {len(rows) - running} waiting")
    for row in rows:
        args = row["args"] or {}
        what = args.get("channel") or ", ".join(args.get("paths", [])) or ""
        when = row["scheduled_at"].strftime("%Y-%m-%d %H:%M:%S") if row["scheduled_at"] else "now"
        who = f"by worker {row['worker_id']}" if row["status"] == "doing" else f"due {when}"
        write_line(f"{row['status']:6} {row['task_name']:18} {what:32} {who}")
    raise SystemExit(OK)
