"""Following items and telling their followers what changed."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from citysmart.core.notifications import notify
from citysmart.services.participation.models_process import Follow

SERVICE_NAME = "participation"


def follow(session: Session, user_id: int, target_type: str, target_id: int) -> None:
    """Follow an item (doing it twice changes nothing)."""
    if session.get(Follow, (user_id, target_type, target_id)) is None:
        session.add(Follow(user_id=user_id, target_type=target_type, target_id=target_id))
        session.flush()


def unfollow(session: Session, user_id: int, target_type: str, target_id: int) -> None:
    """Stop following an item."""
    session.execute(
        delete(Follow).where(
            Follow.user_id == user_id,
            Follow.target_type == target_type,
            Follow.target_id == target_id,
        )
    )


def is_following(session: Session, user_id: int, target_type: str, target_id: int) -> bool:
    """Whether a user follows an item."""
    return session.get(Follow, (user_id, target_type, target_id)) is not None


def followers(session: Session, target_type: str, target_id: int) -> list[int]:
    """Return the users who follow an item."""
    rows = session.scalars(
        select(Follow.user_id).where(
            Follow.target_type == target_type, Follow.target_id == target_id
        )
    )
    return sorted(rows)


def notify_followers(
    session: Session,
    target_type: str,
    target_id: int,
    kind: str,
    title: str,
    *,
    title_ko: str | None = None,
    link: str | None = None,
    skip_user: int | None = None,
) -> int:
    """Notify every follower of an item but ``skip_user`` (who caused it); return how many."""
    sent = 0
    for user_id in followers(session, target_type, target_id):
        if user_id == skip_user:
            continue
        notify(session, user_id, SERVICE_NAME, kind, title, title_ko=title_ko, link=link)
        sent += 1
    return sent
