"""Fuzz every feedwatch parser with atheris; save each crashing input as a regression case.

A crash is any exception other than ParseError: every parser must return Posts
or raise ParseError on any input. The first byte of an input picks the format
(so one corpus exercises all of them); the rest is the file's content (scripts/fuzz_cases.py).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import atheris

# Only feedwatch's own code is instrumented: its dependencies (Telethon's types and what they import, the
# stdlib's pure-Python modules) would add edges the parsers never steer, and slow every run.
with atheris.instrument_imports(include=["feedwatch"]):
    import feedwatch.parse

    # parse_bytes imports a format's module only when an input first needs it, after this block: without
    # importing every module of the package here, the parsers themselves would run uninstrumented.
    PARSER_MODULES = [
        importlib.import_module(m.name) for m in pkgutil.iter_modules(feedwatch.parse.__path__, "feedwatch.parse.")
    ]

from fuzz_cases import CRASHES, NAMES, crash, pick_format, save  # after the block: feedwatch is instrumented by now

ROOT = Path(__file__).resolve().parents[1]
CORPUS_SOURCES = [ROOT / "seeds", ROOT / "tests" / "fixtures", ROOT.parent / "shared" / "formats"]
MAX_SEED = 256 * 1024
found: list[Path] = []


def one_input(data: bytes) -> None:
    exc = crash(data)
    if exc is not None:
        path = save(CRASHES, data)
        if path is not None:
            found.append(path)
            print(
                f"\ncrash in {pick_format(data)[0]}: {type(exc).__name__}: {exc} -> {path.relative_to(ROOT)}",
                flush=True,
            )


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
    names = NAMES
    if only and only not in names:
        raise SystemExit(f"unknown format {only!r}; one of {', '.join(names)}")
    corpus = ROOT / ".fuzz-corpus"
    seed_corpus(corpus, names, only)
    selected = [only] if only else names

    def test_one(data: bytes) -> None:
        if only:
            data = bytes([names.index(only)]) + data[1:]
        one_input(data)

    print(f"fuzzing {', '.join(selected)} for {seconds} s; corpus in {corpus.relative_to(ROOT)}", flush=True)
    flags = [f"-max_total_time={seconds}", "-max_len=1048576", "-timeout=30", "-rss_limit_mb=4096"]
    atheris.Setup([sys.argv[0], str(corpus), *flags], test_one)
    atheris.Fuzz()  # exits the process when the time is up; crashes were printed as found


if __name__ == "__main__":
    main()
