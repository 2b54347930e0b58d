"""Shared test fixtures: paths, golden files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_FORMATS = ROOT.parent / "shared" / "formats"
if not SHARED_FORMATS.is_dir():  # a worktree or clone elsewhere: look beside /work/main too
    SHARED_FORMATS = Path("/work/shared/formats")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", help="rewrite golden files from current output")


@pytest.fixture
def in_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from the repository root, so paths in outputs are repository-relative."""
    monkeypatch.chdir(ROOT)
    return ROOT


@pytest.fixture
def golden(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Compare JSON Lines output with a golden file (or rewrite it with --regen-golden)."""
    regen = request.config.getoption("--regen-golden")

    def check(objects: list[dict], expected: Path) -> None:
        text = "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in objects)
        if regen or not expected.exists():
            if not regen:
                pytest.fail(f"no golden file {expected.relative_to(ROOT)}; run scripts/test --regen-golden")
            expected.parent.mkdir(parents=True, exist_ok=True)
            expected.write_text(text, encoding="utf-8")
        want = [json.loads(line) for line in expected.read_text(encoding="utf-8").splitlines()]
        assert objects == want

    return check
