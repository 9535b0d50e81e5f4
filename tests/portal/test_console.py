"""The operator console lists only the pages the user's role grants."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citysmart.core import roles
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.console import console_groups
from tests.portal.notification_fixtures import FAKE, add_user, app_client, sign_in

__all__ = ["app_client"]


def _paths(role: str | None) -> list[str]:
    return [p.path for g in console_groups([FAKE], role) for p in g.pages]


def test_console_groups_follow_the_role() -> None:
    roles.add_role("fake_driver", {"citizen"})
    assert _paths(None) == []
    assert _paths("citizen") == []
    assert _paths("fake_driver") == ["/fake/drive"]
    assert _paths("operator") == ["/hub/explorer", "/fake/ops"]
    assert _paths("admin") == ["/hub/explorer", "/fake/ops", "/fake/drive"]


def test_operator_sees_their_pages(app_client: TestClient, runtime: HubRuntime) -> None:
    add_user(runtime, "ops", "operator")
    sign_in(app_client, "ops")
    page = app_client.get("/console")
    assert page.status_code == 200
    assert 'href="/hub/explorer"' in page.text
    assert 'href="/fake/ops"' in page.text
    assert 'href="/fake/drive"' not in page.text
    assert 'href="/console"' in app_client.get("/").text  # the way in from the home page


def test_driver_sees_only_the_driving_page(app_client: TestClient, runtime: HubRuntime) -> None:
    add_user(runtime, "driver", "fake_driver")
    sign_in(app_client, "driver")
    page = app_client.get("/console").text
    assert 'href="/fake/drive"' in page
    assert 'href="/hub/explorer"' not in page
    assert 'href="/fake/ops"' not in page


def test_citizen_is_refused(app_client: TestClient, runtime: HubRuntime) -> None:
    add_user(runtime, "mina")
    sign_in(app_client, "mina")
    assert app_client.get("/console").status_code == 403
