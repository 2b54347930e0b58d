"""Every input the fuzzer (scripts/fuzz) ever crashed a parser with now gives Posts or ParseError.

The cases are read the way the fuzzer writes them (scripts/fuzz_cases.py), so the two cannot drift apart; the
tests below the replay check that reading, that a crash is told from a ParseError, and (with the fuzz extra)
that every parser module is instrumented. They run while the folder of cases is still empty.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT

from feedwatch.errors import ParseError
from feedwatch.models import post_from_line, post_line
from feedwatch.parse import FORMATS, parse_bytes

sys.path.insert(0, str(ROOT / "scripts"))
from fuzz_cases import CRASHES, NAMES, crash, pick_format, save, saved_case

CASES = sorted(CRASHES.glob("*.bin"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_fuzz_crash_input_is_handled(path: Path) -> None:
    fmt, data = saved_case(path)
    try:
        posts = list(parse_bytes(data, path.name, fmt))
    except ParseError as exc:
        assert exc.path == path.name
        return
    for post in posts:  # what a parser gives survives the JSON Lines contract, every field
        assert post_from_line(post_line(post)) == post


def test_a_saved_case_is_replayed_under_the_format_it_ran_under(tmp_path: Path) -> None:
    for index, name in enumerate(NAMES):
        data = bytes([index + len(NAMES)]) + b"content of a crash"  # the byte picks modulo the formats
        path = save(tmp_path, data)
        assert path is not None and path.parent == tmp_path
        assert saved_case(path) == (name, b"content of a crash") == pick_format(data)
        assert save(tmp_path, data) is None  # saved once
    assert len(list(tmp_path.glob("*.bin"))) == len(FORMATS)


def test_a_crash_is_an_exception_other_than_parse_error() -> None:
    def broken(content: bytes, path: str, fmt: str) -> list[object]:
        raise KeyError(fmt)

    def refusing(content: bytes, path: str, fmt: str) -> list[object]:
        raise ParseError(path, "not a format feedwatch knows")

    found = crash(bytes([NAMES.index("tg-json")]) + b"{}", parse=broken)
    assert isinstance(found, KeyError) and found.args == ("tg-json",)
    assert crash(b"\x00{}", parse=refusing) is None
    assert crash(bytes([NAMES.index("jsonl")]) + b'{"text": "a post"}\n') is None  # the real parser


def test_the_fuzzer_instruments_every_parser_module() -> None:
    """The format modules are imported on first use; the harness must import them where atheris instruments."""
    pytest.importorskip("atheris")  # the fuzz extra
    import pkgutil
    import subprocess

    import feedwatch.parse

    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fuzz_parsers.py"), "1", "jsonl"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    instrumented = {
        line.removeprefix("INFO: Instrumenting ").strip()
        for line in done.stderr.splitlines()
        if line.startswith("INFO: Instrumenting ")
    }
    modules = {m.name for m in pkgutil.iter_modules(feedwatch.parse.__path__, "feedwatch.parse.")}
    assert len(modules) >= len(FORMATS)
    assert modules - instrumented == set(), done.stderr[-2000:]
    assert not any(name.startswith("telethon") for name in instrumented)  # only feedwatch's own code
