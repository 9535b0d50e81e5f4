"""Fixtures and helpers of the comments, debates and moderation tests."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from citysmart.core.config import Settings
from citysmart.core.db import Base
from citysmart.core.service import load_service_models
from citysmart.hub.runtime import HubRuntime
from citysmart.portal import pages as portal_pages
from citysmart.portal.app import create_app
from citysmart.services.participation import SERVICE
from citysmart.services.participation.guard import post_limiter
from citysmart.services.participation.models_process import Process
from citysmart.services.participation.talk_api import vote_limiter
from tests.factories import create_user_with_token

PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def participation_tables() -> list[str]:
    """Every participation table, children first."""
    load_service_models()
    return [
        t.name for t in reversed(Base.metadata.sorted_tables) if t.name.startswith("participation_")
    ]


@pytest.fixture
def talk_runtime(runtime: HubRuntime) -> HubRuntime:
    """The runtime on empty participation tables, with no posts or sign-ins counted."""
    with runtime.engine.begin() as conn:
        for table in participation_tables():
            conn.execute(text(f"DELETE FROM {table}"))
    post_limiter._events.clear()
    vote_limiter._events.clear()
    portal_pages.sign_in_limiter._events.clear()
    return runtime


@pytest.fixture
def talk_client(settings: Settings, talk_runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app with the participation service mounted."""
    app = create_app(
        settings, services=[SERVICE], runtime=talk_runtime, start_mqtt=False, migrate=False
    )
    with TestClient(app) as client:
        yield client


def add_process(runtime: HubRuntime, slug: str = "river-park", published: bool = True) -> int:
    """Add a process and return its id."""
    with runtime.sessions.begin() as session:
        process = Process(
            slug=slug,
            title=f"Process {slug}",
            description="",
            support_threshold=3,
            published=published,
        )
        session.add(process)
        session.flush()
        return process.id


def bearer(token: str) -> dict[str, str]:
    """Return the header of an API token."""
    return {"Authorization": f"Bearer {token}"}


def user(runtime: HubRuntime, name: str, role: str = "citizen") -> dict[str, str]:
    """Create a user; return their API header."""
    return bearer(create_user_with_token(runtime, name, role, PASSWORD))


def sign_in(client: TestClient, name: str) -> str:
    """Sign an existing user in through the portal's form; return the session's CSRF token."""
    token = CSRF_FIELD.search(client.get("/signin").text)
    assert token
    form = {"username": name, "password": PASSWORD, "next": "/", "csrf": token.group(1)}
    assert client.post("/signin", data=form, follow_redirects=False).status_code == 303
    fresh = CSRF_FIELD.search(client.get("/participation/debates").text)
    assert fresh
    return fresh.group(1)


def open_debate(client: TestClient, headers: dict[str, str], process_id: int) -> int:
    """Open a debate through the API and return its id."""
    answer = client.post(
        "/api/v1/participation/debates",
        json={"process_id": process_id, "title": "Night buses?", "description": "Should we?"},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def comment(
    client: TestClient,
    headers: dict[str, str],
    debate_id: int,
    body: str = "I agree",
    parent_id: int | None = None,
) -> int:
    """Comment on a debate through the API and return the comment's id."""
    answer = client.post(
        "/api/v1/participation/comments",
        json={
            "target_type": "debate",
            "target_id": debate_id,
            "body": body,
            "parent_id": parent_id,
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])
