"""The NGSI-LD API under ``/ngsi-ld/v1`` (ETSI GS CIM 009 V1.8): one router, one state."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citysmart.core.config import Settings
from citysmart.core.service import ServiceManifest
from citysmart.hub.ngsi_ld import (
    batch_routes,
    context_routes,
    discovery_routes,
    read_routes,
    subscription_routes,
    temporal_routes,
    write_routes,
)
from citysmart.hub.ngsi_ld.codec import stored_type
from citysmart.hub.ngsi_ld.context import ContextResolver, core_context
from citysmart.hub.ngsi_ld.http import NgsiLdState, install_ngsi_ld_handlers
from citysmart.hub.ngsi_ld.lean import lean_routes
from citysmart.hub.ngsi_ld.pg_reads import AsyncEntityReader
from citysmart.hub.ngsi_ld.tenancy import TENANT_HEADER, Tenants
from citysmart.hub.runtime import HubRuntime

PREFIX = "/ngsi-ld/v1"
_TENANT = TENANT_HEADER.lower().encode()


class NgsiLdPaths:
    """Serve ``/ngsi-ld/v1/entities/`` as ``/ngsi-ld/v1/entities``; echo ``NGSILD-Tenant``.

    A retrieval the asynchronous reader can serve is answered here, before the app's other
    middleware (``read_routes.retrieve_at_the_edge``).

    Clients such as ngsildclient POST to collection URLs with a trailing slash; a redirect
    would make them send the body twice, and ``/entities/{id}`` would read it as an empty id.
    A response to a request for a tenant names that tenant (clause 6.3.14).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strip one trailing slash from NGSI-LD paths; add the tenant to the response."""
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        if path.endswith("/"):
            scope = dict(scope, path=path[:-1], raw_path=scope.get("raw_path", b"").rstrip(b"/"))
        tenant = next((v for k, v in scope.get("headers", []) if k == _TENANT), None)
        if tenant is None:
            if not await read_routes.retrieve_at_the_edge(scope, receive, send, PREFIX):
                await self.app(scope, receive, send)
            return

        async def send_with_tenant(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), (_TENANT, tenant)])
            await send(message)

        await self.app(scope, receive, send_with_tenant)


def _entity_reader(runtime: HubRuntime) -> AsyncEntityReader | None:
    """Return the asynchronous entity reader on PostgreSQL (None on SQLite)."""
    url = runtime.engine.url
    if url.get_backend_name() != "postgresql":
        return None
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return AsyncEntityReader(dsn)


def build_router() -> APIRouter:
    """Return the NGSI-LD router; routes under ``/entities/{id}/...`` come first."""
    router = APIRouter(prefix=PREFIX, tags=["ngsi-ld"])
    for module in (
        write_routes,
        batch_routes,
        read_routes,
        subscription_routes,
        temporal_routes,
        discovery_routes,
        context_routes,
    ):
        router.include_router(module.router)
    return router


def mount_ngsi_ld(
    app: FastAPI, runtime: HubRuntime, settings: Settings, manifests: Sequence[ServiceManifest]
) -> NgsiLdState:
    """Give the app the NGSI-LD API: its state, error handlers and routes."""
    resolver = ContextResolver(settings=context_routes.context_settings(settings, PREFIX))
    if settings.ngsi_ld_context_preload is not None:
        resolver.preload_mapping(settings.ngsi_ld_context_preload)
    core = core_context()
    private = frozenset(
        stored_type(core.expand_type(t)) for m in manifests for t in m.private_types
    )
    state = NgsiLdState(
        tenants=Tenants(runtime.engine, runtime.sessions, settings.data_dir / "tenants"),
        resolver=resolver,
        events=runtime.events,
        private_types=private,
        max_body_bytes=settings.ngsi_ld_max_body_bytes,
        max_limit=settings.ngsi_ld_max_limit,
        temporal_page_size=settings.ngsi_ld_temporal_page_size,
        entity_reader=_entity_reader(runtime),
    )
    app.state.ngsi_ld = state
    runtime.ngsi_ld = state
    if runtime.notifier is not None:
        runtime.notifier.bind(state)
    app.add_middleware(NgsiLdPaths)
    install_ngsi_ld_handlers(app)
    app.include_router(build_router())
    # Plain routes that answer for the API's busiest ones in one thread hop (lean.py).
    writes = lean_routes(PREFIX, [*write_routes.router.routes, *batch_routes.router.routes])
    reads = [Route(PREFIX + r.path, r.endpoint, methods=r.methods) for r in read_routes.FAST_ROUTES]
    app.router.routes[:0] = [*writes, *reads]
    return state


__all__ = ["PREFIX", "build_router", "mount_ngsi_ld"]
