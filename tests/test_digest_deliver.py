"""Delivery to a real local SMTP server, a real local HTTP receiver and files; retries; never twice."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import datetime
from pathlib import Path

import pytest
from digest_servers import Receiver, free_port, http_receiver, smtp_server
from digest_support import NOW, alert, digest
from sqlite_utils import Database

from feedwatch.digest import state
from feedwatch.digest.deliver import (
    EmailTarget,
    FileTarget,
    WebhookTarget,
    post_webhook,
    send,
    send_email,
    targets_from_config,
    write_file,
)
from feedwatch.digest.job import AUTO, send_digests
from feedwatch.digest.model import AlertEntry, Digest
from feedwatch.errors import ConfigError, DeliveryError


def test_email_arrives_as_multipart_text_and_html() -> None:
    with smtp_server() as (box, port):
        target = EmailTarget("127.0.0.1", port, "feedwatch@example.org", ("analyst@example.org",), starttls=False)
        assert send_email(target, digest(), env={}) == "e-mail to analyst@example.org"
    [envelope] = box.messages
    assert envelope.mail_from == "feedwatch@example.org" and envelope.rcpt_tos == ["analyst@example.org"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == "feedwatch: 2 new campaigns, 1 spiking tag (2026-11-23 08:00 UTC)"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    page = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "## New campaigns (2)" in text and "#UNCharterIsOurRules" in text
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page


def test_email_logs_in_with_credentials_from_the_environment_only() -> None:
    env = {"FEEDWATCH_SMTP_USER": "watcher", "FEEDWATCH_SMTP_PASSWORD": "s3cret"}
    with smtp_server(auth=True) as (box, port):
        target = EmailTarget("127.0.0.1", port, "f@example.org", ("a@example.org",), starttls=False)
        send_email(target, digest(), env=env)
        with pytest.raises(DeliveryError, match="refused the login in FEEDWATCH_SMTP_USER"):
            send_email(target, digest(), env={**env, "FEEDWATCH_SMTP_PASSWORD": "wrong"})
    assert box.logins[0] == ("watcher", "s3cret") and set(box.logins[1:]) == {("watcher", "wrong")}
    assert len(box.messages) == 1


def test_email_insists_on_starttls_when_configured() -> None:
    with smtp_server() as (box, port):
        target = EmailTarget("127.0.0.1", port, "f@example.org", ("a@example.org",), starttls=True)
        with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
            send_email(target, digest(), env={"FEEDWATCH_SMTP_USER": "u", "FEEDWATCH_SMTP_PASSWORD": "p"})
    assert box.messages == []


def test_email_to_a_closed_port_is_a_delivery_error() -> None:
    target = EmailTarget("127.0.0.1", free_port(), "f@example.org", ("a@example.org",), starttls=False)
    with pytest.raises(DeliveryError, match=r"SMTP server 127\.0\.0\.1:\d+: ConnectionRefusedError"):
        send_email(target, digest(), env={})


def test_webhook_posts_the_json_digest() -> None:
    receiver = Receiver()
    with http_receiver(receiver) as url:
        assert post_webhook(WebhookTarget(url), digest(), sleep=_no_sleep) == "webhook 127.0.0.1"
    [body] = receiver.bodies
    assert body["format"] == "feedwatch-digest" and [a["tag"] for a in body["new_campaigns"]] == [
        "UNCharterIsOurRules",
        "Coordinated",
    ]


def test_webhook_retries_with_capped_backoff_then_succeeds() -> None:
    receiver, waits = Receiver(statuses=[503, 502, 500]), []
    with http_receiver(receiver) as url:
        post_webhook(WebhookTarget(url, attempts=4, backoff=2.0, max_wait=5.0), digest(), sleep=waits.append)
    assert receiver.attempts == 4 and len(receiver.bodies) == 1
    assert waits == [2.0, 4.0, 5.0]


def test_webhook_honours_retry_after_up_to_the_cap() -> None:
    receiver, waits = Receiver(statuses=[429, 429], headers={"Retry-After": "7"}), []
    with http_receiver(receiver) as url:
        post_webhook(WebhookTarget(url, backoff=1.0, max_wait=60.0), digest(), sleep=waits.append)
    assert waits == [7.0, 7.0] and len(receiver.bodies) == 1


def test_webhook_gives_up_after_its_attempts_without_showing_the_token() -> None:
    receiver, waits = Receiver(statuses=[500] * 10), []
    with http_receiver(receiver) as url, pytest.raises(DeliveryError) as caught:
        post_webhook(WebhookTarget(url, attempts=3, backoff=1.0), digest(), sleep=waits.append)
    assert receiver.attempts == 3 and waits == [1.0, 2.0]
    assert str(caught.value) == (
        "webhook 127.0.0.1 failed 3 times (last: HTTP 500); the digest is kept for the next try"
    )
    assert "token" not in str(caught.value)


def test_webhook_client_error_is_not_retried() -> None:
    receiver = Receiver(statuses=[404])
    with http_receiver(receiver) as url, pytest.raises(DeliveryError, match=r"refused the digest \(HTTP 404\)"):
        post_webhook(WebhookTarget(url), digest(), sleep=_no_sleep)
    assert receiver.attempts == 1


def test_file_is_written_atomically_in_each_format(tmp_path: Path) -> None:
    target = FileTarget(str(tmp_path / "out" / "digest-{date}.md"), ("md", "html", "json"))
    where = send(target, digest())
    written = [
        tmp_path / "out" / name for name in ("digest-2026-11-23.md", "digest-2026-11-23.html", "digest-2026-11-23.json")
    ]
    assert where == ", ".join(str(p) for p in written)
    assert json.loads(written[2].read_text())["posts"] == 42
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in written)  # no temp left


def test_a_second_dated_file_on_the_same_day_does_not_replace_the_first(tmp_path: Path) -> None:
    dated = FileTarget(str(tmp_path / "digest-{date}.md"))
    first, second = send(dated, digest()), send(dated, digest(until=NOW.replace(hour=9, minute=5)))
    assert (Path(first).name, Path(second).name) == ("digest-2026-11-23.md", "digest-2026-11-23-090500.md")
    latest = FileTarget(str(tmp_path / "latest.md"))
    assert send(latest, digest()) == send(latest, digest(posts=1)) == str(tmp_path / "latest.md")
    assert "· 1 post ·" in (tmp_path / "latest.md").read_text()
    timed = FileTarget(str(tmp_path / "d-{date}-{time}.json"), ("json",))
    assert Path(send(timed, digest())).name == "d-2026-11-23-0800.json"


def test_file_that_cannot_be_written_is_a_delivery_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(DeliveryError, match="cannot be written"):
        write_file(digest(), tmp_path / "blocker" / "d.md", "md")


def test_targets_come_from_the_config_only() -> None:
    values = {
        "digest.formats": ["markdown", "html"],
        "digest.file.path": "data/d-{date}.md",
        "digest.webhook.url": "https://hooks.example/x",
        "digest.smtp.host": "mail.example",
        "digest.smtp.port": 25,
        "digest.smtp.starttls": True,
        "digest.smtp.from": "f@example.org",
        "digest.smtp.to": ["a@example.org"],
    }
    assert targets_from_config(values) == [
        FileTarget("data/d-{date}.md", ("md", "html")),
        WebhookTarget("https://hooks.example/x"),
        EmailTarget("mail.example", 25, "f@example.org", ("a@example.org",), True),
    ]
    assert targets_from_config({"digest.file.path": "", "digest.webhook.url": "", "digest.smtp.host": ""}) == []
    with pytest.raises(ConfigError, match="expected an http"):
        targets_from_config({"digest.webhook.url": "file:///etc/passwd"})
    with pytest.raises(ConfigError, match="set both `from` and `to`"):
        targets_from_config({"digest.smtp.host": "mail.example"})


class Alerts:
    """A builder over a fixed list of alerts: the seam between delivery and the store."""

    def __init__(self, *alerts: AlertEntry):
        self.alerts = list(alerts)
        self.windows: list[datetime | None] = []

    def __call__(self, since: datetime | None, until: datetime, exclude: set[str] | None) -> Digest:
        self.windows.append(since)
        fresh = tuple(a for a in self.alerts if a.key not in (exclude or set()))
        return digest(since=since, until=until, new_campaigns=fresh, spiking=())


def test_a_sent_alert_is_never_sent_twice() -> None:
    db = Database(memory=True)
    alerts = Alerts(alert("First", key="T2:first:1"))
    receiver = Receiver()
    with http_receiver(receiver) as url:
        target = [WebhookTarget(url)]
        first = send_digests(db, target, alerts, now=NOW, sleep=_no_sleep)
        alerts.alerts.append(alert("Second", key="T2:second:1"))
        second = send_digests(db, target, alerts, now=NOW.replace(hour=9), sleep=_no_sleep)
        third = send_digests(db, target, alerts, now=NOW.replace(hour=10), sleep=_no_sleep)
    assert [[a["tag"] for a in body["new_campaigns"]] for body in receiver.bodies] == [["First"], ["Second"], []]
    assert [(o.ok, o.alerts) for o in first + second + third] == [(True, 1), (True, 1), (True, 0)]
    assert state.sent_keys(db, target[0].name) == {"T2:first:1", "T2:second:1"}
    # Each digest starts where the last accepted one ended.
    assert alerts.windows == [NOW.replace(day=22), NOW, NOW.replace(hour=9)]


def test_a_failed_delivery_keeps_the_digest_for_the_next_try() -> None:
    db = Database(memory=True)
    alerts = Alerts(alert("Kept", key="T2:kept:1"))
    receiver, waits = Receiver(statuses=[500, 500]), []
    with http_receiver(receiver) as url:
        target = [WebhookTarget(url, attempts=2)]
        failed = send_digests(db, target, alerts, now=NOW, sleep=waits.append)
        retried = send_digests(db, target, alerts, now=NOW.replace(hour=9), sleep=waits.append)
    assert [(o.ok, o.alerts) for o in failed + retried] == [(False, 1), (True, 1)]
    assert "failed 2 times" in failed[0].detail and waits == [2.0]
    assert [[a["tag"] for a in body["new_campaigns"]] for body in receiver.bodies] == [["Kept"]]
    assert alerts.windows == [NOW.replace(day=22), NOW.replace(day=22)]  # the window stayed open
    rows = list(db.query("select ok, alerts from digest_deliveries order by id"))
    assert rows == [{"ok": 0, "alerts": 1}, {"ok": 1, "alerts": 1}]


def test_targets_keep_separate_records() -> None:
    db = Database(memory=True)
    alerts = Alerts(alert("Both", key="T2:both:1"))
    receiver = Receiver(statuses=[500])
    with smtp_server() as (box, port), http_receiver(receiver) as url:
        targets = [
            EmailTarget("127.0.0.1", port, "f@example.org", ("a@example.org",), starttls=False),
            WebhookTarget(url, attempts=1),
        ]
        first = send_digests(db, targets, alerts, now=NOW, sleep=_no_sleep, env={})
        second = send_digests(db, targets, alerts, now=NOW.replace(hour=9), sleep=_no_sleep, env={})
    assert [o.ok for o in first] == [True, False] and [o.alerts for o in second] == [0, 1]
    assert len(box.messages) == 2 and len(receiver.bodies) == 1
    assert "Both" in receiver.bodies[0]["new_campaigns"][0]["tag"]


def test_an_explicit_window_overrides_the_record() -> None:
    db = Database(memory=True)
    alerts = Alerts()
    with smtp_server() as (_box, port):
        target = [EmailTarget("127.0.0.1", port, "f@example.org", ("a@example.org",), starttls=False)]
        send_digests(db, target, alerts, since=None, now=NOW, env={})
        send_digests(db, target, alerts, since=AUTO, now=NOW.replace(hour=9), env={})
    assert alerts.windows == [None, NOW]


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected wait of {seconds} s")


def test_two_senders_at_once_send_each_alert_once(tmp_path: Path) -> None:
    """While one sender builds and sends, a second (its own connection, as another process) skips the target."""
    path = tmp_path / "fw.db"
    alerts = Alerts(alert("Once", key="T2:once:1"))
    receiver = Receiver()
    inner: list[list[object]] = []
    with http_receiver(receiver) as url:
        target = [WebhookTarget(url)]

        def build_then_race(since: datetime | None, until: datetime, exclude: set[str] | None) -> Digest:
            # The second sender starts while the first is between building and recording.
            inner.append(send_digests(Database(path), target, alerts, now=NOW, sleep=_no_sleep))
            return alerts(since, until, exclude)

        outer = send_digests(Database(path), target, build_then_race, now=NOW, sleep=_no_sleep)
        after = send_digests(Database(path), target, alerts, now=NOW.replace(hour=9), sleep=_no_sleep)
    [[skipped]] = inner
    assert skipped.skipped and skipped.alerts == 0 and "another feedwatch is sending" in skipped.detail
    assert [(o.ok, o.alerts) for o in outer + after] == [(True, 1), (True, 0)]
    assert [[a["tag"] for a in body["new_campaigns"]] for body in receiver.bodies] == [["Once"], []]
    assert list(Database(path).query("select * from digest_leases")) == []  # every claim was let go


def test_a_claim_left_by_a_killed_sender_expires() -> None:
    db = Database(memory=True)
    assert state.claim(db, "webhook", "killed", NOW)
    assert not state.claim(db, "webhook", "next", NOW + state.LEASE / 2)
    state.release(db, "webhook", "next")  # not its claim: left alone
    assert not state.claim(db, "webhook", "next", NOW + state.LEASE / 2)
    assert state.claim(db, "webhook", "next", NOW + state.LEASE)


def test_a_claim_counts_from_when_it_is_taken_and_is_never_left_inside_a_transaction(tmp_path: Path) -> None:
    """A run dated in the past (or a slow run reaching its last target late) still holds a live claim."""
    db = Database(tmp_path / "fw.db")
    assert state.claim(db, "webhook", "late run")  # the wall clock, not the run's start
    assert not state.claim(Database(tmp_path / "fw.db"), "webhook", "other")
    state.release(db, "webhook", "late run")
    db.conn.execute("BEGIN")
    with pytest.raises(RuntimeError, match="committed on its own"):
        state.claim(db, "webhook", "inside")
    db.conn.execute("ROLLBACK")
