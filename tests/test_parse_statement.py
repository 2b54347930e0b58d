"""Statements: date line, title, speaker, paragraphs."""

from __future__ import annotations

import pytest
from conftest import FIXTURES, ROOT

from feedwatch.errors import ParseError
from feedwatch.parse import parse_path
from feedwatch.parse.statement import parse_text


def test_seed_statement() -> None:
    (post,) = parse_path(str(ROOT / "seeds" / "000_bc5f4b5de1e8430e.txt"))
    assert post.kind == "statement"
    assert post.date.isoformat() == "2021-05-14T00:00:00+00:00"
    assert post.approximate == ("date",)
    assert post.author == "António Guterres"
    assert (
        post.title == "Opening remarks at press encounter with Foreign Minister Sergey Lavrov of the Russian Federation"
    )
    assert post.text.endswith("Spasibo bolshoi!")
    assert post.text.count("\n\n") == 23  # 24 blocks: title, speaker, 22 paragraphs


def test_weekday_us_date_speaker_and_dateline() -> None:
    (post,) = parse_path(str(FIXTURES / "text" / "statement_us.txt"))
    assert post.date.date().isoformat() == "2024-03-26"
    assert post.author == "Spokesperson"
    assert [(d.place, d.date.isoformat()) for d in post.datelines] == [("New York", "2024-03-26")]
    assert post.hashtags == ("Ceasefire",)


def test_a_second_block_that_is_a_sentence_is_not_a_speaker() -> None:
    (post,) = parse_text("1 June 2022\n\nTitle here\n\nThis is the first paragraph.\n\nAnd more.", "s.txt")
    assert post.author is None
    assert post.title == "Title here"


@pytest.mark.parametrize("text", ["no date here\n\nTitle", "14 May 2021\n"])
def test_malformed_statement_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError) as info:
        list(parse_text(text, "s.txt"))
    assert str(info.value).startswith("s.txt: line 1: ")
