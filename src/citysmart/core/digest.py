"""The notification digest: one email per user with their unread notifications not yet sent.

A core job (``core_jobs`` in citysmart.core.jobs) runs hourly; a user is due when their
last digest is a period old (a day or a week, their preference; daily by default) and
they have unread notifications never emailed. Each is sent once: the digest marks them
emailed in the same transaction that records the send, so a failed send changes nothing
and is tried again next hour.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from citysmart.core.config import Settings
from citysmart.core.mail import EmailBackend, compose, email_backend
from citysmart.core.models import User
from citysmart.core.notifications import (
    DEFAULT_DIGEST,
    Notification,
    NotificationPreference,
)
from citysmart.core.time import utcnow

logger = logging.getLogger(__name__)

DIGEST_JOB_EVERY_S = 3600.0
# A period minus an hour: a job that runs hourly keeps the same hour day after day
# instead of drifting later by a run each time.
PERIODS = {"daily": dt.timedelta(hours=23), "weekly": dt.timedelta(days=7, hours=-1)}
MAX_ITEMS = 50  # listed in one digest; the rest are counted and wait on the portal


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One notification as a digest lists it."""

    title: str
    title_ko: str | None
    body: str | None
    link: str | None


def is_due(digest: str, last_sent: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a user with this preference, last sent a digest at ``last_sent``, gets one now."""
    period = PERIODS.get(digest)
    if period is None:  # "none": digests are off
        return False
    return last_sent is None or now - last_sent >= period


def absolute(link: str | None, public_url: str) -> str | None:
    """Turn a local path into a link a mail reader can open (the path alone without a URL)."""
    if not link:
        return None
    return public_url.rstrip("/") + link if public_url else link


def digest_text(
    items: Sequence[DigestItem], more: int, public_url: str, korean_first: bool
) -> tuple[str, str]:
    """Return the digest's subject and plain-text body, in Korean and English."""
    total = len(items) + more
    subject_en = f"{total} new notification{'s' if total != 1 else ''}"
    subject_ko = f"새 알림 {total}건"
    subject = "citysmart Sejong: " + (
        f"{subject_ko} / {subject_en}" if korean_first else f"{subject_en} / {subject_ko}"
    )
    lines = []
    for item in items:
        first, second = (
            (item.title_ko or item.title, item.title if item.title_ko else None)
            if korean_first
            else (item.title, item.title_ko)
        )
        lines.append(f"- {first}")
        if second:
            lines.append(f"  {second}")
        if item.body:
            lines.append(f"  {item.body[:500]}")
        if item.link:
            lines.append(f"  {absolute(item.link, public_url)}")
    if more:
        lines.append(f"- ... {more} more / 외 {more}건")
    page = absolute("/notifications", public_url)
    intro_en = "You have unread notifications on citysmart Sejong:"
    intro_ko = "세종 시티스마트에 읽지 않은 알림이 있습니다:"
    outro_en = f"All your notifications, and how often this email comes: {page}"
    outro_ko = f"모든 알림과 이 메일을 받는 주기 설정: {page}"
    intro = [intro_ko, intro_en] if korean_first else [intro_en, intro_ko]
    outro = [outro_ko, outro_en] if korean_first else [outro_en, outro_ko]
    return subject, "\n".join([*intro, "", *lines, "", *outro]) + "\n"


def send_digests(
    sessions: sessionmaker[Session],
    settings: Settings,
    backend: EmailBackend | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Email every due user one digest of their new notifications; return how many were sent."""
    now = now or utcnow()
    backend = backend or email_backend(settings)
    with sessions() as session:
        candidates = list(
            session.execute(
                select(
                    User.id, NotificationPreference.digest, NotificationPreference.digest_sent_at
                )
                .outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
                .where(
                    User.is_active.is_(True),
                    User.email.is_not(None),
                    User.email != "",
                    select(Notification.id)
                    .where(
                        Notification.user_id == User.id,
                        Notification.read_at.is_(None),
                        Notification.emailed_at.is_(None),
                    )
                    .exists(),
                )
                .order_by(User.id)
            )
        )
    sent = 0
    for user_id, digest, last_sent in candidates:
        if not is_due(digest or DEFAULT_DIGEST, last_sent, now):
            continue
        try:
            if _send_one(sessions, settings, backend, user_id, now):
                sent += 1
        except Exception:  # one bad address or a mail server hiccup must not stop the others
            logger.exception("digest for user %s not sent; tried again next run", user_id)
    return sent


def _send_one(
    sessions: sessionmaker[Session],
    settings: Settings,
    backend: EmailBackend,
    user_id: int,
    now: dt.datetime,
) -> bool:
    """Send one user's digest and mark its notifications emailed, all or nothing."""
    with sessions.begin() as session:
        user = session.get(User, user_id)
        if user is None or not user.email:
            return False
        notes = list(
            session.scalars(
                select(Notification)
                .where(
                    Notification.user_id == user_id,
                    Notification.read_at.is_(None),
                    Notification.emailed_at.is_(None),
                )
                .order_by(Notification.created_at.desc(), Notification.id.desc())
                .with_for_update()
            )
        )
        if not notes:
            return False
        items = [DigestItem(n.title, n.title_ko, n.body, n.link) for n in notes[:MAX_ITEMS]]
        subject, text = digest_text(
            items, len(notes) - len(items), settings.public_url, user.locale == "ko"
        )
        session.execute(
            update(Notification)
            .where(Notification.id.in_([n.id for n in notes]))
            .values(emailed_at=now)
        )
        pref = session.get(NotificationPreference, user_id)
        if pref is None:
            session.add(
                NotificationPreference(user_id=user_id, digest=DEFAULT_DIGEST, digest_sent_at=now)
            )
        else:
            pref.digest_sent_at = now
        session.flush()
        # Sent last, inside the transaction: a failed send rolls the marks back.
        backend.send(compose(user.email, subject, text, settings.email_from, now))
    return True


def run_digest_job(context: Any) -> None:
    """Job entry point: ``context`` is the hub runtime (its sessions and settings)."""
    count = send_digests(context.sessions, context.settings)
    if count:
        logger.info("notification digests sent: %d", count)
