"""`feedwatch campaigns`: the campaign alerts raised, oldest first."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import click

from feedwatch.campaigns.actors import channel_label
from feedwatch.cli.common import OK, USAGE, say_error, write_line
from feedwatch.cli.store_cmds import db_option, open_store
from feedwatch.errors import FeedwatchError, StoreError

_RELATIVE = re.compile(r"^(\d+)([hd])$")


def parse_since(value: str, now: datetime | None = None) -> datetime | None:
    """Return the time `--since` names ("all", "24h", "7d", a date or an ISO time); raise ValueError."""
    value = value.strip()
    if value == "all":
        return None
    match = _RELATIVE.match(value)
    if match:
        amount = int(match.group(1))
        delta = timedelta(hours=amount) if match.group(2) == "h" else timedelta(days=amount)
        return (now or datetime.now(UTC)) - delta
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _table(alerts: list) -> list[str]:  # type: ignore[type-arg]
    if not alerts:
        return ["No campaign alerts."]
    head = f"{'alerted at (UTC)':16}  {'tier':4}  {'tag':32}  {'first seen':10}  {'ch':>3}  {'posts':>5}  {'fwd':>4}"
    lines = [head + "  score  evidence", "-" * (len(head) + 17)]
    for a in alerts:
        ev = a.evidence
        why = f"{ev.get('statistic', '').split(':')[0]} {_num(ev.get('value'))} (threshold {_num(ev.get('threshold'))})"
        channels = ", ".join(channel_label(c) for c in a.channels[:4]) + (" …" if len(a.channels) > 4 else "")
        lines.append(
            f"{a.alerted_at:%Y-%m-%d %H:%M}  {a.tier:4}  {('#' + a.tag)[:32]:32}  {a.first_seen:%Y-%m-%d}  "
            f"{len(a.channels):>3}  {a.posts:>5}  {a.forwards:>4}  {a.score:5.1f}  {a.what}: {why}; {channels}"
        )
        if len(a.tags) > 1:
            lines.append(" " * 24 + "also: " + " ".join("#" + t for t in a.tags if t != a.tag))
        lines += [" " * 24 + str(sentence) for sentence in ev.get("summary", [])]
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
  feedwatch campaigns --since 7d
  feedwatch campaigns --db data/feedwatch.db --since 2025-03-01 --json
  feedwatch campaigns --rebuild""",
)
@db_option
@click.option("--since", default="all", show_default=True, help="all, 24h, 7d, or a date (alerted on or after it).")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of alert objects instead of a table.")
@click.option("--rebuild", is_flag=True, help="Recompute all detector state from the stored posts first.")
def campaigns_command(db_path: str | None, since: str, as_json: bool, rebuild: bool) -> None:
    """Show the hashtag campaign alerts raised, oldest first.

    T1 coordinated launch, T2 new campaign, T3 known-tag burst; each with its
    evidence (the statistic and its threshold, channels, posts and forwards).
    """
    from feedwatch import campaigns

    try:
        start = parse_since(since)
    except ValueError:
        say_error(ValueError(f"--since {since!r}: use all, 24h, 7d, or a date such as 2025-03-01"))
        raise SystemExit(USAGE) from None
    store = open_store(db_path, must_exist=True)
    try:
        if rebuild:
            raised = campaigns.rebuild_stored(store.db)
            click.echo(f"Rebuilt campaign state from {store.count()} stored post(s): {raised} alert(s).", err=True)
        found = campaigns.alerts(store.db, since=start)
    except FeedwatchError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None
    except sqlite3.DatabaseError as exc:
        say_error(StoreError(f"{store.path}: {exc}"))
        raise SystemExit(USAGE) from None
    finally:
        store.close()
    if as_json:
        write_line(json.dumps([a.to_json() for a in found], ensure_ascii=False, indent=1))
    else:
        for line in _table(found):
            write_line(line)
    raise SystemExit(OK)
