"""Request authentication: API bearer tokens, session cookies, CSRF, role checks."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from citysmart.core import roles
from citysmart.core.accounts import record_token_use, user_for_token
from citysmart.core.errors import Problem
from citysmart.core.models import User

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making the request, and how they proved it."""

    user_id: int
    username: str
    role: str
    via: str  # "token" or "session"
    verified: bool = False  # residence verified: may support, vote and join trials
    blocked: bool = False  # blocked by a moderator: may read, not post


def principal_for(user: User, via: str) -> Principal:
    """Return the principal of a signed-in user."""
    return Principal(
        user.id,
        user.username,
        user.role,
        via,
        verified=user.verified_at is not None,
        blocked=user.blocked_at is not None,
    )


def get_db(request: Request) -> Iterator[Session]:
    """Yield a session on the app's database, committed when the route succeeds."""
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory() as session:
        yield session
        session.commit()
        record_token_use(session)


# "function" scope: the commit happens before the response is sent. The default ("request")
# would send 201 first and commit after, so a client could act on a write not yet stored
# (or never stored, if the commit fails).
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


def csrf_token(request: Request) -> str:
    """Return the session's CSRF token, creating it on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a cookie-authenticated write whose CSRF token does not match the session's."""
    expected = request.session.get("csrf")
    if not expected or not submitted or not secrets.compare_digest(str(expected), submitted):
        raise Problem(403, "CSRF check failed", "the form or request lacks a valid CSRF token")


def optional_principal(request: Request, db: SessionDep) -> Principal | None:
    """Authenticate by bearer token, else by session cookie; None when anonymous."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Problem(401, "Not signed in", "use 'Authorization: Bearer <token>'")
        user = user_for_token(db, secret.strip())
        if user is None:
            raise Problem(401, "Not signed in", "the token is unknown, revoked or expired")
        return principal_for(user, "token")
    user_id = request.session.get("user_id")
    if user_id is None:
        return None
    user = db.get(User, int(user_id))
    if user is None or not user.is_active:
        request.session.clear()
        return None
    if request.method not in SAFE_METHODS:
        check_csrf(request, request.headers.get(CSRF_HEADER))
    return principal_for(user, "session")


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def current_principal(principal: OptionalPrincipal) -> Principal:
    """Require a signed-in user or a valid token."""
    if principal is None:
        raise Problem(401, "Not signed in", "sign in or send 'Authorization: Bearer <token>'")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(role: str) -> Callable[[Principal], Principal]:
    """Return a dependency that admits only users holding ``role`` (or a role including it)."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not roles.grants(principal.role, role):
            raise Problem(
                403,
                "Forbidden",
                f"this needs the {role} role; {principal.username} is {principal.role}",
            )
        return principal

    return check


OperatorDep = Annotated[Principal, Depends(require_role(roles.OPERATOR))]
AdminDep = Annotated[Principal, Depends(require_role(roles.ADMIN))]
