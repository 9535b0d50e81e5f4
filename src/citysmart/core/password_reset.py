"""Password reset by email: single-use links whose random token is stored only as a digest.

``request_reset`` sends every active account with the given address a link
``<base>/password/reset?token=<token>``; the token is 256 random bits, kept as its
SHA-256 digest, valid for :data:`RESET_TTL` and used once. Setting a new password through
it voids the account's other reset links too. The caller answers the same whether or not
an account exists (the page says "if an account uses this address, we sent a link").
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import quote

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from citysmart.core import audit
from citysmart.core.accounts import AccountError
from citysmart.core.mail import EmailBackend, compose
from citysmart.core.models import PasswordResetToken, User
from citysmart.core.security import digest_secret, hash_password, new_secret
from citysmart.core.time import utcnow

logger = logging.getLogger(__name__)

RESET_TTL = dt.timedelta(hours=1)
RESET_PATH = "/password/reset"
INVALID_LINK = "this reset link is invalid, used or expired: ask for a new one"


def reset_link(base_url: str, token: str) -> str:
    """Return the link a reset email carries."""
    return f"{base_url.rstrip('/')}{RESET_PATH}?token={quote(token)}"


def _text(user: User, link: str) -> tuple[str, str]:
    """Return the subject and text of a reset email, the user's language first."""
    ko = (
        f"{user.username}님, 비밀번호 재설정을 요청하셨습니다. 아래 링크는 1시간 동안 한 번만 "
        f"쓸 수 있습니다.\n{link}\n요청하지 않으셨다면 이 메일을 무시하세요."
    )
    en = (
        f"Someone (you, we hope) asked to reset the password of {user.username}. The link "
        f"works once, for one hour:\n{link}\nIf it was not you, ignore this email; your "
        "password stays as it is."
    )
    parts = (en, ko) if user.locale == "en" else (ko, en)
    return "[citysmart 세종] 비밀번호 재설정 · Password reset", "\n\n".join(parts)


def request_reset(
    session: Session,
    email: str,
    backend: EmailBackend,
    sender: str,
    base_url: str,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Email a reset link to each active account using ``email``; return how many were sent.

    A backend failure is logged, not raised: the page's answer must not depend on it.
    """
    now = now or utcnow()
    address = email.strip()
    if not address or len(address) > 254:
        return 0
    users = session.scalars(
        select(User).where(func.lower(User.email) == address.lower(), User.is_active.is_(True))
    ).all()
    sent = 0
    for user in users:
        token, digest, _ = new_secret("prt")
        session.add(
            PasswordResetToken(
                user_id=user.id, token_hash=digest, created_at=now, expires_at=now + RESET_TTL
            )
        )
        audit.record(session, user.username, "auth.reset_requested", user.username, ip)
        subject, text = _text(user, reset_link(base_url, token))
        try:
            backend.send(compose(user.email or address, subject, text, sender, now))
        except Exception:  # the mail server's trouble must not show in the page's answer
            logger.exception("password reset email to user %s failed", user.username)
            continue
        sent += 1
    return sent


def _live_token(session: Session, token: str, now: dt.datetime) -> PasswordResetToken | None:
    """Return the unused, unexpired token row for a link's token, or None."""
    if not token or len(token) > 200:
        return None
    row = session.scalars(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == digest_secret(token))
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def user_for_reset(session: Session, token: str, now: dt.datetime | None = None) -> User | None:
    """Return the account a live reset link belongs to, or None."""
    row = _live_token(session, token, now or utcnow())
    user = session.get(User, row.user_id) if row else None
    return user if user is not None and user.is_active else None


def reset_password(
    session: Session,
    token: str,
    new_password: str,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> User:
    """Set a new password through a reset link; void it and the account's other links."""
    now = now or utcnow()
    row = _live_token(session, token, now)
    user = session.get(User, row.user_id) if row else None
    if row is None or user is None or not user.is_active:
        audit.record(session, "anonymous", "auth.reset_failed", None, ip)
        raise AccountError(INVALID_LINK)
    try:
        password_hash = hash_password(new_password)
    except ValueError as exc:
        raise AccountError(str(exc)) from exc
    # One conditional UPDATE claims this link and voids the others: of two requests racing
    # with the same link, only one sees its row still unused.
    claimed = (
        session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
            .values(used_at=now)
            .returning(PasswordResetToken.id)
        )
        .scalars()
        .all()
    )
    if row.id not in claimed:
        raise AccountError(INVALID_LINK)
    user.password_hash = password_hash
    audit.record(session, user.username, "user.password_reset", user.username, ip)
    return user
