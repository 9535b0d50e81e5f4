"""NGSI-LD @context management: ``/jsonldContexts`` (clause 5.13) over the resolver's store.

``GET /jsonldContexts`` lists the stored contexts' URLs (``details=true``: ContextInfo
objects; ``kind=Hosted|Cached|ImplicitlyCreated`` filters); ``POST`` hosts a client's
@context; ``GET /jsonldContexts/{contextId}`` serves one (``details=true``: its
ContextInfo); ``DELETE`` removes one, or with ``reload=true`` fetches a Cached one again.
``contextId`` is the local id (``urn:ngsi-ld:jsonldContext:...``) or the URL, percent-
encoded. Errors are the store's: 404 unknown, 422 not allowed for that kind (serving a
Cached copy, deleting the core context or a preloaded one), 400 bad kind or body.

Decisions where the specification leaves room:

- Reading is public (a hosted @context is there to be fetched by any client or broker);
  hosting and deleting need an operator (``OperatorDep``), since they change what every
  client's requests mean.
- A hosted context is served at ``<public base>/ngsi-ld/v1/jsonldContexts/<localId>``, and
  that URL is its identity in ``Link`` headers. The public base is ``CITYSMART_PUBLIC_URL``
  when set (do set it behind a reverse proxy); otherwise the base URL of the first
  operator request that hosts a context, which is authenticated, so an anonymous client
  cannot pick the host name through a forged ``Host`` header.
- A served context is ``application/ld+json`` (JSON-LD 1.1, remote context documents).
- ``POST`` answers 201 with ``Location`` (the context's URL) and no body.
- Hosted contexts live in the resolver's memory: a restart forgets them, and several hub
  processes each have their own (preloading, ``CITYSMART_NGSI_LD_CONTEXT_PRELOAD``, is the
  way to give every process the same contexts).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from citysmart.core.config import Settings
from citysmart.hub.ngsi_ld.context import ContextSettings
from citysmart.hub.ngsi_ld.http import (
    LD_JSON,
    BodyDep,
    OperatorDep,
    flag,
    get_resolver,
    ngsi_state,
    no_content,
)

router = APIRouter()

PATH: Final = "/jsonldContexts"
_BASE_SETTLED: Final = "context_routes.hosted_base_settled"
_settle_lock = threading.Lock()


def hosted_base(public_url: str, prefix: str) -> str:
    """Return the URL hosted contexts are served under, for the hub's public URL."""
    return f"{public_url.rstrip('/')}{prefix}{PATH}/"


def context_settings(settings: Settings, prefix: str) -> ContextSettings:
    """Return the resolver's settings: remote fetching, and hosting under the public URL."""
    base = ContextSettings(allow_remote=settings.ngsi_ld_remote_contexts)
    if not settings.public_url:
        return base
    return replace(base, hosted_base=hosted_base(settings.public_url, prefix))


def _settle_hosted_base(request: Request) -> None:
    """Without a configured public URL, host under this (operator's) request's base URL."""
    state = ngsi_state(request)
    if state.extra.get(_BASE_SETTLED):
        return
    with _settle_lock:
        if state.extra.get(_BASE_SETTLED):
            return
        app_settings: Settings | None = getattr(request.app.state, "settings", None)
        if app_settings is None or not app_settings.public_url:
            resolver = state.resolver
            base = str(request.url.replace(query="", fragment="")).rstrip("/") + "/"
            resolver.settings = replace(resolver.settings, hosted_base=base)
        state.extra[_BASE_SETTLED] = True


@router.get(PATH, summary="List @contexts (NGSI-LD)")
def list_contexts(request: Request) -> JSONResponse:
    """Return the stored contexts' URLs, or with details=true their ContextInfo."""
    infos = get_resolver(request).list_contexts(request.query_params.get("kind"))
    if flag(request, "details"):
        return JSONResponse([i.as_json() for i in infos])
    return JSONResponse([i.url for i in infos])


@router.post(PATH, status_code=201, summary="Add an @context (NGSI-LD)")
def add_context(request: Request, writer: OperatorDep, body: BodyDep) -> Response:
    """Host a client's @context; answer 201 with its URL in Location."""
    _settle_hosted_base(request)
    info = get_resolver(request).host_context(body if isinstance(body, dict) else {})
    return Response(status_code=201, headers={"Location": info.url})


@router.get(PATH + "/{context_id:path}", summary="Serve an @context (NGSI-LD)")
def serve_context(context_id: str, request: Request) -> Response:
    """Return a hosted context's document, or with details=true its ContextInfo."""
    resolver = get_resolver(request)
    if flag(request, "details"):
        return JSONResponse(resolver.context_info(context_id).as_json())
    document: Any = resolver.serve_context(context_id)
    return JSONResponse(document, media_type=LD_JSON)


@router.delete(PATH + "/{context_id:path}", status_code=204, summary="Delete an @context")
def delete_context(context_id: str, request: Request, writer: OperatorDep) -> Response:
    """Remove a stored context, or with reload=true fetch a Cached one again."""
    get_resolver(request).delete_context(context_id, reload=flag(request, "reload"))
    return no_content()


__all__ = ["PATH", "context_settings", "hosted_base", "router"]
