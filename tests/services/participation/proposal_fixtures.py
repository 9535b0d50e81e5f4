"""Shared set-up for the process, proposal and vote tests: the app, users, a process."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import delete

from citysmart.core.accounts import create_user, issue_token
from citysmart.core.config import Settings
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from citysmart.services.participation import SERVICE
from citysmart.services.participation.guard import post_limiter
from citysmart.services.participation.models_process import Process

PASSWORD = "correct horse battery staple"
API = "/api/v1/participation"
# A point in Sejong's government complex, and one in Seoul.
IN_SEJONG = (127.289, 36.504)
IN_SEOUL = (126.978, 37.566)


@contextmanager
def app_client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """Yield an HTTP client on the app with the participation service mounted."""
    with runtime.sessions.begin() as session:
        session.execute(delete(Process))
    # User ids restart with each test's database: forget earlier tests' posts.
    post_limiter._events.clear()  # noqa: SLF001
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


def at(days: float) -> str:
    """Return an ISO instant ``days`` from now (negative: in the past)."""
    return (utcnow() + dt.timedelta(days=days)).isoformat()


def phases(*spec: tuple[str, float, float]) -> list[dict[str, Any]]:
    """Return phases from (kind, start day, end day) offsets from now."""
    return [
        {"kind": kind, "title": kind.title(), "starts_at": at(a), "ends_at": at(b)}
        for kind, a, b in spec
    ]


def make_process(
    client: TestClient,
    operator: dict[str, str],
    slug: str = "streets-2027",
    threshold: int = 2,
    quorum: int = 0,
    spec: tuple[tuple[str, float, float], ...] = (("proposals", -1, 5), ("voting", 5, 10)),
) -> dict[str, Any]:
    """Create and publish a process through the API; return its public view."""
    body = {
        "slug": slug,
        "title": "Safer streets",
        "title_ko": "안전한 거리",
        "description": "Ideas for safer streets.",
        "support_threshold": threshold,
        "quorum": quorum,
        "published": True,
        "phases": phases(*spec),
    }
    response = client.post(f"{API}/processes", json=body, headers=operator)
    assert response.status_code == 201, response.text
    return dict(response.json())


def set_phases(
    client: TestClient, operator: dict[str, str], slug: str, *spec: tuple[str, float, float]
) -> None:
    """Replace a process's phases through the operator API."""
    response = client.patch(
        f"{API}/processes/{slug}", json={"phases": phases(*spec)}, headers=operator
    )
    assert response.status_code == 200, response.text


def make_proposal(
    client: TestClient, author: dict[str, str], slug: str = "streets-2027", **fields: Any
) -> dict[str, Any]:
    """Make a proposal through the API; return its public view."""
    body = {"title": "A crossing at Hansol", "body": "Children cross here.", "category": "safety"}
    body.update(fields)
    response = client.post(f"{API}/processes/{slug}/proposals", json=body, headers=author)
    assert response.status_code == 201, response.text
    return dict(response.json())


def jpeg_with_gps() -> bytes:
    """Return a small JPEG whose EXIF holds a GPS position."""
    image = Image.new("RGB", (40, 30), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (36.0, 30.0, 0.0)
    gps[3], gps[4] = "E", (127.0, 17.0, 0.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()
