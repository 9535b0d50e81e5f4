"""Every main page passes axe-core with no serious or critical violation, in a real browser.

Starts ``python -m citysmart serve`` on its own SQLite file with an admin who has
notifications, then checks in Debian's chromium: the public pages as a visitor, and, signed
in, the home page, the dashboard, the notifications, the console, the hub explorer and every
page of every service's manifest (so a new service's pages are checked without touching
this test). Violations are printed with their elements.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from citysmart.core.accounts import create_user
from citysmart.core.config import Settings
from citysmart.core.notifications import notify
from citysmart.core.service import discover_services
from citysmart.hub.runtime import HubRuntime
from tests.conftest import free_port, unavailable
from tests.e2e.axe import AXE_FILE, blocking, describe, run_axe
from tests.e2e.test_air_map import CHROMIUM, CHROMIUM_ARGS, _wait_healthy

pytestmark = pytest.mark.e2e

SECRET = "e2e-secret-key-0123456789-abcdefghijklmnop"
ADMIN, PASSWORD = "axe-admin", "e2e-axe-password"
PUBLIC_PAGES = ("/", "/signin", "/docs")
SIGNED_IN_PAGES = ("/", "/dashboard", "/notifications", "/console", "/hub/explorer")


def manifest_pages() -> list[str]:
    """Every page every service declares (public or not: the admin may open them all)."""
    return [page.path for m in discover_services() for page in m.pages]


def _seed(data: Path) -> None:
    """An admin with two notifications, one read (both kinds of row on the page)."""
    runtime = HubRuntime.create(Settings(data_dir=data, mqtt_ingest=False, secret_key=SECRET))
    try:
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
    finally:
        runtime.stop()  # fmt: skip


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run the real server on a free port with its own SQLite file."""
    data = tmp_path_factory.mktemp("axe-e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYSMART_")}
    env.update(
        CITYSMART_DATA_DIR=str(data),
        CITYSMART_EMBEDDED_MQTT_PORT=str(free_port()),
        CITYSMART_SECRET_KEY=SECRET,
        CITYSMART_RUN_JOBS="0",
        PYTHONUNBUFFERED="1",
    )
    _seed(data)
    port = free_port()
    log = data / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "citysmart", "serve", "--no-mqtt", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process, log)
        yield url
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
    if not AXE_FILE.exists():
        unavailable("axe-core", "not built (npm ci --prefix web && python scripts/build_assets.py)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def check(page: Page, base_url: str, paths: list[str]) -> list[str]:
    """Open each page, let it settle, run axe; return the failures (printed as found)."""
    failures = []
    for path in paths:
        response = page.goto(f"{base_url}{path}")
        assert response is not None
        assert response.status < 400, f"{path} answered {response.status}"
        page.wait_for_load_state("networkidle")
        found = blocking(run_axe(page, base_url))
        if found:
            report = describe(path, found)
            print(report)
            failures.append(report)
    return failures


def test_public_pages_pass_axe(browser: Browser, base_url: str) -> None:
    page = browser.new_page()
    failures = check(page, base_url, list(PUBLIC_PAGES))
    page.close()
    assert not failures, "\n".join(failures)


def test_signed_in_pages_pass_axe(browser: Browser, base_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base_url}/signin?next=/dashboard")
    page.get_by_label("User name").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}/dashboard")
    paths = list(dict.fromkeys([*SIGNED_IN_PAGES, *manifest_pages()]))
    failures = check(page, base_url, paths)
    context.close()
    assert not failures, "\n".join(failures)
