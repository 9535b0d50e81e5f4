"""Portal pages: home, sign-in (CSRF, audit, rate limit), the hub explorer and its boundaries."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select

from citysmart.core.models import AuditEvent
from citysmart.hub.runtime import HubRuntime
from citysmart.portal import pages
from tests.factories import create_user_with_token

PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(autouse=True)
def fresh_limiter() -> Iterator[None]:
    """Start each test with no sign-in attempts counted (the limiter is module-global)."""
    pages.sign_in_limiter._events.clear()
    yield
    pages.sign_in_limiter._events.clear()


def csrf_of(client: TestClient, path: str = "/signin") -> str:
    page = client.get(path)
    assert page.status_code == 200
    match = CSRF_FIELD.search(page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str, next_path: str = "/") -> Response:
    form = {"username": username, "password": password, "csrf": csrf_of(client), "next": next_path}
    return client.post("/signin", data=form, follow_redirects=False)


def test_home_lists_the_hub_explorer(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'href="/hub/explorer"' in response.text
    assert "Sign in" in response.text
    assert '<html lang="en">' in response.text


def test_pages_carry_a_strict_content_security_policy(client: TestClient) -> None:
    for path in ("/", "/signin", "/hub/boundaries.geojson"):
        csp = client.get(path).headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp


def test_explorer_sends_anonymous_users_to_sign_in(client: TestClient) -> None:
    response = client.get("/hub/explorer", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/hub/explorer"


def test_explorer_refuses_a_citizen(client: TestClient, runtime: HubRuntime) -> None:
    create_user_with_token(runtime, "minji", "citizen", PASSWORD)
    assert sign_in(client, "minji", PASSWORD).status_code == 303
    response = client.get("/hub/explorer")
    assert response.status_code == 403
    assert "operator" in response.text


def test_wrong_password_is_refused_and_audited(client: TestClient, runtime: HubRuntime) -> None:
    create_user_with_token(runtime, "operator1", "operator", PASSWORD)
    response = sign_in(client, "operator1", "not the password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    with runtime.sessions() as session:
        failures = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth.sign_in_failed")
        ).all()
    assert [event.target for event in failures] == ["operator1"]
    assert client.get("/hub/explorer", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("csrf", [None, "", "forged-token"])
def test_sign_in_needs_the_form_csrf_token(
    client: TestClient, runtime: HubRuntime, csrf: str | None
) -> None:
    create_user_with_token(runtime, "operator1", "operator", PASSWORD)
    csrf_of(client)  # the session holds a token; the form must send the same one
    form = {"username": "operator1", "password": PASSWORD, "next": "/"}
    if csrf is not None:
        form["csrf"] = csrf
    response = client.post("/signin", data=form, follow_redirects=False)
    assert response.status_code == 403
    assert client.get("/hub/explorer", follow_redirects=False).status_code == 303


def test_operator_signs_in_and_sees_the_explorer(client: TestClient, runtime: HubRuntime) -> None:
    create_user_with_token(runtime, "operator1", "operator", PASSWORD)
    response = sign_in(client, "operator1", PASSWORD, next_path="/hub/explorer")
    assert response.status_code == 303
    assert response.headers["location"] == "/hub/explorer"
    page = client.get("/hub/explorer")
    assert page.status_code == 200
    assert 'id="map"' in page.text
    assert 'data-entities-url="/api/v1/entities?limit=1000"' in page.text
    assert '<script src="/static/explorer.js"></script>' in page.text
    assert "<script>" not in page.text  # no inline script: the CSP would block it
    assert 'style="' not in page.text
    assert "Boundaries: Statistics Korea (KOSTAT) SGIS 2018" in page.text
    assert "operator1" in page.text  # the header shows who is signed in
    assert client.get("/api/v1/entities?limit=1000").status_code == 200


def test_sign_in_refuses_an_outside_next_address(client: TestClient, runtime: HubRuntime) -> None:
    create_user_with_token(runtime, "operator1", "operator", PASSWORD)
    response = sign_in(client, "operator1", PASSWORD, next_path="//evil.example/")
    assert response.headers["location"] == "/"


def test_sign_in_is_rate_limited(client: TestClient, runtime: HubRuntime) -> None:
    create_user_with_token(runtime, "operator1", "operator", PASSWORD)
    codes = [sign_in(client, "operator1", f"wrong-{i}-password").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    # the limit holds for the right password too, until the window has passed
    assert sign_in(client, "operator1", PASSWORD).status_code == 429


def test_sign_out_ends_the_session(client: TestClient, runtime: HubRuntime) -> None:
    create_user_with_token(runtime, "operator1", "operator", PASSWORD)
    sign_in(client, "operator1", PASSWORD)
    token = csrf_of(client, "/")
    response = client.post("/signout", data={"csrf": token}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/hub/explorer", follow_redirects=False).status_code == 303


def test_boundaries_are_sejongs_17_areas(client: TestClient) -> None:
    response = client.get("/hub/boundaries.geojson")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == 17
    names = {feature["properties"]["name"] for feature in collection["features"]}
    assert {"조치원읍", "한솔동", "부강면"} <= names
    again = client.get("/hub/boundaries.geojson")  # served from memory the second time
    assert again.content == response.content


def test_static_assets_are_served(client: TestClient) -> None:
    for path in ("/static/portal.css", "/static/explorer.js"):
        assert client.get(path).status_code == 200, path
