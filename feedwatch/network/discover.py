"""Channels worth monitoring next: the ones that monitored channels forward, mention or link.

This is the snowball sampling researchers do by hand: start from the channels
you watch, list the channels they keep pointing at, read the evidence, add the
ones that matter. A lead is ranked by how many monitored channels point at it,
then by how often.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from feedwatch.network.graph import Network, label
from feedwatch.network.refs import KINDS


@dataclass(frozen=True, slots=True)
class Referrer:
    """One monitored channel pointing at a lead: how often, by kind, with example posts."""

    channel: str
    label: str
    counts: dict[str, int]
    examples: tuple[str, ...]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class Lead:
    """A channel that is not monitored, with the monitored channels that point at it."""

    channel: str  # node id: username, i:<id> or t:<title>
    label: str
    username: str
    referrers: tuple[Referrer, ...] = field(default_factory=tuple)

    @property
    def channels(self) -> int:
        return len(self.referrers)

    @property
    def references(self) -> int:
        return sum(r.total for r in self.referrers)

    @property
    def url(self) -> str | None:
        return f"https://t.me/{self.username}" if self.username else None

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "username": self.username or None,
            "label": self.label,
            "url": self.url,
            "channels": self.channels,
            "references": self.references,
            "by_kind": {k: sum(r.counts.get(k, 0) for r in self.referrers) for k in KINDS},
            "referrers": [
                {
                    "channel": r.channel,
                    "label": r.label,
                    "references": r.total,
                    "by_kind": r.counts,
                    "examples": list(r.examples),
                }
                for r in self.referrers
            ],
        }


def discover(network: Network, *, min_channels: int = 2, top: int | None = 20) -> list[Lead]:
    """Return the unmonitored channels that at least `min_channels` monitored channels point at, best first."""
    pointing: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for edge in network.edges.values():
        source_node, target_node = network.nodes[edge.source], network.nodes[edge.target]
        if target_node.monitored or not source_node.monitored:
            continue
        entry = pointing[edge.target].setdefault(edge.source, {"counts": {}, "examples": []})
        entry["counts"][edge.kind] = entry["counts"].get(edge.kind, 0) + edge.weight
        entry["examples"].extend(edge.examples[: 3 - len(entry["examples"])])
    leads = []
    for target, sources in pointing.items():
        if len(sources) < min_channels:
            continue
        referrers = sorted(
            (Referrer(s, label(network.nodes[s]), dict(e["counts"]), tuple(e["examples"])) for s, e in sources.items()),
            key=lambda r: (-r.total, r.channel),
        )
        node = network.nodes[target]
        leads.append(Lead(target, label(node), node.username, tuple(referrers)))
    leads.sort(key=lambda lead: (-lead.channels, -lead.references, lead.channel))
    return leads[:top] if top else leads
