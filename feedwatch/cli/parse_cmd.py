"""`feedwatch parse`: inputs in, Post JSON Lines out."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import tzinfo

import click

from feedwatch.cli.common import OK, PARTLY_FAILED, guarded, say_error, say_notes, tz_option, write_line
from feedwatch.cli.show import post_summary
from feedwatch.models import Post
from feedwatch.parse import Options, expand, format_names, parse_path

PROGRESS_BYTES = 16 * 1024 * 1024  # inputs at least this big get a progress bar on a terminal


def _input_size(path: str) -> int:
    if path == "-":
        return 0
    if os.path.isdir(path):
        return sum(entry.stat().st_size for entry in os.scandir(path) if entry.is_file())
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _with_progress(path: str, posts: Iterator[Post]) -> Iterator[Post]:
    """Yield `posts`, with a progress bar on stderr when the input is large and stderr is a terminal."""
    if not sys.stderr.isatty() or _input_size(path) < PROGRESS_BYTES:
        yield from posts
        return
    label = f"{os.path.basename(path.rstrip(os.sep)) or path} (posts)"
    with click.progressbar(posts, label=label, file=sys.stderr, show_pos=True, update_min_steps=200) as bar:
        yield from bar


def _write_post(post: Post) -> None:
    try:
        write_line(json.dumps(post.to_json(), ensure_ascii=False))
    except UnicodeEncodeError:  # a lone surrogate from a \udXXX escape: keep the line valid JSON
        write_line(json.dumps(post.to_json()))


@click.command(
    "parse",
    epilog="""\b
Examples:
  feedwatch parse seeds/004_01d4050f5de082cc.txt
  feedwatch parse seeds/ > posts.jsonl
  feedwatch parse --summary seeds/
  feedwatch parse --tz +03:00 ChatExport_2018-11-30/
  feedwatch parse --format dump --encoding cp1251 - < old_paste.txt""",
)
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format", "fmt", default="auto", show_default=True,
    type=click.Choice(["auto", *format_names()]), help="Input format; auto detects each file.",
)
@click.option("--encoding", default=None, help="Encoding of text inputs (default UTF-8, with or without BOM).")
@tz_option
@click.option("--summary", is_flag=True, help="Print a readable summary per post instead of JSON Lines.")
def parse_command(paths: tuple[str, ...], fmt: str, encoding: str | None, tz: tzinfo, summary: bool) -> None:
    """Parse archived Telegram material into Post JSON Lines on stdout.

    PATHS are files, folders (walked; a Telegram Desktop export folder is one
    input) or - for stdin. A bad input gets one line on stderr and the others
    are still parsed. Notes about how an input was read go to stderr once.
    """
    options = Options(encoding=encoding, tz=tz)
    failed = parsed = noted = 0
    for path in expand(paths):
        def on_error(exc: BaseException, path: str = path) -> None:
            nonlocal failed
            failed += 1
            say_error(exc, path)

        for post in guarded(_with_progress(path, parse_path(path, fmt, options)), path, on_error):
            parsed += 1
            if summary:
                write_line(post_summary(post, parsed) + "\n")
            else:
                _write_post(post)
        noted = say_notes(options.notes, noted)
    if summary:
        write_line(f"{parsed} post(s) parsed, {failed} input(s) failed.")
    raise SystemExit(PARTLY_FAILED if failed else OK)
