"""Options every command spells the same way: the time window, the database, the config, JSON output.

A command adds them with decorators and gets plain values:

    @db_option                  --db PATH      -> db_path: str (resolved: --db, FEEDWATCH_DB, the config's
                                                  database.path, data/feedwatch.db)
    @config_option              --config PATH  -> config_file: str | None (read before --db)
    @since_option()             --since WHEN   -> since: datetime | None (24h, 7d, 2w, a day, an ISO time, all)
    @until_option()             --until WHEN   -> until: datetime | None (a day includes the whole day)
    @output_options("hits")     --json / --nl  -> output: "text" | "json" | "nl"

and writes machine output with `write_json(rows, output)`. `open_store(db_path)` opens the
store or ends with one line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from feedwatch.cli.common import PARTLY_FAILED, USAGE, say_error, write_line
from feedwatch.errors import FeedwatchError
from feedwatch.window import HELP as WINDOW_HELP
from feedwatch.window import parse_time

if TYPE_CHECKING:
    from feedwatch.store import Store

F = TypeVar("F", bound=Callable[..., Any])


class TimeParam(click.ParamType[datetime | None]):
    """A window's end in the one grammar of feedwatch.window; `end` makes a bare day inclusive."""

    name = "WHEN"

    def __init__(self, *, end: bool = False, allow_all: bool = True) -> None:
        self.end = end
        self.allow_all = allow_all

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        name = param.opts[0] if param is not None and param.opts else "time"
        try:
            return parse_time(str(value), datetime.now(UTC), name=name, end=self.end, allow_all=self.allow_all)
        except FeedwatchError as exc:
            self.fail(str(exc).removeprefix(f"{name} "), param, ctx)


def since_option(
    what: str = "Only posts from this time on", default: str | None = None, allow_all: bool = True
) -> Callable[[F], F]:
    """`--since WHEN`: the start of the window (None: no start)."""
    also = ", or all" if allow_all else ""
    return click.option(
        "--since",
        type=TimeParam(allow_all=allow_all),
        default=default,
        metavar="WHEN",
        show_default=default is not None,
        help=f"{what}: {WINDOW_HELP}{also}.",
    )


def until_option(what: str = "Only posts before this time") -> Callable[[F], F]:
    """`--until WHEN`: the end of the window, exclusive; a bare day includes that whole day."""
    return click.option(
        "--until",
        type=TimeParam(end=True, allow_all=False),
        default=None,
        metavar="WHEN",
        help=f"{what}: {WINDOW_HELP}; a day counts whole.",
    )


def _remember_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    ctx.meta["feedwatch.config"] = value
    return value


def config_option(fn: F) -> F:
    """`--config PATH` (read before --db, so the config's database.path is honoured)."""
    return click.option(
        "--config",
        "config_file",
        default=None,
        metavar="PATH",
        is_eager=True,
        callback=_remember_config,
        help="Config file [default: $FEEDWATCH_CONFIG, else config/feedwatch.toml when present].",
    )(fn)


def resolve_db(db: str | None, config_file: str | None = None) -> str:
    """Return the store: --db, else $FEEDWATCH_DB, else the config's database.url or database.path, else the default.

    Each is an SQLite file's path or a postgresql:// URL (feedwatch.store.backend.is_url).
    """
    from feedwatch.config import config_path, load_config
    from feedwatch.store import DEFAULT_DB, configured

    if db or os.environ.get("FEEDWATCH_DB"):
        return str(db or os.environ["FEEDWATCH_DB"])
    path = config_path(config_file)
    named = configured(load_config(path)) if path is not None else ""
    return str(named or DEFAULT_DB)


def _resolve_db(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    try:
        return resolve_db(value, ctx.meta.get("feedwatch.config"))
    except FeedwatchError as exc:
        raise click.UsageError(str(exc), ctx) from None


def db_option(fn: F) -> F:
    """`--db PATH`, resolved in the one order (see resolve_db); the command gets `db_path: str`."""
    return click.option(
        "--db",
        "db_path",
        default=None,
        metavar="PATH|URL",
        callback=_resolve_db,
        help="The feedwatch store: an SQLite file, or a postgresql:// URL [default: $FEEDWATCH_DB, else the "
        "config's database.url or database.path, else data/feedwatch.db].",
    )(fn)


def output_options(what: str) -> Callable[[F], F]:
    """`--json` (one JSON array) and `--nl` (JSON Lines), the sqlite-utils way.

    The command gets `output`: "json", "nl", or None for text for people (the last flag given wins).
    """

    def decorate(fn: F) -> F:
        fn = click.option("--nl", "output", flag_value="nl", help=f"The {what} as JSON Lines (one object a line).")(fn)
        return click.option("--json", "output", flag_value="json", help=f"The {what} as one JSON array.")(fn)

    return decorate


def write_json(rows: Iterable[object], output: str) -> None:
    """Write `rows` as one JSON array (output "json") or as JSON Lines ("nl"), streaming either way."""
    if output == "nl":
        for row in rows:
            write_line(json.dumps(row, ensure_ascii=False))
        return
    pending: str | None = None  # each row is written once the next is known, so the last one closes the array
    for row in rows:
        if pending is not None:
            write_line(pending + ",")
        pending = (" " if pending is not None else "[") + json.dumps(row, ensure_ascii=False)
    write_line(pending + "]" if pending is not None else "[]")


def open_store(path: str | None, *, must_exist: bool = False, writing: bool = True) -> Store:
    """Open the database at `path` (resolved when None) or end with one line.

    No file there is a bad --db (exit 2); a file that is not a feedwatch database, or a broken one, exit 1.
    Commands that only read pass `writing=False`: a file they cannot write is then opened read-only.
    """
    from feedwatch.campaigns.stored import release_stale_on_open
    from feedwatch.store import Store
    from feedwatch.store.backend import is_url

    path = path or resolve_db(None)
    if must_exist and not is_url(path) and not os.path.exists(path):
        hint = f"Store posts first: feedwatch ingest PATH --db {path}"
        say_error(FeedwatchError(f"{path}: no database there yet. {hint}"))
        raise SystemExit(USAGE)
    try:
        store = Store.open(path, writing=writing)
        if writing:  # an ingest that died detecting beside itself left detection to the next writer
            release_stale_on_open(store)
        return store
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
