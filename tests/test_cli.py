"""The command line: output, one-line errors, exit codes, help with examples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import ROOT

from feedwatch.cli import main

DUMP = str(ROOT / "seeds" / "004_01d4050f5de082cc.txt")
STATEMENT = str(ROOT / "seeds" / "000_bc5f4b5de1e8430e.txt")


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feedwatch", *args],
        input=stdin.decode("latin-1") if stdin else None,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_parse_writes_one_json_object_per_post() -> None:
    result = run("parse", DUMP, STATEMENT)
    assert result.returncode == 0, result.stderr
    posts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [p["kind"] for p in posts] == ["post"] * 7 + ["statement"]


def test_bad_inputs_get_one_line_each_and_the_rest_still_parse(tmp_path: Path) -> None:
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 20)
    cp1251 = tmp_path / "old.txt"
    cp1251.write_bytes("Forwarded from МИД России\nЗаявление #ООН\n".encode("cp1251"))
    unknown = tmp_path / "notes.txt"
    unknown.write_text("just some notes\nnothing telegram about them\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = run("parse", str(tmp_path / "missing.txt"), str(binary), DUMP, str(cp1251), str(unknown), str(empty))
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 7
    lines = result.stderr.splitlines()
    assert len(lines) == 5, result.stderr
    assert "Traceback" not in result.stderr
    assert "missing.txt: no such file" in lines[0]
    assert "photo.jpg: binary data" in lines[1]
    assert "old.txt: line 1: not UTF-8 (byte 0xcc at offset 15). Try --encoding cp1251" in lines[2]
    assert "notes.txt: not a format feedwatch knows. Force one with --format" in lines[3]
    assert "empty.txt: is empty" in lines[4]


def test_encoding_option_reads_other_encodings(tmp_path: Path) -> None:
    cp1251 = tmp_path / "old.txt"
    cp1251.write_bytes("Forwarded from МИД России\nЗаявление #ООН\n".encode("cp1251"))
    result = run("parse", "--encoding", "cp1251", str(cp1251))
    assert result.returncode == 0, result.stderr
    post = json.loads(result.stdout)
    assert post["hashtags"] == ["ООН"] and post["forwarded_from"]["name"] == "МИД России"


def test_stdin_and_forced_format() -> None:
    result = run("parse", "--format", "dump", "-", stdin=b"Forwarded from X\nHeadline #Tag\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["hashtags"] == ["Tag"]


def test_jsonl_round_trip_through_the_cli(tmp_path: Path) -> None:
    first = run("parse", DUMP)
    out = tmp_path / "posts.jsonl"
    out.write_text(first.stdout, encoding="utf-8")
    second = run("parse", str(out))
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout


def test_damaged_jsonl_names_the_line(tmp_path: Path) -> None:
    good = run("parse", STATEMENT).stdout
    path = tmp_path / "posts.jsonl"
    path.write_text(good + '{"kind": "post", "fingerprint": "x", "views": "many"}\n', encoding="utf-8")
    result = run("parse", str(path))
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 1
    assert (
        "posts.jsonl: line 2: not a post (Expected `int | null`, got `str` - at `$.views`); line skipped"
        in result.stderr
    )


def test_summary_is_readable() -> None:
    result = CliRunner().invoke(main, ["parse", "--summary", DUMP])
    assert result.exit_code == 0
    assert "[7] post · forwarded from Russian MFA 🇷🇺" in result.output
    assert "9 key points · video (too big)" in result.output
    assert result.output.rstrip().endswith("7 post(s) parsed, 0 input(s) failed.")


@pytest.mark.parametrize("args", [[], ["parse"], ["parse", "--format", "nope", DUMP], ["nosuchcommand"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert CliRunner().invoke(main, args).exit_code == 2


def _commands(group: click.Group) -> list[click.Command]:
    return [group, *group.commands.values()]


@pytest.mark.parametrize("command", _commands(main), ids=lambda c: c.name)
def test_every_command_help_shows_an_example(command: click.Command) -> None:
    args = ["--help"] if command is main else [command.name, "--help"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0
    assert "Example" in result.output


def test_a_jsonl_post_longer_than_the_sniff_window_is_recognised(tmp_path: Path) -> None:
    from feedwatch.models import Post

    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps(Post(text="word " * 40_000 + "#Tag").to_json()) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["parse", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["text"].endswith("#Tag")
