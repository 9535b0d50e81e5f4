"""The browser tests' shared harness: a real server, its CLI, chromium, sign-in, checks.

Each e2e module runs ``python -m citysmart serve`` on its own SQLite file (``serve``),
seeds it through the CLI (``cli``) or its store, and drives Debian's chromium (the
``browser`` fixture of tests/e2e/conftest.py, launched by ``launch_chromium``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from citysmart.core.config import Settings
from citysmart.hub.runtime import HubRuntime
from tests.conftest import free_port, unavailable
from tests.e2e.axe import AXE_FILE, blocking, describe, run_axe

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
LEAFLET = ROOT / "src" / "citysmart" / "portal" / "static" / "vendor" / "leaflet" / "leaflet.js"
SECRET = "e2e-secret-key-0123456789-abcdefghijklmnop"
STARTUP_S = 240  # importing every service can take minutes on a busy shared machine


def server_env(data: Path, secret: str = SECRET, **extra: str) -> dict[str, str]:
    """The environment of a server (and its CLI) on ``data``, jobs off unless ``extra`` says."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYSMART_")}
    env.update(
        CITYSMART_DATA_DIR=str(data),
        CITYSMART_EMBEDDED_MQTT_PORT=str(free_port()),
        CITYSMART_SECRET_KEY=secret,
        # Tests decide when jobs run (or run them themselves).
        CITYSMART_RUN_JOBS="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run ``python -m citysmart <args>`` as an admin would; fail with its output if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "citysmart", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"citysmart {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


def log_tail(log: Path | None) -> str:
    """The end of a server's log (what to show when it failed)."""
    return log.read_text(errors="replace")[-4000:] if log and log.exists() else ""


def wait_healthy(
    url: str, process: subprocess.Popen[bytes] | None = None, log: Path | None = None
) -> None:
    """Wait up to STARTUP_S for ``url`` to answer 200; fail with the log's tail otherwise."""
    deadline = time.monotonic() + STARTUP_S
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log_tail(log)}")
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.TransportError as exc:
            last = str(exc)
        time.sleep(0.25)
    pytest.fail(f"{url} was not healthy within {STARTUP_S} s ({last}):\n{log_tail(log)}")


@contextmanager
def open_store(data: Path, secret: str = SECRET) -> Iterator[HubRuntime]:
    """Open the server's store in this process (to seed it or run its jobs); stop it after."""
    runtime = HubRuntime.create(Settings(data_dir=data, mqtt_ingest=False, secret_key=secret))
    try:
        yield runtime
    finally:
        runtime.stop()


@contextmanager
def serve(env: dict[str, str], *, mqtt: bool = False) -> Iterator[str]:
    """Run ``citysmart serve`` on a free port with ``env``; yield its address once healthy."""
    port = free_port()
    log = Path(env["CITYSMART_DATA_DIR"]) / "server.log"
    command = [sys.executable, "-m", "citysmart", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)] + ([] if mqtt else ["--no-mqtt"])
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_healthy(f"{base_url}/healthz", process, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Debian's chromium, headless (Playwright's own download does not work here)."""
    if not CHROMIUM.exists():
        unavailable("chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def need_leaflet() -> None:
    """Skip (locally) when the map assets are not built."""
    if not LEAFLET.exists():
        unavailable(
            "Leaflet",
            "the map assets are not built (npm ci --prefix web && python scripts/build_assets.py)",
        )


def need_axe() -> None:
    """Skip (locally) when axe-core is not built."""
    if not AXE_FILE.exists():
        unavailable("axe-core", "not built (npm ci --prefix web && python scripts/build_assets.py)")


def fill_sign_in(page: Page, user: str, password: str) -> None:
    """Fill the portal's sign-in form shown on ``page`` and send it."""
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in(page: Page, base_url: str, user: str, password: str, then: str = "/") -> None:
    """Sign in through the portal's form and land on ``then``."""
    page.goto(f"{base_url}/signin?next={then}")
    fill_sign_in(page, user, password)
    expect(page).to_have_url(f"{base_url}{then}")


def sign_in_redirected(page: Page, base_url: str, path: str, user: str, password: str) -> None:
    """Open a page, be sent to sign in, and come back to it signed in."""
    page.goto(f"{base_url}{path}")
    expect(page).to_have_url(f"{base_url}/signin?next={path}")
    fill_sign_in(page, user, password)
    expect(page).to_have_url(f"{base_url}{path}")


def watch_problems(
    page: Page, allowed: tuple[str, ...] = (), *, responses: bool = True
) -> list[str]:
    """Collect script errors, CSP violations and (with ``responses``) failed requests.

    Anything whose address contains one of ``allowed`` is left out.
    """
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A failed request is logged too, at the request's address.
        where = str(message.location.get("url", ""))
        if message.type == "error" and not any(a in where for a in allowed):
            problems.append(f"{message.text} ({where})" if where else message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    if responses:
        page.on(
            "response",
            lambda r: (
                problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not any(a in r.url for a in allowed)
                else None
            ),
        )
    return problems


def assert_accessible(page: Page, base_url: str, where: str | None = None) -> None:
    """Fail on any serious or critical axe-core violation of the page shown."""
    found = blocking(run_axe(page, base_url))
    assert not found, describe(where or page.url, found)
