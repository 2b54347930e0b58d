"""Tag identity: NFKC, case folding, confusable skeleton; raw spellings kept; the seeds' MFA tag."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedwatch.campaigns import spellings, tag_display, tag_identity
from feedwatch.campaigns.identity import display_spelling
from feedwatch.parse import expand, parse_path
from feedwatch.store import Store

ROOT = Path(__file__).resolve().parents[1]
MFA = "UNCharterIsOurRules"


@pytest.mark.parametrize(
    "spelling",
    [
        "UNCharterIsOurRules",
        "UnCharterIsOurRules",
        "#uncharterisourrules",
        "UNCharterlsOurRules",  # lower-case L for the capital I, as in press copies
        "UNCharter1sOurRules",  # digit one
        "UNCharterIsОurRules",  # Cyrillic capital O
        "UNСharterIsOurRulеs",  # Cyrillic capital Es and small ie
        "ＵＮＣｈａｒｔｅｒＩｓＯｕｒＲｕｌｅｓ",  # fullwidth: NFKC
        "𝐔𝐍CharterIsOurRules",  # mathematical bold: NFKC
        "UNCharter\u200bIsOurRules",  # a zero-width space
        "UΝCharterΙsOurRules",  # Greek capital Nu and Iota
    ],
)
def test_look_alike_spellings_are_one_tag(spelling: str) -> None:
    assert tag_identity(spelling) == tag_identity(MFA)


@pytest.mark.parametrize("other", ["UNCharterIsTheirRules", "UNCharter", "НашиПравилаУставООН", "UNCharterIsOurRule"])
def test_different_tags_stay_apart(other: str) -> None:
    assert tag_identity(other) != tag_identity(MFA)


def test_cyrillic_tags_keep_their_case_insensitive_identity() -> None:
    assert tag_identity("НашиПравилаУставООН") == tag_identity("нашиправилауставоон")
    assert tag_identity("Україна") == tag_identity("УКРАЇНА")


@given(st.text(min_size=1, max_size=30))
def test_identity_is_idempotent_and_case_blind(text: str) -> None:
    key = tag_identity(text)
    assert tag_identity(key) == key
    assert tag_identity(text.upper()) == tag_identity(text.lower()) or not text.isascii()


def test_display_spelling_is_the_most_used_then_the_first() -> None:
    assert display_spelling({"UnCharterIsOurRules": 1, "UNCharterIsOurRules": 6}) == "UNCharterIsOurRules"
    assert display_spelling({"Brics": 2, "BRICS": 2}) == "Brics"


def test_seeds_mfa_posts_carry_one_tag_in_two_spellings(tmp_path: Path) -> None:
    posts = [p for path in expand([str(ROOT / "seeds")]) for p in parse_path(path) if p.source.format == "dump"]
    assert len(posts) == 7
    keys = {tag_identity(t) for p in posts for t in p.hashtags if tag_identity(t) == tag_identity(MFA)}
    raw = {t for p in posts for t in p.hashtags if tag_identity(t) == tag_identity(MFA)}
    assert len(keys) == 1 and raw == {"UNCharterIsOurRules", "UnCharterIsOurRules"}
    assert all(any(tag_identity(t) == tag_identity(MFA) for t in p.hashtags) for p in posts)
    # Through the store's ingest with detection: every spelling is counted, the undated post too.
    from feedwatch.campaigns import IngestHook

    with Store.open(tmp_path / "seeds.db") as store:
        hook = IngestHook()
        for path in expand([str(ROOT / "seeds")]):
            store.ingest(parse_path(path), path, on_new=hook)
        found = spellings(store.db, [tag_identity(MFA)])[tag_identity(MFA)]
        assert found == {"UNCharterIsOurRules": 6, "UnCharterIsOurRules": 1}
        assert tag_display(store.db, "uncharterisourrules") == "UNCharterIsOurRules"
