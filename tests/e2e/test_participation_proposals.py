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
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from citysmart.core.accounts import create_user
from citysmart.core.time import utcnow
from tests.e2e.harness import SECRET, assert_accessible, cli, open_store, serve, server_env, sign_in

pytestmark = pytest.mark.e2e

OPERATOR, PASSWORD = "proposal-e2e-operator", "e2e-proposal-password"
AUTHOR, RESIDENTS = "proposal-e2e-author", ("proposal-e2e-a", "proposal-e2e-b", "proposal-e2e-c")
KST = ZoneInfo("Asia/Seoul")
API = "/api/v1/participation"


def _store_residents(data: Path) -> None:
    """Create verified residents in the server's store."""
    with open_store(data) as runtime, runtime.sessions.begin() as session:
        for name in (AUTHOR, *RESIDENTS):
            create_user(session, name, "resident", PASSWORD).verified_at = utcnow()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run the real server with its own SQLite file; yield its address."""
    data = tmp_path_factory.mktemp("proposal-e2e")
    env = server_env(data, SECRET)
    cli(env, "users", "add", OPERATOR, "--role", "operator", "--password-stdin", stdin=PASSWORD)
    _store_residents(data)
    with serve(env) as base_url:
        yield base_url


def signed_in(browser: Browser, base_url: str, user: str, path: str) -> tuple[BrowserContext, Page]:
    """Open a browser context signed in as ``user`` at ``path``."""
    context = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    sign_in(page, base_url, user, PASSWORD, path)
    return context, page


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
    assert_accessible(page, base_url)
    page.get_by_role("link", name="Make a proposal").click()
    page.get_by_label("Title").fill("A raised crossing at Hansol school")
    page.get_by_label("Your proposal").fill("Cars drive fast <here>; children cross twice a day.")
    page.get_by_label("Category").select_option("safety")
    page.get_by_role("button", name="Publish proposal").click()
    expect(page.locator("h1")).to_have_text("A raised crossing at Hansol school")
    expect(page.locator(".pre").first).to_contain_text("Cars drive fast <here>")
    proposal_path = page.url.removeprefix(base_url)
    assert_accessible(page, base_url)
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
            assert_accessible(page, base_url)
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
    assert_accessible(public_page, base_url)
    public_page.screenshot(path=str(tmp_path / "proposal-decided.png"), full_page=True)
    public.close()
