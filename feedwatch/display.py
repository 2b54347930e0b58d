"""Text from posts, files and servers made safe to show a person: the one home of that rule.

Post texts, channel names, tags and file names are attacker-controlled. On a
terminal, an escape sequence can retitle the window or rewrite what was
printed, a carriage return or a newline can forge a row of a table, and a
bidi override can make text read differently from what it is. So:

- `shown(text)` is what every human-readable output (tables, summaries,
  search hits, CSV, error lines) prints: those characters written as visible
  escapes (`\\x1b`, `\\r`, `\\n`, `\\u202e`); everything else unchanged.
- `strip_invisible(text)` drops the characters that hide or reorder text
  (bidi controls, zero-width characters, the Unicode tag block) from tags and
  labels in rendered digests.

Machine outputs (JSON, JSON Lines) stay exact and never pass through here.
"""

from __future__ import annotations

import re

# Bidi embeddings, overrides, isolates and marks: they reorder how the text around them reads.
BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Zero-width characters and the tag block (U+E0000-U+E007F, "ASCII smuggling"): invisible text.
ZERO_WIDTH = "\u180e\u200b-\u200d\u2060-\u2064\ufeff"
TAGS = "\U000e0000-\U000e007f"

# What a terminal must not receive raw: C0 and C1 controls, DEL, line/paragraph separators, bidi, tags, and lone
# surrogates (the bytes of a file name that is not UTF-8, as Python reads such names).
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI}{TAGS}\ud800-\udfff]")
_INVISIBLE = re.compile(f"[{BIDI}{ZERO_WIDTH}{TAGS}]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def shown(text: object) -> str:
    """Return `text` for a person's screen: control, bidi and tag characters as visible escapes."""
    value = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub(_escape, value)


def strip_invisible(text: str) -> str:
    """Return `text` without bidi controls, zero-width characters and tag characters."""
    return _INVISIBLE.sub("", text)
