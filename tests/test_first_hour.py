"""A new user's first hour: `scripts/run` on a real terminal (a pseudo-terminal), and into a pipe."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from feedwatch.models import Post

SEEDS = ROOT / "seeds"


def config(tmp_path: Path) -> Path:
    path = tmp_path / "first.toml"
    path.write_text(
        f'[database]\npath = "{tmp_path}/fw.db"\n[folders]\npaths = ["{SEEDS}"]\nsettle = 0.0\n'
        f'[digest.file]\npath = "{tmp_path}/digest-{{time}}.md"\n',
        encoding="utf-8",
    )
    return path


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDWATCH_")}
    return env | {"FEEDWATCH_TME_BASE_URL": "http://127.0.0.1:9", "TERM": "dumb", "COLUMNS": "120"}


def on_a_terminal(*args: str, stdout: int | None = None) -> tuple[int, str]:
    """Run a command with stdin and stderr (and stdout unless given) on a pseudo-terminal; return its status and
    what reached the terminal."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        args, stdin=child, stdout=child if stdout is None else stdout, stderr=child, env=environment(), close_fds=True
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the terminal's other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    return process.wait(timeout=120), b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_scripts_run_on_a_terminal_says_what_it_read_where_it_is_and_what_next(tmp_path: Path) -> None:
    status, out = on_a_terminal(str(ROOT / "scripts" / "run"), "--config", str(config(tmp_path)))
    assert status == 0, out
    (written,) = tmp_path.glob("digest-*.md")
    db = tmp_path / "fw.db"
    assert f"digest: {written} (0 alerts)" in out
    assert "This run read 8 post(s)." in out and "Top hashtags: #UNCharterIsOurRules (7)" in out
    assert f"The store: {db} (8 post(s) in all)." in out
    assert f"  feedwatch campaigns --db {db} " in out and "Next:" in out
    assert "\\[" not in out and "\\:" not in out and "# feedwatch digest" not in out  # no raw Markdown
    status, again = on_a_terminal(str(ROOT / "scripts" / "run"), "--config", str(config(tmp_path)))
    assert status == 0 and "digest: nothing new, no digest file written" in again
    assert list(tmp_path.glob("digest-*.md")) == [written]


def test_scripts_run_into_a_pipe_ends_with_the_markdown_digest(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "run"), "--config", str(config(tmp_path))],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("folder:")
    assert "# feedwatch digest" in done.stdout and "Next:" not in done.stdout


def test_a_big_ingest_shows_progress_of_its_size_on_the_terminal_only(tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    with big.open("w", encoding="utf-8") as out:
        for n in range(4000):
            post = Post(channel="big_channel", message_id=n + 1, text=f"post {n} " + "words " * 40 + "#Tag")
            out.write(json.dumps(post.to_json()) + "\n")
    assert big.stat().st_size > 1024 * 1024
    table = tmp_path / "table.txt"
    with table.open("w") as stdout:
        status, terminal = on_a_terminal(
            sys.executable,
            "-m",
            "feedwatch",
            "ingest",
            str(big),
            "--db",
            str(tmp_path / "fw.db"),
            stdout=stdout.fileno(),
        )
    assert status == 0, terminal
    assert "big.jsonl" in terminal and "100%" in terminal and "4,000 posts" in terminal
    lines = table.read_text().splitlines()
    assert lines[-1].split() == ["total", "4,000", "0", "0", "0"] and len(lines) == 3  # no bar in the output


def test_campaigns_rebuild_shows_progress_with_its_total(tmp_path: Path) -> None:
    db = str(tmp_path / "fw.db")
    assert (
        subprocess.run(
            [sys.executable, "-m", "feedwatch", "ingest", str(SEEDS), "--db", db], capture_output=True, timeout=120
        ).returncode
        == 0
    )
    alerts = tmp_path / "alerts.json"
    with alerts.open("w") as stdout:
        status, terminal = on_a_terminal(
            sys.executable, "-m", "feedwatch", "campaigns", "--rebuild", "--json", "--db", db, stdout=stdout.fileno()
        )
    assert status == 0, terminal
    assert "rebuilding (posts)" in terminal and "8/8" in terminal  # every stored post, tagged or not
    assert json.loads(alerts.read_text()) == []
    piped = subprocess.run(
        [sys.executable, "-m", "feedwatch", "campaigns", "--rebuild", "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "rebuilding" not in piped.stderr and piped.stderr.startswith("Rebuilt campaign state")
