"""The citizen's dashboard gathers every service's providers; the home page shows each service."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citysmart.core.auth import Principal
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.dashboard import collect
from tests.portal.notification_fixtures import (
    BROKEN,
    FAKE,
    add_notes,
    add_user,
    app_client,
    sign_in,
)

__all__ = ["app_client"]


def test_collect_groups_entries_by_section_and_names_failures(runtime: HubRuntime) -> None:
    principal = Principal(1, "mina", "citizen", "session")
    sections, failed = collect(runtime.sessions, [BROKEN, FAKE], principal)
    assert [s.key for s in sections] == ["following", "trials"]  # known sections first
    assert sections[0].title_ko == "팔로우"
    assert sections[1].title == "Trials"
    service, entry = sections[0].entries[0]
    assert service == "Fake service"
    assert entry.title == "Bus lane for mina"
    assert failed == ["Broken service"]


def test_dashboard_shows_every_providers_entries(
    app_client: TestClient, runtime: HubRuntime
) -> None:
    user = add_user(runtime, "mina")
    add_notes(runtime, user, 2)
    sign_in(app_client, "mina")
    page = app_client.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/fake/1">Bus lane for mina</a>' in html
    assert "진행" in html  # the entry's Korean status
    assert '<a href="/fake/trial">Drone delivery trial</a>' in html
    assert "Some parts could not be shown just now: Broken service." in html
    assert "2 unread" in html
    assert 'href="/fake/0">Note 0</a>' in html


def test_home_lists_each_services_pages_and_the_users_summary(
    app_client: TestClient, runtime: HubRuntime
) -> None:
    anonymous = app_client.get("/").text
    assert (
        '<a href="/fake">Fake page <span class="ko" lang="ko">가짜 페이지</span></a>' in anonymous
    )
    assert '<a href="/fake/ops">Fake operations' in anonymous
    assert "for operators" in anonymous
    assert 'id="yours-heading"' not in anonymous
    assert 'href="/console"' not in anonymous
    user = add_user(runtime, "mina")
    add_notes(runtime, user, 3)
    sign_in(app_client, "mina")
    home = app_client.get("/").text
    assert "You have <strong>3</strong> unread notifications." in home
    assert 'href="/dashboard"' in home
    assert 'href="/console"' not in home  # a citizen has no console pages
    # The navigation shows only pages the user may use.
    nav = home.split('<nav class="nav"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/fake"' in nav
    assert 'href="/fake/ops"' not in nav
