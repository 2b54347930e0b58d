"""HTML text laid out as a browser shows it: properties that hold for any markup text."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from feedwatch.parse.text import HtmlText

WORDS = st.text(alphabet=st.sampled_from("ab#щ\u00a0.,"), min_size=1, max_size=6)
SPACE = st.text(alphabet=st.sampled_from(" \t\n\r\f"), min_size=1, max_size=8)
# A piece of inline content: words and white space as a page holds them, or a <br>.
PIECES = st.lists(
    st.one_of(st.tuples(st.just("text"), st.lists(st.tuples(SPACE, WORDS), max_size=5), SPACE), st.just(("br",))),
    max_size=12,
)


def lay_out(pieces: list, respace: bool = False) -> str:  # type: ignore[type-arg]
    out = HtmlText()
    for piece in pieces:
        if piece[0] == "br":
            out.line_break()
            continue
        _, runs, tail = piece
        text = "".join((space * 3 + "\n      " if respace else space) + word for space, word in runs)
        out.add(text + (tail + "\n   " if respace else tail))
    return out.value()


@given(PIECES)
def test_reindenting_the_markup_changes_nothing(pieces: list) -> None:  # type: ignore[type-arg]
    assert lay_out(pieces, respace=True) == lay_out(pieces)


@given(PIECES)
def test_words_and_breaks_are_kept_and_white_space_is_single(pieces: list) -> None:  # type: ignore[type-arg]
    laid = lay_out(pieces)
    words = [word for piece in pieces if piece[0] == "text" for _, word in piece[1]]
    assert [word for word in re.split(r"[ \n]+", laid) if word] == words
    assert "".join(laid.split()) == "".join("".join(w.split()) for w in words)
    assert "  " not in laid and " \n" not in laid and "\n " not in laid and not laid.startswith(" ")
    assert laid.count("\n") <= sum(1 for piece in pieces if piece[0] == "br")


def test_preformatted_text_keeps_its_spaces_and_lines() -> None:
    out = HtmlText()
    out.add("  before  ")
    out.add_pre("  x = 1\n\ty = 2  ")
    out.add("  after")
    assert out.value() == "before   x = 1\n\ty = 2   after"
