"""Channels and the actors behind them, learned from every post as it arrives.

Every post (tagged or not) tells the detector three things about its channel:
when its history starts (its first post, not its first hashtag), whom it
forwards, and which tags it coins. From these, decayed and bounded:

- a channel whose posts are mostly forwards of one origin is that origin's
  *satellite*: the two are one actor, counted once;
- a channel that keeps forwarding one origin's posts is in that origin's
  *network* (it amplifies the origin): a new tag that the origin and its
  network take up within hours is a coordinated push;
- channels that repeatedly forward the same posts within hours of each other
  *co-forward* (CooRnet's repeated co-sharing): they pass on one network's
  posts together, whoever the origin is;
- a channel that keeps coining tags it uses for a few days (location series,
  weekly rubrics, a meme channel's running jokes) has a tag-coining *habit*:
  one more such tag from it is routine, not a campaign.

Forward counts decay with a half-life (`Settings.actor_half_life_days`) and
each channel keeps only its strongest origins, so the state per channel is
bounded; the number of channels is the number of monitored channels (plus the
origins they forward, which get no state of their own).
"""

from __future__ import annotations

import re
from typing import Any

from feedwatch.campaigns.identity import tag_identity
from feedwatch.campaigns.model import DAY, Settings, pack, unpack
from feedwatch.store.actor import NUMBERED, TITLE, channel_label

KEEP_ORIGINS = 64  # strongest origins kept per channel
KEEP_PARTNERS = 12  # strongest co-forwarding partners kept per channel
KEEP_FORWARDERS = 16  # channels remembered per forwarded post
RECENT_POSTS = 20_000  # forwarded posts remembered while their window is open
DECAY_STEP = 6 * 3600.0  # counts are decayed when this much time has passed (0.35 % of a 60-day half-life)
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


class Channel:
    """What the detector knows about one channel (packed to JSON in campaign_channels)."""

    __slots__ = (
        "coined",
        "first_seen",
        "id",
        "name",
        "new_tags",
        "origins",
        "partners",
        "peak",
        "posts",
        "raw",
        "title",
        "updated",
    )

    def __init__(self, name: str, t: float, title: str | None = None, id_: int | None = None):
        self.name = name
        self.title = title
        self.id = id_
        self.raw = name  # the name as written (its capitals make initials: AmericanFreedomParty -> #afp)
        self.first_seen = t
        self.updated = t
        self.posts = 0.0  # decayed count of its posts
        self.origins: dict[str, float] = {}  # origin -> decayed count of its posts forwarded
        self.coined = 0.0  # decayed count of tags it coined and kept using on more than one day
        self.new_tags = 0.0  # decayed count of tags it was the first to write, kept in use or not
        self.peak: list[Any] = [0.0, "", 0.0]  # decayed uses of its busiest new tag lately, that tag, the runner-up's
        self.partners: dict[str, float] = {}  # channel -> decayed count of posts both forwarded within hours

    def decay(self, t: float, half_life: float) -> None:
        """Bring the decayed counts to time t (within DECAY_STEP they stay: the error is under 0.4 %)."""
        if t - self.updated < DECAY_STEP:
            return
        factor = 0.5 ** ((t - self.updated) / half_life)
        self.posts *= factor
        self.coined *= factor
        self.new_tags *= factor
        self.peak[0] *= factor
        self.peak[2] *= factor
        for origin in self.origins:
            self.origins[origin] *= factor
        for other in self.partners:
            self.partners[other] *= factor
        self.updated = t

    def pack(self) -> str:
        fields = [
            self.raw,
            self.title,
            self.id,
            self.first_seen,
            self.updated,
            self.posts,
            self.origins,
            self.coined,
            self.new_tags,
            self.peak,
            self.partners,
        ]
        return pack(fields)

    @classmethod
    def unpack(cls, name: str, text: str) -> Channel:
        values = unpack(text)
        raw, title, id_, first, updated, posts, origins, coined = values[:8]
        channel = cls(name, first, title, id_)
        channel.raw = raw
        channel.new_tags = values[8] if len(values) > 8 else coined  # packed before it was kept: the nearest figure
        if len(values) > 10:
            channel.peak, channel.partners = values[9], values[10]
        channel.updated, channel.posts, channel.origins, channel.coined = updated, posts, origins, coined
        return channel


class Actors:
    """The channels seen so far and the relations between them; `observe()` every post in stream order."""

    def __init__(self, conn: Any, settings: Settings):
        self.conn = conn
        self.s = settings
        self.half_life = settings.actor_half_life_days * DAY
        rows = conn.execute("SELECT channel, state FROM campaign_channels")
        self.channels: dict[str, Channel] = {name: Channel.unpack(name, text) for name, text in rows}
        self.ids = {ch.id: name for name, ch in self.channels.items() if ch.id is not None}
        self.dirty: set[str] = set()
        self.mapping: dict[str, str] = {}  # channel -> the actor it speaks for, when not itself
        self.mapped_day = -1
        self.window = settings.launch_window_hours * 3600.0
        row = conn.execute("SELECT value FROM campaign_meta WHERE key = 'recent_forwards'").fetchone()
        # "origin/message id" -> [time of its first forward seen, the channels that forwarded it since]
        self.recent: dict[str, list[Any]] = unpack(row[0]) if row else {}
        self.recent_changed = False

    def origin(self, key: str | None) -> str | None:
        """Return the name of a forward's origin: a bare id becomes the username of the channel that has it."""
        if key is not None and key.startswith("id:"):
            return self.ids.get(int(key[3:]), key)
        return key

    def observe(
        self, name: str, t: float, origin: str | None, title: str | None, id_: int | None = None, raw: str = ""
    ) -> Channel:
        """Count one post of channel `name` at time t (a forward of `origin` when given)."""
        channel = self.channels.get(name)
        if channel is None:
            channel = self.channels[name] = Channel(name, t, title, id_)
            channel.raw = raw or name
            if id_ is not None:
                self.ids[id_] = name
        elif title and not channel.title:
            channel.title = title
        if t - channel.updated >= DECAY_STEP:
            channel.decay(t, self.half_life)
        channel.posts += 1.0
        if origin is not None and origin != name:
            origins = channel.origins
            origins[origin] = origins.get(origin, 0.0) + 1.0
            if len(origins) > KEEP_ORIGINS:  # the weakest of the others goes: a new origin must be able to come in
                del origins[min((o for o in origins if o != origin), key=origins.__getitem__)]
        self.dirty.add(name)
        return channel

    def forwarded(self, name: str, t: float, origin: str, post: int) -> None:
        """Count a forward of `origin`'s post `post` by `name`: channels that forwarded it within hours co-forward."""
        key = f"{origin}/{post}"
        entry = self.recent.get(key)
        self.recent_changed = True
        if entry is None or t - entry[0] > self.window:
            self.recent[key] = [t, [name]]
            if len(self.recent) > RECENT_POSTS:
                self.forget(t)
            return
        others = entry[1]
        if name in others:
            return
        for other in others:
            self.partner(name, other, t)
            self.partner(other, name, t)
        if len(others) < KEEP_FORWARDERS:
            others.append(name)

    def forget(self, t: float) -> None:
        """Drop forwarded posts whose window has closed (the oldest half, when all are still open)."""
        open_ = {k: v for k, v in self.recent.items() if t - v[0] <= self.window}
        if len(open_) > RECENT_POSTS // 2:
            open_ = dict(sorted(open_.items(), key=lambda kv: kv[1][0])[-RECENT_POSTS // 2 :])
        self.recent = open_

    def partner(self, name: str, other: str, t: float) -> None:
        channel = self.channels.get(name)
        if channel is None:
            return
        channel.decay(t, self.half_life)
        partners = channel.partners
        partners[other] = partners.get(other, 0.0) + 1.0
        if len(partners) > KEEP_PARTNERS:
            del partners[min((o for o in partners if o != other), key=partners.__getitem__)]
        self.dirty.add(name)

    def co_forwards(self, a: str, b: str, t: float) -> float:
        """Return how many posts channels a and b both forwarded within hours (decayed; the weaker side's count)."""
        ca, cb = self.channels.get(a), self.channels.get(b)
        if ca is None or cb is None:
            return 0.0
        wa = ca.partners.get(b, 0.0) * 0.5 ** (max(0.0, t - ca.updated) / self.half_life)
        wb = cb.partners.get(a, 0.0) * 0.5 ** (max(0.0, t - cb.updated) / self.half_life)
        return float(min(wa, wb))

    def first_seen(self, name: str, t: float) -> float:
        channel = self.channels.get(name)
        return channel.first_seen if channel is not None else t

    def actor(self, name: str, t: float) -> str:
        """Return the actor a channel speaks for: the origin it is a satellite of, its twin group, else itself.

        The grouping is recomputed once a day of stream time (a pass over the channels' kept origins).
        """
        day = int(t // DAY)
        if day != self.mapped_day:
            self.mapped_day = day
            self.mapping = self.group()
        return self.mapping.get(name, name)

    def group(self) -> dict[str, str]:
        """Return {channel: actor} for the channels that are not their own actor.

        A satellite (its posts mostly forwards of one origin) speaks for that origin; twins (two
        channels each of which forwards the other in at least `twin_share` of its posts) are one actor,
        named after the busier.
        """
        s = self.s
        parent: dict[str, str] = {}

        def root(a: str) -> str:
            while parent.get(a, a) != a:
                a = parent[a]
            return a

        def busier(a: str, b: str) -> tuple[str, str]:
            pa = self.channels[a].posts if a in self.channels else 0.0
            pb = self.channels[b].posts if b in self.channels else 0.0
            return (a, b) if (pa, b) >= (pb, a) else (b, a)

        for name, ch in self.channels.items():
            if ch.posts < s.satellite_posts or not ch.origins:
                continue
            origin = max(ch.origins, key=ch.origins.__getitem__)
            if ch.origins[origin] >= s.satellite_share * ch.posts:
                parent[root(name)] = root(origin) if root(origin) != root(name) else root(name)
                continue
            for other, n in ch.origins.items():
                back = self.channels.get(other)
                m = back.origins.get(name, 0.0) if back is not None else 0.0
                if (
                    back is not None
                    and n >= s.twin_share * ch.posts
                    and back.posts >= s.satellite_posts
                    and m >= s.twin_share * back.posts
                    and min(n, m) >= s.network_forwards
                ):
                    ra, rb = root(name), root(other)
                    if ra != rb:
                        keep, drop = busier(ra, rb)
                        parent[drop] = keep
        return {name: root(name) for name in list(parent) if root(name) != name}

    def amplifies(self, name: str, origin: str) -> float:
        """Return how many of `origin`'s posts channel `name` forwarded (decayed)."""
        channel = self.channels.get(name)
        return channel.origins.get(origin, 0.0) if channel is not None else 0.0

    def satellites(self, origin: str) -> list[str]:
        """Return the channels that are satellites of `origin` (a scan of the channels: for evidence only)."""
        return sorted(name for name, actor in self.mapping.items() if actor == origin)

    def network(self, origin: str) -> list[str]:
        """Return the channels that keep amplifying `origin` (a scan of the channels: for evidence only)."""
        return sorted(
            name for name, ch in self.channels.items() if ch.origins.get(origin, 0.0) >= self.s.network_forwards
        )

    def coin(self, name: str, t: float) -> None:
        """Count a tag that `name` coined and used on a second day (its tag-coining habit)."""
        channel = self.channels.get(name)
        if channel is None:
            return
        channel.decay(t, self.half_life)
        channel.coined += 1.0
        self.dirty.add(name)

    def first_to_write(self, name: str, t: float) -> None:
        """Count a tag that `name` was the first to write (after its own first day): its tag-coining rate."""
        channel = self.channels.get(name)
        if channel is None or t < channel.first_seen + DAY:
            return  # a channel's first day shows the vocabulary it already had, not tags it coins
        channel.decay(t, self.half_life)
        channel.new_tags += 1.0
        self.dirty.add(name)

    def habit(self, name: str, t: float) -> float:
        """Return the decayed number of tags `name` coined and kept using for a few days."""
        channel = self.channels.get(name)
        if channel is None:
            return 0.0
        return float(channel.coined * 0.5 ** (max(0.0, t - channel.updated) / self.half_life))

    def count_new_tag_use(self, name: str, tag: str, uses: float, t: float) -> None:
        """Note that a tag `name` wrote first has been used `uses` times in its first week (its busiest tags)."""
        channel = self.channels.get(name)
        if channel is None:
            return
        channel.decay(t, self.half_life)
        peak = channel.peak
        if peak[1] == tag:
            peak[0] = max(peak[0], uses)
        elif uses > peak[0]:
            channel.peak = [uses, tag, peak[0]]
        elif uses > peak[2]:
            peak[2] = uses
        else:
            return
        self.dirty.add(name)

    def busiest_other(self, name: str, tag: str, t: float) -> float:
        """Return the decayed first-week uses of the busiest new tag `name` wrote lately, other than `tag`."""
        channel = self.channels.get(name)
        if channel is None:
            return 0.0
        peak = channel.peak
        value = peak[2] if peak[1] == tag else peak[0]
        return float(value * 0.5 ** (max(0.0, t - channel.updated) / self.half_life))

    def coining(self, name: str, t: float) -> float:
        """Return the decayed number of tags `name` was the first to write lately (one-off or kept)."""
        channel = self.channels.get(name)
        if channel is None:
            return 0.0
        return float(channel.new_tags * 0.5 ** (max(0.0, t - channel.updated) / self.half_life))

    def brand(self, tag: str, name: str) -> bool:
        """True when a tag is the channel's own name or initials (see is_brand)."""
        channel = self.channels.get(name)
        return is_brand(tag, channel.raw if channel is not None else name)

    def label(self, name: str) -> str:
        """Return how to name a channel to a reader: @username, or its title as written when it has none."""
        channel = self.channels.get(name)
        if channel is not None and channel.title and name.startswith((TITLE, NUMBERED)):
            return channel.title
        return channel_label(name)

    def flush(self) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO campaign_channels (channel, state) VALUES (?, ?)",
            [(name, self.channels[name].pack()) for name in self.dirty],
        )
        self.dirty.clear()
        if self.recent_changed:
            if self.recent:
                self.forget(max(v[0] for v in self.recent.values()))
            self.conn.execute(
                "INSERT OR REPLACE INTO campaign_meta (key, value) VALUES ('recent_forwards', ?)",
                (pack(self.recent),),
            )
            self.recent_changed = False


def is_brand(tag: str, channel: str) -> bool:
    """True when a tag (an identity) is a channel's own name or its initials (#britainfirst, #afp): a brand tag."""
    plain = tag_identity("".join(ch for ch in channel if ch.isalnum()))
    if len(tag) >= 3 and tag == plain:
        return True
    if len(tag) >= 5 and len(plain) >= 5 and (tag in plain or plain in tag):
        return True
    words = _WORDS.findall(channel)
    return len(words) >= 2 and len(tag) >= 2 and tag == tag_identity("".join(w[0] for w in words))
