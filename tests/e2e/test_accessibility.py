"""Every main page passes axe-core with no serious or critical violation, in a real browser.

Starts ``python -m citysmart serve`` on its own SQLite file with an admin who has
notifications, then checks in Debian's chromium: the public pages as a visitor, and, signed
in, the home page, the dashboard, the notifications, the console, the hub explorer and every
page of every service's manifest (so a new service's pages are checked without touching
this test). Violations are printed with their elements.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from citysmart.core.accounts import create_user
from citysmart.core.notifications import notify
from citysmart.core.service import discover_services
from tests.e2e.axe import blocking, describe, run_axe
from tests.e2e.harness import SECRET, need_axe, open_store, serve, server_env, sign_in

pytestmark = pytest.mark.e2e

ADMIN, PASSWORD = "axe-admin", "e2e-axe-password"
PUBLIC_PAGES = ("/", "/signin", "/docs")
# Parts of pages that are a third party's widget, not ours to fix: Swagger UI's own
# colours (method badges) and nested buttons fail axe; the page around it is checked.
THIRD_PARTY = {"/docs": ("#swagger-ui",)}
SIGNED_IN_PAGES = ("/", "/dashboard", "/notifications", "/console", "/hub/explorer")


def manifest_pages() -> list[str]:
    """Every page every service declares (public or not: the admin may open them all)."""
    return [page.path for m in discover_services() for page in m.pages]


def _seed(data: Path) -> None:
    """An admin with two notifications, one read (both kinds of row on the page)."""
    with open_store(data) as runtime:
        runtime.migrate()
        with runtime.sessions.begin() as session:
            user = create_user(session, ADMIN, "admin", PASSWORD)
            session.flush()
            notify(
                session,
                user.id,
                "portal",
                "e2e",
                "Your proposal passed the threshold",
                title_ko="제안이 기준을 넘었습니다",
                body="It goes to a vote.",
                link="/",
            )
            read = notify(session, user.id, "portal", "e2e", "Welcome", title_ko="환영합니다")
            session.flush()
            read.read_at = read.created_at


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run the real server on a free port with its own SQLite file."""
    data = tmp_path_factory.mktemp("axe-e2e")
    _seed(data)
    with serve(server_env(data, SECRET)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(browser: Browser) -> Browser:
    """The shared chromium, once axe-core is known to be built."""
    need_axe()
    return browser


def check(page: Page, base_url: str, paths: list[str]) -> list[str]:
    """Open each page, let it settle, run axe; return the failures (printed as found)."""
    failures = []
    for path in paths:
        response = page.goto(f"{base_url}{path}")
        assert response is not None
        assert response.status < 500, f"{path} answered {response.status}"
        if "text/html" not in response.headers.get("content-type", ""):
            # A page that needs data this server lacks (a month's air report) sends its
            # API's answer instead: nothing for axe to check.
            print(f"{path}: {response.status} {response.headers.get('content-type')}, not checked")
            continue
        page.wait_for_load_state("networkidle")
        found = blocking(run_axe(page, base_url, THIRD_PARTY.get(path, ())))
        if found:
            report = describe(path, found)
            print(report)
            failures.append(report)
    return failures


def test_public_pages_pass_axe(browser: Browser, base_url: str) -> None:
    page = browser.new_page()
    public = [p.path for m in discover_services() for p in m.pages if p.role is None]
    failures = check(page, base_url, list(dict.fromkeys([*PUBLIC_PAGES, *public])))
    page.close()
    assert not failures, "\n".join(failures)


def test_signed_in_pages_pass_axe(browser: Browser, base_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, base_url, ADMIN, PASSWORD, "/dashboard")
    paths = list(dict.fromkeys([*SIGNED_IN_PAGES, *manifest_pages()]))
    failures = check(page, base_url, paths)
    context.close()
    assert not failures, "\n".join(failures)
