"""The census file and its keyed digests (pure: no database).

A census row is a resident's name, birth date (YYYY-MM-DD) and Sejong eup/myeon/dong code.
Only an HMAC-SHA256 of the normalised triple is stored, keyed with a key derived from the
site's secret key: the table cannot be read back into personal data, and without the key
nobody can test guesses against it. Changing ``CITYSMART_SECRET_KEY`` therefore voids
the imported census (import it again).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

COLUMNS = ("name", "birth_date", "address_code")
MAX_NAME = 128


class CensusError(ValueError):
    """A census file that cannot be imported: the line and the reason."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line, self.reason = line, reason


def normalise_name(name: str) -> str:
    """Return a name as compared: NFC, case-folded, whitespace collapsed to single spaces."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def parse_birth_date(value: str) -> dt.date:
    """Return a YYYY-MM-DD birth date or raise ValueError saying why."""
    try:
        date = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"birth date {value.strip()[:20]!r} is not YYYY-MM-DD") from None
    if len(value.strip()) != 10 or not dt.date(1900, 1, 1) <= date:
        raise ValueError(f"birth date {value.strip()[:20]!r} is not YYYY-MM-DD after 1900")
    return date


def census_key(secret_key: str) -> bytes:
    """Derive the census HMAC key from the site's secret key (not the key itself)."""
    return hmac.new(secret_key.encode(), b"citysmart census digest v1", hashlib.sha256).digest()


def person_digest(key: bytes, name: str, birth_date: dt.date, address_code: str) -> str:
    """Return the hex HMAC of a normalised (name, birth date, area code)."""
    message = "\x1f".join((normalise_name(name), birth_date.isoformat(), address_code.strip()))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class CensusRow:
    """One parsed row: its line number and digest."""

    line: int
    digest: str


def parse_census(text: str, key: bytes, area_codes: Collection[str]) -> list[CensusRow]:
    """Parse a census CSV into digests, all or nothing (a :class:`CensusError` names the line).

    The header must hold ``name``, ``birth_date`` and ``address_code`` (other columns are
    ignored). A person listed twice is refused, so a file mistake is found, not half-kept.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CensusError(0, "the file is empty") from None
    except csv.Error as exc:
        raise CensusError(1, f"not CSV: {exc}") from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise CensusError(1, f"the header lacks {', '.join(missing)} (needs {', '.join(COLUMNS)})")
    index = {c: header.index(c) for c in COLUMNS}
    rows: list[CensusRow] = []
    seen: dict[str, int] = {}
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) < len(header):
                raise CensusError(line, f"{len(values)} fields, the header has {len(header)}")
            name = values[index["name"]]
            code = values[index["address_code"]].strip()
            if not normalise_name(name):
                raise CensusError(line, "the name is empty")
            if len(name) > MAX_NAME:
                raise CensusError(line, f"the name is longer than {MAX_NAME} characters")
            try:
                birth = parse_birth_date(values[index["birth_date"]])
            except ValueError as exc:
                raise CensusError(line, str(exc)) from None
            if code not in area_codes:
                raise CensusError(
                    line, f"address code {code[:20]!r} is not a Sejong eup/myeon/dong"
                )
            digest = person_digest(key, name, birth, code)
            if digest in seen:
                raise CensusError(line, f"the same person as line {seen[digest]}")
            seen[digest] = line
            rows.append(CensusRow(line, digest))
    except csv.Error as exc:
        raise CensusError(reader.line_num, f"not CSV: {exc}") from None
    if not rows:
        raise CensusError(0, "the file has no residents")
    return rows
