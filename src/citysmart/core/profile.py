"""Pure checks of what people type into account forms: names, email addresses, languages."""

from __future__ import annotations

import re
import unicodedata

LOCALES = ("ko", "en")
MAX_DISPLAY_NAME = 128
MAX_EMAIL = 254
# A pragmatic address check: one @, a dotted domain, no spaces; the reset email proves it.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[^@\s]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$")


class ProfileError(ValueError):
    """A value a form cannot take, saying why."""


def plain_text(value: str, max_length: int) -> str:
    """Return text as stored: NFC, control characters dropped, spaces trimmed, length-limited."""
    text = unicodedata.normalize("NFC", value)
    text = "".join(c for c in text if c in "\t " or unicodedata.category(c)[0] != "C")
    return " ".join(text.split())[:max_length]


def clean_display_name(value: str) -> str:
    """Return a display name as stored, refusing an empty one."""
    name = plain_text(value, MAX_DISPLAY_NAME)
    if not name:
        raise ProfileError("the display name is empty")
    return name


def clean_email(value: str) -> str:
    """Return an email address as stored (trimmed, domain lower-cased) or refuse it."""
    address = value.strip()
    if len(address) > MAX_EMAIL or not _EMAIL.match(address):
        raise ProfileError(f"{address[:80]!r} is not an email address")
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def clean_locale(value: str) -> str:
    """Return a supported language code or refuse it."""
    if value not in LOCALES:
        raise ProfileError(f"language {value!r}: one of {', '.join(LOCALES)}")
    return value


def check_new_password(password: str, repeated: str) -> None:
    """Refuse a new password that is too short or was not typed the same twice."""
    if password != repeated:
        raise ProfileError("the two passwords differ")
    if len(password) < 8:
        raise ProfileError("a password needs at least 8 characters")
    if len(password) > 1024:
        raise ProfileError("a password may have at most 1024 characters")
