"""`feedwatch ingest`, `search` and `export`: the store from the command line.

feedwatch.store (and sqlite-utils) load when a command runs, so `feedwatch --help` stays fast.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

import click

from feedwatch.cli.common import (
    OK,
    PARTLY_FAILED,
    USAGE,
    error_line,
    guarded,
    say_error,
    say_notes,
    tz_option,
    write_line,
)
from feedwatch.errors import FeedwatchError
from feedwatch.models import Post
from feedwatch.parse import Options, expand, format_names, parse_path

if TYPE_CHECKING:
    from feedwatch.store import IngestResult, Store

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
_LONG_INPUT = 1024 * 1024  # bytes: inputs at least this big get a progress bar on a terminal


def db_option(fn: F) -> F:
    return click.option(
        "--db", "db_path", envvar="FEEDWATCH_DB", default=None, show_envvar=True, type=click.Path(dir_okay=False),
        help="The feedwatch database file.  [default: data/feedwatch.db]",
    )(fn)


def open_store(path: str | None, *, must_exist: bool = False) -> Store:
    """Open the database (default: $FEEDWATCH_DB, else data/feedwatch.db) or end with one line (exit 2)."""
    from feedwatch.store import Store, default_db_path

    path = path or str(default_db_path())
    if must_exist and not os.path.exists(path):
        hint = f"Store posts first: feedwatch ingest PATH --db {path}"
        say_error(FeedwatchError(f"{path}: no database there yet. {hint}"))
        raise SystemExit(USAGE)
    try:
        return Store.open(path)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None


class DateParam(click.ParamType):
    """A day (2023-04-29) or an ISO 8601 time; without a zone it is UTC."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date; use YYYY-MM-DD or an ISO 8601 time", param, ctx)
        return when if when.tzinfo else when.replace(tzinfo=UTC)


def _with_progress(items: Iterator[T], path: str) -> Iterator[T]:
    """Show a progress bar on a terminal while a long input is read."""
    long_input = path == "-" or (os.path.isfile(path) and os.path.getsize(path) >= _LONG_INPUT)
    if not (long_input and sys.stderr.isatty()):
        yield from items
        return
    with click.progressbar(items, label=path, file=sys.stderr, show_pos=True, update_min_steps=500) as bar:
        yield from bar


@click.command(
    "ingest",
    epilog="""\b
Examples:
  feedwatch ingest seeds/
  feedwatch ingest --db /tmp/watch.db export/result.jsonl pasted.txt
  feedwatch parse seeds/ | feedwatch ingest -""",
)
@click.argument("paths", nargs=-1, required=True)
@db_option
@click.option("--format", "fmt", default="auto", show_default=True, type=click.Choice(["auto", *format_names()]),
              help="Input format; auto detects each file.")
@click.option("--encoding", default=None, help="Encoding of text inputs (default UTF-8, with or without BOM).")
@tz_option
def ingest_command(paths: tuple[str, ...], db_path: str | None, fmt: str, encoding: str | None, tz: tzinfo) -> None:
    """Store posts from archived material in the database, once each.

    PATHS are files, folders (walked) or - for stdin, in any format `parse`
    reads. Posts already stored are merged, not duplicated. A bad input gets
    one line on stderr and the others are still stored (exit 1).
    """
    store = open_store(db_path)
    options = Options(encoding=encoding, tz=tz)
    table: list[tuple[str, IngestResult]] = []
    bad = noted = 0
    try:
        for path in expand(paths):
            result, failed = _ingest_one(store, path, fmt, options)
            noted = say_notes(options.notes, noted)
            bad += failed
            table.append((path, result))
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    finally:
        store.close()
    for line in summary_table(table):
        write_line(line)
    raise SystemExit(PARTLY_FAILED if bad else OK)


def _ingest_one(store: Store, path: str, fmt: str, options: Options) -> tuple[IngestResult, int]:
    """Store one input; return its counts (a failed input counts one failure) and 1 if it failed."""
    from feedwatch.store import IngestResult

    errors: list[tuple[str, str]] = []

    def on_error(exc: BaseException) -> None:
        say_error(exc, path)
        errors.append(("parse" if isinstance(exc, FeedwatchError) else "internal", error_line(exc, path)))

    started = datetime.now(UTC)
    posts = guarded(_with_progress(parse_path(path, fmt, options), path), path, on_error)
    result = store.ingest(posts, path, on_new=_campaign_hook())
    if result.failed:
        say_error(FeedwatchError(f"{path}: {result.failed} post(s) could not be stored (values out of range)"))
    if errors:
        result += IngestResult(failed=1)
    store.record_run(path, new=result.new, updated=result.updated, unchanged=result.unchanged,
                     failed=result.failed, errors=errors, started_at=started, finished_at=datetime.now(UTC))
    return result, 1 if errors or result.failed else 0


def _campaign_hook() -> Callable[..., None]:
    """Return the campaign detector's callback: detection runs as posts are stored."""
    from feedwatch.campaigns import IngestHook

    return IngestHook()


def summary_table(rows: list[tuple[str, IngestResult]]) -> list[str]:
    """Return aligned lines: one per input, then the total."""
    from feedwatch.store import IngestResult

    total = sum((r for _, r in rows), IngestResult())
    body = [*rows, ("total", total)]
    width = max([len("input"), *(len(name) for name, _ in body)])
    lines = [f"{'input':<{width}}  {'new':>8}  {'updated':>8}  {'unchanged':>9}  {'failed':>6}"]
    for name, r in body:
        lines.append(f"{name:<{width}}  {r.new:>8,}  {r.updated:>8,}  {r.unchanged:>9,}  {r.failed:>6,}")
    return lines


@click.command(
    "search",
    epilog="""\b
Examples:
  feedwatch search Guterres
  feedwatch search '"Security Council" NOT Syria' --since 2023-01-01
  feedwatch search --hashtag UNCharterIsOurRules --json
  feedwatch search 'multipolar*' --channel mfa_russia --limit 5
  feedwatch search --limit 10              # the latest stored posts""",
)
@click.argument("query", required=False)
@click.option("--hashtag", help="Only posts with this hashtag (any case, with or without #).")
@click.option("--channel", help="Only posts of this channel (username).")
@click.option("--since", type=DateParam(), help="Only posts from this date on (UTC).")
@click.option("--until", type=DateParam(), help="Only posts before the end of this day (UTC).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1), help="Show at most this many.")
@click.option("--sort", type=click.Choice(["relevance", "recent"]), default="relevance", show_default=True,
              help="recent: latest stored first, fast even for a word most posts contain.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hit: id, link, snippet, post.")
@db_option
def search_command(query: str | None, hashtag: str | None, channel: str | None, since: datetime | None,
                   until: datetime | None, limit: int, sort: str, as_json: bool, db_path: str | None) -> None:
    """Full-text search of stored posts, best matches first.

    QUERY is an SQLite FTS5 query: words, "exact phrases", prefix*, AND/OR/NOT.
    Without QUERY the filters alone pick posts, newest first (no filter: the
    latest posts).
    """
    if until is not None and until.time() == datetime.min.time():
        until += timedelta(days=1)  # a day means the whole day
    store = open_store(db_path, must_exist=True)
    styled = sys.stdout.isatty() and not as_json
    marks = ("\x1b[1;33m", "\x1b[0m") if styled else ("**", "**")
    try:
        hits = store.search(query, hashtag=hashtag, channel=channel, since=since, until=until, limit=limit,
                            marks=marks, sort=sort)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None
    finally:
        store.close()
    for number, hit in enumerate(hits, 1):
        if as_json:
            write_line(json.dumps({"id": hit.id, "link": hit.link, "snippet": hit.snippet,
                                   "post": hit.post.to_json()}, ensure_ascii=False))
        else:
            write_line(_hit_lines(number, hit.post, hit.snippet, hit.link))
    if not as_json:
        click.echo(f"{len(hits)} post(s) found.", err=True)


def _hit_lines(number: int, post: Post, snippet: str, where: str) -> str:
    when = post.date.strftime("%Y-%m-%d") if post.date else "no date"
    who = f"@{post.channel}" if post.channel else (post.forwarded_from.name if post.forwarded_from else post.author)
    head = click.style(f"[{number}]", bold=True) if sys.stdout.isatty() else f"[{number}]"
    return f"{head} {when} · {who or 'unknown origin'} · {where}\n    {post.title or '(no title)'}\n    {snippet}\n"


CSV_FIELDS = tuple(Post().to_json())


@click.command(
    "export",
    epilog="""\b
Examples:
  feedwatch export > posts.jsonl
  feedwatch export --channel mfa_russia --since 2023-04-01
  feedwatch export --format csv > posts.csv""",
)
@click.option("--channel", help="Only posts of this channel (username).")
@click.option("--since", type=DateParam(), help="Only posts from this date on (UTC).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="jsonl: the Post JSON contract (feedwatch ingest reads it back); csv: one column per field.")
@db_option
def export_command(channel: str | None, since: datetime | None, fmt: str, db_path: str | None) -> None:
    """Write stored posts to stdout, in the order they were first stored."""
    store = open_store(db_path, must_exist=True)
    try:
        _write_posts(store.posts(channel=channel, since=since), fmt)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    finally:
        store.close()


def _write_posts(posts: Iterable[Post], fmt: str) -> None:
    if fmt == "jsonl":
        for post in posts:
            write_line(json.dumps(post.to_json(), ensure_ascii=False))
        return
    writer = csv.DictWriter(_Lines(), fieldnames=CSV_FIELDS, lineterminator="")
    writer.writeheader()
    for post in posts:
        writer.writerow({k: _cell(v) for k, v in post.to_json().items()})


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


class _Lines:
    """A file-like object for csv that writes each row through write_line (closed pipes end quietly)."""

    def write(self, text: str) -> int:
        write_line(text)
        return len(text)

