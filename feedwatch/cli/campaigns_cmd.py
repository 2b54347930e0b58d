"""`feedwatch campaigns`: the campaign alerts raised, oldest first."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import click

from feedwatch.cli.common import OK, PARTLY_FAILED, say_error, write_line
from feedwatch.cli.options import config_option, db_option, open_store, output_options, since_option, write_json
from feedwatch.cli.progress import counted
from feedwatch.display import shown, strip_invisible
from feedwatch.errors import FeedwatchError, StoreError


def _table(alerts: list) -> list[str]:  # type: ignore[type-arg]
    from feedwatch.store.actor import channel_label

    if not alerts:
        return ["No campaign alerts."]
    head = f"{'alerted at (UTC)':16}  {'tier':4}  {'tag':32}  {'first seen':10}  {'ch':>3}  {'posts':>5}  {'fwd':>4}"
    lines = [head + "  score  evidence", "-" * (len(head) + 17)]
    for a in alerts:
        ev = a.evidence
        why = f"{ev.get('statistic', '').split(':')[0]} {_num(ev.get('value'))} (threshold {_num(ev.get('threshold'))})"
        channels = ", ".join(channel_label(c) for c in a.channels[:4]) + (" …" if len(a.channels) > 4 else "")
        tag = shown("#" + strip_invisible(a.tag))[:32]
        lines.append(
            f"{a.alerted_at:%Y-%m-%d %H:%M}  {a.tier:4}  {tag:32}  {a.first_seen:%Y-%m-%d}  "
            f"{len(a.channels):>3}  {a.posts:>5}  {a.forwards:>4}  {a.score:5.1f}  "
            + shown(f"{a.what}: {why}; {channels}")
        )
        if len(a.tags) > 1:
            lines.append(" " * 24 + "also: " + shown(" ".join("#" + strip_invisible(t) for t in a.tags if t != a.tag)))
        lines += [" " * 24 + shown(strip_invisible(str(sentence))) for sentence in ev.get("summary", [])]
    return lines


def _num(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


@click.command(
    "campaigns",
    epilog="""\b
Examples:
  feedwatch campaigns
  feedwatch campaigns --since 2w
  feedwatch campaigns --db data/feedwatch.db --since 2025-03-01 --json
  feedwatch campaigns --rebuild""",
)
@config_option
@db_option
@since_option("Only alerts raised from this time on (stream time)", default="all")
@output_options("alert objects")
@click.option("--rebuild", is_flag=True, help="Recompute all detector state from the stored posts first.")
def campaigns_command(
    config_file: str | None, db_path: str, since: datetime | None, output: str | None, rebuild: bool
) -> None:
    """Show the hashtag campaign alerts raised, oldest first.

    T1 coordinated launch, T2 new campaign, T3 known-tag burst; each with its
    evidence (the statistic and its threshold, channels, posts and forwards).
    """
    from feedwatch import campaigns

    store = open_store(db_path, must_exist=True, writing=rebuild)
    try:
        if rebuild:
            raised = campaigns.rebuild_stored(
                store.db, track=lambda posts, total: counted(posts, "rebuilding (posts)", total)
            )
            click.echo(f"Rebuilt campaign state from {store.count():,} stored post(s): {raised} alert(s).", err=True)
        found = campaigns.alerts(store.db, since=since)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(PARTLY_FAILED) from None
    except sqlite3.DatabaseError as exc:
        say_error(StoreError(f"{store.path}: {exc}"))
        raise SystemExit(PARTLY_FAILED) from None
    finally:
        store.close()
    if output:
        write_json((a.to_json() for a in found), output)
    else:
        for line in _table(found):
            write_line(line)
    raise SystemExit(OK)
