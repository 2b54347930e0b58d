"""Compressed inputs: gzip, bzip2 and xz read as the file inside, streamed, for every format; bombs refused."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import shutil
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT

import feedwatch.parse as parse_module
from feedwatch.errors import ParseError
from feedwatch.parse import Options, expand, parse_path, parse_stream

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
}
# One input of each format feedwatch detects.
INPUTS = [
    ROOT / "seeds" / "004_01d4050f5de082cc.txt",  # dump
    FIXTURES / "text" / "statement_us.txt",
    FIXTURES / "tg_json" / "channel.json",
    FIXTURES / "tme" / "forwards_entities.html",
    FIXTURES / "tg_html" / "channel" / "messages.html",
]


def rows(path: Path | str, fmt: str = "auto") -> list[dict[str, object]]:
    """The posts of an input as JSON objects, without the path they came from."""
    out = []
    for post in parse_path(str(path), fmt, Options()):
        row = post.to_json()
        row["source"] = {**row["source"], "path": None}
        out.append(row)
    return out


@pytest.mark.parametrize("suffix", COMPRESSORS)
@pytest.mark.parametrize("plain", INPUTS, ids=[p.name for p in INPUTS])
def test_a_compressed_file_gives_the_posts_of_the_file_inside(tmp_path: Path, plain: Path, suffix: str) -> None:
    packed = tmp_path / (plain.name + suffix)
    packed.write_bytes(COMPRESSORS[suffix](plain.read_bytes()))
    expected = rows(plain)
    assert expected and rows(packed) == expected


def test_compressed_stdin_and_forced_format(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = INPUTS[0]
    data = gzip.compress(plain.read_bytes())
    posts = list(parse_stream(io.BytesIO(data), "-", "dump"))
    assert [p.text for p in posts] == [p.text for p in parse_path(str(plain))]


def test_a_folder_of_compressed_files_and_an_export_of_compressed_pages(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    for plain, suffix in zip(INPUTS[:4], [".gz", ".bz2", ".xz", ".gz"], strict=True):
        (drop / (plain.name + suffix)).write_bytes(COMPRESSORS[suffix](plain.read_bytes()))
    (drop / "ignored.bin.gz").write_bytes(gzip.compress(b"not an input by its name"))
    found = sorted(Path(p).name for p in expand([str(drop)]))
    assert len(found) == 4 and "ignored.bin.gz" not in found
    export = tmp_path / "export"
    shutil.copytree(FIXTURES / "tg_html" / "channel", export)
    for page in export.glob("messages*.html"):
        page.with_name(page.name + ".xz").write_bytes(lzma.compress(page.read_bytes()))
        page.unlink()
    assert list(expand([str(tmp_path / "export")])) == [str(export)]
    assert rows(export) == rows(FIXTURES / "tg_html" / "channel")


@pytest.mark.parametrize(
    ("suffix", "says"),
    [(".gz", "the gzip data is cut off"), (".xz", "the xz data is cut off"), (".bz2", "the bzip2 data is cut off")],
)
def test_cut_off_compressed_data_is_one_parse_error(tmp_path: Path, suffix: str, says: str) -> None:
    data = COMPRESSORS[suffix]((FIXTURES / "tg_json" / "channel.json").read_bytes())
    cut = tmp_path / ("channel.json" + suffix)
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ParseError, match=says) as caught:
        rows(cut)
    assert str(cut) in str(caught.value) and "\n" not in str(caught.value)


def test_damaged_compressed_data_is_one_parse_error(tmp_path: Path) -> None:
    data = bytearray(gzip.compress((FIXTURES / "tg_json" / "channel.json").read_bytes()))
    data[40:60] = b"\xff" * 20
    bad = tmp_path / "channel.json.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ParseError, match=r"not valid gzip data|the gzip data is cut off"):
        rows(bad)


def _bomb(line: bytes, megabytes: int) -> bytes:
    """Gzip data that inflates to `megabytes` MB of `line` repeated."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    block = line * (2**20 // len(line))
    return b"".join([*(packer.compress(block) for _ in range(megabytes)), packer.flush()])


def test_a_decompression_bomb_is_refused_in_bounded_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_module, "INFLATION_ALLOWANCE", 4 * 2**20)
    data = _bomb(b"Forwarded from X\nhello #tag\n", 64)  # 64 MB inside about 60 KB
    tracemalloc.start()
    try:
        with pytest.raises(ParseError, match="inflates more than 100-fold"):
            for _ in parse_stream(io.BytesIO(data), "bomb.txt.gz"):
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


@pytest.mark.parametrize("fmt", ["auto", "dump", "jsonl", "tg-json", "tme-html", "desktop-paste", "statement"])
def test_sniffing_and_reading_a_bomb_of_one_endless_line_stay_bounded(fmt: str) -> None:
    data = _bomb(b"a", 48)
    tracemalloc.start()
    try:
        with pytest.raises(ParseError) as caught:
            for _ in parse_stream(io.BytesIO(data), "line.gz", fmt):
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "binary" not in str(caught.value)  # the data inside was read, not the compressed bytes
    assert peak < 160 * 2**20  # the one longest line a line reader holds, not the 48 MB inflated and more
