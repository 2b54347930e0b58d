"""Saved t.me/s pages: parse throughput against the naive scraper baseline, on the same ~4 MB file.

The baseline is what the popular scrapers do: build a full BeautifulSoup tree
with Python's html.parser and read every message's text. The input is the two
real captures in ../shared/formats pasted together and repeated (or, without
them, the project's own fixture pages), so both sides read real markup.
"""

from __future__ import annotations

from pathlib import Path

from common import Figure, best_of

ROOT = Path(__file__).resolve().parents[2]
SIZE = 4 * 1024 * 1024


def _pages() -> list[Path]:
    for shared in (ROOT.parent / "shared" / "formats", ROOT.parent.parent / "shared" / "formats"):
        real = [shared / "tme_s_durov.html", shared / "tme_s_tginfouk.html"]
        if all(p.exists() for p in real):
            return real
    fixtures = ROOT / "tests" / "fixtures" / "tme"
    return [p for p in sorted(fixtures.glob("*.html")) if p.stem not in ("drifted", "landing_no_preview")]


def make_pages(path: Path, size: int = SIZE) -> tuple[int, str]:
    """Write the sample pages one after another until `size`; return the size and where they came from."""
    pages = [p.read_bytes() for p in _pages()]
    written = 0
    with path.open("wb") as out:
        while written < size:
            for page in pages:
                out.write(page)
                written += len(page)
    return written, str(_pages()[0].parent)


def run(workdir: Path) -> list[Figure]:
    path = workdir / "pages.html"
    size, _ = make_pages(path)
    size_mb = size / 1e6

    def naive() -> None:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for div in soup.select("div.tgme_widget_message_text"):
            div.get_text()

    def parse() -> None:
        from feedwatch.parse import parse_path

        for _ in parse_path(str(path), "tme-html"):
            pass

    naive_s = best_of(2, naive)
    parse_s = best_of(3, parse)
    mbps = size_mb / parse_s
    ratio = naive_s / parse_s
    return [
        Figure(
            "t.me/s parse throughput",
            mbps,
            "MB/s",
            size_mb / naive_s,
            "bs4 html.parser tree + texts",
            ">= 10x baseline",
            ratio >= 10,
        ),
    ]
