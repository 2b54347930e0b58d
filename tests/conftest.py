"""Shared test options: `--regen-golden` rewrites golden files instead of comparing with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
_ROOT = Path(__file__).resolve().parents[1]
# The real samples (../shared/formats beside the project); tests that read them skip when absent.
SHARED_FORMATS = next(
    (p for p in (_ROOT.parent / "shared" / "formats", _ROOT.parent.parent / "shared" / "formats") if p.is_dir()),
    _ROOT.parent / "shared" / "formats",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", help="rewrite golden files from the current output")


@pytest.fixture
def golden(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Compare a JSON-able value with a golden file (or rewrite the file under --regen-golden)."""
    regen = request.config.getoption("--regen-golden")

    def check(path: Path, actual: Any) -> None:
        text = json.dumps(actual, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        if regen or not path.exists():
            path.write_text(text, encoding="utf-8")
            if not regen:
                pytest.fail(f"{path.name} did not exist; written, review it and run again")
        assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text)

    return check
