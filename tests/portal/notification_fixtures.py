"""Shared set-up for the dashboard, notifications and console tests: an app with a fake service."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citysmart.core.accounts import create_user
from citysmart.core.auth import Principal
from citysmart.core.config import Settings
from citysmart.core.notifications import notify
from citysmart.core.service import DashboardEntry, Page, ServiceManifest
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app

PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def following(session: Session, principal: Principal) -> list[DashboardEntry]:
    """A fake provider: one followed item, named after the user."""
    return [
        DashboardEntry(
            "following", f"Bus lane for {principal.username}", "/fake/1", "open", "버스", "진행"
        )
    ]


def signups(session: Session, principal: Principal) -> list[DashboardEntry]:
    """A fake provider: one sign-up in a section the portal has no heading for."""
    return [DashboardEntry("trials", "Drone delivery trial", "/fake/trial", "selected")]


def broken(session: Session, principal: Principal) -> list[DashboardEntry]:
    """A provider that fails (the dashboard must still show the others)."""
    raise RuntimeError("provider down")


FAKE = ServiceManifest(
    name="fake",
    title="Fake service",
    pages=(
        Page("/fake", "Fake page", "가짜 페이지"),
        Page("/fake/ops", "Fake operations", "가짜 운영", role="operator"),
        Page("/fake/drive", "Fake driving", role="fake_driver"),
    ),
    roles={"fake_driver": {"citizen"}},
    dashboard=(following, signups),
)
BROKEN = ServiceManifest(name="broken", title="Broken service", dashboard=(broken,))


@pytest.fixture
def app_client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """A client on an app with the fake services."""
    app = create_app(
        settings, services=[FAKE, BROKEN], runtime=runtime, start_mqtt=False, migrate=False
    )
    with TestClient(app) as client:
        yield client


def add_user(
    runtime: HubRuntime, name: str, role: str = "citizen", email: str | None = None
) -> int:
    """Create a user with the test password; return their id."""
    with runtime.sessions.begin() as session:
        user = create_user(session, name, role, PASSWORD)
        user.email = email
        session.flush()
        return user.id


def add_notes(runtime: HubRuntime, user_id: int, count: int, prefix: str = "Note") -> list[int]:
    """Queue ``count`` notifications for a user; return their ids."""
    with runtime.sessions.begin() as session:
        notes = [
            notify(session, user_id, "fake", "test", f"{prefix} {i}", title_ko=f"알림 {i}",
                   link=f"/fake/{i}")
            for i in range(count)
        ]  # fmt: skip
        session.flush()
        return [n.id for n in notes]


def csrf_of(client: TestClient, path: str = "/signin") -> str:
    """Return the CSRF token of a page's form."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF_FIELD.search(page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


def sign_in(client: TestClient, username: str) -> str:
    """Sign in through the form; return the session's CSRF token."""
    form = {"username": username, "password": PASSWORD, "csrf": csrf_of(client), "next": "/"}
    response = client.post("/signin", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client, "/notifications")
