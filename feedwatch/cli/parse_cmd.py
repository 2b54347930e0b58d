"""`feedwatch parse`: inputs in, Post JSON Lines out."""

from __future__ import annotations

from datetime import tzinfo

import click

from feedwatch.cli.common import (
    OK,
    PARTLY_FAILED,
    guarded,
    say_error,
    say_notes,
    tz_option,
    utf8_line_writer,
    write_line,
)
from feedwatch.cli.progress import posts_of
from feedwatch.cli.show import post_summary
from feedwatch.models import post_line
from feedwatch.parse import Options, expand, format_names

PROGRESS_BYTES = 16 * 1024 * 1024  # inputs at least this big get a progress bar on a terminal


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
    "--format",
    "fmt",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", *format_names()]),
    help="Input format; auto detects each file.",
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
    failed = parsed = noted = reported = 0
    write_json_line = utf8_line_writer()
    for path in expand(paths):

        def on_error(exc: BaseException, path: str = path) -> None:
            nonlocal failed
            failed += 1
            say_error(exc, path)

        for post in guarded(posts_of(path, fmt, options, min_bytes=PROGRESS_BYTES), path, on_error):
            parsed += 1
            if summary:
                write_line(post_summary(post, parsed) + "\n")
            else:
                write_json_line(post_line(post))
        noted = say_notes(options.notes, noted)
        for problem in options.problems[reported:]:  # parts skipped, the rest parsed
            say_error(problem)
        failed += len(options.problems) > reported
        reported = len(options.problems)
    if summary:
        write_line(f"{parsed} post(s) parsed, {failed} input(s) failed.")
    raise SystemExit(PARTLY_FAILED if failed else OK)
