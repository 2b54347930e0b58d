"""`feedwatch network` and `feedwatch discover`: who amplifies whom, and which channels to watch next."""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from feedwatch.cli.common import OK, PARTLY_FAILED, USAGE, say_error, write_line
from feedwatch.cli.options import (
    config_option,
    db_option,
    open_store,
    output_options,
    since_option,
    until_option,
    write_json,
)
from feedwatch.display import shown
from feedwatch.errors import ConfigError, FeedwatchError
from feedwatch.network.refs import KINDS

if TYPE_CHECKING:
    from feedwatch.network.discover import Lead
    from feedwatch.network.echoes import Group


def _configured(config_file: str | None) -> list[str]:
    """Return the channel names of the config file (none without one)."""
    from feedwatch.config import config_path, load_config

    return [c.name for c in load_config(config_path(config_file)).channels]


@click.command(
    "network",
    epilog="""\b
Examples:
  feedwatch network --format gexf --out channels.gexf     # open in Gephi
  feedwatch network --since 30d --min-weight 3 --format csv
  feedwatch network --channel MFARussia --communities --format graphml --out mfa.graphml""",
)
@config_option
@db_option
@since_option()
@until_option()
@click.option("--channel", "channels", multiple=True, help="Only edges to or from this channel (repeatable).")
@click.option(
    "--min-weight",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Leave out edges seen fewer times than this.",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(KINDS),
    help="Only edges of this kind (repeatable) [default: all].",
)
@click.option(
    "--format",
    "fmt",
    default="csv",
    show_default=True,
    type=click.Choice(["gexf", "graphml", "csv"]),
    help="GEXF or GraphML open in Gephi as they are; CSV is an edge list.",
)
@click.option("--communities", is_flag=True, help="Add a Louvain community number to every node.")
@click.option(
    "--out",
    "out",
    default="-",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="File to write [default: standard output].",
)
def network_command(
    config_file: str | None,
    db_path: str,
    since: datetime | None,
    until: datetime | None,
    channels: tuple[str, ...],
    min_weight: int,
    kinds: tuple[str, ...],
    fmt: str,
    communities: bool,
    out: str,
) -> None:
    """Write the channel graph: channels as nodes; forwards, mentions and t.me links as weighted edges.

    Nodes are monitored channels (listed in the config or with stored posts) and the channels they point at,
    with title, username, posts in the window and whether monitored. Each edge has its kind, weight (how many
    posts), and the first and last time. A summary goes to stderr.
    """
    from feedwatch.network import graph

    try:
        configured = _configured(config_file)
    except ConfigError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None
    with open_store(db_path, must_exist=True, writing=False) as store:
        try:
            full = graph.collect(store.db.conn, since, until, configured)
        except FeedwatchError as exc:
            say_error(exc)
            raise SystemExit(PARTLY_FAILED) from None
    part = graph.select(full, channels=channels, min_weight=min_weight, kinds=kinds or KINDS)
    _write(out, lambda stream: graph.write(part, fmt, stream, communities))
    counts = graph.summary(part)
    edges = ", ".join(f"{v['edges']} {k} edges ({v['weight']} posts)" for k, v in counts["edges"].items())
    click.echo(
        f"{counts['nodes']} channels ({counts['monitored']} monitored); {edges}"
        + ("" if out == "-" else f"; written to {out}"),
        err=True,
    )
    raise SystemExit(OK)


def _write(out: str, writer: object) -> None:
    """Write through `writer(stream)` to stdout, or to `out` via a temporary file renamed into place."""
    assert callable(writer)
    if out == "-":
        writer(sys.stdout.buffer)
        sys.stdout.flush()
        return
    folder = os.path.dirname(os.path.abspath(out))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".feedwatch-", suffix=".tmp")
    except OSError as exc:
        say_error(FeedwatchError(f"{out}: cannot write there ({exc.strerror})"))
        raise SystemExit(PARTLY_FAILED) from None
    try:
        with os.fdopen(fd, "wb") as stream:
            writer(stream)
        os.replace(tmp, out)
    except OSError as exc:
        os.unlink(tmp)
        say_error(FeedwatchError(f"{out}: cannot write there ({exc.strerror})"))
        raise SystemExit(PARTLY_FAILED) from None


@click.command(
    "discover",
    epilog="""\b
Examples:
  feedwatch discover                          # channels that 2+ monitored channels point at
  feedwatch discover --min-channels 3 --top 10 --json
  feedwatch discover --add rybar --add @readovkanews  # append them to the config file""",
)
@config_option
@db_option
@since_option()
@until_option()
@click.option("--top", default=20, show_default=True, type=click.IntRange(min=1), help="List at most this many.")
@click.option(
    "--min-channels",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Only channels that at least this many monitored channels point at.",
)
@output_options("channels, with their evidence,")
@click.option(
    "--add",
    "add",
    multiple=True,
    help="Append this channel to the config's [[channels]] (repeatable), keeping the file's comments.",
)
def discover_command(
    config_file: str | None,
    db_path: str,
    since: datetime | None,
    until: datetime | None,
    top: int,
    min_channels: int,
    output: str | None,
    add: tuple[str, ...],
) -> None:
    """List channels that are not monitored but that monitored channels forward, mention or link.

    Ranked by how many monitored channels point at each, then how often; each with its evidence: which
    channels, how often by kind, and example posts. With --add, the named channels are appended to the
    config file (source "web") without touching anything else in it.
    """
    from feedwatch.config import DEFAULT_PATH, config_path
    from feedwatch.network import graph
    from feedwatch.network.discover import discover
    from feedwatch.network.edit_config import add_channels

    try:
        configured = _configured(config_file)
    except ConfigError as exc:
        say_error(exc)
        raise SystemExit(USAGE) from None
    if add:
        target = config_path(config_file) or DEFAULT_PATH
        try:
            added, present = add_channels(target, add)
        except FeedwatchError as exc:
            say_error(exc)
            raise SystemExit(USAGE) from None
        for name in present:
            click.echo(f"{name}: already in {target}", err=True)
        if added:
            click.echo(f"Added to {target}: {', '.join(added)}", err=True)
        raise SystemExit(OK)
    with open_store(db_path, must_exist=True, writing=False) as store:
        network = graph.collect(store.db.conn, since, until, configured)
    leads = discover(network, min_channels=min_channels, top=top)
    if output:
        write_json((lead.to_json() for lead in leads), output)
    else:
        _print_leads(leads, min_channels)
    raise SystemExit(OK)


def _print_leads(leads: list[Lead], min_channels: int) -> None:
    if not leads:
        write_line(f"No unmonitored channel is pointed at by {min_channels} or more monitored channels.")
        return
    for rank, lead in enumerate(leads, 1):
        kinds = {k: sum(r.counts.get(k, 0) for r in lead.referrers) for k in KINDS}
        how = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in kinds.items() if n)
        name = f"@{lead.username}" if lead.username else lead.channel
        title = f" ({shown(lead.label)})" if lead.label not in (name, lead.channel) else ""
        write_line(f"{rank:>3}. {shown(name)}{title}: {lead.channels} monitored channels, {how}")
        for ref in lead.referrers[:5]:
            counts = ", ".join(f"{n} {k}" for k, n in ref.counts.items())
            example = f"  e.g. {ref.examples[0]}" if ref.examples else ""
            write_line(f"       {shown(ref.label)}: {counts}{example}")
        if len(lead.referrers) > 5:
            write_line(f"       … and {len(lead.referrers) - 5} more")
    if leads and leads[0].username:
        write_line("")
        write_line(f"Add one to the config with: feedwatch discover --add {leads[0].username}")


@click.command(
    "echoes",
    epilog="""\b
Examples:
  feedwatch echoes --since 7d                     # passages that reached 2+ channels this week
  feedwatch echoes MFARussia/12345                # where one post's passages reappeared
  feedwatch echoes --since 30d --min-channels 3 --json""",
)
@click.argument("post", required=False)
@config_option
@db_option
@since_option("Passages posted from this time on")
@until_option("Passages posted before this time")
@click.option(
    "--min-channels",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Only groups that reached at least this many channels.",
)
@click.option("--top", default=20, show_default=True, type=click.IntRange(min=1), help="Show at most this many groups.")
@output_options("groups")
@click.option("--rebuild", is_flag=True, help="Recompute the passage index from the stored posts, then stop.")
def echoes_command(
    post: str | None,
    config_file: str | None,
    db_path: str,
    since: datetime | None,
    until: datetime | None,
    min_channels: int,
    top: int,
    output: str | None,
    rebuild: bool,
) -> None:
    """List passages (whole posts, paragraphs, key points) that reappear in other channels.

    Each group starts with its first appearance (the likely origin), then every echo with its channel, lag,
    similarity and how it was repeated: a forward (amplification the platform shows), a verbatim copy or an
    edited copy (copies carry no attribution: what analysts look for). Give a post as CHANNEL/ID or its
    t.me link, or a window with --since.
    """
    from feedwatch.network import echoes

    if rebuild:
        with open_store(db_path, must_exist=True) as store:
            count, posts = store.rebuild_passages(), store.count()
        click.echo(f"Passage index rebuilt: {count:,} passages of {posts:,} posts.", err=True)
        raise SystemExit(OK)
    window_given = click.get_current_context().get_parameter_source("since") != ParameterSource.DEFAULT
    if post is None and not window_given:
        raise click.UsageError("give a post (CHANNEL/ID) or a window (--since 7d, or --since all)")
    with open_store(db_path, must_exist=True, writing=False) as store:
        conn = store.db.conn
        try:
            if post is not None:
                groups = echoes.echoes_of_post(conn, echoes.find_post(conn, post), min_channels=min_channels)
            else:
                groups = echoes.echoes_of_window(conn, since, until, min_channels=min_channels)
        except FeedwatchError as exc:
            say_error(exc)
            raise SystemExit(PARTLY_FAILED) from None
    shown = groups[:top]
    if output:
        write_json((g.to_json() for g in shown), output)
    else:
        _print_groups(shown, len(groups), min_channels)
    raise SystemExit(OK)


def _print_groups(groups: list[Group], total: int, min_channels: int) -> None:
    if not groups:
        write_line(f"No passage reached {min_channels} or more channels.")
        return
    write_line(f"{len(groups)} of {total} group(s) shown, most channels first.")
    for number, group in enumerate(groups, 1):
        origin = group.origin
        head = " ".join(origin.text.split())
        head = head if len(head) <= 160 else head[:159].rsplit(" ", 1)[0] + "…"
        counts = ", ".join(f"{n} {how}" for how in ("forward", "verbatim", "edited") if (n := group.count(how)))
        write_line("")
        write_line(f"[{number}] {group.channels} channels ({counts}): {shown(head)}")
        when = f"{origin.date:%Y-%m-%d %H:%M} UTC" if origin.date else "no date"
        write_line(f"    origin   {shown(origin.channel):24} {when:20} {origin.url}")
        for echo in group.echoes[1:]:
            lag = f"+{echo.lag_hours:.1f} h" if echo.lag_hours is not None else "?"
            write_line(f"    {echo.how:9}{shown(echo.channel):24} {lag:>10}  sim {echo.similarity:.2f}  {echo.url}")
