"""Notifications: the page (unread first, mark one or all read, CSRF), the JSON API, the badge."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from citysmart.core.notifications import Notification, NotificationPreference
from citysmart.hub.runtime import HubRuntime
from tests.portal.notification_fixtures import add_notes, add_user, app_client, sign_in

__all__ = ["app_client"]


def _read_ids(runtime: HubRuntime) -> set[int]:
    with runtime.sessions() as session:
        return set(
            session.scalars(select(Notification.id).where(Notification.read_at.is_not(None)))
        )


def test_page_lists_unread_first_and_marks_one_read(
    app_client: TestClient, runtime: HubRuntime
) -> None:
    user = add_user(runtime, "mina")
    ids = add_notes(runtime, user, 3)
    csrf = sign_in(app_client, "mina")
    response = app_client.post(
        f"/notifications/{ids[2]}/read", data={"csrf": csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/notifications"
    assert _read_ids(runtime) == {ids[2]}
    page = app_client.get("/notifications").text
    # Unread (Note 1, Note 0, newest first) come before the read one (Note 2).
    assert page.index("Note 1") < page.index("Note 0") < page.index("Note 2")
    assert "2 unread" in page
    assert 'class="unread-badge">2<' in page  # the header's count


def test_mark_all_read_from_the_page(app_client: TestClient, runtime: HubRuntime) -> None:
    user = add_user(runtime, "mina")
    ids = add_notes(runtime, user, 3)
    csrf = sign_in(app_client, "mina")
    response = app_client.post(
        "/notifications/read-all", data={"csrf": csrf, "next": "/dashboard"}, follow_redirects=False
    )
    assert response.headers["location"] == "/dashboard"
    assert _read_ids(runtime) == set(ids)
    assert "unread-badge" not in app_client.get("/").text


def test_forms_without_their_csrf_token_are_refused(
    app_client: TestClient, runtime: HubRuntime
) -> None:
    user = add_user(runtime, "mina")
    ids = add_notes(runtime, user, 1)
    sign_in(app_client, "mina")
    for path, form in (
        (f"/notifications/{ids[0]}/read", {}),
        ("/notifications/read-all", {"csrf": "forged"}),
        ("/notifications/digest", {"digest": "none"}),
    ):
        assert app_client.post(path, data=form).status_code == 403, path
    assert _read_ids(runtime) == set()
    with runtime.sessions() as session:
        assert session.scalar(select(NotificationPreference)) is None


def test_another_users_notification_cannot_be_marked(
    app_client: TestClient, runtime: HubRuntime
) -> None:
    add_user(runtime, "mina")
    other = add_user(runtime, "joon")
    theirs = add_notes(runtime, other, 1)
    csrf = sign_in(app_client, "mina")
    assert (
        app_client.post(f"/notifications/{theirs[0]}/read", data={"csrf": csrf}).status_code == 404
    )
    api = app_client.post(
        "/api/v1/me/notifications/read", json={"ids": theirs}, headers={"X-CSRF-Token": csrf}
    )
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert _read_ids(runtime) == set()


def test_api_lists_and_marks_read(app_client: TestClient, runtime: HubRuntime) -> None:
    user = add_user(runtime, "mina")
    other = add_user(runtime, "joon")
    ids = add_notes(runtime, user, 3)
    add_notes(runtime, other, 2, prefix="Not yours")
    csrf = sign_in(app_client, "mina")
    listed = app_client.get("/api/v1/me/notifications").json()
    assert listed["unread"] == 3
    assert [n["id"] for n in listed["items"]] == sorted(ids, reverse=True)
    assert listed["items"][0]["title_ko"] == "알림 2"
    headers = {"X-CSRF-Token": csrf}
    # A session's write needs its CSRF header.
    refused = app_client.post("/api/v1/me/notifications/read", json={"ids": ids[:1]})
    assert refused.status_code == 403
    marked = app_client.post(
        "/api/v1/me/notifications/read", json={"ids": ids[:1]}, headers=headers
    )
    assert marked.json() == {"marked": 1, "unread": 2}
    unread = app_client.get("/api/v1/me/notifications", params={"unread_only": True}).json()
    assert [n["id"] for n in unread["items"]] == [ids[2], ids[1]]
    bad = app_client.post("/api/v1/me/notifications/read", json={}, headers=headers)
    assert bad.status_code == 422
    everything = app_client.post(
        "/api/v1/me/notifications/read", json={"all": True}, headers=headers
    )
    assert everything.json() == {"marked": 2, "unread": 0}


def test_api_needs_a_user(app_client: TestClient) -> None:
    assert app_client.get("/api/v1/me/notifications").status_code == 401
    assert app_client.post("/api/v1/me/notifications/read", json={"all": True}).status_code == 401


def test_pages_send_anonymous_visitors_to_sign_in(app_client: TestClient) -> None:
    for path in ("/notifications", "/dashboard", "/console"):
        response = app_client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/signin?next={path}"


def test_digest_preference_is_stored(app_client: TestClient, runtime: HubRuntime) -> None:
    user = add_user(runtime, "mina")
    csrf = sign_in(app_client, "mina")
    assert (
        'id="digest-daily" name="digest" value="daily" checked'
        in app_client.get("/notifications").text
    )
    response = app_client.post("/notifications/digest", data={"csrf": csrf, "digest": "none"})
    assert response.status_code == 200
    assert 'value="none" checked' in response.text
    assert "Saved." in response.text
    assert (
        app_client.post(
            "/notifications/digest", data={"csrf": csrf, "digest": "hourly"}
        ).status_code
        == 422
    )
    with runtime.sessions() as session:
        pref = session.get(NotificationPreference, user)
        assert pref is not None
        assert pref.digest == "none"
