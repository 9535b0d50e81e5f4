"""In-portal notifications: what a service tells a user (shown, and emailed in digests)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime


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
