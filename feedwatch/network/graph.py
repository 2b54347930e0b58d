"""The channel graph: channels as nodes, forwards, mentions and t.me links between them as edges.

`collect()` reads the stored posts of a window once and counts, for each
(channel, channel it points at, kind), how often, when first and last, and a
few example posts. `to_networkx()` turns that into a `networkx.MultiDiGraph`
(one edge per pair and kind) that `write()` saves as GEXF or GraphML for Gephi,
or as a CSV edge list.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from feedwatch.errors import FeedwatchError
from feedwatch.models import Post, iso
from feedwatch.network.refs import KINDS, post_node, refs, username
from feedwatch.store.backend import Connection
from feedwatch.store.queries import link
from feedwatch.store.rows import post_from_row

if TYPE_CHECKING:
    import networkx as nx

FORMATS = ("gexf", "graphml", "csv")
EXAMPLES = 3  # example posts kept per edge


@dataclass(slots=True)
class Edge:
    source: str
    target: str
    kind: str
    weight: int = 0
    first: str = ""
    last: str = ""
    examples: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Node:
    id: str
    username: str = ""
    title: str = ""
    posts: int = 0  # posts of this channel in the window
    monitored: bool = False


@dataclass(slots=True)
class Network:
    nodes: dict[str, Node]
    edges: dict[tuple[str, str, str], Edge]

    def node(self, node_id: str) -> Node:
        found = self.nodes.get(node_id)
        if found is None:
            found = self.nodes[node_id] = Node(node_id, username=node_id if ":" not in node_id else "")
        return found


def known_ids(conn: Connection) -> dict[int, str]:
    """Return the usernames of the numeric channel ids the store knows (from channels and stored posts)."""
    ids: dict[int, str] = {}
    rows = conn.execute(
        "SELECT DISTINCT CAST(json_extract(json, '$.channel_id') AS INTEGER), channel FROM posts"
        " WHERE channel IS NOT NULL AND json_extract(json, '$.channel_id') IS NOT NULL"
    ).fetchall()
    rows += conn.execute("SELECT channel_id, username FROM channels WHERE channel_id IS NOT NULL").fetchall()
    for channel_id, name in rows:
        if (node := username(name)) is not None and isinstance(channel_id, int):
            ids.setdefault(channel_id, node)
    return ids


def monitored_nodes(conn: Connection, configured: Iterable[str] = ()) -> set[str]:
    """Return the node ids of monitored channels: those listed in the config and those with stored posts."""
    nodes = {name for name in map(username, configured) if name}
    nodes.update(n for (name,) in conn.execute("SELECT DISTINCT channel FROM posts") if (n := username(name)))
    return nodes


def window_posts(conn: Connection, since: datetime | None, until: datetime | None) -> Iterator[Post]:
    """Yield the stored posts dated in [since, until), in storage order."""
    where, args = [], []
    if since is not None:
        where.append("date >= ?")
        args.append(iso(since))
    if until is not None:
        where.append("date < ?")
        args.append(iso(until))
    sql = "SELECT title, text, author, json FROM posts" + (" WHERE " + " AND ".join(where) if where else "")
    for row in conn.execute(sql + " ORDER BY id", args):
        yield post_from_row(row)


def collect(
    conn: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    configured: Iterable[str] = (),
) -> Network:
    """Read the posts of [since, until) once and return every channel and reference between channels."""
    ids = known_ids(conn)
    network = Network({}, {})
    for name in monitored_nodes(conn, configured):
        network.node(name).monitored = True
    for post in window_posts(conn, since, until):
        own = post_node(post)
        if own is None:
            continue
        source = network.node(own)
        source.posts += 1
        source.monitored = True
        if post.channel_title and not source.title:
            source.title = post.channel_title
        when = iso(post.date) if post.date else ""
        for ref in refs(post, ids):
            target = network.node(ref.target)
            if ref.title and not target.title and ref.title.lower() != ref.target:
                target.title = ref.title
            key = (own, ref.target, ref.kind)
            edge = network.edges.get(key)
            if edge is None:
                edge = network.edges[key] = Edge(own, ref.target, ref.kind, first=when, last=when)
            edge.weight += 1
            if when and (not edge.first or when < edge.first):
                edge.first = when
            if when > edge.last:
                edge.last = when
            if len(edge.examples) < EXAMPLES:
                edge.examples.append(link(post))
    _titles(conn, network)
    return network


def _titles(conn: Connection, network: Network) -> None:
    """Fill in channel titles the store knows from polling."""
    for name, title in conn.execute("SELECT username, title FROM channels WHERE title IS NOT NULL"):
        node = network.nodes.get(username(name) or "")
        if node is not None and not node.title:
            node.title = title


def select(
    network: Network, *, channels: Iterable[str] = (), min_weight: int = 1, kinds: Iterable[str] = KINDS
) -> Network:
    """Return the part of `network` with edges of `kinds`, of at least `min_weight`, touching `channels` if given.

    Nodes left without an edge are dropped, except monitored channels that posted in the window.
    """
    wanted = {username(c) or c for c in channels}
    kinds = set(kinds)
    edges = {
        key: edge
        for key, edge in network.edges.items()
        if edge.weight >= min_weight
        and edge.kind in kinds
        and (not wanted or edge.source in wanted or edge.target in wanted)
    }
    touched = {e.source for e in edges.values()} | {e.target for e in edges.values()}
    nodes = {
        node_id: node
        for node_id, node in network.nodes.items()
        if node_id in touched or (not wanted and node.monitored and node.posts) or node_id in wanted
    }
    return Network(nodes, edges)


def label(node: Node) -> str:
    """How a person knows a channel: its title, else @username, else its id."""
    if node.title:
        return node.title
    return f"@{node.username}" if node.username else node.id


def to_networkx(network: Network, communities: bool = False) -> nx.MultiDiGraph:
    """Return the network as a MultiDiGraph with typed attributes (Gephi reads them as they are)."""
    import networkx as nx

    graph = nx.MultiDiGraph()
    for node in network.nodes.values():
        graph.add_node(
            node.id,
            label=label(node),
            username=node.username,
            title=node.title,
            posts=node.posts,
            monitored=node.monitored,
        )
    for number, edge in enumerate(sorted(network.edges.values(), key=lambda e: (e.source, e.target, e.kind))):
        graph.add_edge(
            edge.source,
            edge.target,
            key=number,
            label=edge.kind,
            kind=edge.kind,
            weight=edge.weight,
            first=edge.first,
            last=edge.last,
        )
    if communities:
        for number, members in enumerate(community_sets(network)):
            for node_id in members:
                graph.nodes[node_id]["community"] = number
    return graph


def community_sets(network: Network, seed: int = 1) -> list[set[str]]:
    """Return the channels grouped by Louvain communities of the undirected weighted graph, largest first."""
    import networkx as nx
    from networkx.algorithms.community import louvain_communities

    simple = nx.Graph()
    simple.add_nodes_from(network.nodes)
    for edge in network.edges.values():
        if simple.has_edge(edge.source, edge.target):
            simple[edge.source][edge.target]["weight"] += edge.weight
        else:
            simple.add_edge(edge.source, edge.target, weight=edge.weight)
    groups = louvain_communities(simple, weight="weight", seed=seed)
    return sorted(groups, key=lambda g: (-len(g), min(g)))


def write(network: Network, fmt: str, out: IO[bytes], communities: bool = False) -> None:
    """Write the network as GEXF, GraphML or a CSV edge list to a binary stream."""
    if fmt not in FORMATS:
        raise FeedwatchError(f"unknown network format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "csv":
        out.write(edge_csv(network).encode("utf-8"))
        return
    import networkx as nx

    graph = to_networkx(network, communities)
    if fmt == "gexf":
        _write_gexf(graph, out)
    else:
        nx.write_graphml(graph, out)


def _write_gexf(graph: nx.MultiDiGraph, out: IO[bytes]) -> None:
    """Write GEXF without the `networkx_key` column networkx adds to every parallel edge (Gephi needs none)."""
    from networkx.readwrite.gexf import GEXFWriter

    class Writer(GEXFWriter):  # type: ignore[misc]
        def add_attributes(self, node_or_edge: str, xml_obj: Any, data: dict[str, Any], default: Any) -> Any:
            data.pop("key", None)
            return super().add_attributes(node_or_edge, xml_obj, data, default)

    writer = Writer(encoding="utf-8", prettyprint=True)
    writer.add_graph(graph)
    writer.write(out)


CSV_HEADER = ("Source", "Target", "Type", "Kind", "Weight", "First", "Last", "Source label", "Target label")


def edge_csv(network: Network) -> str:
    """Return the edges as CSV with the column names Gephi's edge table import expects."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for edge in sorted(network.edges.values(), key=lambda e: (-e.weight, e.source, e.target, e.kind)):
        writer.writerow(
            (
                edge.source,
                edge.target,
                "Directed",
                edge.kind,
                edge.weight,
                edge.first,
                edge.last,
                label(network.nodes[edge.source]),
                label(network.nodes[edge.target]),
            )
        )
    return buffer.getvalue()


def summary(network: Network) -> dict[str, Any]:
    """Counts for a person: nodes, monitored nodes, and edges and their weight by kind."""
    by_kind = {kind: [0, 0] for kind in KINDS}
    for edge in network.edges.values():
        by_kind[edge.kind][0] += 1
        by_kind[edge.kind][1] += edge.weight
    return {
        "nodes": len(network.nodes),
        "monitored": sum(1 for n in network.nodes.values() if n.monitored),
        "edges": {kind: {"edges": e, "weight": w} for kind, (e, w) in by_kind.items()},
    }
