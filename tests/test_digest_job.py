"""The scheduled digest job: the config's targets, a real store, the outcome line, failures raised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from digest_servers import Receiver, http_receiver

from feedwatch.config import load_config
from feedwatch.digest import run_scheduled
from feedwatch.digest.job import parse_since
from feedwatch.errors import ConfigError, DeliveryError
from feedwatch.parse import parse_path
from feedwatch.store import Store

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def seeded_db(tmp_path: Path) -> Path:
    path = tmp_path / "feedwatch.db"
    with Store.open(path) as store:
        for seed in sorted(SEEDS.iterdir()):
            store.ingest(parse_path(str(seed)), str(seed), observed_at=datetime.now(UTC) - timedelta(minutes=5))
    return path


def config_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "feedwatch.toml"
    path.write_text(f'[database]\npath = "{seeded_db(tmp_path)}"\n{body}')
    return path


def test_scheduled_job_delivers_to_file_and_webhook(tmp_path: Path) -> None:
    receiver = Receiver()
    with http_receiver(receiver) as url:
        config = load_config(
            config_file(
                tmp_path, f'[digest.file]\npath = "{tmp_path}/d-{{date}}.md"\n[digest.webhook]\nurl = "{url}"\n'
            )
        )
        line = run_scheduled(config)
    written = next(tmp_path.glob("d-*.md"))
    assert line == f"{written} (0 alerts); webhook 127.0.0.1 (0 alerts)"
    assert "| #UNCharterIsOurRules | 7 |" in written.read_text()
    assert receiver.bodies[0]["top_tags"][0]["spellings"] == ["UNCharterIsOurRules", "UnCharterIsOurRules"]


def test_scheduled_job_raises_after_trying_every_target(tmp_path: Path) -> None:
    receiver = Receiver(statuses=[410])
    with http_receiver(receiver) as url:
        config = load_config(
            config_file(tmp_path, f'[digest.webhook]\nurl = "{url}"\n[digest.file]\npath = "{tmp_path}/d.md"\n')
        )
        with pytest.raises(DeliveryError, match=r"webhook 127\.0\.0\.1 refused the digest \(HTTP 410\)"):
            run_scheduled(config)
    assert (tmp_path / "d.md").exists()  # the file target was still served


def test_scheduled_job_without_targets_says_so(tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, ""))
    assert run_scheduled(config).startswith("no delivery target configured")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("90m", NOW - timedelta(minutes=90)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T06:30:00+02:00", datetime(2026, 11, 20, 4, 30, tzinfo=UTC)),
        ("all", None),
        ("ALL", None),
    ],
)
def test_parse_since(text: str, expected: datetime | None) -> None:
    assert parse_since(text, NOW) == expected


def test_parse_since_rejects_words() -> None:
    with pytest.raises(ConfigError, match="use 24h, 7d"):
        parse_since("last week", NOW)


def test_a_digest_with_nothing_new_writes_no_file(tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, f'[digest.file]\npath = "{tmp_path}/d-{{time}}.md"\n'))
    first = run_scheduled(config)
    (written,) = tmp_path.glob("d-*.md")
    assert first == f"{written} (0 alerts)"
    again = run_scheduled(config)  # nothing stored since the first digest
    assert again == "nothing new, no digest file written (0 alerts)"
    assert list(tmp_path.glob("d-*.md")) == [written]


def test_scheduled_job_on_a_database_with_a_corrupt_page_is_one_line(tmp_path: Path) -> None:
    import sqlite3

    from test_store_safety import _damage

    from feedwatch.errors import StoreError

    config = load_config(config_file(tmp_path, f'[digest.file]\npath = "{tmp_path}/d.md"\n'))
    path = Path(config["database.path"])
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    _damage(path, "posts")
    with pytest.raises(StoreError, match="corrupt database") as caught:
        run_scheduled(config)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "d.md").exists()
