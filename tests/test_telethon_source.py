"""The Telethon source through its seam: a client stand-in yielding real Telethon messages (round-tripped
through TL bytes) and raising real FloodWaitErrors, into a real SQLite store."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

import pytest
from monitor_helpers import NOW, FakeClock, stored_ids
from telethon.errors import FloodWaitError
from telethon.extensions import BinaryReader
from telethon.tl.types import InputPeerChannel, Message, MessageEntityHashtag, PeerChannel

from feedwatch.config import ChannelSpec, load_config
from feedwatch.poll import poll_channels
from feedwatch.sources.telethon import TelethonSource, UnavailableSource, open_telethon_source, secure_session_file
from feedwatch.store import Store

CHANNEL_ID, ACCESS_HASH = 1101170442, 5566778899


def message(number: int, text: str | None = None, views: int | None = None) -> Message:
    text = text or f"Statement {number} on the UN Charter #UNCharterIsOurRules"
    date = NOW - timedelta(hours=100 - number)
    edit_date = date + timedelta(minutes=30) if views is not None else None
    original = Message(
        id=number,
        peer_id=PeerChannel(CHANNEL_ID),
        date=date,
        edit_date=edit_date,
        message=text,
        post=True,
        views=views or 1000 + number,
        forwards=number,
        entities=[MessageEntityHashtag(offset=text.index("#"), length=len("#UNCharterIsOurRules"))],
    )
    return BinaryReader(bytes(original)).tgread_object()


class StandIn:
    """Answers like a TelegramClient for the calls the source makes; floods: {message id: seconds}."""

    def __init__(self, messages: list[Message], floods: dict[int, int] | None = None):
        self.messages, self.floods = messages, dict(floods or {})
        self.resolves: list[str] = []
        self.reads: list[dict] = []

    def get_input_entity(self, username: str) -> InputPeerChannel:
        self.resolves.append(username)
        return InputPeerChannel(CHANNEL_ID, ACCESS_HASH)

    def iter_messages(self, peer, *, min_id=0, max_id=0, reverse=False, offset_date=None):
        assert isinstance(peer, InputPeerChannel) and peer.access_hash == ACCESS_HASH and reverse
        self.reads.append({"min_id": min_id, "max_id": max_id, "offset_date": offset_date})
        for msg in sorted(self.messages, key=lambda m: m.id):
            if msg.id <= min_id or (max_id and msg.id >= max_id) or (offset_date and msg.date <= offset_date):
                continue
            if msg.id in self.floods:
                raise FloodWaitError(request=None, capture=self.floods.pop(msg.id))
            yield msg


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "feedwatch.db") as opened:
        yield opened


def run(store, client, clock, backfill=None):
    source = TelethonSource(client, flood_wait_max=60, sleep=clock.sleep, now=clock.now)
    spec = ChannelSpec("MFARussia", "telethon", 900, backfill)
    return poll_channels(store, [spec], {"telethon": source}, now=clock.now)[0]


def test_resolves_once_keeps_the_entity_and_reads_from_the_mark(store):
    client, clock = StandIn([message(i) for i in range(1, 31)]), FakeClock()
    report = run(store, client, clock)
    assert report.ok and report.new == 30 and client.resolves == ["MFARussia"]
    state = store.channel("MFARussia")
    assert (state.channel_id, state.access_hash, state.high_water) == (CHANNEL_ID, ACCESS_HASH, 30)
    client.messages += [message(31), message(32)]
    report = run(store, client, clock)
    assert report.new == 2 and client.resolves == ["MFARussia"]  # the stored entity is used
    assert client.reads[1] == {"min_id": 30, "max_id": 0, "offset_date": None}
    assert client.reads[2] == {"min_id": 0, "max_id": 31, "offset_date": NOW - timedelta(hours=48)}  # re-read
    post = next(p for p in store.posts(channel="MFARussia") if p.message_id == 32)
    assert post.hashtags == ("UNCharterIsOurRules",) and post.views == 1032


def test_first_poll_backfills_the_configured_days(store):
    client, clock = StandIn([message(i) for i in range(1, 100)]), FakeClock()
    run(store, client, clock, backfill=2)
    assert client.reads[0]["offset_date"] == NOW - timedelta(days=2)
    assert stored_ids(store, "MFARussia") == list(range(53, 100))


def test_short_flood_wait_is_waited_out(store):
    client, clock = StandIn([message(i) for i in range(1, 21)], floods={12: 5}), FakeClock()
    report = run(store, client, clock)
    assert report.ok and clock.sleeps == [5]
    assert stored_ids(store, "MFARussia") == list(range(1, 21))
    assert [r["min_id"] for r in client.reads] == [0, 11]  # resumed after the last message read


def test_long_flood_wait_reschedules_and_never_loses_the_position(store):
    client, clock = StandIn([message(i) for i in range(1, 21)], floods={12: 3600}), FakeClock()
    report = run(store, client, clock)
    assert clock.sleeps == [] and report.errors[0][0] == "rate_limited" and "3600 s" in report.errors[0][1]
    assert report.retry_at == NOW + timedelta(seconds=3600)
    assert store.channel("MFARussia").high_water == 11 and stored_ids(store, "MFARussia") == list(range(1, 12))
    assert store.channel("MFARussia").retry_at == NOW + timedelta(seconds=3600)
    report = run(store, client, clock)  # before the wait is over (a restart): Telegram is not asked
    assert report.errors[0][0] == "rate_limited" and report.retry_at == NOW + timedelta(seconds=3600)
    clock.sleep(3600)
    report = run(store, client, clock)
    assert report.ok and report.new == 9 and stored_ids(store, "MFARussia") == list(range(1, 21))


def test_each_poll_rereads_the_window_for_edits_and_views(store):
    client, clock = StandIn([message(i) for i in range(40, 71)]), FakeClock()
    run(store, client, clock)
    client.messages = [m for m in client.messages if m.id not in (60, 65)]
    client.messages += [
        message(60, text="Corrected: statement 60 #UNCharterIsOurRules", views=5000),
        message(65, views=7777),
        message(71),
    ]
    clock.sleep(900)  # the next poll, one interval later
    report = run(store, client, clock)
    assert (report.new, report.updated) == (1, 2)
    conn = store.db.conn
    old = conn.execute("SELECT v.text FROM post_versions v JOIN posts p ON p.id = v.post WHERE p.message_id = 60")
    assert [r[0] for r in old] == ["Statement 60 on the UN Charter #UNCharterIsOurRules"]
    views = conn.execute(
        "SELECT o.views FROM observations o JOIN posts p ON p.id = o.post WHERE p.message_id = 65 ORDER BY o.id"
    ).fetchall()
    assert [v[0] for v in views][-1] == 7777
    assert store.channel("MFARussia").high_water == 71


def test_session_file_is_private(tmp_path):
    path = secure_session_file(tmp_path / "sessions" / "feedwatch")
    assert path.name == "feedwatch.session" and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    os.chmod(path, 0o644)
    secure_session_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_without_credentials_each_channel_says_what_is_missing(store, monkeypatch, tmp_path):
    monkeypatch.delenv("TG_API_ID", raising=False)
    monkeypatch.delenv("TG_API_HASH", raising=False)
    source = open_telethon_source(load_config(None))
    assert isinstance(source, UnavailableSource)
    report = poll_channels(store, [ChannelSpec("MFARussia", "telethon")], {"telethon": source})[0]
    assert report.errors == [
        ("source", "telegram:MFARussia: needs the environment variables TG_API_ID and TG_API_HASH (see the README)")
    ]
    monkeypatch.setenv("TG_API_ID", "12345")
    monkeypatch.setenv("TG_API_HASH", "0123456789abcdef")
    config = load_config(None)
    config.values["telethon.session"] = str(tmp_path / "none.session")
    assert open_telethon_source(config).reason == "no Telethon session file; create it once with: feedwatch login"
