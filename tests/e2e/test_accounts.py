"""Accounts in a real browser: a citizen signs up, is verified with a CLI code, resets a password.

Starts ``python -m citysmart serve`` on its own SQLite file (file email backend), drives
Debian's chromium (Playwright): sign-up, then ``citysmart residents issue-code --for`` in a
subprocess as an admin would, the code typed on /account/verify, and the account page
shows the citizen verified. The reset link is read from the ``.eml`` file the server wrote.
axe-core checks each account page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import free_port, unavailable
from tests.e2e.axe import blocking, describe, run_axe
from tests.e2e.test_air_map import CHROMIUM, CHROMIUM_ARGS, _cli

pytestmark = pytest.mark.e2e

SECRET = "e2e-accounts-secret-0123456789-abcdefghijklmn"
USERNAME, PASSWORD, NEW_PASSWORD = "minji-e2e", "e2e-citizen-password", "e2e-new-password"


@dataclass(frozen=True)
class Server:
    """A running ``citysmart serve`` and what its CLI needs."""

    base_url: str
    env: dict[str, str]
    mail: Path


def _wait_up(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for /healthz: up to 4 minutes, as a loaded shared machine may take that long."""
    deadline = time.monotonic() + 240
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            response = httpx.get(f"{base_url}/healthz", timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text}"
        except httpx.TransportError as exc:
            last = str(exc)
        time.sleep(0.25)
    pytest.fail(f"the server was not healthy in time ({last}):\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Run the real server on a free port with its own SQLite file and mail folder."""
    data = tmp_path_factory.mktemp("accounts-e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYSMART_")}
    env.update(
        CITYSMART_DATA_DIR=str(data),
        CITYSMART_EMBEDDED_MQTT_PORT=str(free_port()),
        CITYSMART_SECRET_KEY=SECRET,
        CITYSMART_RUN_JOBS="0",
        CITYSMART_EMAIL_BACKEND="file",
        PYTHONUNBUFFERED="1",
    )
    _cli(env, "migrate")
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
        _wait_up(base_url, process, log)
        yield Server(base_url, env, data / "mail")
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


def accessible(page: Page, base_url: str) -> None:
    """Fail on any serious or critical axe-core violation of the page shown."""
    found = blocking(run_axe(page, base_url))
    assert not found, describe(page.url, found)


def test_citizen_signs_up_is_verified_by_code_and_resets_the_password(
    server: Server, browser: Browser
) -> None:
    base = server.base_url
    context = browser.new_context(locale="ko-KR")
    page = context.new_page()
    page.goto(f"{base}/")
    page.get_by_role("link", name="Sign up").first.click()
    expect(page).to_have_url(f"{base}/signup")
    accessible(page, base)
    page.get_by_label("User name").fill(USERNAME)
    page.get_by_label("Display name").fill("김민지")
    page.get_by_label("Email").fill("minji@example.org")
    page.locator("#password").fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_label("Language").select_option("ko")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{base}/account?saved=welcome")
    expect(page.locator("#verification-status")).to_contain_text("Not verified")
    accessible(page, base)

    # An admin issues a code for this citizen on the command line; it is the last line.
    out = _cli(server.env, "residents", "issue-code", "--for", USERNAME, "--expires-days", "2")
    code = out.strip().splitlines()[-1]
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code), out

    page.get_by_role("link", name="verify your residence").click()
    expect(page).to_have_url(f"{base}/account/verify")
    accessible(page, base)
    page.get_by_role("textbox", name="Code").fill(code)
    page.get_by_role("button", name="Verify with the code").click()
    expect(page).to_have_url(f"{base}/account?saved=verified")
    expect(page.locator("#verification-status")).to_contain_text("Verified resident")
    expect(page.locator("#verification-status")).to_contain_text("one-time code")
    expect(page.locator(".role").first).to_have_text("resident")

    # Signed out, the citizen forgets the password and follows the emailed link.
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{base}/signin")
    page.get_by_role("link", name="Forgot your password?").click()
    accessible(page, base)
    page.get_by_label("Email").fill("minji@example.org")
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("#reset-sent")).to_be_visible()
    [eml] = list(server.mail.glob("*.eml"))
    text = BytesParser(policy=policy.default).parsebytes(eml.read_bytes()).get_content()
    link = re.search(r"http://\S+/password/reset\?token=\S+", text)
    assert link, text
    page.goto(link.group(0))
    accessible(page, base)
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("#password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the password").click()
    expect(page.locator("#reset-done")).to_be_visible()
    page.goto(f"{base}/signin?next=/account")
    page.get_by_label("User name").fill(USERNAME)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/account")
    expect(page.locator("#verification-status")).to_contain_text("Verified resident")
    context.close()


def test_admin_residents_page_issues_a_code_and_is_accessible(
    server: Server, browser: Browser
) -> None:
    base = server.base_url
    _cli(server.env, "users", "add", "admin-e2e", "--role", "admin", "--password-stdin",
         stdin=PASSWORD)  # fmt: skip
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/admin/residents")
    expect(page).to_have_url(f"{base}/signin?next=/admin/residents")
    page.get_by_label("User name").fill("admin-e2e")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/admin/residents")
    accessible(page, base)
    page.get_by_role("button", name="Issue a code").click()
    expect(page.locator("#new-code")).to_have_text(re.compile(r"^[A-Z0-9]{4}(-[A-Z0-9]{4}){2}$"))
    accessible(page, base)
    context.close()
