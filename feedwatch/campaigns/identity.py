"""Tag identity: which spellings of a hashtag are one tag.

`tag_identity(raw)` is NFKC, then case folding, then a confusable skeleton in
the spirit of Unicode TR39: letters that look alike in hashtags are mapped to
one Latin letter, so #UNCharterIsOurRules, #UnCharterIsOurRules,
#UNCharterlsOurRules (lower-case L for the capital I) and a spelling with
Cyrillic о/а/е/р/с are one tag. The mapping runs after case folding, so it
must give one answer for both cases of a letter: capital I folds to i, and the
lower-case l that imitates it is mapped to i too.

The price of a skeleton is that a few distinct tags collide (#lit and #iit;
a Russian word written only with Latin-looking letters, such as #сор, and the
Latin #cop). In hashtag streams that is far rarer than the spoofs it merges,
and the raw spellings are always kept for display.

The table below is written here from the look of the glyphs (Unicode's
confusables data lists the same pairs); only single characters are mapped
(no "rn" -> "m"), so ordinary words are not rewritten.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Look-alikes of Latin letters, after case folding: each target is the Latin
# letter that the character (or its capital) is read as.
_LOOKALIKES = {
    "i": "lıɩǀ1ιіӏ",  # l and I-likes (dotless i, iota, Ukrainian i, palochka), digit one
    "o": "0οоօ",  # digit zero, Greek omicron, Cyrillic o, Armenian o
    "a": "аα",
    "b": "вβ",  # Cyrillic ve (capital В), Greek beta (capital Β)
    "c": "сϲ",
    "d": "ԁ",
    "e": "еεё",  # Cyrillic ie/io, Greek epsilon (capital Ε)
    "h": "нһη",  # Cyrillic en (capital Н), shha, Greek eta (capital Η)
    "j": "јϳ",
    "k": "кκ",
    "m": "мμ",  # capital М, Greek mu (capital Μ)
    "n": "ν",  # Greek nu: its capital Ν is read as N
    "p": "рρ",
    "q": "ԛ",
    "s": "ѕ",
    "t": "тτ",
    "w": "ԝѡ",
    "x": "хχ",
    "y": "уγυү",  # Cyrillic u (capital У), Greek upsilon (capital Υ)
    "z": "ζ",  # capital Ζ
}
_TABLE: dict[int, str | None] = {ord(ch): target for target, chars in _LOOKALIKES.items() for ch in chars}
# Characters that change nothing a reader sees: zero-width spaces and joiners, soft hyphen, BOM.
_TABLE.update({ord(ch): None for ch in "\u200b\u200c\u200d\u2060\u00ad\ufeff"})


@lru_cache(maxsize=65536)
def tag_identity(raw: str) -> str:
    """Return the identity of a hashtag spelling: NFKC, case-folded, no '#', confusables merged."""
    folded = unicodedata.normalize("NFKC", raw.lstrip("#")).casefold()
    return folded.translate(_TABLE)


def display_spelling(spellings: dict[str, int]) -> str:
    """Return the spelling to show for a tag: the most used one, the first seen on a tie."""
    best = ""
    best_uses = -1
    for spelling, uses in spellings.items():  # dicts keep first-seen order
        if uses > best_uses:
            best, best_uses = spelling, uses
    return best
