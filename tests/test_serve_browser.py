"""`feedwatch serve` in a real headless Chromium: search, a campaign, a post's history, a screenshot.

Debian's chromium (/usr/bin/chromium, installed by .ci/run) driven by Playwright. Without it the test is
skipped with the reason locally; under CI (CI=true) a missing browser fails instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browse_support import VIEWS, WORD, Served, make_store, serving

CHROMIUM = os.environ.get("FEEDWATCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Served, Path]]:
    missing = _missing()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the browser test cannot run in CI: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("browser")
    store = make_store(folder / "store.db")
    with serving(store) as served, sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            tab = browser.new_page(viewport={"width": 1200, "height": 900})
            tab.set_default_timeout(60_000)
            yield tab, served, folder
        finally:
            browser.close()


def test_search_a_word_and_see_the_post_highlighted(page: tuple[Any, Served, Path]) -> None:
    tab, served, _ = page
    tab.goto(served.url + "/feedwatch/search")
    tab.fill("input[name=q]", WORD)
    tab.click("input[type=submit]")
    tab.wait_for_url("**q=" + WORD + "**")
    marks = tab.locator("td.col-snippet mark")
    assert marks.count() == 1 and marks.first.inner_text() == WORD
    assert tab.locator("td.col-post a").first.inner_text() == "delta_news/900"


def test_open_a_campaign_from_the_canned_query(page: tuple[Any, Served, Path]) -> None:
    tab, served, _ = page
    tab.goto(served.url + "/feedwatch")
    tab.get_by_role("link", name="New campaigns", exact=True).click()
    tab.wait_for_url("**/feedwatch/new_campaigns")
    assert tab.locator("td.col-tier").first.inner_text() == "T2"
    tab.locator("td.col-campaign a").first.click()
    tab.wait_for_url("**/feedwatch/campaign_alerts/1")
    evidence = tab.locator("td.col-evidence pre").inner_text()
    assert '"threshold": 0.001' in evidence and "delta_news" in evidence
    assert tab.locator("td.col-alerted_at time").inner_text().endswith("UTC")


def test_open_a_post_history_with_two_versions_and_three_view_counts(page: tuple[Any, Served, Path]) -> None:
    tab, served, folder = page
    tab.goto(served.url + f"/feedwatch/search?q={WORD}")
    tab.locator("td.col-post a").first.click()
    tab.wait_for_url("**/feedwatch/post_history?post=delta_news/900")
    kinds = tab.locator("td.col-what").all_inner_texts()
    assert [k.strip() for k in kinds] == ["text", "text (current)", "counters", "counters", "counters"]
    views = [v.strip() for v in tab.locator("td.col-views").all_inner_texts() if v.strip()]
    assert views == [str(v) for v in VIEWS]
    bars = tab.locator("figure.fw-chart svg rect")
    assert bars.count() == 3 and bars.nth(2).get_attribute("data-value") == str(VIEWS[2])
    shot = folder / "post_history.png"
    tab.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
