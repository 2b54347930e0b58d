"""Every format, forced or detected, on hostile input: Posts or a ParseError naming the input, never another
exception, never a hang (a 120 s alarm guards each parse; it is a hang detector, not a speed test)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, SHARED_FORMATS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedwatch.errors import ParseError
from feedwatch.models import Post
from feedwatch.parse import FORMATS, parse_bytes

FORMAT_NAMES = ["auto", *FORMATS]
MB = 1 << 20


def _samples() -> list[bytes]:
    paths = [
        *ROOT.joinpath("seeds").glob("*.txt"),
        *FIXTURES.rglob("*.txt"),
        *FIXTURES.rglob("*.html"),
        *FIXTURES.rglob("*.json"),
    ]
    if SHARED_FORMATS.is_dir():
        paths += [p for p in SHARED_FORMATS.rglob("*") if p.suffix in (".html", ".json")]
    return [p.read_bytes()[: 2 * MB] for p in sorted(paths) if p.is_file() and p.stat().st_size]


SAMPLES = _samples()


@contextmanager
def no_hang(seconds: int = 120) -> Iterator[None]:
    def stop(*_: object) -> None:
        raise TimeoutError(f"a parse ran past {seconds} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def posts_or_parse_error(data: bytes, fmt: str) -> list[Post] | ParseError:
    with no_hang():
        try:
            return list(parse_bytes(data, "hostile-input", fmt))
        except ParseError as exc:
            assert exc.path == "hostile-input"
            return exc


def mutate(data: bytes, cuts: list[tuple[int, int]], flips: list[tuple[int, int]], copies: int) -> bytes:
    """Grow a real sample towards 1 MB, flip some bytes, and cut small slices out of it (inside markup, too)."""
    data = (data * max(1, min(copies, MB // max(1, len(data)))))[:MB]
    out = bytearray(data)
    for position, value in flips:
        if out:
            out[position % len(out)] = value
    for cut, length in cuts:
        if out:
            point = cut % len(out)
            del out[point : point + length]
    return bytes(out)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    sample=st.sampled_from(range(len(SAMPLES))),
    fmt=st.sampled_from(FORMAT_NAMES),
    cuts=st.lists(st.tuples(st.integers(0, MB), st.integers(1, 300)), max_size=3),
    flips=st.lists(st.tuples(st.integers(0, MB), st.integers(0, 255)), max_size=4),
    copies=st.one_of(st.integers(1, 3), st.integers(4, 400)),
)
def test_mutated_real_samples_up_to_1_mb(
    sample: int, fmt: str, cuts: list[tuple[int, int]], flips: list[tuple[int, int]], copies: int
) -> None:
    result = posts_or_parse_error(mutate(SAMPLES[sample], cuts, flips, copies), fmt)
    assert isinstance(result, (list, ParseError))


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_deeply_nested_html(fmt: str) -> None:
    widget = '<div class="tgme_widget_message" data-post="x/1"><div class="tgme_widget_message_text">hi #tag</div>'
    data = ("<html><body>" + "<div><span>" * 50_000 + widget + "</span></div>" * 50_000).encode()
    assert isinstance(posts_or_parse_error(data, fmt), (list, ParseError))


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_an_enormous_line(fmt: str) -> None:
    data = b"Forwarded from X\n" + b"#tag word " * (600_000) + b"\n"  # one 6 MB line
    assert isinstance(posts_or_parse_error(data, fmt), (list, ParseError))


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_mixed_encodings_name_the_byte(fmt: str) -> None:
    data = (
        "Forwarded from МИД России\n".encode()
        + "Заявление #ООН\n".encode("cp1251")
        + "Déclaration\n".encode("latin-1")
        + '{"kind": "post"}\n'.encode("utf-16")
    )
    result = posts_or_parse_error(data, fmt)
    if isinstance(result, ParseError):
        assert "hostile-input" in str(result)


@pytest.mark.parametrize("fmt", ["auto", "tg-json", "jsonl"])
def test_json_with_invalid_escapes_everywhere(fmt: str) -> None:
    message = '{"id": 1, "type": "message", "date_unixtime": "1700000000", "text": "a\\x0Bb\\q\\u12 \\x"}'
    data = ("[" + ", ".join([message] * 2000) + "]").encode()
    assert isinstance(posts_or_parse_error(data, fmt), (list, ParseError))


def test_the_samples_are_here() -> None:
    assert len(SAMPLES) >= 10
    assert Path(ROOT / "seeds").is_dir()
