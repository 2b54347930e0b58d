"""`feedwatch digest`: what was stored, which campaigns started, how the scrapers fared."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from feedwatch.cli.common import OK, PARTLY_FAILED, USAGE, say_error, write_line
from feedwatch.cli.options import config_option, db_option, open_store, since_option
from feedwatch.errors import ConfigError, FeedwatchError
from feedwatch.store.backend import Database

if TYPE_CHECKING:
    from feedwatch.config import Config

SUFFIXES = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}


@click.command(
    "digest",
    epilog="""\b
Examples:
  feedwatch digest                                # the last 24 hours, as Markdown
  feedwatch digest --since 7d --format html --out week.html
  feedwatch digest --since all --format json
  feedwatch digest --send                         # deliver to the targets in config/feedwatch.toml""",
)
@db_option
@config_option
@since_option("Start of the window of stored posts [with --send: where each target's last digest ended]", default="24h")
@click.option(
    "--format",
    "fmt",
    default=None,
    type=click.Choice(["md", "html", "json"]),
    help="Rendering printed or written with --out [default: from the --out suffix, else md].",
)
@click.option(
    "--out",
    "out",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write the digest to FILE (atomically) instead of printing it: .md, .html or .json.",
)
@click.option(
    "--seen",
    is_flag=True,
    help="Count posts seen again in the window too, not only those first stored: what a cycle read.",
)
@click.option(
    "--send",
    is_flag=True,
    help="Deliver to the configured targets (file, webhook, e-mail); each gets only alerts it has not had.",
)
def digest_command(
    db_path: str,
    config_file: str | None,
    since: datetime | None,
    fmt: str | None,
    out: str | None,
    seen: bool,
    send: bool,
) -> None:
    """Build a digest: new campaigns, spiking tags, top hashtags, channel activity, scraper health.

    Sections come in that order; every alert shows its evidence and links back to
    its sample posts. Post content is escaped in every format.
    """
    from feedwatch.config import config_path, load_config
    from feedwatch.digest.job import AUTO
    from feedwatch.store.db import store_errors

    now = datetime.now(UTC)
    given = click.get_current_context().get_parameter_source("since") != ParameterSource.DEFAULT
    fmt = fmt or _format_of(out)
    try:
        config = load_config(config_path(config_file))
    except ConfigError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None
    store = open_store(db_path, must_exist=True, writing=send)
    try:
        with store_errors(store.path):  # a corrupt page met while building: one line, like any store error
            if out or not send:
                _show(store.db, since, now, fmt, out, seen, config["serve.base_url"])
            code = _send(store.db, config, since if given else AUTO, now) if send else OK
    except FeedwatchError as exc:
        say_error(exc)
        code = USAGE if isinstance(exc, ConfigError) else PARTLY_FAILED
    finally:
        store.close()
    raise SystemExit(code)


def _format_of(out: str | None) -> str:
    """Return the rendering an --out file's suffix names (md without --out); refuse a suffix we do not write."""
    if not out:
        return "md"
    suffix = os.path.splitext(out)[1].lower()
    if suffix not in SUFFIXES:
        raise click.BadParameter(
            f"{out}: a digest is written as .md, .html or .json; name the file so, or give --format", param_hint="--out"
        )
    return SUFFIXES[suffix]


def _show(
    db: Database, since: datetime | None, now: datetime, fmt: str, out: str | None, seen: bool, browse_url: str = ""
) -> None:
    from feedwatch.digest.build import build_digest
    from feedwatch.digest.deliver import RENDERERS, write_file

    digest = build_digest(db, since, now, now=now, seen=seen, browse_url=browse_url)
    if out:
        written = write_file(digest, Path(out), fmt, make_folder=False)
        click.echo(f"digest written to {written}", err=True)
    else:
        write_line(RENDERERS[fmt][1](digest).rstrip("\n"))


def _send(db: Database, config: Config, since: datetime | str | None, now: datetime) -> int:
    from feedwatch.digest.build import builder
    from feedwatch.digest.deliver import targets_from_config
    from feedwatch.digest.job import browse_url, send_digests

    targets = targets_from_config(config)
    if not targets:
        where = getattr(config, "path", None) or "the config"
        raise ConfigError(
            f"{where}: no digest target set. Set digest.file.path, digest.webhook.url or "
            "digest.smtp.host (see config/feedwatch.toml)"
        )
    outcomes = send_digests(db, targets, builder(db, browse_url(config)), since=since, now=now, env=os.environ)
    for outcome in outcomes:
        if outcome.skipped:
            write_line(outcome.detail)
        elif outcome.ok:
            write_line(f"sent: {outcome.detail} ({outcome.alerts} alerts)")
        else:
            say_error(FeedwatchError(outcome.detail))
    return OK if all(o.ok for o in outcomes) else PARTLY_FAILED
