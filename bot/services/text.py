"""Text a person typed, checked for what no name, merchant or note should hold."""

from __future__ import annotations

import unicodedata

# Characters that reorder what follows them: a name could show as something other than it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\n\r\t")


def control_character_problem(text: str, what: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` cannot be used (a NUL, a control or direction character, half of a surrogate pair),
    in words for the field; None when it can. Line breaks and tabs pass where the field has several lines."""
    for char in text:
        if multiline and char in _LINE_BREAKS:
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cs") or char in _BIDI_CONTROLS:
            code = f"U+{ord(char):04X}"
            return f"{what} contains an invisible control character ({code}); please type it again without it."
    return None
