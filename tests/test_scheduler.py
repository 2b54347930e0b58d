"""The scheduler's wiring: one job per channel and per folder set, safe job options, the digest hook."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime

import pytest

from feedwatch.config import load_config
from feedwatch.errors import DeliveryError
from feedwatch.poll import Report
from feedwatch.scheduler import Stopping, Watcher


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[poll]\njitter = 7\nmisfire_grace = 120\n[folders]\npaths = ["seeds/"]\ninterval = 45\n'
        '[digest]\nschedule = "30 7 * * 1"\n'
        '[[channels]]\nname = "MFARussia"\ninterval = 600\n[[channels]]\nname = "mod_russia_en"\n',
        encoding="utf-8",
    )
    return load_config(path)


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "watch.db")  # the watcher opens its database first: never the project's data/


def started(watcher: Watcher) -> dict:
    watcher.scheduler.start(paused=True)
    try:
        return {job.id: job for job in watcher.jobs()}
    finally:
        watcher.scheduler.shutdown(wait=False)


def test_one_job_per_channel_with_safe_options(config, db, monkeypatch):
    monkeypatch.delitem(sys.modules, "feedwatch.digest", raising=False)
    monkeypatch.setattr("feedwatch.poll.digest_hook", lambda: None)
    monkeypatch.setattr("feedwatch.scheduler.digest_hook", lambda: None)
    jobs = started(Watcher(config, db=db))
    assert sorted(jobs) == ["folders", "poll:MFARussia", "poll:mod_russia_en"]
    mfa = jobs["poll:MFARussia"]
    assert mfa.trigger.interval.total_seconds() == 600 and mfa.trigger.jitter == 7
    assert jobs["poll:mod_russia_en"].trigger.interval.total_seconds() == 900
    assert jobs["folders"].trigger.interval.total_seconds() == 45
    for job in jobs.values():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 120)


def test_digest_job_on_its_cron_schedule_when_the_build_has_one(config, db, monkeypatch):
    calls = []
    module = types.ModuleType("feedwatch.digest")
    module.run_scheduled = calls.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "feedwatch.digest", module)
    import feedwatch

    monkeypatch.setattr(feedwatch, "digest", module, raising=False)
    jobs = started(Watcher(config, db=db))
    digest = jobs["digest"]
    assert str(digest.trigger.fields[4]) == "1" and str(digest.trigger.fields[5]) == "7"  # Mondays, 07:30
    assert str(digest.trigger.fields[6]) == "30"
    digest.func(*digest.args)
    (called,) = calls  # the config, with the database the polls write
    assert called.values == {**config.values, "database.path": str(db)}


def test_a_failed_digest_is_one_log_line(config, db, caplog):
    def failing(_config):
        raise DeliveryError("smtp://127.0.0.1:1: connection refused")

    Watcher(config, db=db).digest(failing)
    assert [r.getMessage() for r in caplog.records] == ["digest: smtp://127.0.0.1:1: connection refused"]


def test_a_long_flood_wait_reschedules_the_channel(config, db, monkeypatch):
    retry_at = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(
        "feedwatch.scheduler.poll_once",
        lambda *a, **k: [Report("telethon:MFARussia", errors=[("rate_limited", "wait")], retry_at=retry_at)],
    )
    watcher = Watcher(config, db=db)
    watcher.scheduler.start(paused=True)
    try:
        watcher.poll_channel(config.channels[0])
        assert watcher.scheduler.get_job("poll:MFARussia").next_run_time == retry_at
        assert watcher.scheduler.get_job("poll:mod_russia_en").next_run_time != retry_at
    finally:
        watcher.scheduler.shutdown(wait=False)


def test_sleep_ends_the_poll_under_way_when_stopping(config, db):
    watcher = Watcher(config, db=db)
    watcher.sleep(0)  # not stopping: an ordinary wait
    watcher.stop()
    with pytest.raises(Stopping, match="resumes on the next start"):
        watcher.sleep(3600)


def test_the_schedule_is_one_line_per_job_with_its_next_run(config, caplog, monkeypatch):
    monkeypatch.setattr("feedwatch.scheduler.digest_hook", lambda: lambda config: "sent")
    with caplog.at_level("INFO"):
        watcher = Watcher(config, db=None)
        watcher.scheduler.start(paused=True)
    try:
        lines = sorted(watcher.schedule_lines())
    finally:
        watcher.scheduler.shutdown(wait=False)
    assert not [r for r in caplog.records if "tentatively" in r.getMessage()]
    assert len(lines) == 4
    assert lines[0].startswith("digest: on cron 30 7 * * 1 (UTC), next at ") and lines[0].endswith(" UTC")
    assert lines[1].startswith("poll MFARussia: every 10 min, next at 20")
    assert lines[2].startswith("poll mod_russia_en: every 15 min, next at 20")
    assert lines[3].startswith("watched folders: every 45 s, next at 20")
    next_digest = datetime.strptime(lines[0].rsplit("next at ", 1)[1], "%Y-%m-%d %H:%M:%S UTC")
    assert (next_digest.hour, next_digest.minute) == (7, 30)


def test_the_digest_job_reads_the_database_the_polls_write(config, tmp_path):
    watcher = Watcher(config, db=str(tmp_path / "other.db"))
    assert watcher.config["database.path"] == str(tmp_path / "other.db")


def test_a_long_429_reschedules_the_channel_holds_the_host_and_survives_a_restart(tmp_path, monkeypatch):
    from tme_server import TmeServer, make_posts

    from feedwatch.store import Store

    monkeypatch.setattr("feedwatch.scheduler.digest_hook", lambda: None)
    with TmeServer() as tme:
        for name in ("MFARussia", "mod_russia_en"):
            tme.add_channel(name, make_posts(5, salt=name))
        tme.fault("MFARussia", "429", retry_after="3600")
        path = tmp_path / "c.toml"
        path.write_text(
            f'[web]\nbase_url = "{tme.base_url}"\nmin_delay = 0.0\njitter = 0.0\n'
            '[[channels]]\nname = "MFARussia"\n[[channels]]\nname = "mod_russia_en"\n',
            encoding="utf-8",
        )
        config, db = load_config(path), str(tmp_path / "fw.db")
        before = datetime.now(UTC)
        held = None
        for restart in (False, True):
            watcher = Watcher(config, db=db)
            watcher.scheduler.start(paused=True)
            try:
                for spec in config.channels:
                    watcher.poll_channel(spec)
                times = {job.id: job.next_run_time for job in watcher.jobs()}
            finally:
                watcher.scheduler.shutdown(wait=False)
            held = held or times["poll:MFARussia"]
            assert times == {"poll:MFARussia": held, "poll:mod_russia_en": held}, restart
            assert tme.count("MFARussia") == 1 and tme.count("mod_russia_en") == 0  # the host was held
        assert before.timestamp() + 3600 <= held.timestamp() <= datetime.now(UTC).timestamp() + 3600
        with Store.open(db) as store:
            assert store.channel("mod_russia_en").retry_at == held
