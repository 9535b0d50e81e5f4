"""In-portal notifications: what a service tells a user (shown, and emailed in digests)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal, get_args

from sqlalchemy import ForeignKey, Index, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime

Digest = Literal["none", "daily", "weekly"]
DIGESTS: tuple[Digest, ...] = get_args(Digest)
DEFAULT_DIGEST: Digest = "daily"
MAX_LIST = 100


class Notification(Base):
    """One message to one user: unread until they open it, emailed at most once in a digest."""

    __tablename__ = "user_notification"
    __table_args__ = (Index("ix_user_notification_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(48))
    title: Mapped[str] = mapped_column(String(300))
    title_ko: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(512))  # a local path, e.g. /participation/...
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class NotificationPreference(Base):
    """How often a user wants their unread notifications emailed (no row: the default)."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(8), default=DEFAULT_DIGEST)
    # When the last digest went out: the next is due a period later (core/digest.py).
    digest_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def notify(
    session: Session,
    user_id: int,
    service: str,
    kind: str,
    title: str,
    *,
    title_ko: str | None = None,
    body: str | None = None,
    link: str | None = None,
) -> Notification:
    """Queue a notification for a user (committed with the caller's transaction)."""
    if link is not None and (not link.startswith("/") or link.startswith("//")):
        raise ValueError(f"a notification links to a local path, not {link!r}")
    note = Notification(
        user_id=user_id,
        service=service,
        kind=kind,
        title=title[:300],
        title_ko=title_ko[:300] if title_ko else None,
        body=body,
        link=link,
    )
    session.add(note)
    return note


def unread_count(session: Session, user_id: int) -> int:
    """Count a user's unread notifications (an index-only count)."""
    query = select(func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return int(session.scalar(query) or 0)


def list_notifications(
    session: Session, user_id: int, *, unread_only: bool = False, limit: int = 50, offset: int = 0
) -> list[Notification]:
    """Return a user's notifications: unread first, then newest first."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    # Unread (read_at NULL) first on both databases: order by "is read", then by time.
    query = query.order_by(
        Notification.read_at.is_not(None), Notification.created_at.desc(), Notification.id.desc()
    )
    return list(session.scalars(query.limit(min(max(limit, 1), MAX_LIST)).offset(max(offset, 0))))


def mark_read(
    session: Session, user_id: int, ids: Sequence[int], now: dt.datetime | None = None
) -> int | None:
    """Mark the user's notifications ``ids`` read; None (nothing changed) if one is not theirs."""
    wanted = set(ids)
    owned = set(
        session.scalars(
            select(Notification.id).where(
                Notification.id.in_(wanted), Notification.user_id == user_id
            )
        )
    )
    if owned != wanted:
        return None
    result = session.execute(
        update(Notification)
        .where(Notification.id.in_(wanted), Notification.read_at.is_(None))
        .values(read_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_all_read(session: Session, user_id: int, now: dt.datetime | None = None) -> int:
    """Mark every unread notification of the user read; return how many."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def digest_preference(session: Session, user_id: int) -> Digest:
    """Return how often the user wants digests (the default when they never chose)."""
    pref = session.get(NotificationPreference, user_id)
    value = pref.digest if pref is not None else DEFAULT_DIGEST
    for digest in DIGESTS:
        if value == digest:
            return digest
    return DEFAULT_DIGEST


def set_digest_preference(session: Session, user_id: int, digest: str) -> None:
    """Store how often the user wants digests ("none", "daily" or "weekly")."""
    if digest not in DIGESTS:
        raise ValueError(f"digest must be one of {', '.join(DIGESTS)}, not {digest!r}")
    pref = session.get(NotificationPreference, user_id)
    if pref is None:
        session.add(NotificationPreference(user_id=user_id, digest=digest))
    else:
        pref.digest = digest
