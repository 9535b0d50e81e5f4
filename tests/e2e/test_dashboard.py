"""A signed-in user's notifications in a real browser, used with the keyboard only.

The header's badge counts the unread notifications; on the notifications page the user
tabs to "Mark read" and presses Enter, and the badge (and "Mark all read") are gone;
the dashboard says nothing is unread. Runs against the server of
test_accessibility (its own SQLite file, an admin with one unread notification).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.test_accessibility import ADMIN, PASSWORD, base_url, browser

pytestmark = pytest.mark.e2e
__all__ = ["base_url", "browser"]


def test_keyboard_user_reads_their_notifications(browser: Browser, base_url: str) -> None:
    page = browser.new_page()
    page.goto(f"{base_url}/signin?next=/notifications")
    page.get_by_label("User name").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base_url}/notifications")
    badge = page.locator(".unread-badge")
    expect(badge).to_have_text("1 unread")
    expect(page.locator(".note").first).to_contain_text("Your proposal passed the threshold")
    expect(page.locator(".note-unread")).to_have_count(1)

    mark = page.get_by_role("button", name=re.compile(r"^Mark read\W+Your proposal"))
    for _ in range(60):  # Tab through the page until the button has the focus
        page.keyboard.press("Tab")
        if mark.evaluate("(el) => el === document.activeElement"):
            break
    else:
        pytest.fail("'Mark read' cannot be reached with the Tab key")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base_url}/notifications")
    expect(page.locator(".note-unread")).to_have_count(0)
    expect(badge).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Mark all read"))).to_have_count(0)

    page.goto(f"{base_url}/dashboard")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your dashboard")
    expect(page.get_by_text("0 unread")).to_be_visible()
    page.close()
