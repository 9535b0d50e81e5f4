"""NGSI-LD tables of their own: subscriptions and the notification outbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime


class SubscriptionRow(Base):
    """A subscription, kept expanded in ``body``, with the status the broker maintains."""

    __tablename__ = "subscription"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The @context the subscription was made with: notifications are compacted with it.
    context: Mapped[Any] = mapped_column(JSON, nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    times_sent: Mapped[int] = mapped_column(Integer, default=0)
    times_failed: Mapped[int] = mapped_column(Integer, default=0)
    last_notification: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_success: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_failure: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class NotificationRow(Base):
    """A notification waiting to be sent (the outbox), or the record of one that failed."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("subscription.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, failed
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)
