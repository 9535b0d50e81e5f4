"""One sign-in for every city service, in a real browser: a separate service signs a citizen in.

Starts ``python -m citysmart serve`` on its own SQLite file and, on another port and another
host name (``localhost`` against the portal's ``127.0.0.1``, so two sites), a tiny relying
party: a Starlette app that sends the browser to the portal's authorization endpoint (found
by discovery) with PKCE S256, takes the code back, exchanges it with its secret and verifier,
checks the ID token against the JWKS (signature, issuer, audience, nonce, expiry), reads
userinfo and shows "Signed in as <name>". Chromium signs in at the portal, consents, and
lands back on the service signed in; a trusted service skips the consent page.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from citysmart.core.accounts import create_user
from tests.conftest import free_port
from tests.e2e.harness import (
    SECRET,
    cli,
    fill_sign_in,
    open_store,
    serve,
    server_env,
    wait_healthy,
    watch_problems,
)

pytestmark = pytest.mark.e2e

CITIZEN, PASSWORD, NAME = "oidc-e2e-citizen", "e2e-oidc-password", "Park Jiwoo"


@dataclass(frozen=True)
class RpClient:
    """A client registration the relying party holds."""

    client_id: str
    secret: str


def relying_party(portal: str, clients: dict[str, RpClient], base: str) -> Starlette:
    """Build the city service that signs citizens in through the portal."""
    config = httpx.get(f"{portal}/.well-known/openid-configuration", timeout=10).json()
    pending: dict[str, dict[str, str]] = {}

    def home(request: Request) -> Response:
        name = request.session.get("name")
        if name:
            body = f"<h1>Signed in as {escape(name)}</h1><p id=sub>{escape(request.session['sub'])}"
        else:
            links = "".join(f'<a href="/login?client={k}">Sign in ({k})</a> ' for k in clients)
            body = f"<h1>Bike service</h1><p>{links}</p>"
        return HTMLResponse(f"<!doctype html><title>RP</title>{body}")

    def login(request: Request) -> Response:
        which = request.query_params["client"]
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        verifier = secrets.token_urlsafe(48)
        pending[state] = {"nonce": nonce, "verifier": verifier, "client": which}
        params = {
            "response_type": "code",
            "client_id": clients[which].client_id,
            "redirect_uri": f"{base}/callback",
            "scope": "openid profile email",
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        return RedirectResponse(f"{config['authorization_endpoint']}?{urlencode(params)}", 302)

    def callback(request: Request) -> Response:
        flow = pending.pop(request.query_params.get("state", ""), None)
        if flow is None or "code" not in request.query_params:
            return HTMLResponse(f"<h1>Sign-in failed</h1><p>{escape(str(request.url))}", 400)
        client = clients[flow["client"]]
        tokens = httpx.post(
            config["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": request.query_params["code"],
                "redirect_uri": f"{base}/callback",
                "code_verifier": flow["verifier"],
            },
            auth=(client.client_id, client.secret),
            timeout=10,
        ).json()
        jwks = KeySet.import_key_set(httpx.get(config["jwks_uri"], timeout=10).json())
        id_token = jwt.decode(tokens["id_token"], jwks, algorithms=["RS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": config["issuer"]},
            aud={"essential": True, "value": client.client_id},
            nonce={"essential": True, "value": flow["nonce"]},
            exp={"essential": True},
        ).validate(id_token.claims)
        info = httpx.get(
            config["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=10,
        ).json()
        assert info["sub"] == id_token.claims["sub"]
        request.session.update(name=info["name"], sub=info["sub"])
        return RedirectResponse("/", 303)

    return Starlette(
        routes=[Route("/", home), Route("/login", login), Route("/callback", callback)],
        middleware=[Middleware(SessionMiddleware, secret_key=SECRET, session_cookie="rp")],
    )


@dataclass(frozen=True)
class Sites:
    """The running portal and relying party."""

    portal: str
    rp: str


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    """Run the portal (a real server) and the relying party (uvicorn in a thread)."""
    data = tmp_path_factory.mktemp("oidc-e2e")
    env = server_env(data, SECRET)
    with open_store(data) as runtime:
        runtime.migrate()
        with runtime.sessions.begin() as session:
            create_user(session, CITIZEN, "citizen", PASSWORD, display_name=NAME)
    rp_port = free_port()
    rp_base = f"http://localhost:{rp_port}"
    clients = {}
    for which, flags in (("consent", ()), ("trusted", ("--trusted",))):
        out = cli(env, "oidc", "add-client", f"Bikes ({which})", "--redirect-uri",
                  f"{rp_base}/callback", *flags)  # fmt: skip
        lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        clients[which] = RpClient(lines["client_id"], lines["client_secret"])
    assert "Bikes (trusted)" in cli(env, "oidc", "list-clients")

    with serve(env) as portal:
        app = relying_party(portal, clients, rp_base)
        rp_server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=rp_port, log_level="warning")
        )
        thread = threading.Thread(target=rp_server.run, daemon=True)
        thread.start()
        try:
            wait_healthy(rp_base)
            yield Sites(portal, rp_base)
        finally:
            rp_server.should_exit = True
            thread.join(timeout=10)


def _watch(page: Page) -> list[str]:
    # The relying party has no favicon; anything else (a CSP refusal above all) counts.
    return watch_problems(page, ("favicon",), responses=False)


def _start(page: Page, sites: Sites, which: str) -> None:
    page.goto(sites.rp)
    page.get_by_role("link", name=f"Sign in ({which})").click()
    page.wait_for_url(f"{sites.portal}/signin*")
    fill_sign_in(page, CITIZEN, PASSWORD)


def test_citizen_signs_in_to_a_service_through_the_portal(
    sites: Sites, browser: Browser, tmp_path: Path
) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    problems = _watch(page)
    _start(page, sites, "consent")
    page.wait_for_url(f"{sites.portal}/oidc/authorize*")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sign in to Bikes (consent)")
    page.screenshot(path=str(tmp_path / "consent.png"))
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{sites.rp}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Signed in as {NAME}")
    assert problems == []

    # Already signed in at the portal and consented: straight back, no page in between.
    context.clear_cookies(domain="localhost")
    page.goto(sites.rp)
    page.get_by_role("link", name="Sign in (consent)").click()
    page.wait_for_url(f"{sites.rp}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Signed in as {NAME}")
    context.close()


def test_trusted_service_needs_no_consent(sites: Sites, browser: Browser) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    problems = _watch(page)
    _start(page, sites, "trusted")
    try:
        page.wait_for_url(f"{sites.rp}/", timeout=30000)
    except PlaywrightTimeoutError:
        pytest.fail(f"stuck at {page.url}: {problems}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Signed in as {NAME}")
    assert problems == []
    context.close()
