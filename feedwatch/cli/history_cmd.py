"""`feedwatch history CHANNEL/ID`: a post's texts and counters over time."""

from __future__ import annotations

import click

from feedwatch.cli.common import OK, PARTLY_FAILED, say_error, write_line
from feedwatch.cli.options import config_option, db_option, open_store, output_options, write_json
from feedwatch.cli.rows_out import shown, table, when
from feedwatch.errors import FeedwatchError

COUNTERS = [
    ("at", "seen", 0),
    ("views", "views", 0),
    ("forwards", "forwards", 0),
    ("replies", "replies", 0),
    ("reactions", "reactions", 60),
]


@click.command(
    "history",
    epilog="""\b
Examples:
  feedwatch history mod_russia_en/51234
  feedwatch history https://t.me/MFARussia/17800 --json
  feedwatch history 42 --nl            # by row id (posts without a channel)""",
)
@click.argument("post")
@config_option
@db_option
@output_options("rows")
def history_command(post: str, config_file: str | None, db_path: str, output: str | None) -> None:
    """Show a post's history: its texts over time, then its counters at each sighting.

    POST is CHANNEL/ID (any case, t.me links too) or the post's row id in the
    store. Each text shows when it was current; counters (views, forwards,
    replies, reactions) are kept each time a sighting changed them.
    """
    from feedwatch.store import profiles

    store = open_store(db_path, must_exist=True, writing=False)
    try:
        rows = profiles.post_history(store.db.conn, post)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    finally:
        store.close()
    if not rows:
        say_error(
            FeedwatchError(f"{post}: no such post stored. Give CHANNEL/ID or a row id; feedwatch search finds posts")
        )
        raise SystemExit(PARTLY_FAILED)
    if output:
        write_json(rows, output)
        raise SystemExit(OK)
    texts = [r for r in rows if r["what"] != "counters"]
    counters = [{**r, "at": when(r["at"])} for r in rows if r["what"] == "counters"]
    write_line(f"Texts ({len(texts)})")
    for r in texts:
        span = f"{when(r['at']) or 'unknown'} to {when(r['until']) if r['until'] else 'now'}"
        write_line(f"  {span}{' (current)' if r['what'] != 'text' else ''}")
        for text_line in (
            (r["title"] + "\n" if r["title"] and r["title"] not in r["text"] else "") + r["text"]
        ).splitlines():
            write_line(("    " + shown(text_line)).rstrip())
    write_line(f"Counters ({len(counters)})")
    for line in table(counters, COUNTERS) if counters else ["  none recorded"]:
        write_line("  " + line if counters else line)
    raise SystemExit(OK)
