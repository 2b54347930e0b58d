"""Every text fixture and seed parses to exactly its reviewed golden output."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT

from feedwatch.parse import parse_path

INPUTS = sorted((FIXTURES / "text").glob("*.txt")) + sorted((ROOT / "seeds").glob("*.txt"))


def _expected(path: Path) -> Path:
    if path.parent.name == "seeds":
        return ROOT / "tests" / "golden" / "seeds" / (path.stem + ".expected.jsonl")
    return path.with_suffix(".expected.jsonl")


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_golden(path: Path, in_root: Path, golden) -> None:  # type: ignore[no-untyped-def]
    posts = list(parse_path(str(path.relative_to(ROOT))))
    golden(_expected(path), [p.to_json() for p in posts])
