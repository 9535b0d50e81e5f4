"""Shared set-up for the survey and budget tests: the app, users, a process."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import delete

from citysmart.core.accounts import create_user, get_user, issue_token
from citysmart.core.config import Settings
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from citysmart.services.participation import SERVICE
from citysmart.services.participation.models_budget import Budget, Survey
from citysmart.services.participation.models_process import Process

PASSWORD = "correct horse battery staple"


def empty(runtime: HubRuntime) -> None:
    """Remove every survey, budget and process (their rows cascade)."""
    with runtime.sessions.begin() as session:
        for table in (Survey, Budget, Process):
            session.execute(delete(table))


@contextmanager
def app_client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """Yield an HTTP client on the app with the participation service mounted."""
    empty(runtime)
    app = create_app(settings, services=[SERVICE], runtime=runtime, start_mqtt=False, migrate=False)
    with TestClient(app) as client:
        yield client


def user(
    runtime: HubRuntime,
    username: str,
    role: str = "citizen",
    verified: bool = False,
    blocked: bool = False,
) -> dict[str, str]:
    """Create a user (with a password) and return bearer headers for them."""
    with runtime.sessions.begin() as session:
        created = create_user(session, username, role, PASSWORD)
        created.verified_at = utcnow() if verified else None
        created.blocked_at = utcnow() if blocked else None
        secret, _ = issue_token(session, username, 30)
    return {"Authorization": f"Bearer {secret}"}


def block(runtime: HubRuntime, username: str) -> None:
    """Block a user."""
    with runtime.sessions.begin() as session:
        get_user(session, username).blocked_at = utcnow()


def process(runtime: HubRuntime, slug: str = "budget-2027") -> int:
    """Create a published process and return its id."""
    with runtime.sessions.begin() as session:
        row = Process(slug=slug, title="Sejong budget 2027", description="", published=True)
        session.add(row)
        session.flush()
        return row.id


def later(days: float = 7) -> str:
    """Return an ISO instant ``days`` from now."""
    return (utcnow() + dt.timedelta(days=days)).isoformat()


def csrf_of(client: TestClient, path: str = "/signin") -> str:
    """Return the CSRF token a page's forms carry."""
    return client.get(path).text.split('name="csrf" value="')[1].split('"')[0]


def sign_in(client: TestClient, username: str) -> str:
    """Sign in through the portal's form; return the new session's CSRF token."""
    form = {"username": username, "password": PASSWORD, "csrf": csrf_of(client), "next": "/"}
    answer = client.post("/signin", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return csrf_of(client, "/")
