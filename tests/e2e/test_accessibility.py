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
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from citysmart.core.accounts import create_user
from citysmart.core.config import Settings
from citysmart.core.notifications import notify
from citysmart.core.service import discover_services
from citysmart.hub.runtime import HubRuntime
from tests.conftest import free_port, unavailable
from tests.e2e.axe import AXE_FILE, blocking, describe, run_axe
from tests.e2e.test_air_map import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

SECRET = "e2e-secret-key-0123456789-abcdefghijklmnop"
ADMIN, PASSWORD = "axe-admin", "e2e-axe-password"
PUBLIC_PAGES = ("/", "/signin", "/docs")
# Parts of pages that are a third party's widget, not ours to fix: Swagger UI's own
# colours (method badges) and nested buttons fail axe; the page around it is checked.
THIRD_PARTY = {"/docs": ("#swagger-ui",)}
SIGNED_IN_PAGES = ("/", "/dashboard", "/notifications", "/console", "/hub/explorer")


STARTUP_S = 240  # importing every service takes long on a busy shared machine


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for the server's health check, failing with its log if it exits or stalls."""
    deadline = time.monotonic() + STARTUP_S
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            response = httpx.get(f"{url}/healthz", timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text}"
        except httpx.TransportError as exc:
            last = str(exc)
        time.sleep(0.5)
    pytest.fail(f"the server was not healthy in {STARTUP_S} s ({last}):\n{log.read_text()[-4000:]}")


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
    page.goto(f"{base_url}/signin?next=/dashboard")
    page.get_by_label("User name").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}/dashboard")
    paths = list(dict.fromkeys([*SIGNED_IN_PAGES, *manifest_pages()]))
    failures = check(page, base_url, paths)
    context.close()
    assert not failures, "\n".join(failures)
