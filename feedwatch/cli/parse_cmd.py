"""`feedwatch parse`: inputs in, Post JSON Lines out."""

from __future__ import annotations

import json

import click

from feedwatch.cli.common import OK, PARTLY_FAILED, guarded, say_error, write_line
from feedwatch.cli.show import post_summary
from feedwatch.parse import Options, expand, format_names, parse_path


@click.command(
    "parse",
    epilog="""\b
Examples:
  feedwatch parse seeds/004_01d4050f5de082cc.txt
  feedwatch parse seeds/ > posts.jsonl
  feedwatch parse --summary seeds/
  feedwatch parse --format dump --encoding cp1251 - < old_paste.txt""",
)
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format", "fmt", default="auto", show_default=True,
    type=click.Choice(["auto", *format_names()]), help="Input format; auto detects each file.",
)
@click.option("--encoding", default=None, help="Encoding of text inputs (default UTF-8, with or without BOM).")
@click.option("--summary", is_flag=True, help="Print a readable summary per post instead of JSON Lines.")
def parse_command(paths: tuple[str, ...], fmt: str, encoding: str | None, summary: bool) -> None:
    """Parse archived Telegram material into Post JSON Lines on stdout.

    PATHS are files, folders (walked) or - for stdin. A bad input gets one line
    on stderr and the others are still parsed.
    """
    options = Options(encoding=encoding)
    failed = parsed = 0
    for path in expand(paths):
        def on_error(exc: BaseException, path: str = path) -> None:
            nonlocal failed
            failed += 1
            say_error(exc, path)

        for post in guarded(parse_path(path, fmt, options), path, on_error):
            parsed += 1
            if summary:
                write_line(post_summary(post, parsed) + "\n")
            else:
                write_line(json.dumps(post.to_json(), ensure_ascii=False))
    if summary:
        write_line(f"{parsed} post(s) parsed, {failed} input(s) failed.")
    raise SystemExit(PARTLY_FAILED if failed else OK)
