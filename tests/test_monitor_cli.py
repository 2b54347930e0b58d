"""`feedwatch poll`, `feedwatch run` and `feedwatch watch` as a user runs them, against the local t.me/s server."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tme_server import TmeServer, make_posts

ROOT = Path(__file__).resolve().parents[1]
FEEDWATCH = [sys.executable, "-m", "feedwatch"]


@pytest.fixture
def tme():
    with TmeServer() as server:
        yield server


def config_file(tmp_path: Path, channels: list[str], interval: int = 1, folders: str = "[]") -> Path:
    path = tmp_path / "feedwatch.toml"
    entries = "".join(f'\n[[channels]]\nname = "{name}"\ninterval = {interval}\n' for name in channels)
    path.write_text(
        f"[web]\nmin_delay = 0.01\njitter = 0.0\ntimeout = 2.0\nbackoff = 0.1\n"
        f'[poll]\njitter = 0\nbackfill = "all"\n[folders]\npaths = {folders}\nsettle = 0.0\n'
        f"{entries}",
        encoding="utf-8",
    )
    return path


def feedwatch(*args: str, base_url: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FEEDWATCH_TME_BASE_URL": base_url}
    return subprocess.run([*FEEDWATCH, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120, **kwargs)


def count(db: Path, channel: str) -> int:
    """Return how many posts of `channel` the database holds (0 while it is still being created)."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM posts WHERE lower(channel) = lower(?)", [channel]).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_poll_named_channels_then_only_the_new_posts(tme, tmp_path):
    tme.add_channel("MFARussia", make_posts(45, deleted=(7, 8)))
    tme.add_channel("mod_russia_en", make_posts(25))
    tme.fault("mod_russia_en", "429", retry_after="1")
    db = tmp_path / "x.db"
    config = config_file(tmp_path, [])
    result = feedwatch(
        "poll",
        "MFARussia",
        "mod_russia_en",
        "gone_channel",
        "--db",
        str(db),
        "--config",
        str(config),
        "--backfill",
        "all",
        base_url=tme.base_url,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "gone_channel has no public web preview" in errors[0]
    assert "Traceback" not in result.stderr
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("web:MFARussia") and "45 new" in line for line in lines)
    assert any(line.startswith("web:mod_russia_en") and "25 new" in line for line in lines)  # 429 waited out
    assert count(db, "MFARussia") == 45 and count(db, "mod_russia_en") == 25

    tme.add_posts("MFARussia", make_posts(4, first_id=60))
    tme.requests.clear()
    result = feedwatch(
        "poll",
        "MFARussia",
        "mod_russia_en",
        "--db",
        str(db),
        "--config",
        str(config),
        base_url=tme.base_url,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "4 new" in result.stdout and count(db, "MFARussia") == 49
    assert tme.count("MFARussia") <= 2 and tme.count("mod_russia_en") <= 2

    exported = feedwatch("export", "--channel", "MFARussia", "--db", str(db), base_url=tme.base_url, cwd=tmp_path)
    posts = [json.loads(line) for line in exported.stdout.splitlines()]
    assert sorted(p["message_id"] for p in posts) == [i for i in range(1, 48) if i not in (7, 8)] + [60, 61, 62, 63]
    assert all(p["hashtags"] and p["date"] for p in posts)


def test_poll_usage_errors_are_one_line_and_exit_2(tmp_path):
    bad = feedwatch(
        "poll", "../etc/passwd", "--db", str(tmp_path / "x.db"), base_url="http://127.0.0.1:9", cwd=tmp_path
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "not a Telegram channel username" in bad.stderr
    nothing = feedwatch("poll", "--db", str(tmp_path / "x.db"), base_url="http://127.0.0.1:9", cwd=tmp_path)
    assert nothing.returncode == 2 and "no channels to poll" in nothing.stderr


def test_run_cycle_offline_with_the_shipped_config(tmp_path):
    """What scripts/run does offline: seeds ingested, every channel one 'cannot reach' line, a summary.

    Unreachable channels are a transient fault the next run retries: the cycle did its job, exit 0.
    """
    db = tmp_path / "run.db"
    (tmp_path / "seeds").symlink_to(ROOT / "seeds", target_is_directory=True)  # the config's relative paths
    digests = ROOT / "data" / "digests"
    before = sorted(digests.iterdir()) if digests.is_dir() else []
    result = feedwatch(
        "run",
        "--db",
        str(db),
        "--config",
        str(ROOT / "config" / "feedwatch.toml"),
        base_url="http://127.0.0.1:9",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "data" / "digests").glob("digest-*.md"))) == 1  # written here, not in the project
    assert (sorted(digests.iterdir()) if digests.is_dir() else []) == before
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 5 and all("cannot reach 127.0.0.1:9" in line for line in errors)
    assert "folder:seeds/" in result.stdout and "summary: 6 source(s), 5 failed" in result.stdout
    assert "5 source(s) could not be reached or were rate limited; the next run retries them" in result.stdout


def test_run_cycle_exits_1_for_a_lasting_failure(tme, tmp_path):
    tme.add_channel("MFARussia", make_posts(5))
    config = config_file(tmp_path, ["MFARussia", "no_such_channel"])
    result = feedwatch(
        "run", "--db", str(tmp_path / "r.db"), "--config", str(config), base_url=tme.base_url, cwd=tmp_path
    )
    assert result.returncode == 1
    assert "no_such_channel has no public web preview" in result.stderr
    assert "web:MFARussia" in result.stdout and "5 new" in result.stdout


def wait_for(predicate, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_watch_polls_on_schedule_stops_on_sigterm_and_resumes(tme, tmp_path):
    tme.add_channel("MFARussia", make_posts(30))
    tme.add_channel("RusEmbUSA", make_posts(10))
    db, config = tmp_path / "w.db", config_file(tmp_path, ["MFARussia", "RusEmbUSA"])
    env = {**os.environ, "FEEDWATCH_TME_BASE_URL": tme.base_url}
    command = [*FEEDWATCH, "watch", "--config", str(config), "--db", str(db)]

    proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: db.exists() and count(db, "MFARussia") == 30 and count(db, "RusEmbUSA") == 10)
        tme.add_posts("MFARussia", make_posts(2, first_id=40))
        assert wait_for(lambda: count(db, "MFARussia") == 32)  # a later scheduled poll picked them up
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "poll web:MFARussia" in err and "watch: stopped" in err and "Traceback" not in err
    schedule = [line.split(" ", 1)[1] for line in err.splitlines() if " next at " in line]
    assert [line.split(", next at ")[0] for line in schedule] == [  # one line per job, before any poll
        "watch: poll MFARussia: every 1 s",
        "watch: poll RusEmbUSA: every 1 s",
        "watch: digest: on cron 0 8 * * * (UTC)",
    ]
    assert "tentatively" not in err

    tme.add_posts("RusEmbUSA", make_posts(3, first_id=20))
    tme.requests.clear()
    proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: count(db, "RusEmbUSA") == 13)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    first = next(r for r in tme.requests if r.startswith("/s/RusEmbUSA"))
    assert first == "/s/RusEmbUSA"  # resumed from the stored mark: no second backfill walk
    assert count(db, "MFARussia") == 32


def test_polls_and_watched_folders_feed_the_campaign_detector(tme, tmp_path):
    tme.add_channel("MFARussia", make_posts(12))
    config = config_file(tmp_path, ["MFARussia"], folders=f'["{ROOT / "seeds"}"]')
    db = tmp_path / "d.db"
    result = feedwatch("run", "--db", str(db), "--config", str(config), base_url=tme.base_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(db)
    days = dict(conn.execute("SELECT tag, sum(posts) FROM campaign_tag_days GROUP BY tag"))
    spelled = {row[0] for row in conn.execute("SELECT spelling FROM campaign_spellings")}
    stored = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    conn.close()
    assert stored == 12 + 8
    assert {"UNCharterIsOurRules", "UnCharterIsOurRules"} <= spelled  # the seeds reached the detector too
    assert sum(days.values()) >= 12  # every polled post carries a tag and is placed on its day
