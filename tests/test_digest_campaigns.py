"""Digests of alerts raised by the real detector over a real store: evidence, escaping, never sent twice."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from digest_servers import Receiver, http_receiver, smtp_server

from feedwatch import campaigns
from feedwatch.cli import main
from feedwatch.digest.build import build_digest, builder
from feedwatch.digest.deliver import EmailTarget, WebhookTarget
from feedwatch.digest.job import send_digests
from feedwatch.digest.render_html import render_html
from feedwatch.models import Post, Source
from feedwatch.parse.text import fingerprint, hashtags
from feedwatch.store import Store

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
START = NOW - timedelta(days=75)
CHANNELS = ("alpha_ch", "bravo_ch", "charlie_ch", "delta_ch")
HOSTILE = "<script>alert(1)</script>"


def _post(channel: str, number: int, when: datetime, text: str, title: str | None = None) -> Post:
    return Post(
        channel=channel,
        message_id=number,
        date=when,
        title=title,
        text=text,
        hashtags=hashtags(text),
        fingerprint=fingerprint(f"{text} {channel} {number}"),
        source=Source("test"),
    )


def stream() -> list[Post]:
    """75 days of routine posts by four channels; on days 70-73 three of them push a new tag."""
    posts, number = [], 0
    for day in range(75):
        for hour, channel in enumerate(CHANNELS):
            number += 1
            posts.append(_post(channel, number, START + timedelta(days=day, hours=hour), "daily news #News"))
    for day in range(70, 74):
        for hour, channel in enumerate(CHANNELS[:3]):
            number += 1
            title = 'Quote " breaks <b>attributes</b>' if channel == "alpha_ch" else None
            posts.append(
                _post(
                    channel,
                    number,
                    START + timedelta(days=day, hours=hour, minutes=10),
                    f"Launch {HOSTILE} #NewCampaign",
                    title=title,
                )
            )
    return posts


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "feedwatch.db")
    opened.ingest(stream(), "test", observed_at=NOW - timedelta(hours=1))
    assert campaigns.rebuild_stored(opened.db) == 1
    yield opened  # type: ignore[misc]
    opened.close()


def test_new_campaign_with_its_evidence_and_links(store: Store) -> None:
    d = build_digest(store.db, NOW - timedelta(days=7), NOW, now=NOW)
    [alert] = d.new_campaigns
    assert (alert.tier, alert.tag, alert.channels, alert.posts, alert.forwards) == (
        "T2",
        "NewCampaign",
        CHANNELS[:3],
        7,
        0,
    )
    assert alert.first_seen == START + timedelta(days=70, minutes=10)
    assert alert.statistic.startswith("Poisson tail") and alert.statistic.endswith("(threshold 0.001)")
    assert alert.score_basis.startswith("0-100") and 0 < alert.score <= 100
    assert alert.samples[0].url == "https://t.me/alpha_ch/301" and alert.samples[0].channel == "@alpha_ch"
    assert alert.key == f"T2:newcampaign:{alert.first_seen.isoformat()}"  # the detector's key, stable on rebuild
    chart = d.chart
    assert chart is not None and chart.series[0].tag == "NewCampaign"
    assert sum(chart.series[0].counts) == 12  # every stored use of the tag in the chart's range


def test_alert_outside_the_window_is_left_out_of_a_preview(store: Store) -> None:
    assert build_digest(store.db, NOW - timedelta(hours=1), NOW, now=NOW).new_campaigns == ()


class Scripts(HTMLParser):
    def __init__(self, page: str):
        super().__init__()
        self.scripts = 0
        self.handlers: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.handlers += [name for name, _ in attrs if name.startswith("on")]


def test_html_of_a_hostile_campaign_post_runs_nothing(store: Store) -> None:
    page = render_html(build_digest(store.db, NOW - timedelta(days=7), NOW, now=NOW))
    parsed = Scripts(page)
    assert parsed.scripts == 0 and parsed.handlers == []
    assert "Quote &quot; breaks &lt;b&gt;attributes&lt;/b&gt;" in page
    assert "Launch &lt;script&gt;alert(1)&lt;/script&gt; #NewCampaign" in page  # a sample without a title


def test_delivered_by_email_and_webhook_once_each(store: Store) -> None:
    receiver = Receiver(statuses=[503])  # the webhook fails once, then recovers
    waits: list[float] = []
    with smtp_server() as (box, port), http_receiver(receiver) as url:
        targets = [
            EmailTarget("127.0.0.1", port, "fw@example.org", ("analyst@example.org",), starttls=False),
            WebhookTarget(url, attempts=1),
        ]
        runs = [
            send_digests(store.db, targets, builder(store.db), now=NOW + timedelta(hours=h), env={}, sleep=waits.append)
            for h in (0, 1, 2)
        ]
    assert [[(o.ok, o.alerts) for o in run] for run in runs] == [
        [(True, 1), (False, 1)],  # e-mail delivered; webhook failed: kept
        [(True, 0), (True, 1)],  # e-mail has it already; webhook gets it now
        [(True, 0), (True, 0)],  # nothing is sent twice
    ]
    first = email.message_from_bytes(box.messages[0].content, policy=email.policy.default)
    assert first["Subject"].startswith("feedwatch: 1 new campaign, 0 spiking tags")
    assert "#NewCampaign: new campaign (T2)" in first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    later = [email.message_from_bytes(m.content, policy=email.policy.default) for m in box.messages[1:]]
    assert [m["Subject"].split(" (")[0] for m in later] == ["feedwatch: 0 new campaigns, 0 spiking tags"] * 2
    assert [[a["tag"] for a in body["new_campaigns"]] for body in receiver.bodies] == [["NewCampaign"], []]
    assert waits == []


def test_a_detector_rebuild_does_not_resend(store: Store) -> None:
    receiver = Receiver()
    with http_receiver(receiver) as url:
        targets = [WebhookTarget(url)]
        send_digests(store.db, targets, builder(store.db), now=NOW)
        assert campaigns.rebuild_stored(store.db) == 1  # the same alert, raised again under a new id
        [outcome] = send_digests(store.db, targets, builder(store.db), now=NOW + timedelta(hours=1))
    assert outcome.ok and outcome.alerts == 0
    assert [[a["tag"] for a in body["new_campaigns"]] for body in receiver.bodies] == [["NewCampaign"], []]


def test_command_line_ingest_then_digest_shows_the_campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    lines = [json.dumps(p.to_json()) for p in sorted(stream(), key=lambda p: p.date or NOW)]
    (tmp_path / "posts.jsonl").write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    env = {"FEEDWATCH_CONFIG": "", "FEEDWATCH_DB": ""}
    ingested = runner.invoke(main, ["ingest", "--db", "x.db", "posts.jsonl"], env=env)
    assert ingested.exit_code == 0, ingested.output
    shown = runner.invoke(main, ["digest", "--db", "x.db", "--since", "all", "--format", "html"], env=env)
    assert shown.exit_code == 0
    assert '#NewCampaign <span class="tier">T2</span> new campaign' in shown.stdout
    assert "Quote &quot; breaks &lt;b&gt;attributes&lt;/b&gt;" in shown.stdout
    assert "Launch &lt;script&gt;alert(1)&lt;/script&gt;" in shown.stdout
    assert "<script" not in shown.stdout and "<b>" not in shown.stdout
