"""Citizens' and operators' text as stored: NFC, no control characters, length-limited."""

from __future__ import annotations

import re
import unicodedata

# Control characters but tab and newline (and carriage return, folded into newline).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(value: str | None, limit: int, *, field: str, required: bool = True) -> str:
    """Return ``value`` normalised (NFC, controls stripped, trimmed); refuse empty or too long."""
    text = unicodedata.normalize("NFC", (value or "").replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text).strip()
    if required and not text:
        raise ValueError(f"{field} is empty")
    if len(text) > limit:
        raise ValueError(f"{field} is {len(text)} characters long; at most {limit}")
    return text
