"""The fuzzer's cases, shared by scripts/fuzz_parsers.py and tests/test_fuzz_regressions.py.

An input's first byte picks the format (so one corpus exercises every parser); the rest is the content. A
crashing input is saved as <format>-<hash>.bin, whole, so the regression test replays it exactly as it ran.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from feedwatch.errors import ParseError
from feedwatch.parse import FORMATS, parse_bytes

NAMES = list(FORMATS)
CRASHES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "fuzz_crashes"


def pick_format(data: bytes) -> tuple[str, bytes]:
    """Return the format an input is for, and its content."""
    return (NAMES[data[0] % len(NAMES)] if data else NAMES[0]), data[1:]


def crash(data: bytes, parse: Callable[[bytes, str, str], Iterable[Any]] = parse_bytes) -> Exception | None:
    """Return the exception an input crashes its parser with (anything but ParseError), else None."""
    fmt, content = pick_format(data)
    try:
        for _ in parse(content, "fuzz-input", fmt):
            pass
    except ParseError:
        return None
    except Exception as exc:  # the crash is the finding
        return exc
    return None


def save(folder: Path, data: bytes) -> Path | None:
    """Save a crashing input in `folder` as `saved_case` reads it; None when it was saved before."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{pick_format(data)[0]}-{hashlib.sha256(data).hexdigest()[:16]}.bin"
    if path.exists():
        return None
    path.write_bytes(data)
    return path


def saved_case(path: Path) -> tuple[str, bytes]:
    """Return the format a saved case ran under and its content.

    The format comes from the name, not the first byte: a format added since would shift what the byte picks.
    """
    fmt = next(name for name in sorted(NAMES, key=len, reverse=True) if path.name.startswith(name + "-"))
    return fmt, path.read_bytes()[1:]
