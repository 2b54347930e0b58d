"""`feedwatch network` and `feedwatch discover` on a real database file: graphs Gephi opens, leads with evidence."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner, Result
from store_support import at, post

from feedwatch.cli import main
from feedwatch.models import ForwardedFrom, Post
from feedwatch.network import graph
from feedwatch.network.refs import tme_channel
from feedwatch.store import Store

REALDATA = (
    Path(__file__).resolve().parents[2] / "shared" / "realdata" / "farright_dev" / "posts_before_2023-07.jsonl.gz"
)
CONFIG = """\
# Our watch list: keep this comment.
[database]
path = "data/feedwatch.db"  # and this one

[[channels]]
name = "origin_news"
source = "web"
"""


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def fwd(channel: str, number: int, origin: str | None, day: int, text: str = "news", **extra: object) -> Post:
    source = ForwardedFrom(name=origin, channel=origin, message_id=1) if origin else None
    return post(
        text,
        channel=channel,
        message_id=number,
        date=at(day),
        forwarded_from=source,
        path=f"https://t.me/s/{channel}",
        index=number,
        **extra,
    )


def corpus() -> list[Post]:
    """Three satellites forwarding origin_news; two channels mention and link an outsider."""
    posts = [fwd("origin_news", n, None, 1 + n % 20) for n in range(1, 6)]
    numbers = itertools.count(100)
    for channel, forwards in (("sat_one", 4), ("sat_two", 3), ("sat_three", 1)):
        posts += [fwd(channel, next(numbers), "origin_news", 2 + i) for i in range(forwards)]
    posts.append(fwd("sat_one", next(numbers), None, 9, "read @outsider_chan today"))
    posts.append(fwd("sat_two", next(numbers), None, 10, "see https://t.me/outsider_chan/55 and t.me/s/outsider_chan"))
    posts.append(fwd("sat_two", next(numbers), None, 11, "also @lonely_chan"))
    # A forward whose origin is given by its numeric id only: resolved through the stored posts of that id.
    posts.append(
        post(
            "id only",
            channel="sat_three",
            message_id=next(numbers),
            date=at(12),
            forwarded_from=ForwardedFrom(name=None, channel_id=4242),
        )
    )
    posts.append(post("from the origin", channel="origin_news", message_id=99, date=at(12), channel_id=4242))
    return posts


@pytest.fixture
def store_path(store_target: str) -> str:
    """The corpus stored: in an SQLite file, and in PostgreSQL."""
    with Store.open(store_target) as store:
        store.ingest(corpus(), "test")
    return store_target


def test_tme_links_name_channels_and_not_telegram_pages() -> None:
    assert tme_channel("https://t.me/outsider_chan/55") == "outsider_chan"
    assert tme_channel("t.me/s/Outsider_Chan") == "outsider_chan"
    assert tme_channel("https://telegram.me/joinchat/AAAA") is None
    assert tme_channel("https://t.me/proxy?server=1.2.3.4") is None
    assert tme_channel("https://example.com/outsider_chan") is None


def test_edge_weights_are_the_counts_of_forwards_in_the_store(store_path: str, tmp_path: Path) -> None:
    out = tmp_path / "g.gexf"
    result = run(
        "network",
        "--db",
        str(store_path),
        "--config",
        str(tmp_path / "none.toml"),
        "--format",
        "gexf",
        "--out",
        str(out),
    )
    assert result.exit_code == 2  # a config file that does not exist is named
    result = run("network", "--db", str(store_path), "--format", "gexf", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "networkx_key" not in out.read_text()
    g = nx.read_gexf(out)
    forwards = {(u, v): d["weight"] for u, v, d in g.edges(data=True) if d["kind"] == "forward"}
    with Store.open(store_path) as store:
        stored = {}
        for p in store.posts():
            if p.forwarded_from and p.forwarded_from.channel:
                key = (p.channel, p.forwarded_from.channel)
                stored[key] = stored.get(key, 0) + 1
    assert stored == {("sat_one", "origin_news"): 4, ("sat_two", "origin_news"): 3, ("sat_three", "origin_news"): 1}
    # sat_three's id-only forward resolves to origin_news through the id its stored posts carry.
    assert forwards == {("sat_one", "origin_news"): 4, ("sat_two", "origin_news"): 3, ("sat_three", "origin_news"): 2}
    node = g.nodes["outsider_chan"]
    assert node["monitored"] is False and node["posts"] == 0
    assert g.nodes["sat_one"]["monitored"] is True and g.nodes["sat_one"]["posts"] == 5
    edge = next(d for u, v, d in g.edges(data=True) if (u, v, d["kind"]) == ("sat_one", "origin_news", "forward"))
    assert edge["first"].startswith("2024-03-02") and edge["last"].startswith("2024-03-05")


def test_graphml_has_typed_attributes_and_no_index_columns(store_path: str, tmp_path: Path) -> None:
    out = tmp_path / "g.graphml"
    assert (
        run("network", "--db", str(store_path), "--format", "graphml", "--communities", "--out", str(out)).exit_code
        == 0
    )
    g = nx.read_graphml(out)
    text = out.read_text()
    assert 'attr.name="weight" attr.type="long"' in text or 'attr.name="weight" attr.type="int"' in text
    assert 'attr.name="monitored" attr.type="boolean"' in text
    assert set(g.nodes) >= {"origin_news", "sat_one", "sat_two", "sat_three", "outsider_chan", "lonely_chan"}
    assert all(isinstance(d["community"], int) for _, d in g.nodes(data=True))
    kinds = {(u, v, d["kind"]): d["weight"] for u, v, d in g.edges(data=True)}
    assert kinds[("sat_two", "outsider_chan", "link")] == 1  # two links in one post count once
    assert kinds[("sat_one", "outsider_chan", "mention")] == 1


def test_csv_is_an_edge_list_filtered_by_weight_and_channel(store_path: str) -> None:
    result = run("network", "--db", str(store_path), "--min-weight", "2")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["Source"], r["Target"], r["Kind"], r["Weight"]) for r in rows] == [
        ("sat_one", "origin_news", "forward", "4"),
        ("sat_two", "origin_news", "forward", "3"),
        ("sat_three", "origin_news", "forward", "2"),
    ]
    assert all(r["Type"] == "Directed" for r in rows)
    result = run("network", "--db", str(store_path), "--channel", "@outsider_chan")
    assert {r["Source"] for r in csv.DictReader(io.StringIO(result.stdout))} == {"sat_one", "sat_two"}
    result = run("network", "--db", str(store_path), "--since", "2024-03-04", "--until", "2024-03-05")
    weights = {(r["Source"], r["Kind"]): int(r["Weight"]) for r in csv.DictReader(io.StringIO(result.stdout))}
    assert weights == {("sat_one", "forward"): 2, ("sat_two", "forward"): 1}  # --until a day: the whole day
    assert run("network", "--db", str(store_path), "--since", "yesterday-ish").exit_code == 2


def test_discover_lists_channels_several_monitored_ones_point_at(store_path: str) -> None:
    result = run("discover", "--db", str(store_path), "--json")
    assert result.exit_code == 0, result.output
    leads = json.loads(result.stdout)
    assert [lead["channel"] for lead in leads] == ["outsider_chan"]  # lonely_chan: only one channel points at it
    lead = leads[0]
    assert lead["channels"] == 2 and lead["by_kind"] == {"forward": 0, "mention": 1, "link": 1}
    assert {r["channel"] for r in lead["referrers"]} == {"sat_one", "sat_two"}
    assert all(r["examples"][0].startswith("https://t.me/sat_") for r in lead["referrers"])
    one = run("discover", "--db", str(store_path), "--min-channels", "1", "--nl")
    assert [json.loads(line)["channel"] for line in one.stdout.splitlines()] == ["outsider_chan", "lonely_chan"]
    text = run("discover", "--db", str(store_path)).stdout
    assert "@outsider_chan: 2 monitored channels, 1 mention, 1 link" in text


def test_discover_add_keeps_the_configs_comments(tmp_path: Path) -> None:
    config = tmp_path / "fw.toml"
    config.write_text(CONFIG, encoding="utf-8")
    result = run("discover", "--config", str(config), "--add", "outsider_chan", "--add", "@origin_news")
    assert result.exit_code == 0, result.output
    text = config.read_text()
    assert text.startswith(CONFIG)  # every byte that was there is still there
    assert '[[channels]]\nname = "outsider_chan"\nsource = "web"' in text
    assert "origin_news: already in" in result.stderr
    from feedwatch.config import load_config

    assert [c.name for c in load_config(config).channels] == ["origin_news", "outsider_chan"]
    bad = run("discover", "--config", str(config), "--add", "t.me/proxy?x=1")
    assert bad.exit_code == 2 and "not a Telegram channel username" in bad.stderr
    assert config.read_text() == text


@pytest.mark.slow
def test_real_stream_graph_opens_in_networkx(tmp_path: Path) -> None:
    if not REALDATA.is_file():
        pytest.skip("the real stream in ../shared/realdata/ is not here")
    sample = tmp_path / "sample.jsonl"
    with gzip.open(REALDATA, "rt", encoding="utf-8") as src, sample.open("w", encoding="utf-8") as dst:
        dst.writelines(itertools.islice(src, 40_000))
    db = tmp_path / "fw.db"
    assert run("ingest", "--format", "jsonl", str(sample), "--db", str(db)).exit_code == 0
    for fmt in ("gexf", "graphml"):
        out = tmp_path / f"g.{fmt}"
        assert run("network", "--db", str(db), "--format", fmt, "--out", str(out)).exit_code == 0
        g = nx.read_gexf(out) if fmt == "gexf" else nx.read_graphml(out)
        assert g.number_of_edges() > 100
        counted = {}
        with Store.open(db) as store:
            ids = graph.known_ids(store.db.conn)
            for p in store.posts():
                origin = p.forwarded_from
                if origin and origin.channel and p.channel and origin.channel.lower() != p.channel.lower():
                    key = (p.channel.lower(), origin.channel.lower())
                    counted[key] = counted.get(key, 0) + 1
                elif origin and origin.channel is None and origin.channel_id in ids and p.channel:
                    key = (p.channel.lower(), ids[origin.channel_id])
                    if key[0] != key[1]:
                        counted[key] = counted.get(key, 0) + 1
        weights = {(u, v): d["weight"] for u, v, d in g.edges(data=True) if d["kind"] == "forward"}
        for key, count in counted.items():
            assert weights[key] == count
        assert all(isinstance(d["monitored"], bool) and isinstance(d["posts"], int) for _, d in g.nodes(data=True))
    leads = json.loads(run("discover", "--db", str(db), "--json", "--min-channels", "3").stdout)
    assert leads and all(lead["channels"] >= 3 and lead["referrers"][0]["examples"] for lead in leads)
