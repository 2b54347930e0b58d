"""Shared test options: `--regen-golden` rewrites the golden files beside the fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", help="Rewrite golden files from the current output.")


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))


def _formats_dir() -> Path | None:
    root = Path(__file__).resolve().parents[1]
    for candidate in (root.parent / "shared" / "formats", root.parents[1] / "shared" / "formats",
                      Path("/work/shared/formats")):
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture
def formats_dir() -> Path:
    """The real format samples (../shared/formats/); the test is skipped where they are not."""
    found = _formats_dir()
    if found is None:
        pytest.skip("the real samples in ../shared/formats/ are not here")
    return found
