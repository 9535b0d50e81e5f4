"""Users, their roles, passwords and API tokens; sign-up, profile, verification, blocks."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from citysmart.core import audit, profile, roles
from citysmart.core.models import ApiToken, User
from citysmart.core.security import digest_secret, hash_password, new_secret, verify_password
from citysmart.core.time import utcnow

# How stale a token's last_used_at may get: recording every use would write a row per
# request (and lock it), for a figure operators read in days.
LAST_USED_EVERY = dt.timedelta(minutes=1)
_TOUCH = "citysmart.token_use"
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{1,63}$")


class AccountError(ValueError):
    """An account request that cannot be carried out, saying why."""


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str | None = None,
    actor: str = "cli",
    display_name: str | None = None,
) -> User:
    """Create a user with a role and, optionally, a password."""
    if not _USERNAME.match(username):
        raise AccountError(
            f"user name {username!r}: 2-64 letters, digits, '_', '.' or '-', starting with one "
            "letter or digit"
        )
    if role not in roles.known_roles():
        raise AccountError(f"unknown role {role!r} (one of {', '.join(roles.known_roles())})")
    if session.scalars(select(User).where(User.username == username)).first():
        raise AccountError(f"user {username!r} already exists")
    user = User(
        username=username,
        role=role,
        password_hash=hash_password(password) if password else None,
        display_name=display_name,
        is_active=True,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.created", username, role=role)
    return user


def get_user(session: Session, username: str) -> User:
    """Return a user by name or raise AccountError."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise AccountError(f"no user {username!r}")
    return user


def set_role(session: Session, username: str, role: str, actor: str = "cli") -> User:
    """Change a user's role (audited)."""
    if role not in roles.known_roles():
        raise AccountError(f"unknown role {role!r} (one of {', '.join(roles.known_roles())})")
    user = get_user(session, username)
    old = user.role
    user.role = role
    audit.record(session, actor, "user.role_changed", username, old=old, new=role)
    return user


def set_password(session: Session, username: str, password: str, actor: str = "cli") -> None:
    """Set a user's password (audited)."""
    user = get_user(session, username)
    try:
        user.password_hash = hash_password(password)
    except ValueError as exc:
        raise AccountError(str(exc)) from exc
    audit.record(session, actor, "user.password_set", username)


def authenticate_password(
    session: Session, username: str, password: str, ip: str | None = None
) -> User | None:
    """Check a sign-in; record success or failure in the audit log."""
    user = session.scalars(select(User).where(User.username == username)).first()
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        audit.record(session, username[:128], "auth.sign_in_failed", username[:256], ip)
        return None
    audit.record(session, username, "auth.sign_in", username, ip)
    return user


def email_taken(session: Session, email: str, except_user_id: int | None = None) -> bool:
    """Whether another account already uses this email address (case-insensitive)."""
    query = select(User.id).where(func.lower(User.email) == email.lower())
    if except_user_id is not None:
        query = query.where(User.id != except_user_id)
    return session.scalars(query.limit(1)).first() is not None


def sign_up(
    session: Session,
    username: str,
    display_name: str,
    email: str,
    password: str,
    locale: str = "ko",
    ip: str | None = None,
) -> User:
    """Create a citizen's own account (role ``citizen``, unverified), audited."""
    try:
        name = profile.clean_display_name(display_name)
        address = profile.clean_email(email)
        language = profile.clean_locale(locale)
    except profile.ProfileError as exc:
        raise AccountError(str(exc)) from exc
    if email_taken(session, address):
        raise AccountError(
            "an account with this email address exists; sign in or reset its password"
        )
    try:
        user = create_user(
            session, username, roles.CITIZEN, password, actor=username, display_name=name
        )
    except ValueError as exc:  # a too-short password from hash_password
        raise AccountError(str(exc)) from exc
    user.email, user.locale = address, language
    audit.record(session, username, "user.signed_up", username, ip)
    return user


def update_profile(
    session: Session,
    username: str,
    display_name: str,
    email: str,
    locale: str,
    actor: str | None = None,
) -> User:
    """Change a user's display name, email address and language (audited)."""
    user = get_user(session, username)
    try:
        name = profile.clean_display_name(display_name)
        address = profile.clean_email(email)
        language = profile.clean_locale(locale)
    except profile.ProfileError as exc:
        raise AccountError(str(exc)) from exc
    if email_taken(session, address, except_user_id=user.id):
        raise AccountError("another account uses this email address")
    changed = [
        field
        for field, old, new in (
            ("display_name", user.display_name, name),
            ("email", user.email, address),
            ("locale", user.locale, language),
        )
        if old != new
    ]
    user.display_name, user.email, user.locale = name, address, language
    if changed:
        audit.record(session, actor or username, "user.profile_changed", username, fields=changed)
    return user


def change_password(
    session: Session, username: str, current: str, new: str, ip: str | None = None
) -> None:
    """Change one's own password, proving the current one (audited either way)."""
    user = get_user(session, username)
    if not verify_password(user.password_hash, current):
        audit.record(session, username, "user.password_change_failed", username, ip)
        raise AccountError("the current password is wrong")
    try:
        user.password_hash = hash_password(new)
    except ValueError as exc:
        raise AccountError(str(exc)) from exc
    audit.record(session, username, "user.password_changed", username, ip)


def mark_verified(session: Session, username: str, method: str, actor: str = "cli") -> User:
    """Mark a user a verified resident (``census`` or ``code``); a citizen becomes a resident."""
    if method not in ("census", "code"):
        raise AccountError(f"unknown verification method {method!r} (census or code)")
    user = get_user(session, username)
    if user.verified_at is not None:
        raise AccountError(f"{username} is already a verified resident")
    user.verified_at, user.verification_method = utcnow(), method
    old = user.role
    if user.role == roles.CITIZEN:
        user.role = roles.RESIDENT  # higher roles keep theirs: verification is its own flag
    audit.record(session, actor, "user.verified", username, method=method, old=old, new=user.role)
    return user


def block_user(session: Session, username: str, actor: str, reason: str = "") -> User:
    """Block a user: they still sign in and read, but may not post or take part (audited)."""
    user = get_user(session, username)
    if user.blocked_at is None:
        user.blocked_at = utcnow()
    audit.record(session, actor, "user.blocked", username, reason=profile.plain_text(reason, 500))
    return user


def unblock_user(session: Session, username: str, actor: str, reason: str = "") -> User:
    """Lift a user's block (audited)."""
    user = get_user(session, username)
    user.blocked_at = None
    audit.record(session, actor, "user.unblocked", username, reason=profile.plain_text(reason, 500))
    return user


def issue_token(
    session: Session, username: str, days: int = 90, actor: str = "cli"
) -> tuple[str, ApiToken]:
    """Create an API bearer token for a user; return the secret (shown once) and its row."""
    if days < 1:
        raise AccountError("a token must live at least one day")
    user = get_user(session, username)
    secret, digest, prefix = new_secret("cst")
    token = ApiToken(
        user_id=user.id,
        token_hash=digest,
        prefix=prefix,
        created_at=utcnow(),
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    session.add(token)
    audit.record(session, actor, "token.created", username, prefix=prefix, days=days)
    return secret, token


def revoke_tokens(session: Session, username: str, actor: str = "cli") -> int:
    """Revoke every live token of a user; return how many."""
    user = get_user(session, username)
    now = utcnow()
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for token in tokens:
        token.revoked_at = now
    audit.record(session, actor, "token.revoked", username, count=len(tokens))
    return len(tokens)


def user_for_token(session: Session, secret: str) -> User | None:
    """Return the active user a live token belongs to, or None."""
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == digest_secret(secret))
    ).first()
    now = utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        session.info[_TOUCH] = (token.id, now)
    return user


def record_token_use(session: Session) -> None:
    """Write a token's last use noted by :func:`user_for_token`, in a transaction of its own.

    Call it once the request's own transaction has ended: inside it, the token's row lock
    would be held until the request ends, and every request of a client using that token
    would wait for the one before.
    """
    pending = session.info.pop(_TOUCH, None)
    if pending is None:
        return
    token_id, now = pending
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .where(ApiToken.last_used_at.is_(None) | (ApiToken.last_used_at < now))
        .values(last_used_at=now)
    )
    session.commit()
