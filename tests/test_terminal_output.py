"""What is printed for a person never carries raw control, bidi or tag characters; machine outputs stay exact.

Post texts, channel names and file names are attacker-controlled: an escape sequence could retitle
the terminal, a carriage return or newline forge a table row, a bidi override reorder a line.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from store_support import SEEDS

from feedwatch.cli import main
from feedwatch.display import shown, strip_invisible
from feedwatch.models import Post, Source
from feedwatch.parse.structure import finish
from feedwatch.store import Store

# An OSC title change, a CSI erase, a carriage return, a forged line, bidi and tag characters, C1 CSI.
HOSTILE = "\x1b]0;owned\x07\x1b[2J\rinjected: 999 new\n\u202eevil\u2066 \U000e0041\x9b31m"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\U000e0000-\U000e007f]")


def run(*argv: str) -> Result:
    return CliRunner().invoke(main, list(argv), catch_exceptions=False)


def raw_in(text: str) -> list[str]:
    """The unsafe characters in `text`, newlines aside (they separate the lines of the output)."""
    return RAW.findall(text)


def test_shown_escapes_what_a_terminal_would_act_on_and_keeps_the_rest() -> None:
    assert shown("a\x1b[31mb\rc\nd\te\x00f\x9b") == "a\\x1b[31mb\\rc\\nd\\te\\x00f\\x9b"
    assert shown("\u202eabc\u2066") == "\\u202eabc\\u2066"
    assert shown("tag\U000e0041") == "tag\\U000e0041"
    assert shown("Привет, мир! 👨‍👩‍👧 «ok» #Тег") == "Привет, мир! 👨‍👩‍👧 «ok» #Тег"
    assert "\n" not in shown(HOSTILE) and not raw_in(shown(HOSTILE))


def test_strip_invisible_removes_zero_width_bidi_and_tag_characters() -> None:
    assert strip_invisible("Un\u200bCharter\u200d\u2060\ufeff\u202e\u2066\U000e0041\U000e007f") == "UnCharter"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "fw.db"
    post = finish(
        Post(
            channel="chan_one",
            message_id=7,
            title=f"Title {HOSTILE}",
            text=f"Guterres said {HOSTILE}",
            author=HOSTILE,
            date=datetime(2024, 3, 1, tzinfo=UTC),
            source=Source("tme-html", f"page{HOSTILE}.html", 0),
        )
    )
    with Store.open(path) as store:
        store.ingest([post], "test")
    return path


def test_search_for_people_is_escaped_and_json_is_exact(db: Path) -> None:
    result = run("search", "Guterres", "--db", str(db))
    assert result.exit_code == 0
    assert "injected: 999 new" in result.stdout and not raw_in(result.stdout)
    assert not any(line.startswith("injected") for line in result.stdout.splitlines())
    assert "**Guterres**" in result.stdout
    (exact,) = json.loads(run("search", "Guterres", "--json", "--db", str(db)).stdout)
    assert exact["post"]["text"] == f"Guterres said {HOSTILE}"


def test_export_csv_is_escaped_and_jsonl_is_exact(db: Path) -> None:
    out = run("export", "--format", "csv", "--db", str(db)).stdout
    assert not raw_in(out) and len(out.strip().splitlines()) == 2  # the header and one row
    row = next(csv.DictReader(io.StringIO(out)))
    assert row["text"] == shown(f"Guterres said {HOSTILE}")
    exact = json.loads(run("export", "--db", str(db)).stdout)
    assert exact["text"] == f"Guterres said {HOSTILE}" and exact["author"] == HOSTILE


def test_parse_summary_is_escaped(tmp_path: Path) -> None:
    path = tmp_path / "hostile.txt"
    path.write_text(f"Forwarded from Evil{HOSTILE}\nTitle{HOSTILE}\n\nBody {HOSTILE}\n", encoding="utf-8")
    result = run("parse", "--summary", str(path))
    assert result.exit_code == 0
    assert "injected" in result.stdout and not raw_in(result.stdout)
    assert not any(line.startswith("injected") for line in result.stdout.splitlines())
    exact = json.loads(run("parse", str(path)).stdout.splitlines()[0])
    assert "\x1b]0;owned\x07" in exact["text"]  # JSON Lines keeps the text exactly as parsed


def test_a_file_name_with_a_newline_cannot_forge_an_ingest_row(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    name = folder / "x.txt\ninjected: 999 new\x1b]0;t\x07.txt"
    name.write_text((SEEDS / "004_01d4050f5de082cc.txt").read_text(encoding="utf-8"), encoding="utf-8")
    result = run("ingest", str(folder), "--db", str(tmp_path / "fw.db"))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and not any(line.startswith("injected") for line in lines)
    assert not raw_in(result.stdout)


def test_error_lines_escape_the_file_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad\rinjected\x1b[2J.json"
    bad.write_bytes(b"\x00\x01 not a format")
    result = run("parse", str(bad))
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and not raw_in(result.stderr)
    assert "bad\\rinjected\\x1b[2J.json" in result.stderr


def test_campaigns_table_is_escaped_and_tags_lose_invisible_characters(tmp_path: Path) -> None:
    import dataclasses

    from test_campaign_state import scenario

    def hostile(post: Post) -> Post:  # channel b named with control characters, a tag with a zero-width one
        tags = tuple("Launch\u200cThree" if t == "LaunchThree" else t for t in post.hashtags)
        return dataclasses.replace(
            post,
            channel=post.channel + HOSTILE if post.channel == "b" else post.channel,
            text=post.text.replace("#LaunchThree", "#Launch\u200cThree"),
            hashtags=tags,
        )

    from feedwatch.campaigns import IngestHook
    from feedwatch.store import Store

    path = tmp_path / "fw.db"
    # Through the store's own API: JSON Lines input refuses such a channel name, but the display must not trust
    # that every way in does (a Desktop export's chat title, an older database).
    with Store.open(path) as store:
        store.ingest([hostile(p) for p in scenario(offset=62)], "test", on_new=IngestHook())
    result = run("campaigns", "--db", str(path))
    assert result.exit_code == 0
    assert "#LaunchThree " in result.stdout and "@b\\x1b]0;owned" in result.stdout
    assert not raw_in(result.stdout) and "\u200c" not in result.stdout
    assert not any(line.startswith("injected") for line in result.stdout.splitlines())
    exact = json.loads(run("campaigns", "--json", "--db", str(path)).stdout)
    assert any(HOSTILE.lower() in channel for alert in exact for channel in alert["channels"])  # exact


def test_log_lines_of_poll_run_and_watch_are_escaped() -> None:
    import subprocess
    import sys

    code = (
        "import logging; from feedwatch.cli.common import log_to_stderr; log_to_stderr(logging.INFO); "
        "logging.getLogger('feedwatch.poll').info('poll %s', 'folder:drop/x\\x1b]0;owned\\x07\\rinjected')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stderr == "poll folder:drop/x\\x1b]0;owned\\x07\\rinjected\n"


def test_run_reports_a_hostile_file_name_in_a_watched_folder_on_one_escaped_line(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "bad\x1b[2J\ninjected.json").write_bytes(b"\x00\x01 not a format")
    config = tmp_path / "c.toml"
    config.write_text(f'[folders]\npaths = ["{folder}"]\nsettle = 0.0\n', encoding="utf-8")
    result = run("run", "--config", str(config), "--db", str(tmp_path / "fw.db"))
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and not raw_in(result.stderr)
    assert "bad\\x1b[2J\\ninjected.json" in result.stderr


def test_a_file_name_that_is_not_utf8_is_read_stored_and_shown_escaped(tmp_path: Path) -> None:
    import os

    from feedwatch.folders import FolderWatcher
    from feedwatch.store import Store

    folder = tmp_path / "drop"
    folder.mkdir()
    odd = os.path.join(os.fsencode(folder), b"lat\xff.jsonl")
    with open(odd, "wb") as out:
        out.write(b'{"text": "first words here", "channel": "abcde", "message_id": 1}\n')
    (folder / "z.jsonl").write_text('{"text": "second words", "channel": "abcde", "message_id": 2}\n', encoding="utf-8")
    db = tmp_path / "fw.db"
    result = run("ingest", str(folder), "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "lat\\udcff.jsonl" in result.stdout and "Traceback" not in result.output
    assert run("ingest", str(folder), "--db", str(db)).stdout.splitlines()[-1].split() == ["total", "0", "0", "2", "0"]
    with Store.open(tmp_path / "watched.db") as store:
        report = FolderWatcher(store, settle=0).poll(str(folder))
        assert report.ok and report.new == 2
        assert FolderWatcher(store, settle=0).poll(str(folder)).new == 0  # known by its stored name


def test_output_to_a_full_disk_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    db = tmp_path / "fw.db"
    root = Path(__file__).resolve().parents[1]
    assert run("ingest", str(root / "seeds"), "--db", str(db)).exit_code == 0
    for argv in (["export"], ["search", "Guterres"], ["parse", str(root / "seeds")]):
        with open("/dev/full", "w") as full:
            done = subprocess.run(
                [sys.executable, "-m", "feedwatch", *argv, "--db", str(db)]
                if argv[0] != "parse"
                else [sys.executable, "-m", "feedwatch", *argv],
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
            )
        assert done.returncode == 1, (argv, done.stderr)
        assert "Traceback" not in done.stderr and "cannot write" in done.stderr, argv
