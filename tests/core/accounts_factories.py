"""Plain functions for account tests: empty the account tables, make verified residents."""

from __future__ import annotations

from sqlalchemy import delete

from citysmart.core.accounts import create_user, mark_verified
from citysmart.core.models import CensusRecord, PasswordResetToken, User, VerificationCode
from citysmart.hub.runtime import HubRuntime

PASSWORD = "correct horse battery"


def clear_account_tables(runtime: HubRuntime) -> None:
    """Empty the reset, census and code tables (the shared fixture empties app_user only)."""
    with runtime.sessions.begin() as session:
        for table in (PasswordResetToken, VerificationCode, CensusRecord):
            session.execute(delete(table))


def create_citizen(
    runtime: HubRuntime,
    username: str,
    email: str | None = None,
    verified: bool = False,
    password: str = PASSWORD,
) -> int:
    """Create a citizen with a password (a verified resident if asked); return the user id."""
    with runtime.sessions.begin() as session:
        user: User = create_user(session, username, "citizen", password, display_name=username)
        user.email = email
        if verified:
            mark_verified(session, username, "code", actor="test")
        return user.id
