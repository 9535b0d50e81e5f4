"""A proposal from its making to its decision, in a real browser against a real server.

Starts ``python -m citysmart serve`` on its own SQLite file with an operator (made with the
CLI) and four verified residents, then drives Debian's chromium: the operator creates a
process (support threshold 2) with the operator form; a resident makes a proposal with the
form; two others support it and it goes to the vote; the operator moves the voting phase
to now through the operator API; three residents vote (a second vote is refused); the
operator ends the voting phase and decides; the public page shows the result with the
stated rule. axe-core finds no serious or critical violation on the pages.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from citysmart.core.accounts import create_user
from citysmart.core.config import Settings
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from tests.conftest import free_port, unavailable
from tests.e2e.axe import blocking, describe, run_axe
from tests.e2e.test_air_map import CHROMIUM, CHROMIUM_ARGS, _cli

pytestmark = pytest.mark.e2e

SECRET = "e2e-secret-key-0123456789-abcdefghijklmnop"
OPERATOR, PASSWORD = "proposal-e2e-operator", "e2e-proposal-password"
AUTHOR, RESIDENTS = "proposal-e2e-author", ("proposal-e2e-a", "proposal-e2e-b", "proposal-e2e-c")
KST = ZoneInfo("Asia/Seoul")
API = "/api/v1/participation"


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for /healthz (up to 3 minutes: a loaded machine starts the server slowly)."""
    deadline = time.monotonic() + 180
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError as exc:
            last = str(exc)
        time.sleep(0.5)
    pytest.fail(f"the server was not healthy within 180 s ({last}):\n{log.read_text()[-4000:]}")


def _store_residents(data: Path) -> None:
    """Create verified residents in the server's store."""
    runtime = HubRuntime.create(Settings(data_dir=data, mqtt_ingest=False, secret_key=SECRET))
    try:
        with runtime.sessions.begin() as session:
            for name in (AUTHOR, *RESIDENTS):
                create_user(session, name, "resident", PASSWORD).verified_at = utcnow()
    finally:
        runtime.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run the real server with its own SQLite file; yield its address."""
    data = tmp_path_factory.mktemp("proposal-e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYSMART_")}
    env.update(
        CITYSMART_DATA_DIR=str(data),
        CITYSMART_EMBEDDED_MQTT_PORT=str(free_port()),
        CITYSMART_SECRET_KEY=SECRET,
        CITYSMART_RUN_JOBS="0",
        PYTHONUNBUFFERED="1",
    )
    _cli(env, "users", "add", OPERATOR, "--role", "operator", "--password-stdin", stdin=PASSWORD)
    _store_residents(data)
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
        wait_healthy(base_url, process, log)
        yield base_url
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


def signed_in(browser: Browser, base_url: str, user: str, path: str) -> tuple[BrowserContext, Page]:
    """Open a browser context signed in as ``user`` at ``path``."""
    context = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.goto(f"{base_url}/signin?next={path}")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}{path}")
    return context, page


def no_blocking_violations(page: Page, base_url: str) -> None:
    """Fail on any serious or critical axe-core violation."""
    found = blocking(run_axe(page, base_url))
    assert not found, describe(page.url, found)


def local(days: float) -> str:
    """Return a datetime-local value (KST) ``days`` from now."""
    return (utcnow() + dt.timedelta(days=days)).astimezone(KST).strftime("%Y-%m-%dT%H:%M")


def set_phases(
    context: BrowserContext, page: Page, base_url: str, voting: tuple[float, float]
) -> None:
    """Move the voting phase through the operator API (with the session's CSRF token)."""
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value") or ""
    start, end = (utcnow() + dt.timedelta(days=d) for d in voting)
    phases = [
        {"kind": "proposals", "title": "Proposals",
         "starts_at": (start - dt.timedelta(days=5)).isoformat(), "ends_at": start.isoformat()},
        {"kind": "voting", "title": "Vote", "starts_at": start.isoformat(),
         "ends_at": end.isoformat()},
    ]  # fmt: skip
    response = context.request.patch(
        f"{base_url}{API}/processes/e2e-crossings",
        data={"phases": phases},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.ok, response.text()


def test_a_proposal_is_supported_voted_and_decided(
    server: str, browser: Browser, tmp_path: Path
) -> None:
    base_url = server
    operator, op_page = signed_in(browser, base_url, OPERATOR, "/participation/processes/new")
    op_page.get_by_label("Short name in the address").fill("e2e-crossings")
    op_page.get_by_label("Title", exact=False).first.fill("Safe crossings")
    op_page.get_by_label("Supports needed for a vote").fill("2")
    op_page.get_by_label("Quorum (ballots)").fill("2")
    op_page.get_by_label("Published").check()
    op_page.get_by_label("Phase 1 kind").select_option("proposals")
    op_page.get_by_label("Phase 1 starts (KST)").fill(local(-1))
    op_page.get_by_label("Phase 1 ends (KST)").fill(local(5))
    op_page.get_by_label("Phase 2 kind").select_option("voting")
    op_page.get_by_label("Phase 2 starts (KST)").fill(local(5))
    op_page.get_by_label("Phase 2 ends (KST)").fill(local(10))
    op_page.get_by_role("button", name="Save").click()
    expect(op_page).to_have_url(f"{base_url}/participation/processes/e2e-crossings")
    expect(op_page.locator(".phase-current")).to_contain_text("Proposals")

    author, page = signed_in(browser, base_url, AUTHOR, "/participation/processes/e2e-crossings")
    no_blocking_violations(page, base_url)
    page.get_by_role("link", name="Make a proposal").click()
    page.get_by_label("Title").fill("A raised crossing at Hansol school")
    page.get_by_label("Your proposal").fill("Cars drive fast <here>; children cross twice a day.")
    page.get_by_label("Category").select_option("safety")
    page.get_by_role("button", name="Publish proposal").click()
    expect(page.locator("h1")).to_have_text("A raised crossing at Hansol school")
    expect(page.locator(".pre").first).to_contain_text("Cars drive fast <here>")
    proposal_path = page.url.removeprefix(base_url)
    no_blocking_violations(page, base_url)
    author.close()

    for resident in RESIDENTS[:2]:
        context, page = signed_in(browser, base_url, resident, proposal_path)
        page.get_by_role("button", name="Support").click()
        expect(page.locator("#support-count")).to_be_visible()
        context.close()
    public = browser.new_context(locale="en-US")
    public_page = public.new_page()
    public_page.goto(f"{base_url}{proposal_path}")
    expect(public_page.locator("#proposal-status")).to_contain_text("In the vote")
    expect(public_page.locator("#support-count")).to_contain_text("2 of 2")

    op_page.goto(f"{base_url}{proposal_path}")
    set_phases(operator, op_page, base_url, (-0.5, 3))
    for resident, choice in zip(RESIDENTS, ("Yes", "Yes", "No"), strict=True):
        context, page = signed_in(browser, base_url, resident, proposal_path)
        page.get_by_label(choice, exact=False).first.check()
        page.get_by_role("button", name="Cast my vote").click()
        expect(page.locator("#voted")).to_contain_text("You have voted")
        if resident == RESIDENTS[0]:
            no_blocking_violations(page, base_url)
            again = context.request.post(
                f"{base_url}{API}/proposals/{proposal_path.rsplit('/', 1)[1]}/vote",
                data={"choice": "no"},
                headers={
                    "X-CSRF-Token": page.locator('input[name="csrf"]').first.get_attribute("value")
                    or ""
                },
            )
            assert again.status == 409
        context.close()

    set_phases(operator, op_page, base_url, (-3, -0.1))
    op_page.goto(f"{base_url}{proposal_path}")
    op_page.get_by_role("button", name="Decide now").click()
    expect(op_page.locator("#proposal-status")).to_contain_text("Accepted")
    operator.close()

    public_page.goto(f"{base_url}{proposal_path}")
    expect(public_page.locator("#proposal-status")).to_contain_text("Accepted")
    expect(public_page.locator("#results")).to_contain_text("accepted: 2 yes > 1 no")
    no_blocking_violations(public_page, base_url)
    public_page.screenshot(path=str(tmp_path / "proposal-decided.png"), full_page=True)
    public.close()
