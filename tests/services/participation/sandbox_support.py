"""Shared set-up for the opinion-channel and sandbox tests: the app, users, clean tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import delete

from citysmart.core.accounts import create_user, issue_token
from citysmart.core.config import Settings
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from citysmart.services.participation import SERVICE
from citysmart.services.participation.guard import post_limiter
from citysmart.services.participation.models_process import Follow
from citysmart.services.participation.models_sandbox import (
    Department,
    Opinion,
    SandboxProject,
)

PASSWORD = "correct horse battery staple"


def empty(runtime: HubRuntime) -> None:
    """Remove every opinion, department, project and follow (their rows cascade)."""
    with runtime.sessions.begin() as session:
        for table in (Opinion, Department, SandboxProject, Follow):
            session.execute(delete(table))
    # User ids restart in each test: forget the posting counts of earlier tests.
    post_limiter._events.clear()


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


def sign_in(client: TestClient, username: str) -> str:
    """Sign in through the form and return the session's CSRF token."""
    page = client.get("/signin")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/signin",
        data={"username": username, "password": PASSWORD, "csrf": token, "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    # Signing in starts a new session with its own token (the sign-out form carries it).
    home = client.get("/")
    return home.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
