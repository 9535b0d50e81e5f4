"""Password reset links: digest-stored, single use, one hour, voiding the others."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from citysmart.core import password_reset
from citysmart.core.accounts import AccountError, authenticate_password
from citysmart.core.mail import ConsoleEmailBackend
from citysmart.core.models import PasswordResetToken
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from tests.core.accounts_factories import clear_account_tables, create_citizen

NEW = "a fresh password"


@pytest.fixture(autouse=True)
def empty(runtime: HubRuntime) -> None:
    clear_account_tables(runtime)


def request(runtime: HubRuntime, email: str, now: dt.datetime | None = None) -> list[str]:
    backend = ConsoleEmailBackend()
    with runtime.sessions.begin() as session:
        password_reset.request_reset(
            session, email, backend, "city@example.org", "https://city.example", now=now
        )
    links = []
    for message in backend.sent:
        text = message.get_content()
        start = text.index("https://city.example/password/reset?token=")
        links.append(text[start:].split()[0].split("token=")[1])
    return links


def test_unknown_address_sends_nothing(runtime: HubRuntime) -> None:
    assert request(runtime, "nobody@example.org") == []
    assert request(runtime, "") == []


def test_token_is_stored_as_a_digest_and_works_once(runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji", email="minji@example.org")
    [token] = request(runtime, "MINJI@example.org")
    with runtime.sessions() as session:
        [row] = session.scalars(select(PasswordResetToken)).all()
        assert token not in row.token_hash
        assert row.expires_at - row.created_at == dt.timedelta(hours=1)
        assert password_reset.user_for_reset(session, token) is not None
    with runtime.sessions.begin() as session:
        password_reset.reset_password(session, token, NEW)
    with runtime.sessions.begin() as session:
        assert authenticate_password(session, "minji", NEW) is not None
        assert password_reset.user_for_reset(session, token) is None
    with pytest.raises(AccountError, match="invalid"), runtime.sessions.begin() as session:
        password_reset.reset_password(session, token, "another password")


def test_a_reset_voids_the_other_links(runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji", email="minji@example.org")
    [first] = request(runtime, "minji@example.org")
    [second] = request(runtime, "minji@example.org")
    with runtime.sessions.begin() as session:
        password_reset.reset_password(session, second, NEW)
    with pytest.raises(AccountError), runtime.sessions.begin() as session:
        password_reset.reset_password(session, first, "another password")


def test_link_expires_after_an_hour(runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji", email="minji@example.org")
    [token] = request(runtime, "minji@example.org", now=utcnow() - dt.timedelta(minutes=61))
    with pytest.raises(AccountError), runtime.sessions.begin() as session:
        password_reset.reset_password(session, token, NEW)


def test_short_password_keeps_the_link(runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji", email="minji@example.org")
    [token] = request(runtime, "minji@example.org")
    with pytest.raises(AccountError, match="8"), runtime.sessions.begin() as session:
        password_reset.reset_password(session, token, "short")
    with runtime.sessions.begin() as session:
        password_reset.reset_password(session, token, NEW)


def test_a_failing_mail_server_does_not_raise(runtime: HubRuntime) -> None:
    class Broken:
        def send(self, message: object) -> None:
            raise OSError("connection refused")

    create_citizen(runtime, "minji", email="minji@example.org")
    with runtime.sessions.begin() as session:
        sent = password_reset.request_reset(
            session, "minji@example.org", Broken(), "a@b.c", "https://x"
        )
    assert sent == 0
