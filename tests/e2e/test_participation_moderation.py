"""Moderation in a real browser: a citizen reports a comment, a moderator hides it.

Starts ``python -m citysmart serve`` on its own SQLite file holding a published process, a
debate and a comment, then drives Debian's chromium (Playwright): a citizen reports the
comment from the debate page (no script needed), a moderator finds it in the queue at
``/participation/moderation`` and hides it, and the public page then shows "Hidden by
moderation" instead of its text. axe-core checks both pages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from citysmart.core.accounts import create_user
from citysmart.core.auth import principal_for
from citysmart.core.config import Settings
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation import talk_store
from citysmart.services.participation.models_process import Process
from tests.conftest import free_port, unavailable
from tests.e2e.axe import blocking, describe, run_axe
from tests.e2e.test_air_map import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

SECRET = "e2e-secret-key-0123456789-abcdefghijklmnop"
PASSWORD = "e2e-talk-password"
MODERATOR, AUTHOR, REPORTER = "talk-e2e-mod", "talk-e2e-author", "talk-e2e-reporter"
SPAM = "Cheap watches at example.invalid!!!"


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for /healthz (generous: the shared test machine can be very busy)."""
    deadline = time.monotonic() + 240
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            response = httpx.get(f"{base_url}/healthz", timeout=10)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text}"
        except httpx.TransportError as exc:
            last = str(exc)
        time.sleep(0.5)
    pytest.fail(f"the server was not healthy within 240 s ({last}):\n{log.read_text()[-4000:]}")


@dataclass(frozen=True)
class Server:
    """A running ``citysmart serve`` with a debate and a comment."""

    base_url: str
    debate_id: int
    comment_id: int


def _seed(data: Path) -> tuple[int, int]:
    """Add the users, a published process, a debate and the comment to report."""
    runtime = HubRuntime.create(Settings(data_dir=data, mqtt_ingest=False, secret_key=SECRET))
    try:
        with runtime.sessions.begin() as session:
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
    finally:
        runtime.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Run the real server on a free port with its own SQLite file."""
    data = tmp_path_factory.mktemp("talk-e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYSMART_")}
    env.update(
        CITYSMART_DATA_DIR=str(data),
        CITYSMART_EMBEDDED_MQTT_PORT=str(free_port()),
        CITYSMART_SECRET_KEY=SECRET,
        CITYSMART_RUN_JOBS="0",
        PYTHONUNBUFFERED="1",
    )
    port = free_port()
    log = data / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "citysmart", "serve", "--no-mqtt", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_healthy(base_url, process, log)  # the server has migrated the store
        debate_id, comment_id = _seed(data)
        yield Server(base_url, debate_id, comment_id)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless."""
    if not CHROMIUM.exists():
        unavailable("chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def sign_in(page: Page, base_url: str, user: str, then: str) -> None:
    """Sign in through the portal's form and go to a page."""
    page.goto(f"{base_url}/signin?next={then}")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}{then}")


def no_blocking_violations(page: Page, base_url: str, path: str) -> None:
    """Fail on any serious or critical axe-core violation."""
    found = blocking(run_axe(page, base_url))
    assert not found, describe(path, found)


def test_a_moderator_hides_a_reported_comment(server: Server, browser: Browser) -> None:
    debate_path = f"/participation/debates/{server.debate_id}"
    comment = f"#comment-{server.comment_id}"

    reporter = browser.new_context()
    page = reporter.new_page()
    sign_in(page, server.base_url, REPORTER, debate_path)
    item = page.locator(comment)
    expect(item.locator(".talk-body")).to_have_text(SPAM)
    no_blocking_violations(page, server.base_url, debate_path)
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
    no_blocking_violations(page, server.base_url, "/participation/moderation")
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
    no_blocking_violations(page, server.base_url, "/participation/debates")
    public.close()
