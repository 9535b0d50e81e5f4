"""The opinion channel and a sandbox trial in a real browser, against a real server.

Starts ``python -m citysmart serve`` on its own SQLite file holding a citizen, an operator,
a verified resident and a sandbox project open for sign-ups, then drives Debian's chromium:
the citizen files a complaint from the form; the operator finds it in the queue, assigns it,
starts work and closes it with an answer; the citizen sees the answer and the history on the
item's page, and the public list shows neither the text nor the author. A verified resident
signs up for the sandbox trial. axe-core finds no serious or critical violation on the pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from citysmart.core.accounts import create_user
from citysmart.core.time import utcnow
from citysmart.services.participation.models_sandbox import SandboxProject
from tests.e2e import harness
from tests.e2e.harness import SECRET, assert_accessible, cli, open_store, serve, server_env

pytestmark = pytest.mark.e2e

OPERATOR, CITIZEN, RESIDENT = "opinion-e2e-operator", "opinion-e2e-citizen", "opinion-e2e-ara"
PASSWORD = "e2e-opinion-password"
PRIVATE = "The car with plate 12가3456 blocks the ramp every morning"
ANSWER = "Parking enforcement patrols the ramp from 1 December."


def _store(data: Path) -> int:
    """Put the citizen, the resident and a project open for sign-ups in the server's store."""
    with open_store(data) as runtime, runtime.sessions.begin() as session:
        create_user(session, CITIZEN, "citizen", PASSWORD)
        create_user(session, RESIDENT, "resident", PASSWORD).verified_at = utcnow()
        project = SandboxProject(
            title="Autonomous shuttle on the BRT loop",
            title_ko="BRT 순환 자율주행 셔틀",
            summary="Level-4 shuttles between Government Complex stops.",
            field="transport",
            track="demonstration_exemption",
            operator_name="Sejong Mobility Co.",
            place="Eojin-dong BRT stops",
            scale="3 shuttles",
            stage="selected",
            capacity=10,
        )
        session.add(project)
        session.flush()
        return project.id


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """Run the real server with its own SQLite file; yield its address and the project id."""
    data = tmp_path_factory.mktemp("opinion-e2e")
    env = server_env(data, SECRET)
    cli(env, "users", "add", OPERATOR, "--role", "operator", "--password-stdin", stdin=PASSWORD)
    project_id = _store(data)
    with serve(env) as base_url:
        yield base_url, project_id


def _context(browser: Browser) -> BrowserContext:
    context = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    context.set_default_timeout(30_000)
    return context


def sign_in(page: Page, base_url: str, path: str, user: str) -> None:
    """Sign in through the portal's form and come back to ``path``."""
    harness.sign_in(page, base_url, user, PASSWORD, path)


def _act(page: Page, status: str, answer: str | None = None) -> None:
    page.locator("#status").select_option(status)
    if answer:
        page.locator("#answer").fill(answer)
    page.get_by_role("button", name="Save").click()


def test_a_complaint_is_answered_and_a_resident_joins_a_trial(
    server: tuple[str, int], browser: Browser
) -> None:
    base_url, project_id = server
    expect.set_options(timeout=20_000)  # the shared test machine is often busy
    # The citizen files a complaint.
    citizen = _context(browser)
    page = citizen.new_page()
    sign_in(page, base_url, "/participation/opinions/new", CITIZEN)
    assert_accessible(page, base_url)
    page.get_by_label("Complaint").check()
    page.get_by_label("Category").select_option("parking")
    page.locator("#title").fill("Ramp blocked at Hansol-dong library")
    page.locator("#description").fill(PRIVATE)
    page.locator("#area_code").select_option(index=1)
    page.get_by_role("button", name="File").click()
    expect(page).to_have_url(re.compile(r"/participation/opinions/\d+$"))
    link = page.url.removeprefix(base_url)
    expect(page.locator("#opinion-status")).to_contain_text("Open")
    expect(page.locator("#opinion-department")).to_contain_text("Transportation Division")
    assert_accessible(page, base_url)

    # The operator assigns it, starts work and closes it with an answer.
    operator = _context(browser)
    desk = operator.new_page()
    sign_in(desk, base_url, "/participation/opinions/queue", OPERATOR)
    expect(desk.locator("#queue")).to_contain_text("Ramp blocked at Hansol-dong library")
    assert_accessible(desk, base_url)
    desk.get_by_role("link", name="Ramp blocked at Hansol-dong library").click()
    expect(desk).to_have_url(f"{base_url}{link}")
    assert_accessible(desk, base_url)
    _act(desk, "assigned")
    expect(desk.locator("#opinion-status")).to_contain_text("Assigned")
    _act(desk, "in_progress")
    expect(desk.locator("#opinion-status")).to_contain_text("In progress")
    _act(desk, "closed", ANSWER)
    expect(desk.locator("#opinion-status")).to_contain_text("Closed")
    operator.close()

    # The citizen sees the answer and the history.
    page.goto(f"{base_url}{link}")
    expect(page.locator("#opinion-answer")).to_have_text(ANSWER)
    expect(page.locator("#opinion-history li")).to_have_count(4)
    citizen.close()

    # Anyone: the list and the item show the answer, not the text or the author.
    public = _context(browser).new_page()
    public.goto(f"{base_url}{link}")
    expect(public.locator("#opinion-answer")).to_have_text(ANSWER)
    expect(public.locator("body")).not_to_contain_text("12가3456")
    expect(public.locator("body")).not_to_contain_text(CITIZEN)
    public.goto(f"{base_url}/participation/opinions")
    expect(public.locator("#opinions")).to_contain_text("Closed")
    expect(public.locator("body")).not_to_contain_text("Ramp blocked")
    assert_accessible(public, base_url)
    public.goto(f"{base_url}/sandbox")
    expect(public.locator("#projects")).to_contain_text("Autonomous shuttle on the BRT loop")
    assert_accessible(public, base_url)

    # A verified resident signs up for the trial.
    resident = _context(browser)
    trial = resident.new_page()
    path = f"/sandbox/projects/{project_id}"
    sign_in(trial, base_url, path, RESIDENT)
    assert_accessible(trial, base_url)
    trial.get_by_role("button", name="Sign up to try it").click()
    expect(trial.locator("#signup-state")).to_contain_text("You are signed up")
    expect(trial.locator("#project-signups")).to_contain_text("1 / 10")
    resident.close()
