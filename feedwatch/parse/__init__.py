"""Parsers: pure functions from an input's bytes to Posts, one module per format.

`parse_path()` is the way in: it expands folders, detects each file's format
from its first bytes (or takes the one forced), and yields Posts or raises
ParseError naming the file and the place. Every format's posts pass through
`feedwatch.parse.structure.finish()`.

Every input is opened here (`open_input`, `decompressed`): a gzip, bzip2 or xz
file, known by its first bytes, is read as the file inside, streamed through
the stdlib's decompressors in bounded reads, so a format parser never sees
the compression and a small file that inflates to gigabytes costs no more
memory than the same data uncompressed.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import importlib
import io
import lzma
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from types import ModuleType
from typing import IO, BinaryIO, Protocol, cast

from feedwatch.errors import ParseError
from feedwatch.models import Post

SNIFF_BYTES = 64 * 1024
_CHUNK = 1024 * 1024
MAX_TEXT_CHARS = 5_000_000  # inputs read whole (statements): far beyond any real one
# A line of a line-based input (a JSON Lines post, a pasted line) is far shorter; a longer
# one is not held in memory.
MAX_LINE_CHARS = 16 * 2**20
# Extensions read when a folder is given; anything else in a folder is not an input.
INPUT_SUFFIXES = {".txt", ".text", ".json", ".jsonl", ".ndjson", ".html", ".htm"}
# A compressed input is known by its first bytes; these suffixes let a folder walk take it.
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")


@dataclass(frozen=True)
class Options:
    encoding: str | None = None  # text formats: the input's encoding (default UTF-8, BOM or not)
    tz: tzinfo = UTC  # times written without a zone (older Desktop exports, copied Desktop text): their zone
    notes: list[str] = field(default_factory=list)  # things a parser wants the user told once
    problems: list[ParseError] = field(default_factory=list)  # parts of an input skipped (the rest was read)


@dataclass(frozen=True)
class Format:
    name: str
    module: str  # feedwatch.parse.<module>, imported when first needed
    reader: str  # "lines": the module has parse_lines(lines, path); "stream": parse(stream, path, options)
    folder: bool = False  # the format's input can be a whole folder (an export)


# Detection order: the most specific signatures first.
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("jsonl", "jsonl", "stream"),
        Format("tg-json", "tg_json", "stream"),
        Format("tg-html", "tg_html", "stream", folder=True),
        Format("tme-html", "tme_html", "stream"),
        Format("desktop-paste", "desktop_paste", "stream"),
        Format("statement", "statement", "text"),
        Format("dump", "dump", "lines"),
    )
}


def format_names() -> list[str]:
    return list(FORMATS)


def _module(fmt: Format) -> ModuleType:
    return importlib.import_module(f"feedwatch.parse.{fmt.module}")


def detect(head: bytes, path: str, is_dir: bool = False) -> Format:
    """Return the format of an input from its first bytes; raise ParseError when none fits."""
    if is_dir:
        for fmt in FORMATS.values():
            if fmt.folder and _module(fmt).sniff_folder(Path(path)):
                return fmt
        raise ParseError(path, "a folder with no export in it", hint="Give the files inside it instead")
    if b"\x00" in head[:8192]:
        raise ParseError(path, "binary data, not a known format", hint="Is this the right file?")
    text = head.decode("utf-8-sig", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    for fmt in FORMATS.values():
        if _module(fmt).sniff(text):
            return fmt
    names = "|".join(FORMATS)
    raise ParseError(path, "not a format feedwatch knows", hint=f"Force one with --format {names}")


def _open(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise ParseError(path, "no such file", hint="Check the path") from None
    except IsADirectoryError:
        raise ParseError(path, "is a folder", hint="Give the files inside it instead") from None
    except OSError as exc:
        raise ParseError(path, f"cannot be read ({exc.strerror})") from None


def open_input(path: str) -> BinaryIO:
    """Return a file opened for reading, decompressed when it is gzip, bzip2 or xz; '-' is stdin."""
    raw = _open(path)
    try:
        return decompressed(raw, path)
    except BaseException:
        if raw is not sys.stdin.buffer:
            raw.close()
        raise


def input_name(name: str) -> str:
    """Return a file name without its compression suffix ("a.json.gz" -> "a.json")."""
    stem, suffix = os.path.splitext(name)
    return stem if suffix.lower() in COMPRESSED_SUFFIXES else name


def is_input_name(name: str) -> bool:
    """True when a file in a folder is an input by its name (compressed or not)."""
    return os.path.splitext(input_name(name))[1].lower() in INPUT_SUFFIXES


# Compressed formats: the bytes every such stream starts with. bzip2 writes "BZh", the block
# size digit, then the block magic.
_GZIP, _XZ, _BZIP2 = b"\x1f\x8b\x08", b"\xfd7zXZ\x00", (b"BZh", b"1AY&SY")
_DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)
# Real exports and pages shrink 6 to 26-fold; data that inflates far more, beyond a first
# allowance, is a decompression bomb, refused before it costs the time of reading it.
MAX_INFLATION = 100
INFLATION_ALLOWANCE = 8 * 2**20


def decompressed(stream: BinaryIO, path: str) -> BinaryIO:
    """Return `stream` as the data inside it when it is gzip, bzip2 or xz; else `stream` unchanged.

    Reads are passed through in the sizes asked for, so memory stays bounded by
    the reader's chunk size however far the data inflates.
    """
    magic = stream.read(10)
    counted = _Counting(Replay(magic, stream))
    inner: _Reader
    if magic.startswith(_GZIP):
        name, inner = "gzip", gzip.GzipFile(fileobj=counted, mode="rb")
    elif magic.startswith(_XZ):
        # LZMAFile reads any object with read(); its stub asks for a whole IO[bytes].
        name, inner = "xz", lzma.LZMAFile(cast(IO[bytes], counted))  # noqa: SIM115
    elif magic[:3] == _BZIP2[0] and magic[3:4].isdigit() and magic[4:10] == _BZIP2[1]:
        name, inner = "bzip2", bz2.BZ2File(counted)
    else:
        return Replay(magic, stream)  # type: ignore[return-value]
    return _Decompressing(inner, counted, stream, path, name)  # type: ignore[return-value]


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class _Counting:
    """A stream that counts the bytes read from it."""

    def __init__(self, stream: Replay):
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, /) -> int:
        raise io.UnsupportedOperation("seek")


class _Decompressing:
    """The data inside a compressed stream; a damaged, cut-off or bomb-like stream is a ParseError."""

    def __init__(self, inner: _Reader, counted: _Counting, raw: BinaryIO, path: str, name: str):
        self._inner = inner
        self._counted = counted
        self._raw = raw
        self._path = path
        self._name = name
        self._out = 0

    def read(self, size: int = -1) -> bytes:
        """Read like a file: up to `size` bytes of the data inside."""
        try:
            data = self._inner.read(size)
        except EOFError:
            raise ParseError(self._path, f"the {self._name} data is cut off", hint="Give the whole file") from None
        except _DECOMPRESS_ERRORS as exc:
            raise ParseError(self._path, f"not valid {self._name} data ({exc})", hint="Is the file complete?") from None
        self._out += len(data)
        if self._out > INFLATION_ALLOWANCE and self._out > MAX_INFLATION * self._counted.count:
            raise ParseError(
                self._path,
                f"the {self._name} data inflates more than {MAX_INFLATION}-fold, unlike any real export",
                place=f"{self._out:,} bytes in",
                hint="If it is genuine, decompress it first and give the result",
            )
        return data

    def close(self) -> None:
        self._inner.close()
        if self._raw is not sys.stdin.buffer:
            self._raw.close()


def read_lines(stream: BinaryIO, path: str, encoding: str | None, first: bytes = b"") -> Iterator[str]:
    """Yield the decoded lines of a byte stream, without line ends; ParseError names the byte.

    Reads in 1 MiB chunks, so memory holds a chunk and the line being read.
    """
    try:
        decoder = codecs.getincrementaldecoder(encoding or "utf-8-sig")()
    except LookupError:
        raise ParseError(path, f"unknown encoding {encoding!r}", hint="Try --encoding cp1251") from None
    wide = (encoding or "").lower().replace("-", "").startswith(("utf16", "utf32"))
    offset, number, pending = 0, 1, ""
    chunk = first or stream.read(_CHUNK)
    while True:
        final = not chunk
        if not wide and offset < SNIFF_BYTES and b"\x00" in chunk[:8192]:
            raise ParseError(path, "binary data, not text", place=f"line {number}", hint="Is this the right file?")
        try:
            text = pending + decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            where = f"byte 0x{exc.object[exc.start]:02x} at offset {offset + exc.start}"
            hint = "Try another --encoding" if encoding else "Try --encoding cp1251"
            line = number + exc.object[: exc.start].count(b"\n")
            raise ParseError(path, f"not {encoding or 'UTF-8'} ({where})", place=f"line {line}", hint=hint) from None
        offset += len(chunk)
        if len(text) > MAX_LINE_CHARS and len(text) - text.rfind("\n") > MAX_LINE_CHARS:
            raise ParseError(
                path,
                f"a line longer than {MAX_LINE_CHARS:,} characters",
                place=f"line {number}",
                hint="Is this the right file or --format?",
            )
        if text.endswith("\r") and not final:
            text, held = text[:-1], "\r"  # may be the first half of a CRLF split across chunks
        else:
            held = ""
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        pending = lines.pop() + held
        number += len(lines)
        yield from lines
        if final:
            break
        chunk = stream.read(_CHUNK)
    if pending:
        yield pending


def _parse_stream(fmt: Format, stream: BinaryIO, path: str, head: bytes, options: Options) -> Iterator[Post]:
    module = _module(fmt)
    if fmt.reader == "stream":
        yield from module.parse(Replay(head, stream), path, options)
        return
    lines = read_lines(stream, path, options.encoding, first=head)
    if fmt.reader == "lines":
        yield from module.parse_lines(lines, path)
    else:
        yield from module.parse_text("\n".join(_capped(lines, path)), path)


def _capped(lines: Iterable[str], path: str) -> Iterator[str]:
    """Yield lines until MAX_TEXT_CHARS; a longer whole-text input is a ParseError, not a memory hog."""
    size = 0
    for number, line in enumerate(lines, 1):
        size += len(line) + 1
        if size > MAX_TEXT_CHARS:
            raise ParseError(
                path,
                f"longer than {MAX_TEXT_CHARS:,} characters",
                place=f"line {number}",
                hint="Is this the right file or --format?",
            )
        yield line


class Replay:
    """A read-only stream that gives back bytes already read (a sniffed head) before the rest."""

    def __init__(self, head: bytes, stream: _Reader):
        self._head = head
        self._stream = stream

    def close(self) -> None:
        if self._stream is not sys.stdin.buffer:
            self._stream.close()

    def read(self, size: int = -1) -> bytes:
        """Read like a file: up to `size` bytes (all when negative), short only at the end."""
        if not self._head:
            return self._stream.read(size)
        if size < 0 or size > len(self._head):
            rest = self._stream.read(-1 if size < 0 else size - len(self._head))
            data, self._head = self._head + rest, b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        return data


def parse_path(path: str, fmt: str = "auto", options: Options | None = None) -> Iterator[Post]:
    """Yield the Posts of one input (a file, '-' for stdin, or an export folder)."""
    options = options or Options()
    if fmt != "auto" and fmt not in FORMATS:
        raise ParseError(path, f"unknown format {fmt!r}", hint=f"Use one of: auto, {', '.join(FORMATS)}")
    if path != "-" and os.path.isdir(path):
        chosen = FORMATS[fmt] if fmt != "auto" else detect(b"", path, is_dir=True)
        if not chosen.folder:
            hint = "Give the files inside it instead"
            raise ParseError(path, f"is a folder, and {chosen.name} reads files", hint=hint)
        yield from _module(chosen).parse_folder(Path(path), options)
        return
    stream = open_input(path)
    try:
        yield from _parse_open(stream, path, fmt, options)
    finally:
        stream.close()


def parse_stream(stream: BinaryIO, path: str, fmt: str = "auto", options: Options | None = None) -> Iterator[Post]:
    """Yield the Posts of an open binary stream (compressed or not); `path` names it in errors and Post.source."""
    return _parse_open(decompressed(stream, path), path, fmt, options)


def _parse_open(stream: BinaryIO, path: str, fmt: str, options: Options | None) -> Iterator[Post]:
    options = options or Options()
    head = stream.read(SNIFF_BYTES)
    if not head.strip():
        raise ParseError(path, "is empty")
    chosen = FORMATS[fmt] if fmt != "auto" else detect(head, path)
    yield from _parse_stream(chosen, stream, path, head, options)


def parse_bytes(data: bytes, path: str, fmt: str = "auto", options: Options | None = None) -> Iterator[Post]:
    """Yield the Posts of an input held in memory (a fetched page, a fuzzer's input)."""
    return parse_stream(io.BytesIO(data), path, fmt, options)


def expand(paths: Iterable[str]) -> Iterator[str]:
    """Yield the inputs named by `paths`: files as given, folders walked in name order.

    A folder that holds an export (a format that reads folders) is one input.
    Nothing leads out of a folder: links to folders are not followed, and a
    link to a file is read only when the file itself lies inside the folder.
    """
    for path in paths:
        if path == "-" or not os.path.isdir(path):
            yield path
            continue
        yield from _walk(Path(path), Path(path).resolve())


def _walk(folder: Path, root: Path) -> Iterator[str]:
    if any(fmt.folder and _module(fmt).sniff_folder(folder) for fmt in FORMATS.values()):
        yield str(folder)
        return
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            try:
                target = entry.resolve(strict=True)
            except FileNotFoundError:
                continue  # a dangling link: nothing to read
            except (OSError, RuntimeError):
                yield str(entry)  # a link loop: reading it says so in one line, and the walk goes on
                continue
            if not target.is_relative_to(root):
                continue
        if entry.is_dir() and not entry.is_symlink():
            yield from _walk(entry, root)
        elif entry.is_file() and is_input_name(entry.name):
            yield str(entry)
