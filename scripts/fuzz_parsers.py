"""Fuzz every feedwatch parser with atheris; save each crashing input as a regression case.

A crash is any exception other than ParseError: every parser must return Posts
or raise ParseError on any input. The first byte of an input picks the format
(so one corpus exercises all of them); the rest is the file's content.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from feedwatch.errors import ParseError
    from feedwatch.parse import FORMATS, parse_bytes

ROOT = Path(__file__).resolve().parents[1]
CRASHES = ROOT / "tests" / "fixtures" / "fuzz_crashes"
CORPUS_SOURCES = [ROOT / "seeds", ROOT / "tests" / "fixtures", ROOT.parent / "shared" / "formats"]
MAX_SEED = 256 * 1024
found: list[Path] = []


def pick_format(data: bytes, names: list[str]) -> tuple[str, bytes]:
    """The format an input is for, and the content: shared with the regression test."""
    return names[data[0] % len(names)] if data else names[0], data[1:]


def one_input(data: bytes, names: list[str]) -> None:
    fmt, content = pick_format(data, names)
    try:
        for _ in parse_bytes(content, "fuzz-input", fmt):
            pass
    except ParseError:
        pass
    except Exception as exc:  # recording the crash is the point
        CRASHES.mkdir(parents=True, exist_ok=True)
        path = CRASHES / f"{fmt}-{hashlib.sha256(data).hexdigest()[:16]}.bin"
        if not path.exists():
            path.write_bytes(data)
            found.append(path)
            print(f"\ncrash in {fmt}: {type(exc).__name__}: {exc} -> {path.relative_to(ROOT)}", flush=True)


def seed_corpus(folder: Path, names: list[str], only: str | None) -> None:
    """Write the real samples and fixtures, each tagged with its format byte, as the first corpus."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in CORPUS_SOURCES:
        if not source.is_dir():
            continue
        for path in source.rglob("*"):
            if path.is_file() and path.suffix in (".txt", ".json", ".jsonl", ".html") and path.stat().st_size:
                data = path.read_bytes()[:MAX_SEED]
                for i, name in enumerate(names):
                    if only in (None, name):
                        (folder / f"{name}-{path.name}").write_bytes(bytes([i]) + data)


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    only = sys.argv[2] if len(sys.argv) > 2 else None
    names = list(FORMATS)
    if only and only not in names:
        raise SystemExit(f"unknown format {only!r}; one of {', '.join(names)}")
    corpus = ROOT / ".fuzz-corpus"
    seed_corpus(corpus, names, only)
    selected = [only] if only else names

    def test_one(data: bytes) -> None:
        if only:
            data = bytes([names.index(only)]) + data[1:]
        one_input(data, names)

    print(f"fuzzing {', '.join(selected)} for {seconds} s; corpus in {corpus.relative_to(ROOT)}", flush=True)
    flags = [f"-max_total_time={seconds}", "-max_len=1048576", "-timeout=30", "-rss_limit_mb=4096"]
    atheris.Setup([sys.argv[0], str(corpus), *flags], test_one)
    atheris.Fuzz()  # exits the process when the time is up; crashes were printed as found


if __name__ == "__main__":
    main()
