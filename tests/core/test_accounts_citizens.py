"""Citizens' accounts in the store: sign-up, profile, password change, verification, blocks."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from citysmart.core import accounts
from citysmart.core.accounts import AccountError
from citysmart.core.models import AuditEvent
from citysmart.core.profile import ProfileError, check_new_password, clean_email, plain_text
from citysmart.hub.runtime import HubRuntime
from tests.core.accounts_factories import PASSWORD, create_citizen


def test_plain_text_and_email_cleaning() -> None:
    assert plain_text(" a\x00b\u202e  c\n", 10) == "ab c"
    assert plain_text("x" * 20, 5) == "xxxxx"
    assert clean_email(" Ana@EXAMPLE.org ") == "Ana@example.org"
    with pytest.raises(ProfileError):
        clean_email("ana@localhost")
    with pytest.raises(ProfileError, match="differ"):
        check_new_password("abcdefgh", "abcdefgi")


def test_sign_up_makes_an_unverified_citizen(runtime: HubRuntime) -> None:
    with runtime.sessions.begin() as session:
        user = accounts.sign_up(
            session, "minji", " 김민지 ", "minji@Example.org", PASSWORD, "en", "10.0.0.1"
        )
        assert (user.role, user.display_name, user.email, user.locale) == (
            "citizen", "김민지", "minji@example.org", "en",
        )  # fmt: skip
        assert user.verified_at is None
    with runtime.sessions.begin() as session:
        assert accounts.authenticate_password(session, "minji", PASSWORD) is not None


@pytest.mark.parametrize(
    ("username", "email", "password", "locale", "message"),
    [
        ("minji", "nope", PASSWORD, "ko", "not an email"),
        ("minji", "m@example.org", "short", "ko", "8 characters"),
        ("minji", "m@example.org", PASSWORD, "de", "language"),
        ("taken", "m@example.org", PASSWORD, "ko", "already exists"),
        ("minji", "TAKEN@example.org", PASSWORD, "ko", "email address"),
    ],
)
def test_sign_up_refuses(
    runtime: HubRuntime, username: str, email: str, password: str, locale: str, message: str
) -> None:
    create_citizen(runtime, "taken", email="taken@example.org")
    with pytest.raises(AccountError, match=message), runtime.sessions.begin() as session:
        accounts.sign_up(session, username, "Name", email, password, locale)


def test_profile_update_is_audited_with_the_changed_fields(runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji", email="minji@example.org")
    create_citizen(runtime, "jisu", email="jisu@example.org")
    with runtime.sessions.begin() as session:
        accounts.update_profile(session, "minji", "Minji K", "minji@example.org", "en")
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user.profile_changed")
        ).one()
        assert event.detail == {"fields": ["display_name", "locale"]}
    with pytest.raises(AccountError, match="another account"), runtime.sessions.begin() as s:
        accounts.update_profile(s, "minji", "M", "JISU@example.org", "ko")


def test_change_password_needs_the_current_one(runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji")
    with pytest.raises(AccountError, match="current"), runtime.sessions.begin() as session:
        accounts.change_password(session, "minji", "wrong", "a new password")
    with runtime.sessions.begin() as session:
        accounts.change_password(session, "minji", PASSWORD, "a new password")
        assert accounts.authenticate_password(session, "minji", "a new password") is not None


def test_mark_verified_promotes_only_citizens(runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji")
    with runtime.sessions.begin() as session:
        accounts.create_user(session, "mod", "moderator", PASSWORD)
        assert accounts.mark_verified(session, "minji", "census", "admin").role == "resident"
        moderator = accounts.mark_verified(session, "mod", "code", "admin")
        assert moderator.role == "moderator"
        assert moderator.verified_at is not None
    with pytest.raises(AccountError, match="method"), runtime.sessions.begin() as session:
        accounts.mark_verified(session, "mod", "letter", "admin")


def test_block_and_unblock_are_audited_and_keep_sign_in(runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji")
    with runtime.sessions.begin() as session:
        assert accounts.block_user(session, "minji", "mod1", "spam\x00").blocked_at is not None
    with runtime.sessions.begin() as session:
        assert accounts.authenticate_password(session, "minji", PASSWORD) is not None
        assert accounts.unblock_user(session, "minji", "mod1").blocked_at is None
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(["user.blocked", "user.unblocked"]))
        ).all()
    assert [(e.actor, e.action, e.detail) for e in events] == [
        ("mod1", "user.blocked", {"reason": "spam"}),
        ("mod1", "user.unblocked", {"reason": ""}),
    ]
    with pytest.raises(AccountError, match="no user"), runtime.sessions.begin() as session:
        accounts.block_user(session, "ghost", "mod1")
