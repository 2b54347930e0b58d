"""`feedwatch digest` end to end: a real database, a real config, real local receivers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from digest_servers import Receiver, http_receiver, smtp_server

from feedwatch.cli import main
from feedwatch.parse import parse_path
from feedwatch.store import Store

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty folder, so the repository's config/feedwatch.toml is not picked up."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db(store_target: str) -> str:
    """The seeds, stored an hour ago: in an SQLite file, and in PostgreSQL."""
    with Store.open(store_target) as store:
        for seed in sorted(SEEDS.iterdir()):
            store.ingest(parse_path(str(seed)), str(seed), observed_at=datetime.now(UTC) - timedelta(hours=1))
    return store_target


@pytest.fixture
def file_db(tmp_path: Path) -> str:
    """The seeds in an SQLite file (for what is about the file itself)."""
    path = tmp_path / "feedwatch.db"
    with Store.open(path) as store:
        for seed in sorted(SEEDS.iterdir()):
            store.ingest(parse_path(str(seed)), str(seed), observed_at=datetime.now(UTC) - timedelta(hours=1))
    return str(path)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["digest", *args], env={"FEEDWATCH_CONFIG": "", "FEEDWATCH_DB": ""})
    return result.exit_code, result.stdout, result.stderr


def test_markdown_digest_of_the_seeds(db: str) -> None:
    code, out, err = run("--db", db)
    assert code == 0, err
    assert out.startswith("# feedwatch digest, ")
    assert "| #UNCharterIsOurRules | 7 | 0 | 1 | #UNCharterIsOurRules, #UnCharterIsOurRules |" in out
    headings = [line for line in out.splitlines() if line.startswith("## ")]
    assert [h.split(" (")[0] for h in headings] == [
        "## New campaigns",
        "## Spiking known tags",
        "## Talking points spreading",
        "## Top hashtags",
        "## Activity per channel",
        "## Scraper health",
    ]


def test_json_and_html_outputs(db: str, tmp_path: Path) -> None:
    code, out, _ = run("--db", db, "--since", "7d", "--format", "json")
    assert code == 0 and json.loads(out)["top_tags"][0]["spellings"] == ["UNCharterIsOurRules", "UnCharterIsOurRules"]
    page = tmp_path / "digest.html"
    code, out, err = run("--db", db, "--since", "all", "--out", str(page))
    assert code == 0 and out == "" and f"digest written to {page}" in err
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_a_window_after_the_posts_is_empty(db: str) -> None:
    code, out, _ = run("--db", db, "--since", (datetime.now(UTC) + timedelta(minutes=5)).isoformat())
    assert code == 0 and "0 posts" in out and "No hashtags in this window." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "{tmp}/missing.db"], "no database there yet"),
        (["--since", "yesterday"], "'--since': 'yesterday': use 24h, 7d"),
        (["--send"], "no digest target set"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(db: str, tmp_path: Path, args: list[str], message: str) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, _out, err = run("--db", db, *args) if args[0] != "--db" else run(*args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_send_delivers_to_the_configured_targets(db: str, tmp_path: Path) -> None:
    receiver = Receiver()
    with smtp_server() as (box, port), http_receiver(receiver) as url:
        config = tmp_path / "feedwatch.toml"
        config.write_text(
            f'[digest]\nformats = ["markdown", "html"]\n[digest.file]\npath = "{tmp_path}/out/d-{{date}}.md"\n'
            f'[digest.webhook]\nurl = "{url}"\n'
            f'[digest.smtp]\nhost = "127.0.0.1"\nport = {port}\nstarttls = false\nfrom = "fw@example.org"\n'
            'to = ["analyst@example.org"]\n'
        )
        code, out, err = run("--db", db, "--config", str(config), "--send")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and lines[0].startswith(f"sent: {tmp_path}/out/d-") and lines[0].endswith(".html (0 alerts)")
    assert lines[1:] == ["sent: webhook 127.0.0.1 (0 alerts)", "sent: e-mail to analyst@example.org (0 alerts)"]
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".html", ".md"]
    assert receiver.bodies[0]["top_tags"][0]["posts"] == 7 and len(box.messages) == 1


def test_send_reports_a_failing_target_and_exits_1(db: str, tmp_path: Path) -> None:
    receiver = Receiver(statuses=[403])
    with http_receiver(receiver) as url:
        config = tmp_path / "feedwatch.toml"
        config.write_text(f'[digest.webhook]\nurl = "{url}"\n')
        code, out, err = run("--db", db, "--config", str(config), "--send", "--since", "all")
    assert code == 1 and out == ""
    assert "webhook 127.0.0.1 refused the digest (HTTP 403); it is kept for the next try" in err


def test_help_has_examples() -> None:
    result = CliRunner().invoke(main, ["digest", "--help"])
    assert result.exit_code == 0 and "Example" in result.stdout and "--send" in result.stdout


FULL_DISK = """
import resource, signal, sys
from feedwatch.cli import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
main(sys.argv[2:])
"""


def test_digest_out_on_a_full_disk_is_one_line_and_leaves_no_temporary_file(file_db: str, tmp_path: Path) -> None:
    import sqlite3

    db = file_db
    import subprocess
    import sys

    assert run("--db", db, "--since", "all")[0] == 0  # the digest's indexes exist: the next run only reads
    holder = sqlite3.connect(db)  # keeps the WAL index (-shm) in place, so the limited process writes nothing else
    holder.execute("SELECT count(*) FROM posts").fetchone()
    out = tmp_path / "out" / "week.html"
    out.parent.mkdir()
    # No bytecode caches from the limited process: Python would write them cut short, and every later import fail.
    env = {"FEEDWATCH_CONFIG": "", "FEEDWATCH_DB": "", "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                FULL_DISK,
                "1000",
                "digest",
                "--db",
                db,
                "--since",
                "all",
                "--format",
                "html",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        holder.close()
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert f"digest file {out}: cannot be written (File too large)" in lines[0]
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize(
    "sender, to",
    [
        ('"digest@example.org\\r\\nBcc: victim@example.org"', '["y@example.org"]'),
        ('"digest@example.org"', '["a@example.org", "b@example.org\\nSubject: forged"]'),
    ],
)
def test_a_line_break_in_an_smtp_address_is_one_line_at_config_load(
    db: str, tmp_path: Path, sender: str, to: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[digest.smtp]\nhost = "127.0.0.1"\nport = 9\nfrom = {sender}\nto = {to}\n', encoding="utf-8")
    code, _out, err = run("--db", db, "--config", str(config), "--send")
    assert code == 2
    lines = err.strip().splitlines()
    key = "from" if "\\" in sender else "to"
    assert len(lines) == 1 and f"digest.smtp.{key} must not contain line breaks" in lines[0]


def test_digest_out_into_a_folder_that_does_not_exist_makes_no_folder(db: str, tmp_path: Path) -> None:
    code, _out, err = run("--db", db, "--since", "all", "--out", str(tmp_path / "typo" / "x.md"))
    assert code == 1 and "no folder" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "typo").exists()
