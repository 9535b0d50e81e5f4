"""Account pages: sign-up, profile, password change and reset, verification, admin page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select

from citysmart.core import verification
from citysmart.core.accounts import create_user
from citysmart.core.config import Settings
from citysmart.core.models import AuditEvent, User
from citysmart.hub.runtime import HubRuntime
from citysmart.portal import pages
from tests.core.accounts_factories import PASSWORD, clear_account_tables, create_citizen

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
LINK = re.compile(r"/password/reset\?token=(\S+)")
DODAM = "2901053"


@pytest.fixture(autouse=True)
def fresh(runtime: HubRuntime) -> Iterator[None]:
    """Empty account tables and the module-global sign-in limiter."""
    clear_account_tables(runtime)
    pages.sign_in_limiter._events.clear()
    yield
    pages.sign_in_limiter._events.clear()


def csrf_of(client: TestClient, path: str = "/signin") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF_FIELD.search(page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


def post(client: TestClient, path: str, form: dict[str, str], page: str = "/signin") -> Response:
    return client.post(path, data={**form, "csrf": csrf_of(client, page)}, follow_redirects=False)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    response = post(client, "/signin", {"username": username, "password": password})
    assert response.status_code == 303


def signup_form(username: str = "minji", **extra: str) -> dict[str, str]:
    form = {
        "username": username,
        "display_name": "김민지",
        "email": f"{username}@example.org",
        "password": PASSWORD,
        "password2": PASSWORD,
        "locale": "ko",
    }
    return {**form, **extra}


def user(runtime: HubRuntime, username: str) -> User:
    with runtime.sessions() as session:
        row = session.scalars(select(User).where(User.username == username)).one()
        session.expunge(row)
        return row


def actions(runtime: HubRuntime) -> list[str]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# --- sign-up -----------------------------------------------------------------------------


def test_sign_up_creates_a_signed_in_citizen(client: TestClient, runtime: HubRuntime) -> None:
    response = post(client, "/signup", signup_form(), "/signup")
    assert response.status_code == 303
    assert response.headers["location"] == "/account?saved=welcome"
    page = client.get(response.headers["location"])
    assert "Welcome" in page.text
    assert "Not verified" in page.text
    row = user(runtime, "minji")
    assert (row.role, row.email, row.locale, row.display_name) == (
        "citizen", "minji@example.org", "ko", "김민지",
    )  # fmt: skip
    assert row.verified_at is None
    assert "user.signed_up" in actions(runtime)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"password2": "something else"}, "the two passwords differ"),
        ({"password": "short", "password2": "short"}, "at least 8 characters"),
        ({"email": "not-an-address"}, "not an email address"),
        ({"username": "-bad"}, "user name"),
        ({"locale": "fr"}, "language"),
        ({"display_name": "  \x00 "}, "display name is empty"),
    ],
)
def test_sign_up_refuses_bad_input(
    client: TestClient, runtime: HubRuntime, change: dict[str, str], message: str
) -> None:
    response = post(client, "/signup", signup_form(**change), "/signup")
    assert response.status_code == 400
    assert message in response.text
    with runtime.sessions() as session:
        assert session.scalars(select(User)).all() == []


def test_sign_up_refuses_a_taken_name_or_email(client: TestClient, runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji", email="Minji@Example.org")
    assert (
        "already exists"
        in post(client, "/signup", signup_form("minji", email="a@b.org"), "/signup").text
    )
    response = post(client, "/signup", signup_form("other", email="minji@example.ORG"), "/signup")
    assert response.status_code == 400
    assert "email address" in response.text


def test_sign_up_needs_the_csrf_token(client: TestClient, runtime: HubRuntime) -> None:
    csrf_of(client, "/signup")
    response = client.post("/signup", data=signup_form(), follow_redirects=False)
    assert response.status_code == 403
    with runtime.sessions() as session:
        assert session.scalars(select(User)).all() == []


def test_sign_up_is_rate_limited_per_address(client: TestClient) -> None:
    for n in range(5):
        response = post(client, "/signup", signup_form(f"user{n}"), "/signup")
        assert response.status_code == 303
        client.cookies.clear()
    response = post(client, "/signup", signup_form("user9"), "/signup")
    assert response.status_code == 429


# --- profile and password ------------------------------------------------------------------


def test_account_page_needs_sign_in(client: TestClient) -> None:
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/account"


def test_profile_update_and_xss_is_inert(client: TestClient, runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji", email="minji@example.org")
    sign_in(client, "minji")
    form = {"display_name": "<script>alert(1)</script>", "email": "m@example.org", "locale": "en"}
    response = post(client, "/account", form, "/account")
    assert response.status_code == 303
    page = client.get("/account?saved=profile")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    row = user(runtime, "minji")
    assert (row.email, row.locale) == ("m@example.org", "en")
    assert "user.profile_changed" in actions(runtime)


def test_password_change_needs_the_current_one(client: TestClient, runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji")
    sign_in(client, "minji")
    new = "a brand new password"
    wrong = {"current": "wrong password", "password": new, "password2": new}
    response = post(client, "/account/password", wrong, "/account")
    assert response.status_code == 400
    assert "current password is wrong" in response.text
    right = {"current": PASSWORD, "password": new, "password2": new}
    assert post(client, "/account/password", right, "/account").status_code == 303
    client.cookies.clear()
    sign_in(client, "minji", new)
    assert actions(runtime).count("user.password_change_failed") == 1
    assert "user.password_changed" in actions(runtime)


# --- password reset ----------------------------------------------------------------------


def mails(settings: Settings) -> list[str]:
    folder = Path(settings.data_dir) / "mail"
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(p.read_bytes()).get_content() for p in sorted(folder.glob("*.eml"))]


def test_forgot_answers_the_same_for_unknown_and_known_addresses(
    client: TestClient, runtime: HubRuntime, settings: Settings
) -> None:
    create_citizen(runtime, "minji", email="minji@example.org")
    unknown = post(client, "/password/forgot", {"email": "nobody@example.org"}, "/password/forgot")
    known = post(client, "/password/forgot", {"email": "MINJI@example.org"}, "/password/forgot")
    assert unknown.status_code == known.status_code == 200
    strip = re.compile(r'name="csrf" value="[^"]+"')
    assert strip.sub("", unknown.text) == strip.sub("", known.text)
    [text] = mails(settings)
    assert "minji" in text
    assert LINK.search(text)


def reset_token(client: TestClient, settings: Settings, email: str) -> str:
    before = len(mails(settings))
    post(client, "/password/forgot", {"email": email}, "/password/forgot")
    texts = mails(settings)
    assert len(texts) == before + 1
    match = LINK.search(texts[-1])
    assert match
    return match.group(1)


def test_reset_link_sets_a_password_once_and_voids_the_others(
    client: TestClient, runtime: HubRuntime, settings: Settings
) -> None:
    create_citizen(runtime, "minji", email="minji@example.org")
    first = reset_token(client, settings, "minji@example.org")
    second = reset_token(client, settings, "minji@example.org")
    page = client.get(f"/password/reset?token={second}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    new = "my new secret words"
    form = {"token": second, "password": new, "password2": new}
    response = post(client, "/password/reset", form, "/password/forgot")
    assert response.status_code == 200
    assert "Your password is set" in response.text
    again = post(client, "/password/reset", form, "/password/forgot")
    assert again.status_code == 400
    assert "invalid, used or expired" in again.text
    assert client.get(f"/password/reset?token={first}").status_code == 400
    sign_in(client, "minji", new)
    assert "user.password_reset" in actions(runtime)


def test_reset_link_expires_after_an_hour(
    client: TestClient, runtime: HubRuntime, settings: Settings
) -> None:
    import datetime as dt

    from citysmart.core.models import PasswordResetToken
    from citysmart.core.time import utcnow

    create_citizen(runtime, "minji", email="minji@example.org")
    token = reset_token(client, settings, "minji@example.org")
    with runtime.sessions.begin() as session:
        for row in session.scalars(select(PasswordResetToken)):
            row.expires_at = utcnow() - dt.timedelta(seconds=1)
    form = {"token": token, "password": "my new secret words", "password2": "my new secret words"}
    assert post(client, "/password/reset", form, "/password/forgot").status_code == 400


def test_forgot_is_rate_limited_per_address(
    client: TestClient, runtime: HubRuntime, settings: Settings
) -> None:
    create_citizen(runtime, "minji", email="minji@example.org")
    for _ in range(5):
        post(client, "/password/forgot", {"email": "minji@example.org"}, "/password/forgot")
    assert len(mails(settings)) == 3  # at most three emails an hour to one address


# --- verification ------------------------------------------------------------------------


def test_code_verifies_once(client: TestClient, runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji")
    create_citizen(runtime, "jisu")
    with runtime.sessions.begin() as session:
        code, _ = verification.issue_code(session, "admin")
    sign_in(client, "minji")
    response = post(client, "/account/verify/code", {"code": code.lower()}, "/account/verify")
    assert response.status_code == 303
    assert "Verified resident" in client.get("/account").text
    row = user(runtime, "minji")
    assert (row.role, row.verification_method) == ("resident", "code")
    client.cookies.clear()
    sign_in(client, "jisu")
    response = post(client, "/account/verify/code", {"code": code}, "/account/verify")
    assert response.status_code == 400
    assert "unknown, used, expired" in response.text
    assert user(runtime, "jisu").verified_at is None


def test_census_verifies_a_match_once(
    client: TestClient, runtime: HubRuntime, settings: Settings
) -> None:
    create_citizen(runtime, "minji")
    create_citizen(runtime, "jisu")
    csv = f"name,birth_date,address_code\n김 민지,1990-04-05,{DODAM}\n"
    with runtime.sessions.begin() as session:
        verification.import_census(session, csv, settings.secret_key, "admin")
    sign_in(client, "minji")
    wrong = {"name": "김민지", "birth_date": "1990-04-05", "address_code": DODAM}
    response = post(client, "/account/verify/census", wrong, "/account/verify")
    assert response.status_code == 400
    assert "no unused census record" in response.text
    assert "1990-04-05" not in response.text  # what was typed is not echoed back
    right = {"name": " 김  민지 ", "birth_date": "1990-04-05", "address_code": DODAM}
    assert post(client, "/account/verify/census", right, "/account/verify").status_code == 303
    assert user(runtime, "minji").verification_method == "census"
    client.cookies.clear()
    sign_in(client, "jisu")
    response = post(client, "/account/verify/census", right, "/account/verify")
    assert response.status_code == 400
    assert actions(runtime).count("verification.failed") == 2


def test_verification_attempts_are_rate_limited(client: TestClient, runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji")
    sign_in(client, "minji")
    for _ in range(5):
        response = post(client, "/account/verify/code", {"code": "WRONG"}, "/account/verify")
        assert response.status_code == 400
    response = post(client, "/account/verify/code", {"code": "WRONG"}, "/account/verify")
    assert response.status_code == 429


def test_verify_needs_the_csrf_token(client: TestClient, runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji")
    sign_in(client, "minji")
    response = client.post("/account/verify/code", data={"code": "X"}, follow_redirects=False)
    assert response.status_code == 403


# --- the admin page ------------------------------------------------------------------------


def make_admin(runtime: HubRuntime) -> None:
    with runtime.sessions.begin() as session:
        create_user(session, "admin1", "admin", PASSWORD)


def test_admin_page_is_for_admins_only(client: TestClient, runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji")
    sign_in(client, "minji")
    assert client.get("/admin/residents").status_code == 403
    response = post(client, "/admin/residents/codes", {"days": "3"}, "/account")
    assert response.status_code == 403
    with runtime.sessions() as session:
        assert verification.open_codes(session) == []


def test_admin_imports_the_census_all_or_nothing(client: TestClient, runtime: HubRuntime) -> None:
    make_admin(runtime)
    sign_in(client, "admin1")
    bad = f"name,birth_date,address_code\nA,1990-01-01,{DODAM}\nB,1990-13-01,{DODAM}\n"
    token = csrf_of(client, "/admin/residents")
    response = client.post(
        "/admin/residents/census",
        data={"csrf": token},
        files={"file": ("census.csv", bad.encode(), "text/csv")},
    )
    assert response.status_code == 400
    assert "line 3" in response.text
    assert "0 records stored" in response.text
    good = f"name,birth_date,address_code\nA,1990-01-01,{DODAM}\nB,1990-12-01,{DODAM}\n"
    response = client.post(
        "/admin/residents/census",
        data={"csrf": token},
        files={"file": ("census.csv", good.encode(), "text/csv")},
    )
    assert response.status_code == 200
    assert "Imported: 2 new records" in response.text


def test_admin_issues_a_code_and_blocks_a_user(client: TestClient, runtime: HubRuntime) -> None:
    make_admin(runtime)
    create_citizen(runtime, "minji")
    sign_in(client, "admin1")
    response = post(
        client, "/admin/residents/codes", {"for_username": "minji", "days": "3"}, "/admin/residents"
    )
    assert response.status_code == 200
    code = re.search(r'id="new-code">([A-Z0-9-]+)<', response.text)
    assert code
    assert response.headers["cache-control"] == "no-store"
    form = {"username": "minji", "action": "block", "reason": "spam"}
    response = post(client, "/admin/residents/block", form, "/admin/residents")
    assert response.status_code == 303
    assert user(runtime, "minji").blocked_at is not None
    client.cookies.clear()
    sign_in(client, "minji")  # a blocked user still signs in and reads
    page = client.get("/account")
    assert "you can read, but not post" in page.text
    assert (
        post(client, "/account/verify/code", {"code": code.group(1)}, "/account/verify").status_code
        == 303
    )
    assert "user.blocked" in actions(runtime)
