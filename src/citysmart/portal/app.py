"""The application factory: the hub API, the portal pages and every enabled service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citysmart.core import roles
from citysmart.core.config import Settings, get_settings
from citysmart.core.errors import install_problem_handlers
from citysmart.core.service import ServiceManifest, discover_services
from citysmart.hub.ngsi_ld.routes import mount_ngsi_ld
from citysmart.hub.routes import router as hub_router
from citysmart.hub.runtime import HubRuntime
from citysmart.portal import account_pages, dashboard, pages
from citysmart.portal.oidc import routes as oidc_routes

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class SecurityHeaders:
    """Add the Content-Security-Policy and related headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name for name, _ in headers}
                for name, value in (
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ):
                    if name not in names:
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    settings: Settings | None = None,
    services: list[ServiceManifest] | None = None,
    runtime: HubRuntime | None = None,
    start_mqtt: bool | None = None,
    migrate: bool = True,
) -> FastAPI:
    """Build the app; the lifespan migrates the schema and starts MQTT ingest."""
    settings = settings or get_settings()
    settings.check_production()
    runtime = runtime or HubRuntime.create(settings)
    manifests = discover_services() if services is None else services
    run_mqtt = settings.mqtt_ingest if start_mqtt is None else start_mqtt

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            runtime.migrate()
        runtime.start_events()
        if run_mqtt:
            runtime.start_mqtt()
        await app.state.ngsi_ld.start()
        try:
            yield
        finally:
            runtime.stop()
            await app.state.ngsi_ld.stop()

    app = FastAPI(
        title="citysmart",
        version="0.1.0",
        description="Sejong's city data hub and services",
        lifespan=lifespan,
        # The API docs page is served by the portal from npm-built assets (no CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.sessions = runtime.sessions
    app.state.ingestor = runtime.ingestor
    app.state.services = manifests
    install_problem_handlers(app)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="citysmart_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.environment == "production",
    )
    app.include_router(hub_router)
    mount_ngsi_ld(app, runtime, settings, manifests)
    app.add_middleware(SecurityHeaders)  # outermost: NGSI-LD's edge answers get it too
    for manifest in manifests:
        for role, includes in manifest.roles.items():
            roles.add_role(role, includes)
        if manifest.router is not None:
            app.include_router(manifest.router)
    app.include_router(pages.router)
    app.include_router(account_pages.router)
    app.include_router(dashboard.router)
    app.include_router(oidc_routes.router)
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")

    @app.get("/healthz", tags=["ops"])
    def healthz(request: Request) -> Response:
        """Answer 200 when the app, the database and the broker connection are up."""
        status = runtime.health()
        ok = all(v in ("ok", "disabled") for v in status.values())
        return JSONResponse({"status": "ok" if ok else "degraded", **status}, 200 if ok else 503)

    return app
