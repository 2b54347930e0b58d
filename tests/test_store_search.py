"""Search through the library: ranking window, filters, snippets."""

from __future__ import annotations

import pytest
from store_support import post

from feedwatch.errors import StoreError
from feedwatch.store import Store, queries


@pytest.fixture
def store(store_target: str) -> Store:
    opened = Store.open(store_target)
    opened.ingest(
        [
            post(f"grain deal news {'grain ' * n}number {n}", channel="old" if n < 3 else "new", message_id=n)
            for n in range(1, 7)
        ],
        "x",
    )
    yield opened
    opened.close()


def test_relevance_ranks_the_latest_window_of_matches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ranked = store.search("grain")
    assert [h.post.message_id for h in ranked] == [6, 5, 4, 3, 2, 1]  # more 'grain', better bm25
    monkeypatch.setattr(queries, "RANK_WINDOW", 2)
    assert [h.post.message_id for h in store.search("grain")] == [6, 5]
    # The window is taken after the filters, so older posts a filter asks for are still found.
    assert [h.post.message_id for h in store.search("grain", channel="old")] == [2, 1]
    assert [h.post.message_id for h in store.search("grain", sort="recent", limit=3)] == [6, 5, 4]


def test_snippets_mark_the_matches(store: Store) -> None:
    [hit] = store.search("number 1", marks=("<", ">"))  # both words: FTS5's and websearch's syntax alike
    assert "<number> <1>" in hit.snippet and hit.link == "https://t.me/old/1"
    with pytest.raises(StoreError, match="sort must be one of"):
        store.search("grain", sort="sideways")


QUERIES = [None, "Lavrov", "multipolar*", "UN AND Charter", "Lavrov NOT Guterres", '"Sergey Lavrov"', "nosuchword"]


def test_the_count_of_matches_is_what_search_finds_without_a_limit(store_target: str) -> None:
    """The same queries (FTS5's syntax, which PostgreSQL's search reads too) find the same posts on both backends."""
    from datetime import UTC, datetime

    from store_support import SEEDS

    from feedwatch.parse import parse_path

    with Store.open(store_target) as seeded:
        for seed in sorted(SEEDS.iterdir()):
            seeded.ingest(parse_path(str(seed)), str(seed))
        for query in QUERIES:
            for hashtag in (None, "UNCharterIsOurRules", "uncharterisourrules", "NoSuchTag"):
                for since in (None, "2021-01-01"):
                    when = datetime.fromisoformat(since).replace(tzinfo=UTC) if since else None
                    filters = {"hashtag": hashtag, "since": when}
                    found = seeded.search(query, limit=1000, **filters)
                    assert seeded.count_matches(query, **filters) == len(found)
                    expected = 0 if hashtag == "NoSuchTag" else EXPECTED[query][hashtag is not None][bool(since)]
                    assert len(found) == expected, (query, hashtag, since)


# Seed posts each query finds: [no tag filter, the seeds' tag][any date, published since 2021].
EXPECTED: dict[str | None, list[list[int]]] = {
    None: [[8, 1], [7, 0]],
    "Lavrov": [[7, 1], [6, 0]],
    "multipolar*": [[4, 0], [4, 0]],
    "UN AND Charter": [[7, 1], [6, 0]],
    "Lavrov NOT Guterres": [[5, 0], [5, 0]],
    '"Sergey Lavrov"': [[7, 1], [6, 0]],
    "nosuchword": [[0, 0], [0, 0]],
}
