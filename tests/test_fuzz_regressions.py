"""Every input the fuzzer (scripts/fuzz) ever crashed a parser with now gives Posts or ParseError."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES

from feedwatch.errors import ParseError
from feedwatch.parse import FORMATS, parse_bytes

CASES = sorted((FIXTURES / "fuzz_crashes").glob("*.bin"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_fuzz_crash_input_is_handled(path: Path) -> None:
    # Saved as <format>-<hash>.bin; the first byte picked the format in the fuzzer, the rest is the input.
    fmt = next(name for name in sorted(FORMATS, key=len, reverse=True) if path.name.startswith(name + "-"))
    data = path.read_bytes()[1:]
    try:
        posts = list(parse_bytes(data, path.name, fmt))
    except ParseError as exc:
        assert exc.path == path.name
        return
    assert all(p.text is not None for p in posts)

