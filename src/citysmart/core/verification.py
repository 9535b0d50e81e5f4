"""Residence verification: the census (stored as keyed digests) and one-time codes.

A citizen becomes a verified resident (``User.verified_at``, role citizen -> resident) by
matching an unused census record (name, birth date, eup/myeon/dong; see ``core.census``)
or by entering a code an admin issued. Each census record and each code verifies at most
one account: both are claimed with one conditional UPDATE, so two accounts racing for the
same record cannot both win. Every success and failure goes to the audit log, without the
personal data typed in.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from citysmart.core import audit
from citysmart.core.accounts import AccountError, get_user, mark_verified
from citysmart.core.admin_areas import load_admin_areas
from citysmart.core.census import census_key, parse_birth_date, parse_census, person_digest
from citysmart.core.models import CensusRecord, User, VerificationCode
from citysmart.core.security import digest_secret
from citysmart.core.time import utcnow

# No 0/O, 1/I/L: codes are read off paper and typed on phones.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12  # ~59 bits, and attempts are rate-limited
MAX_CODE_DAYS = 365
NO_MATCH = "no unused census record matches this name, birth date and area"
BAD_CODE = "this code is unknown, used, expired or issued for another account"


class VerificationError(AccountError):
    """A verification attempt that failed, saying why (without personal data)."""


def area_codes() -> frozenset[str]:
    """Return Sejong's eup/myeon/dong codes, the census's valid address codes."""
    return frozenset(area.code for area in load_admin_areas())


@dataclass(frozen=True)
class CensusImport:
    """What an import did: records added, and records already stored (skipped)."""

    added: int
    known: int


def import_census(
    session: Session,
    text: str,
    secret_key: str,
    actor: str,
    codes: Collection[str] | None = None,
) -> CensusImport:
    """Import a census CSV, all or nothing (a ``CensusError`` names the bad line)."""
    rows = parse_census(text, census_key(secret_key), area_codes() if codes is None else codes)
    digests = [row.digest for row in rows]
    known: set[str] = set()
    for start in range(0, len(digests), 500):
        chunk = digests[start : start + 500]
        known.update(
            session.scalars(select(CensusRecord.digest).where(CensusRecord.digest.in_(chunk)))
        )
    now = utcnow()
    new = [d for d in digests if d not in known]
    session.add_all(CensusRecord(digest=d, imported_at=now) for d in new)
    audit.record(session, actor, "census.imported", None, added=len(new), known=len(known))
    return CensusImport(len(new), len(known))


def census_size(session: Session) -> tuple[int, int]:
    """Return how many census records are stored and how many verified an account."""
    records = session.scalars(select(CensusRecord.user_id)).all()
    return len(records), sum(1 for user_id in records if user_id is not None)


def _unverified(session: Session, username: str) -> User:
    user = get_user(session, username)
    if user.verified_at is not None:
        raise VerificationError("this account is already a verified resident")
    return user


def verify_by_census(
    session: Session,
    username: str,
    name: str,
    birth_date: str,
    address_code: str,
    secret_key: str,
    ip: str | None = None,
) -> User:
    """Verify an account against the census; raise :class:`VerificationError` on no match."""
    user = _unverified(session, username)
    try:
        birth = parse_birth_date(birth_date)
    except ValueError as exc:
        raise VerificationError(str(exc)) from exc
    digest = person_digest(census_key(secret_key), name[:200], birth, address_code[:20])
    now = utcnow()
    claimed = session.execute(
        update(CensusRecord)
        .where(CensusRecord.digest == digest, CensusRecord.user_id.is_(None))
        .values(user_id=user.id, used_at=now)
        .returning(CensusRecord.id)
    ).first()
    if claimed is None:
        audit.record(session, username, "verification.failed", username, ip, method="census")
        raise VerificationError(NO_MATCH)
    return mark_verified(session, username, "census", actor=username)


def normalise_code(code: str) -> str:
    """Return a code as compared: upper case, without spaces and hyphens."""
    return "".join(c for c in code.upper() if c not in " -\t")


def format_code(code: str) -> str:
    """Return a code as shown: groups of four (``ABCD-EFGH-JKMN``)."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def issue_code(
    session: Session,
    actor: str,
    for_username: str | None = None,
    days: int = 30,
    now: dt.datetime | None = None,
) -> tuple[str, VerificationCode]:
    """Issue a one-time code (returned once, stored as its digest), optionally for one account."""
    if not 1 <= days <= MAX_CODE_DAYS:
        raise AccountError(f"a code lives 1 to {MAX_CODE_DAYS} days (got {days})")
    for_user = get_user(session, for_username) if for_username else None
    now = now or utcnow()
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    row = VerificationCode(
        code_hash=digest_secret(code),
        prefix=code[:4],
        created_by=actor[:128],
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
        for_user_id=for_user.id if for_user else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor, "verification.code_issued", for_username, prefix=row.prefix, days=days
    )
    return format_code(code), row


def verify_by_code(session: Session, username: str, code: str, ip: str | None = None) -> User:
    """Verify an account with a one-time code; raise :class:`VerificationError` if it fails."""
    user = _unverified(session, username)
    typed = normalise_code(code)[:64]
    now = utcnow()
    claimed = (
        session.execute(
            update(VerificationCode)
            .where(
                VerificationCode.code_hash == digest_secret(typed),
                VerificationCode.used_at.is_(None),
                VerificationCode.expires_at > now,
                (VerificationCode.for_user_id.is_(None))
                | (VerificationCode.for_user_id == user.id),
            )
            .values(used_at=now, used_by_id=user.id)
            .returning(VerificationCode.prefix)
        ).first()
        if typed
        else None
    )
    if claimed is None:
        audit.record(session, username, "verification.failed", username, ip, method="code")
        raise VerificationError(BAD_CODE)
    return mark_verified(session, username, "code", actor=username)


def open_codes(session: Session, now: dt.datetime | None = None) -> list[VerificationCode]:
    """Return the unused, unexpired codes, newest first (their prefixes, for admins)."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(VerificationCode)
            .where(VerificationCode.used_at.is_(None), VerificationCode.expires_at > now)
            .order_by(VerificationCode.created_at.desc(), VerificationCode.id.desc())
            .limit(200)
        )
    )
