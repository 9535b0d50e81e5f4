"""The air service's alert tables: citizens' follows, their portal notifications, deliveries.

A follow belongs to a user and goes with them (``ON DELETE CASCADE``); a notification
outlives the follow that raised it (``follow_id`` is set null), so the inbox keeps its
history when a citizen unfollows. ``air_alert_delivery`` is the outbox of the webhook and
email adapters: the hourly job queues a row, the delivery job sends it (never a web
request), books every attempt and leaves a row that finally failed for operators.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Double, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime


class AirFollow(Base):
    """A user's follow of an area at a grade level, and where its alert state stands.

    ``pollutant`` is ``pm25``, ``pm10`` or ``overall``; ``level`` the Korean grade level
    (1 좋음 … 4 매우나쁨) at or above which the follow is raised. ``raised`` is true from
    the hour the area reached the level until it re-arms (see ``alerts``);
    ``below_hours`` counts graded hours below the level while raised; ``last_hour`` is the
    newest hour evaluated (older hours are never evaluated twice).
    """

    __tablename__ = "air_follow"
    __table_args__ = (Index("ix_air_follow_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    area_code: Mapped[str] = mapped_column(String(32))
    pollutant: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[bool] = mapped_column(Boolean, default=False)
    raised: Mapped[bool] = mapped_column(Boolean, default=False)
    raised_hour: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    below_hours: Mapped[int] = mapped_column(Integer, default=0)
    last_hour: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AirNotification(Base):
    """One alert in a user's portal inbox: the area reached the followed level at ``hour``.

    ``grade_pollutant`` and ``value`` are the pollutant and area mean (µg/m³) that
    reached it (for an ``overall`` follow, the worse of the two); ``grade_level`` and
    ``grade_key`` its Korean grade.
    """

    __tablename__ = "air_notification"
    __table_args__ = (Index("ix_air_notification_user_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    follow_id: Mapped[int | None] = mapped_column(ForeignKey("air_follow.id", ondelete="SET NULL"))
    area_code: Mapped[str] = mapped_column(String(32))
    pollutant: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)
    grade_pollutant: Mapped[str] = mapped_column(String(16))
    grade_level: Mapped[int] = mapped_column(Integer)
    grade_key: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Double)
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AirAlertDelivery(Base):
    """One notification to send through an adapter (``webhook`` or ``email``).

    ``status``: ``pending`` (due at ``due_at``), ``sent``, ``failed`` (gave up after the
    configured attempts; ``last_error`` says why), ``skipped`` (too old to be worth
    sending when first due) or ``cancelled`` (the follow was deleted before it was sent).
    ``payload`` is the JSON body of a webhook and the facts an email is written from.
    """

    __tablename__ = "air_alert_delivery"
    __table_args__ = (
        Index("ix_air_alert_delivery_status", "status", "due_at"),
        Index("ix_air_alert_delivery_notification_id", "notification_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("air_notification.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


ALERT_TABLES = ("air_alert_delivery", "air_notification", "air_follow")
