"""Moderation in a real browser: a citizen reports a comment, a moderator hides it.

Starts ``python -m citysmart serve`` on its own SQLite file holding a published process, a
debate and a comment, then drives Debian's chromium (Playwright): a citizen reports the
comment from the debate page (no script needed), a moderator finds it in the queue at
``/participation/moderation`` and hides it, and the public page then shows "Hidden by
moderation" instead of its text. axe-core checks both pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from citysmart.core.accounts import create_user
from citysmart.core.auth import principal_for
from citysmart.services.participation import talk_store
from citysmart.services.participation.models_process import Process
from tests.e2e import harness
from tests.e2e.harness import SECRET, assert_accessible, open_store, serve, server_env

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-talk-password"
MODERATOR, AUTHOR, REPORTER = "talk-e2e-mod", "talk-e2e-author", "talk-e2e-reporter"
SPAM = "Cheap watches at example.invalid!!!"


@dataclass(frozen=True)
class Server:
    """A running ``citysmart serve`` with a debate and a comment."""

    base_url: str
    debate_id: int
    comment_id: int


def _seed(data: Path) -> tuple[int, int]:
    """Add the users, a published process, a debate and the comment to report."""
    with open_store(data) as runtime, runtime.sessions.begin() as session:
        create_user(session, MODERATOR, "moderator", PASSWORD)
        author = create_user(session, AUTHOR, "citizen", PASSWORD)
        create_user(session, REPORTER, "citizen", PASSWORD)
        process = Process(
            slug="e2e-night-buses",
            title="Night buses",
            description="",
            support_threshold=3,
            published=True,
        )
        session.add(process)
        session.flush()
        who = principal_for(author, "session")
        debate = talk_store.open_debate(
            session, who, process.id, "Should night buses run?", "From midnight to 5."
        )
        comment = talk_store.add_comment(session, who, "debate", debate.id, SPAM)
        return debate.id, comment.id


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Run the real server on a free port with its own SQLite file."""
    data = tmp_path_factory.mktemp("talk-e2e")
    with serve(server_env(data, SECRET)) as base_url:
        debate_id, comment_id = _seed(data)  # the server has migrated the store
        yield Server(base_url, debate_id, comment_id)


def sign_in(page: Page, base_url: str, user: str, then: str) -> None:
    """Sign in through the portal's form and go to a page."""
    harness.sign_in(page, base_url, user, PASSWORD, then)


def test_a_moderator_hides_a_reported_comment(server: Server, browser: Browser) -> None:
    debate_path = f"/participation/debates/{server.debate_id}"
    comment = f"#comment-{server.comment_id}"

    reporter = browser.new_context()
    page = reporter.new_page()
    sign_in(page, server.base_url, REPORTER, debate_path)
    item = page.locator(comment)
    expect(item.locator(".talk-body")).to_have_text(SPAM)
    assert_accessible(page, server.base_url, debate_path)
    item.get_by_text("Report", exact=False).first.click()
    item.get_by_label("Reason").select_option("spam")
    item.get_by_label("Note (optional)").fill("advertising")
    item.get_by_role("button", name="Send report").click()
    expect(page.locator(comment)).to_contain_text("You reported this")
    reporter.close()

    moderator = browser.new_context()
    page = moderator.new_page()
    sign_in(page, server.base_url, MODERATOR, "/participation/moderation")
    entry = page.locator(f"#item-comment-{server.comment_id}")
    expect(entry).to_contain_text(SPAM)
    expect(entry.locator(".report-count")).to_have_text("1 reports")
    expect(entry).to_contain_text("advertising")
    assert_accessible(page, server.base_url, "/participation/moderation")
    entry.get_by_role("button", name=f"Hide comment {server.comment_id}").click()
    expect(page).to_have_url(f"{server.base_url}/participation/moderation")
    expect(page.locator(f"#item-comment-{server.comment_id}")).to_contain_text("Hidden")
    moderator.close()

    public = browser.new_context()
    page = public.new_page()
    page.goto(f"{server.base_url}{debate_path}")
    expect(page.locator(comment)).to_contain_text("Hidden by moderation")
    expect(page.locator("body")).not_to_contain_text(SPAM)
    page.get_by_role("link", name="Debates of Night buses").click()
    expect(page.get_by_role("link", name="Should night buses run?")).to_be_visible()
    assert_accessible(page, server.base_url, "/participation/debates")
    public.close()
