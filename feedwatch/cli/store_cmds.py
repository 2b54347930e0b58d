"""`feedwatch ingest`, `search` and `export`: the store from the command line.

feedwatch.store (and sqlite-utils) load when a command runs, so `feedwatch --help` stays fast.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

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
from feedwatch.cli.options import (
    config_option,
    db_option,
    open_store,
    output_options,
    since_option,
    until_option,
    write_json,
)
from feedwatch.cli.progress import posts_of
from feedwatch.display import shown
from feedwatch.errors import FeedwatchError, QueryError
from feedwatch.models import Post, post_line
from feedwatch.parse import Options, expand, format_names

if TYPE_CHECKING:
    from feedwatch.campaigns.beside import DetectBeside
    from feedwatch.store import IngestResult, Store
    from feedwatch.store.queries import Filters

_LONG_INPUT = 1024 * 1024  # bytes: inputs at least this big get a progress bar on a terminal
# Inputs at least this big detect campaigns beside the ingest: about 10,000 posts of JSON Lines, against the
# half second the second process takes to start.
_BESIDE_INPUT = 8 * 1024 * 1024


@click.command(
    "ingest",
    epilog="""\b
Examples:
  feedwatch ingest seeds/
  feedwatch ingest --db /tmp/watch.db export/result.jsonl pasted.txt
  feedwatch parse seeds/ | feedwatch ingest -
  feedwatch ingest seeds/ --json          # the counts for a script""",
)
@click.argument("paths", nargs=-1, required=True)
@config_option
@db_option
@click.option(
    "--format",
    "fmt",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", *format_names()]),
    help="Input format; auto detects each file.",
)
@click.option("--encoding", default=None, help="Encoding of text inputs (default UTF-8, with or without BOM).")
@output_options("counts per input (input, new, updated, unchanged, failed)")
@tz_option
def ingest_command(
    paths: tuple[str, ...],
    config_file: str | None,
    db_path: str,
    fmt: str,
    encoding: str | None,
    output: str | None,
    tz: tzinfo,
) -> None:
    """Store posts from archived material in the database, once each.

    PATHS are files, folders (walked) or - for stdin, in any format `parse`
    reads. Posts already stored are merged, not duplicated. A bad input gets
    one line on stderr and the others are still stored (exit 1).
    """
    from feedwatch.campaigns.beside import DetectBeside

    store = open_store(db_path)
    options = Options(encoding=encoding, tz=tz)
    table: list[tuple[str, IngestResult]] = []
    bad = noted = 0
    try:
        # A long ingest detects campaigns in a second process, beside the one storing (feedwatch.campaigns.beside).
        with DetectBeside(store) if _input_bytes(paths) >= _BESIDE_INPUT else nullcontext() as beside:
            for path in expand(paths):
                if store.is_own_file(path):  # reading it would drop this process's locks on the database
                    click.echo(
                        click.style("note: ", fg="yellow") + f"{shown(path)}: the database itself; skipped", err=True
                    )
                    continue
                result, failed = _ingest_one(store, path, fmt, options, beside)
                noted = say_notes(options.notes, noted)
                bad += failed
                table.append((path, result))
        if beside is not None and beside.problem:
            click.echo(
                click.style("note: ", fg="yellow")
                + f"campaign detection beside the ingest stopped ({beside.problem}); the ingest detected the rest",
                err=True,
            )
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    finally:
        store.close()
    if output:
        write_json(
            (
                {"input": name, "new": r.new, "updated": r.updated, "unchanged": r.unchanged, "failed": r.failed}
                for name, r in table
            ),
            output,
        )
    else:
        for line in summary_table(table):
            write_line(line)
    raise SystemExit(PARTLY_FAILED if bad else OK)


def _input_bytes(paths: Iterable[str]) -> int:
    """The size of the inputs, counted up to _BESIDE_INPUT (standard input counts nothing: its size is unknown)."""
    total = 0
    for path in paths:
        if path == "-":
            continue
        for folder, _, files in os.walk(path) if os.path.isdir(path) else [("", [], [path])]:
            for name in files:
                try:
                    total += os.stat(os.path.join(folder, name)).st_size
                except OSError:
                    continue
                if total >= _BESIDE_INPUT:
                    return total
    return total


def _ingest_one(
    store: Store, path: str, fmt: str, options: Options, beside: DetectBeside | None = None
) -> tuple[IngestResult, int]:
    """Store one input; return its counts (a failed input counts one failure) and 1 if it failed."""
    from feedwatch.store import IngestResult

    errors: list[tuple[str, str]] = []

    def on_error(exc: BaseException) -> None:
        say_error(exc, path)
        errors.append(("parse" if isinstance(exc, FeedwatchError) else "internal", error_line(exc, path)))

    started = datetime.now(UTC)
    reported = len(options.problems)
    posts = guarded(posts_of(path, fmt, options, min_bytes=_LONG_INPUT), path, on_error)
    if beside is not None:
        result = store.ingest(posts, path, on_new=beside.hook, committed=beside.committed)
    else:
        result = store.ingest(posts, path, on_new=_campaign_hook())
    if result.failed:
        say_error(FeedwatchError(f"{path}: {result.failed} post(s) could not be stored (values out of range)"))
    for problem in options.problems[reported:]:  # parts of the input skipped (bad lines), the rest stored
        on_error(problem)
    result += IngestResult(failed=len(options.problems) - reported)
    if len(errors) > len(options.problems) - reported:  # the input itself failed
        result += IngestResult(failed=1)
    store.record_run(
        path,
        new=result.new,
        updated=result.updated,
        unchanged=result.unchanged,
        failed=result.failed,
        errors=errors,
        started_at=started,
        finished_at=datetime.now(UTC),
    )
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
    body = [(shown(name), r) for name, r in body]  # a file name with a newline must not forge a row
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
  feedwatch search 'multipolar*' --channel mfa_russia --since 7d --limit 5
  feedwatch search --limit 10              # the latest stored posts""",
)
@click.argument("query", required=False)
@click.option("--hashtag", help="Only posts with this hashtag (any case, with or without #).")
@click.option("--channel", help="Only posts of this channel (username).")
@since_option("Only posts published from this time on")
@until_option("Only posts published before this time")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1), help="Show at most this many.")
@click.option(
    "--sort",
    type=click.Choice(["relevance", "recent"]),
    default="relevance",
    show_default=True,
    help="recent: latest stored first, fast even for a word most posts contain.",
)
@output_options("hits (id, link, snippet, post)")
@config_option
@db_option
def search_command(
    query: str | None,
    hashtag: str | None,
    channel: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    sort: str,
    output: str | None,
    config_file: str | None,
    db_path: str,
) -> None:
    """Full-text search of stored posts, best matches first.

    QUERY is an SQLite FTS5 query: words, "exact phrases", prefix*, AND/OR/NOT.
    Without QUERY the filters alone pick posts, newest first (no filter: the
    latest posts). Posts without a publication date (pasted dumps) are outside
    any --since/--until window. The count of all matches goes to stderr.
    """
    store = open_store(db_path, must_exist=True, writing=False)
    styled = sys.stdout.isatty() and not output
    # People get the snippet escaped (see feedwatch.display), so its marks go in after: placeholders first.
    marks = ("**", "**") if output else _MARKS
    filters: Filters = {"hashtag": hashtag, "channel": channel, "since": since, "until": until}
    try:
        hits = store.search(query, limit=limit, marks=marks, sort=sort, **filters)
        total = store.count_matches(query, **filters) if len(hits) == limit else len(hits)
        unknown = unknown_channel(store, channel) if channel and not hits else None
    except QueryError as exc:
        say_error(FeedwatchError(_query_hint(exc)))
        raise SystemExit(USAGE) from None
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    finally:
        store.close()
    if output:
        write_json(({"id": h.id, "link": h.link, "snippet": h.snippet, "post": h.post.to_json()} for h in hits), output)
        return
    for number, hit in enumerate(hits, 1):
        write_line(_hit_lines(number, hit.post, _marked(hit.snippet, styled), hit.link))
    counted = f"{len(hits):,} of {total:,} shown (--limit to see more)" if total > len(hits) else f"{total:,} found"
    click.echo(f"{counted}." + (f" {shown(unknown)}." if unknown else ""), err=True)


def unknown_channel(store: Store, channel: str) -> str | None:
    """Return the line saying no stored post is of `channel` (naming some that are), or None when some is."""
    if store.has_channel(channel):
        return None
    known = store.channel_names()
    listed = f"stored channels include {', '.join(known)}" if known else "no stored post has a channel"
    return f"--channel {channel}: no stored post is from this channel ({listed})"


def _query_hint(exc: QueryError) -> str:
    """Return the one line for a query FTS5 cannot read, with what to type instead."""
    words = exc.query.strip()
    tags = [w.lstrip("#") for w in words.split() if w.startswith("#") and len(w) > 1]
    hint = f"For posts with a hashtag use --hashtag {tags[0]}; to" if tags else "To"
    example = "" if '"' in words else f": '\"{words}\"'"
    return (
        f"search query {words!r} is not valid FTS5 syntax ({exc.detail}). "
        f"{hint} search for words as written, put them in double quotes{example}"
    )


_MARKS = ("\ue000", "\ue001")  # private-use characters: where a match starts and ends in a snippet


def _marked(snippet: str, styled: bool) -> str:
    """Return the snippet escaped for a terminal, its matches in bold yellow (terminal) or **."""
    on, off = ("\x1b[1;33m", "\x1b[0m") if styled else ("**", "**")
    return shown(snippet).replace(_MARKS[0], on).replace(_MARKS[1], off)


def _hit_lines(number: int, post: Post, snippet: str, where: str) -> str:
    when = post.date.strftime("%Y-%m-%d") if post.date else "no date"
    who = f"@{post.channel}" if post.channel else (post.forwarded_from.name if post.forwarded_from else post.author)
    head = click.style(f"[{number}]", bold=True) if sys.stdout.isatty() else f"[{number}]"
    return (
        f"{head} {when} · {shown(who or 'unknown origin')} · {shown(where)}\n"
        f"    {shown(post.title or '(no title)')}\n    {snippet}\n"
    )


CSV_FIELDS = tuple(Post().to_json())


@click.command(
    "export",
    epilog="""\b
Examples:
  feedwatch export > posts.jsonl
  feedwatch export --channel mfa_russia --since 2023-04-01
  feedwatch export --since 24h --format csv > today.csv""",
)
@click.option("--channel", help="Only posts of this channel (username).")
@since_option("Only posts published from this time on")
@until_option("Only posts published before this time")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="jsonl: the Post JSON contract (feedwatch ingest reads it back); csv: one column per field.",
)
@config_option
@db_option
def export_command(
    channel: str | None, since: datetime | None, until: datetime | None, fmt: str, config_file: str | None, db_path: str
) -> None:
    """Write stored posts to stdout, in the order they were first stored.

    An unknown --channel is an error that names some stored channels (exit 1).
    """
    store = open_store(db_path, must_exist=True, writing=False)
    try:
        written = _write_posts(store.posts(channel=channel, since=since, until=until), fmt)
        unknown = unknown_channel(store, channel) if channel and not written else None
        if unknown:
            raise FeedwatchError(unknown)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    finally:
        store.close()


def _write_posts(posts: Iterable[Post], fmt: str) -> int:
    """Write the posts in `fmt`; return how many."""
    count = 0
    writer = csv.DictWriter(_Lines(), fieldnames=CSV_FIELDS, lineterminator="")
    if fmt == "csv":
        writer.writeheader()
    for post in posts:
        count += 1
        if fmt == "jsonl":
            write_line(post_line(post).decode())
        else:
            writer.writerow({k: _cell(v) for k, v in post.to_json().items()})
    return count


def _cell(value: Any) -> Any:
    """A CSV cell for people: lists and objects as JSON, control characters escaped (JSON Lines stays exact)."""
    if isinstance(value, list | dict):
        return shown(json.dumps(value, ensure_ascii=False))
    return shown(value) if isinstance(value, str) else value


class _Lines:
    """A file-like object for csv that writes each row through write_line (closed pipes end quietly)."""

    def write(self, text: str) -> int:
        write_line(text)
        return len(text)
