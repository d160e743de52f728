"""People's words kept with evidence (notes, reasons, case titles): checked once here.

Control characters are refused rather than dropped (a NUL cannot even be stored in
PostgreSQL, and a silently altered note is not what its author wrote); line breaks and
tabs are kept where a text may have lines.
"""

from __future__ import annotations

import unicodedata

from bodycam.server.custody.errors import CustodyError

__all__ = ["checked_text"]


def checked_text(text: str, what: str, limit: int, *, lines: bool = True) -> str:
    """`text` stripped; CustodyError naming the problem and the fix otherwise."""
    text = text.strip()
    if not text:
        raise CustodyError(f"the {what} is empty. Fix: write what it is about")
    if len(text) > limit:
        raise CustodyError(f"the {what} is {len(text)} characters long; at most {limit} "
                           f"are kept. Fix: shorten it{' or split it in two' if lines else ''}")
    allowed = "\n\t" if lines else ""
    for position, char in enumerate(text):
        if unicodedata.category(char) in ("Cc", "Cs") and char not in allowed:
            raise CustodyError(f"the {what} holds a control character ({ord(char):#04x}) "
                               f"at position {position}. Fix: remove it"
                               + ("" if lines else " (this text is one line)"))
    return text
