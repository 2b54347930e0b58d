"""`feedwatch channels`: one row per channel, the CLI side of the channel profile page."""

from __future__ import annotations

import click

from feedwatch.cli.common import OK, PARTLY_FAILED, say_error, write_line
from feedwatch.cli.options import config_option, db_option, open_store, output_options, write_json
from feedwatch.cli.rows_out import table, when
from feedwatch.errors import FeedwatchError

COLUMNS = [
    ("channel", "channel", 32),
    ("posts", "posts", 0),
    ("first", "first post", 0),
    ("last", "last post", 0),
    ("posts_per_day", "a day", 0),
    ("top_tags", "top tags", 40),
    ("forwards_out", "fwd out", 0),
    ("forwards_from", "forwards from", 30),
    ("forwards_in", "fwd in", 0),
    ("forwarded_by", "forwarded by", 30),
    ("last_poll_outcome", "last poll", 40),
]


@click.command(
    "channels",
    epilog="""\b
Examples:
  feedwatch channels
  feedwatch channels --db data/feedwatch.db --json
  feedwatch channels --nl | jq -r .channel""",
)
@config_option
@db_option
@output_options("rows")
def channels_command(config_file: str | None, db_path: str, output: str | None) -> None:
    """List the channels in the store, most posts first.

    One row each: posts, first and last post, posts a day, top tags, forwards
    out (and from whom) and in (and by whom), and the last poll's outcome. Each
    post counts for the actor the campaign detector counts it for: a pasted copy
    for the channel it was forwarded from, a chat without a username under its
    title; statements read from files belong to no channel.
    """
    from feedwatch.store import profiles

    store = open_store(db_path, must_exist=True, writing=False)
    try:
        rows = profiles.channels(store.db.conn)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    finally:
        store.close()
    if output:
        write_json(rows, output)
        raise SystemExit(OK)
    if not rows:
        write_line("No channels stored yet.")
        raise SystemExit(OK)
    shown = [
        {
            **r,
            "first": when(r["first_post"]),
            "last": when(r["last_post"]),
            "last_poll_outcome": r["last_poll_outcome"] and f"{when(r['last_poll'])} {r['last_poll_outcome']}",
        }
        for r in rows
    ]
    for line in table(shown, COLUMNS):
        write_line(line)
    raise SystemExit(OK)
