"""`feedwatch digest`: what was stored, which campaigns started, how the scrapers fared."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from feedwatch.cli.common import OK, PARTLY_FAILED, USAGE, say_error, write_line
from feedwatch.cli.store_cmds import open_store
from feedwatch.errors import ConfigError, FeedwatchError

DEFAULT_WINDOW = timedelta(hours=24)


@click.command(
    "digest",
    epilog="""\b
Examples:
  feedwatch digest                                # the last 24 hours, as Markdown
  feedwatch digest --since 7d --format html --out week.html
  feedwatch digest --since all --format json
  feedwatch digest --send                         # deliver to the targets in config/feedwatch.toml""",
)
@click.option("--db", "db_path", envvar="FEEDWATCH_DB", default=None, type=click.Path(dir_okay=False),
              help="The feedwatch database file [default: the config's database.path, else data/feedwatch.db].")
@click.option("--config", "config_file", default=None, type=click.Path(dir_okay=False),
              help="Config file [default: $FEEDWATCH_CONFIG, else config/feedwatch.toml when present].")
@click.option("--since", "since_text", default=None, metavar="24h|7d|DATE|all",
              help="Start of the window of stored posts [default: 24h; with --send, where each target's last "
                   "digest ended].")
@click.option("--format", "fmt", default=None, type=click.Choice(["md", "html", "json"]),
              help="Rendering printed or written with --out [default: from the --out suffix, else md].")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False),
              help="Write the digest to FILE (atomically) instead of printing it.")
@click.option("--seen", is_flag=True,
              help="Count posts seen again in the window too, not only those first stored: what a cycle read.")
@click.option("--send", is_flag=True,
              help="Deliver to the configured targets (file, webhook, e-mail); each gets only alerts it has not had.")
def digest_command(db_path: str | None, config_file: str | None, since_text: str | None, fmt: str | None,
                   out: str | None, seen: bool, send: bool) -> None:
    """Build a digest: new campaigns, spiking tags, top hashtags, channel activity, scraper health.

    Sections come in that order; every alert shows its evidence and links back to
    its sample posts. Post content is escaped in every format.
    """
    from feedwatch.config import config_path, load_config
    from feedwatch.digest.job import AUTO, parse_since
    from feedwatch.store import default_db_path

    now = datetime.now(UTC)
    try:
        config = load_config(config_path(config_file))
        since = parse_since(since_text, now) if since_text else None
    except ConfigError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None
    path = db_path or config.values.get("database.path") or str(default_db_path())
    store = open_store(path, must_exist=True)
    suffix = os.path.splitext(out or "")[1].lower().lstrip(".")
    fmt = fmt or {"html": "html", "htm": "html", "json": "json"}.get(suffix, "md")
    try:
        if out or not send:
            _show(store.db, since if since_text else now - DEFAULT_WINDOW, now, fmt, out, seen,
                  config["serve.base_url"])
        code = _send(store.db, config, since if since_text else AUTO, now) if send else OK
    except FeedwatchError as exc:
        say_error(exc)
        code = USAGE if isinstance(exc, ConfigError) else PARTLY_FAILED
    finally:
        store.close()
    raise SystemExit(code)


def _show(db: object, since: datetime | None, now: datetime, fmt: str, out: str | None, seen: bool,
          browse_url: str = "") -> None:
    from feedwatch.digest.build import build_digest
    from feedwatch.digest.deliver import RENDERERS, write_file

    digest = build_digest(db, since, now, now=now, seen=seen, browse_url=browse_url)
    if out:
        written = write_file(digest, Path(out), fmt)
        click.echo(f"digest written to {written}", err=True)
    else:
        write_line(RENDERERS[fmt][1](digest).rstrip("\n"))


def _send(db: object, config: object, since: datetime | str | None, now: datetime) -> int:
    from feedwatch.digest.build import builder
    from feedwatch.digest.deliver import targets_from_config
    from feedwatch.digest.job import browse_url, send_digests

    targets = targets_from_config(config)
    if not targets:
        where = getattr(config, "path", None) or "the config"
        raise ConfigError(f"{where}: no digest target set. Set digest.file.path, digest.webhook.url or "
                          "digest.smtp.host (see config/feedwatch.toml)")
    outcomes = send_digests(db, targets, builder(db, browse_url(config)), since=since, now=now, env=os.environ)  # type: ignore[arg-type]
    for outcome in outcomes:
        if outcome.skipped:
            write_line(outcome.detail)
        elif outcome.ok:
            write_line(f"sent: {outcome.detail} ({outcome.alerts} alerts)")
        else:
            say_error(FeedwatchError(outcome.detail))
    return OK if all(o.ok for o in outcomes) else PARTLY_FAILED
