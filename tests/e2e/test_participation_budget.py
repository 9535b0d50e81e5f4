"""A participatory budget allocated in a real browser and tallied on the results page.

Starts ``python -m citysmart serve`` on its own SQLite file holding a process, a budget of
100,000,000 KRW (at least 50% to spend) and four projects, then drives Debian's chromium:
three verified residents each tick projects (the live total follows, an over-budget choice
is flagged on the page and refused by the server), save and check out; one first tries to
check out under the minimum and is told why. The operator closes voting, and the public
results page shows the votes and, by the greedy rule, the funded projects: the cheapest
project at two votes first, the dearest one skipped as it no longer fits. axe-core finds no
serious or critical violation on the ballot and results pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from citysmart.core.accounts import create_user
from citysmart.core.time import utcnow
from citysmart.services.participation.models_budget import Budget, BudgetProject
from citysmart.services.participation.models_process import Process
from tests.e2e import harness
from tests.e2e.harness import SECRET, assert_accessible, cli, open_store, serve, server_env

pytestmark = pytest.mark.e2e

OPERATOR, PASSWORD = "budget-e2e-operator", "e2e-budget-password"
RESIDENTS = ("budget-e2e-minji", "budget-e2e-jiho", "budget-e2e-seoyeon")
PROJECTS = (
    ("Shade trees", 60_000_000),
    ("Benches", 40_000_000),
    ("Night lights", 30_000_000),
    ("Bike racks", 10_000_000),
)


def _store_budget(data: Path) -> int:
    """Put residents, a process, a budget and its projects in the server's store."""
    with open_store(data) as runtime, runtime.sessions.begin() as session:
        for name in RESIDENTS:
            create_user(session, name, "resident", PASSWORD).verified_at = utcnow()
        process = Process(slug="e2e-budget", title="Neighbourhood budget", published=True)
        session.add(process)
        session.flush()
        budget = Budget(
            process_id=process.id,
            title="Dodam-dong budget 2027",
            title_ko="도담동 2027 주민참여예산",
            total_krw=100_000_000,
            min_share_pct=50,
            rule="greedy",
            opens_at=utcnow() - dt.timedelta(hours=1),
            closes_at=utcnow() + dt.timedelta(days=7),
        )
        session.add(budget)
        session.flush()
        for title, cost in PROJECTS:
            session.add(BudgetProject(budget_id=budget.id, title=title, cost_krw=cost))
        return budget.id


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """Run the real server with its own SQLite file; yield its address and the budget id."""
    data = tmp_path_factory.mktemp("budget-e2e")
    env = server_env(data, SECRET)
    cli(env, "users", "add", OPERATOR, "--role", "operator", "--password-stdin", stdin=PASSWORD)
    budget_id = _store_budget(data)
    with serve(env) as base_url:
        yield base_url, budget_id


def sign_in(page: Page, base_url: str, path: str, user: str) -> None:
    """Sign in through the portal's form and come back to ``path``."""
    harness.sign_in(page, base_url, user, PASSWORD, path)


def tick(page: Page, titles: list[str]) -> None:
    """Tick exactly these projects on the ballot."""
    for title, _ in PROJECTS:
        box = page.get_by_role("checkbox", name=title)
        if (title in titles) != box.is_checked():
            box.click()


def test_residents_allocate_the_budget_and_the_results_show_the_funded_projects(
    server: tuple[str, int], browser: Browser
) -> None:
    base_url, budget_id = server
    path = f"/participation/budgets/{budget_id}"
    choices = {
        RESIDENTS[0]: ["Shade trees", "Benches"],
        RESIDENTS[1]: ["Shade trees", "Bike racks"],
        RESIDENTS[2]: ["Benches", "Night lights", "Bike racks"],
    }
    for resident, titles in choices.items():
        context = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        sign_in(page, base_url, path, resident)
        expect(page.locator("body")).to_contain_text("at least 50% (50,000,000 KRW)")
        if resident == RESIDENTS[2]:
            # Over the budget: the live total warns, and the server refuses it too.
            tick(page, ["Shade trees", "Benches", "Night lights"])
            expect(page.locator("#spent")).to_have_text("130,000,000")
            expect(page.locator("#ballot-warning")).to_be_visible()
            page.get_by_role("button", name="Save my choice").click()
            expect(page.locator("#ballot-error")).to_contain_text("over the budget")
            # Under the minimum: saved, but checking out is refused with the reason.
            tick(page, ["Night lights", "Bike racks"])
            expect(page.locator("#spent")).to_have_text("40,000,000")
            page.get_by_role("button", name="Save my choice").click()
            expect(page.locator("#checkout-note")).to_contain_text("at least 50,000,000 KRW")
            assert_accessible(page, base_url)
        tick(page, titles)
        page.get_by_role("button", name="Save my choice").click()
        expect(page).to_have_url(f"{base_url}{path}?saved=1#ballot")
        page.get_by_role("button", name="Check out (final vote)").click()
        expect(page.locator("#ballot-final")).to_be_visible()
        expect(page.get_by_role("checkbox", name=titles[0])).to_be_disabled()
        assert errors == []
        context.close()

    operator = browser.new_context(locale="en-US")
    page = operator.new_page()
    sign_in(page, base_url, path, OPERATOR)
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value") or ""
    closed = operator.request.post(
        f"{base_url}/api/v1/participation/budgets/{budget_id}/close",
        headers={"X-CSRF-Token": csrf},
    )
    assert closed.ok, closed.text()
    operator.close()

    public = browser.new_context(locale="en-US")
    page = public.new_page()
    page.goto(f"{base_url}{path}/results")
    expect(page.locator("#results-summary")).to_contain_text("3 ballots")
    expect(page.locator("#results-summary")).to_contain_text("greedy by votes")
    # Votes: shade trees 2, benches 2, bike racks 2, night lights 1. Greedy: bike racks
    # (2 votes, cheapest) 10M, benches 40M, shade trees 60M would make 110M: skipped;
    # night lights 30M fits: 80M funded.
    expect(page.locator("#results-summary")).to_contain_text("80,000,000 of 100,000,000 KRW")
    rows = page.locator("#results-table tbody tr")
    expect(rows).to_have_count(4)
    expected = [
        ("Bike racks", "2", "Funded"),
        ("Benches", "2", "Funded"),
        ("Shade trees", "2", "Not funded"),
        ("Night lights", "1", "Funded"),
    ]
    for index, (title, votes, outcome) in enumerate(expected):
        row = rows.nth(index)
        expect(row.locator("th")).to_have_text(title)
        expect(row.locator("td").nth(1)).to_have_text(votes)
        expect(row.locator("td").nth(2)).to_contain_text(outcome)
    assert_accessible(page, base_url)
    public.close()
