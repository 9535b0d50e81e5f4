"""NGSI-LD reads: retrieve an entity, query entities (clauses 5.7.1, 5.7.2, 5.7.3 batch query).

Reads are public, like the hub API's public entity types, except types a service marks
private, which are never served (not even counted). A request's names are expanded with
the client's @context (``Link`` header, or the body of an ``application/ld+json`` query)
and the response is compacted with it. Queries are compiled to SQL by ``query.py``,
whose docstring says what SQL decides and what Python checks.

Decisions where the specification leaves room:

- A query needs at least one of ``type``, ``id``, ``idPattern``, ``attrs``, ``q`` or a
  geo-query (a Query body: ``entities``, ``attrs``, ``q`` or ``geoQ``); ``scopeQ`` alone
  is not enough. Otherwise BadRequestData.
- ``limit`` above the configured maximum (1000) or below 0, a negative ``offset`` and
  ``limit=0`` without ``count=true`` are BadRequestData; ``limit=0&count=true`` answers
  an empty array with ``NGSILD-Results-Count``.
- Paging links: ``Link: <...>; rel="next"`` when more entities follow the page and
  ``rel="prev"`` when ``offset`` > 0, on ``GET /entities`` and on the batch query (whose
  links repeat the query parameters: the client posts the same body again).
- In a query, ``attrs`` keeps the entities that have at least one of the attributes, and
  projects the response onto them.
- Retrieving an entity takes two queries: its row with its types, then its attributes;
  on PostgreSQL, for the default tenant and the core @context, one statement on the event
  loop (``pg_reads.py``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

import psycopg
from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from citysmart.hub.ngsi_ld.codec import stored_name, stored_type
from citysmart.hub.ngsi_ld.context import ContextError
from citysmart.hub.ngsi_ld.http import (
    BodyDep,
    Output,
    ReadDb,
    core_only,
    database_down,
    expand_attribute,
    flag,
    in_read_session,
    int_param,
    is_private,
    ngsi_state,
    not_found,
    output,
    problem,
    render,
    request_context,
    respond,
    split,
    tenant_of,
)
from citysmart.hub.ngsi_ld.model import EntityFragment, NgsiLdError, bad_request
from citysmart.hub.ngsi_ld.pg_reads import AsyncEntityReader
from citysmart.hub.ngsi_ld.query import (
    Page,
    QuerySpec,
    entity_head,
    fragment_of,
    load_fragments,
    run_query,
    spec_from_body,
    spec_from_params,
)

router = APIRouter()

DEFAULT_LIMIT: Final = 20
RESULTS_COUNT: Final = "NGSILD-Results-Count"


@router.get("/entities/{entity_id:path}", summary="Retrieve an entity (NGSI-LD)")
def retrieve_entity(entity_id: str, request: Request, db: ReadDb) -> JSONResponse:
    """Return one entity in normalized, concise or keyValues form."""
    return retrieve(request, db, entity_id)


@router.get("/entities", summary="Query entities (NGSI-LD)")
def query_entities(request: Request, db: ReadDb) -> JSONResponse:
    """Return the entities matching type, id, idPattern, attrs, q, geo and scopeQ, paged."""
    return query(request, db)


def retrieve(request: Request, db: Session, entity_id: str) -> JSONResponse:
    """Answer a retrieval of one entity."""
    out, wanted, stored = _retrieval(request)
    head = entity_head(db, entity_id)
    if head is None:
        raise not_found(f"no entity {entity_id}")
    return _entity_answer(request, fragment_of(db, head, stored), out, wanted)


async def retrieve_async(request: Request, reader: AsyncEntityReader, entity_id: str) -> Response:
    """Answer a retrieval of one entity on the event loop (PostgreSQL, default tenant)."""
    out, wanted, stored = _retrieval(request)
    try:
        fragment = await reader.entity(entity_id, sorted(stored) if stored is not None else None)
    except psycopg.OperationalError:
        return database_down(request)
    if fragment is None:
        raise not_found(f"no entity {entity_id}")
    return _entity_answer(request, fragment, out, wanted)


def _retrieval(request: Request) -> tuple[Output, set[str] | None, set[str] | None]:
    """Read a retrieval's output options and its ``attrs`` (expanded, and as stored)."""
    out = output(request)
    attrs = split(request.query_params.get("attrs"))
    wanted = {expand_attribute(out.ctx, a) for a in attrs} if attrs else None
    stored = {stored_name(a) for a in wanted} if wanted is not None else None
    return out, wanted, stored


def _entity_answer(
    request: Request, fragment: EntityFragment, out: Output, wanted: set[str] | None
) -> JSONResponse:
    """Render an entity, unless its type is private (then it does not exist)."""
    if is_private(request, [stored_type(t) for t in fragment.types]):
        raise not_found(f"no entity {fragment.id}")
    return respond(render(fragment, out, wanted), out)


def query(request: Request, db: Session) -> JSONResponse:
    """Answer a query by query parameters."""
    out = output(request)
    spec = spec_from_params(request.query_params, out.ctx, lambda t: expand_attribute(out.ctx, t))
    if not spec.restricted:
        raise bad_request(
            "a query needs at least one of type, id, idPattern, attrs, q or a geo-query"
        )
    return _answer(request, db, spec, out)


@router.post("/entityOperations/query", summary="Query entities with a Query body (NGSI-LD)")
def query_batch(request: Request, db: ReadDb, body: BodyDep) -> JSONResponse:
    """Return the entities matching a Query (clause 5.2.23), paged by query parameters."""
    out = output(request)
    out = replace(out, context=request_context(request, body))
    spec = spec_from_body(body, out.ctx, lambda t: expand_attribute(out.ctx, t))
    if not spec.restricted:
        raise bad_request("a Query needs at least one of entities, attrs, q or geoQ")
    if spec.lang is not None and request.query_params.get("lang") is None:
        out = replace(out, lang=spec.lang)
    return _answer(request, db, spec, out)


async def fast_retrieve(request: Request) -> Response:
    """``GET /entities/{id}`` without the framework's dependency machinery (hot path)."""
    entity_id = request.path_params["entity_id"]
    reader = ngsi_state(request).entity_reader
    if reader is not None and reader.usable() and not tenant_of(request) and core_only(request):
        return await retrieve_async(request, reader, entity_id)
    return await run_in_threadpool(in_read_session, request, retrieve, entity_id)


async def retrieve_at_the_edge(scope: Scope, receive: Receive, send: Send, prefix: str) -> bool:
    """Answer a retrieval before the app's middleware if the async reader can; say if so.

    The reader can for the default tenant and the core @context on PostgreSQL. The session,
    exception and routing layers cost more than the answer itself here; the security
    headers still wrap this, as the only middleware outside it.
    """
    start = prefix + "/entities/"
    if scope["method"] != "GET" or not scope["path"].startswith(start):
        return False
    entity_id = scope["path"][len(start) :]
    reader = scope["app"].state.ngsi_ld.entity_reader
    if not entity_id or reader is None or not reader.usable():
        return False
    request = Request(scope, receive)
    try:
        if tenant_of(request) or not core_only(request):
            return False
        response = await retrieve_async(request, reader, entity_id)
    except (NgsiLdError, ContextError) as exc:
        response = problem(exc.problem_type, exc.title, exc.status, exc.detail, scope["path"])
    await response(scope, receive, send)
    return True


async def fast_query(request: Request) -> Response:
    """``GET /entities`` without the framework's dependency machinery (hot path)."""
    return await run_in_threadpool(in_read_session, request, query)


# The two most frequent reads, as plain routes placed before the API's own: FastAPI would
# solve their dependencies with a thread hop each; these take one hop and answer the same.
FAST_ROUTES: Final = (
    Route("/entities/{entity_id:path}", fast_retrieve, methods=["GET"]),
    Route("/entities", fast_query, methods=["GET"]),
)


def _page(request: Request) -> Page:
    """Read limit, offset and count."""
    limit = int_param(request, "limit", DEFAULT_LIMIT)
    offset = int_param(request, "offset", 0)
    count = flag(request, "count")
    max_limit = ngsi_state(request).max_limit
    if not 0 <= limit <= max_limit:
        raise bad_request(f"limit: must be between 0 and {max_limit}, not {limit}")
    if offset < 0:
        raise bad_request(f"offset: must not be negative, not {offset}")
    if limit == 0 and not count:
        raise bad_request("limit: 0 is only allowed with count=true")
    return Page(limit, offset, count)


def _answer(request: Request, db: Session, spec: QuerySpec, out: Output) -> JSONResponse:
    """Run a query and answer its page, count and paging links."""
    page = _page(request)
    result = run_query(db, spec, page, ngsi_state(request).private_types)
    attrs = set(spec.attrs) if spec.attrs else None
    stored = {stored_name(a) for a in attrs} if attrs is not None else None
    body: list[dict[str, Any]] = [
        render(f, out, attrs) for f in load_fragments(db, result.ids, stored)
    ]
    response = respond(body, out, _links(request, page, result.more))
    if result.total is not None:
        response.headers[RESULTS_COUNT] = str(result.total)
    return response


def _links(request: Request, page: Page, more: bool) -> list[str]:
    """Return the next and previous page links."""
    links = []
    if more and page.limit:
        nxt = request.url.include_query_params(offset=page.offset + page.limit, limit=page.limit)
        links.append(f'<{nxt.path}?{nxt.query}>; rel="next"')
    if page.offset > 0 and page.limit:
        back = max(0, page.offset - page.limit)
        prev = request.url.include_query_params(offset=back, limit=page.limit)
        links.append(f'<{prev.path}?{prev.query}>; rel="prev"')
    return links


__all__ = ["FAST_ROUTES", "query", "retrieve", "retrieve_at_the_edge", "router"]
