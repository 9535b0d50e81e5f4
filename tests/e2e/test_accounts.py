"""Accounts in a real browser: a citizen signs up, is verified with a CLI code, resets a password.

Starts ``python -m citysmart serve`` on its own SQLite file (file email backend), drives
Debian's chromium (Playwright): sign-up, then ``citysmart residents issue-code --for`` in a
subprocess as an admin would, the code typed on /account/verify, and the account page
shows the citizen verified. The reset link is read from the ``.eml`` file the server wrote.
axe-core checks each account page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.harness import (
    assert_accessible,
    cli,
    serve,
    server_env,
    sign_in,
    sign_in_redirected,
)

pytestmark = pytest.mark.e2e

SECRET = "e2e-accounts-secret-0123456789-abcdefghijklmn"
USERNAME, PASSWORD, NEW_PASSWORD = "minji-e2e", "e2e-citizen-password", "e2e-new-password"


@dataclass(frozen=True)
class Server:
    """A running ``citysmart serve`` and what its CLI needs."""

    base_url: str
    env: dict[str, str]
    mail: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Run the real server on a free port with its own SQLite file and mail folder."""
    data = tmp_path_factory.mktemp("accounts-e2e")
    env = server_env(data, SECRET, CITYSMART_EMAIL_BACKEND="file")
    cli(env, "migrate")
    with serve(env) as base_url:
        yield Server(base_url, env, data / "mail")


def test_citizen_signs_up_is_verified_by_code_and_resets_the_password(
    server: Server, browser: Browser
) -> None:
    base = server.base_url
    context = browser.new_context(locale="ko-KR")
    page = context.new_page()
    page.goto(f"{base}/")
    page.get_by_role("link", name="Sign up").first.click()
    expect(page).to_have_url(f"{base}/signup")
    assert_accessible(page, base)
    page.get_by_label("User name").fill(USERNAME)
    page.get_by_label("Display name").fill("김민지")
    page.get_by_label("Email").fill("minji@example.org")
    page.locator("#password").fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_label("Language").select_option("ko")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{base}/account?saved=welcome")
    expect(page.locator("#verification-status")).to_contain_text("Not verified")
    assert_accessible(page, base)

    # An admin issues a code for this citizen on the command line; it is the last line.
    out = cli(server.env, "residents", "issue-code", "--for", USERNAME, "--expires-days", "2")
    code = out.strip().splitlines()[-1]
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code), out

    page.get_by_role("link", name="verify your residence").click()
    expect(page).to_have_url(f"{base}/account/verify")
    assert_accessible(page, base)
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
    assert_accessible(page, base)
    page.get_by_label("Email").fill("minji@example.org")
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("#reset-sent")).to_be_visible()
    [eml] = list(server.mail.glob("*.eml"))
    text = BytesParser(policy=policy.default).parsebytes(eml.read_bytes()).get_content()
    link = re.search(r"http://\S+/password/reset\?token=\S+", text)
    assert link, text
    page.goto(link.group(0))
    assert_accessible(page, base)
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("#password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the password").click()
    expect(page.locator("#reset-done")).to_be_visible()
    sign_in(page, base, USERNAME, NEW_PASSWORD, "/account")
    expect(page.locator("#verification-status")).to_contain_text("Verified resident")
    context.close()


def test_admin_residents_page_issues_a_code_and_is_accessible(
    server: Server, browser: Browser
) -> None:
    base = server.base_url
    cli(server.env, "users", "add", "admin-e2e", "--role", "admin", "--password-stdin",
         stdin=PASSWORD)  # fmt: skip
    context = browser.new_context()
    page = context.new_page()
    sign_in_redirected(page, base, "/admin/residents", "admin-e2e", PASSWORD)
    assert_accessible(page, base)
    page.get_by_role("button", name="Issue a code").click()
    expect(page.locator("#new-code")).to_have_text(re.compile(r"^[A-Z0-9]{4}(-[A-Z0-9]{4}){2}$"))
    assert_accessible(page, base)
    context.close()
