"""The NGSI-LD API (ETSI GS CIM 009 V1.8), first read-only slice: retrieve and query entities.

Entities are read from the tables device ingest writes (``entity`` and ``latest_value``,
see docs/ngsi-ld.md "One store, two views") by ``store_view``. Reads are public, like the
public entity types of the hub API. Stored names are terms of the core context's default
vocabulary; a request's names are expanded with the client's @context (``Link`` header)
and the response is compacted with it.

Decisions where the specification leaves room:

- ``type`` and ``id`` narrow the rows in SQL; ``idPattern`` (searched, like POSIX
  ``regexec``), ``attrs``, ``q`` and geo-queries are evaluated in Python on those rows and
  the result is paged in Python. Without those filters, paging and counting are SQL.
- In a query, ``attrs`` keeps the entities that have at least one of the attributes.
- ``limit`` above 1000 or below 0 is BadRequestData.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from citysmart.core.auth import SessionDep
from citysmart.hub.models import Entity
from citysmart.hub.ngsi_ld.context import (
    CORE_CONTEXT_URL,
    JSONLD_CONTEXT_REL,
    ActiveContext,
    ContextError,
    ContextResolver,
    context_for_request,
    context_from_link_header,
    core_context,
)
from citysmart.hub.ngsi_ld.entity_store import load_entity_rows
from citysmart.hub.ngsi_ld.geo import GeoQuery, GeoQueryError, matches, parse_geoquery
from citysmart.hub.ngsi_ld.model import EntityFragment, NgsiLdError, bad_request
from citysmart.hub.ngsi_ld.qlang import QExpr, QSyntaxError, evaluate, map_attribute_names, parse_q
from citysmart.hub.ngsi_ld.render import render_entity

router = APIRouter(prefix="/ngsi-ld/v1", tags=["ngsi-ld"])

DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 1000
LD_JSON: Final = "application/ld+json"
_CHUNK: Final = 500  # ids per IN (...) when loading latest values
_resolver_lock = threading.Lock()


def get_resolver(request: Request) -> ContextResolver:
    """Return the app's @context resolver, created on first use."""
    state = request.app.state
    resolver: ContextResolver | None = getattr(state, "ngsi_ld_contexts", None)
    if resolver is None:
        with _resolver_lock:
            resolver = getattr(state, "ngsi_ld_contexts", None)
            if resolver is None:
                resolver = ContextResolver()
                state.ngsi_ld_contexts = resolver
    return resolver


def install_ngsi_ld_handlers(app: FastAPI) -> None:
    """Answer NGSI-LD and @context errors with NGSI-LD problem details (clause 6.3.2)."""

    async def on_ngsi_ld(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NgsiLdError)
        return _problem(exc.problem_type, exc.title, exc.status, exc.detail, request.url.path)

    async def on_context(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ContextError)
        return _problem(exc.problem_type, exc.title, exc.status, exc.detail, request.url.path)

    app.add_exception_handler(NgsiLdError, on_ngsi_ld)
    app.add_exception_handler(ContextError, on_context)


def _problem(problem_type: str, title: str, status: int, detail: str, path: str) -> JSONResponse:
    body = {"type": problem_type, "title": title, "status": status, "detail": detail}
    return JSONResponse(
        {**body, "instance": path}, status_code=status, media_type="application/problem+json"
    )


# --- request parsing -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Output:
    """How to write entities back: form, sysAttrs, lang and the client's context."""

    form: str
    sys_attrs: bool
    lang: str | None
    ctx: ActiveContext
    context_url: str
    ld_json: bool


def _context(request: Request) -> tuple[ActiveContext, str]:
    links = request.headers.getlist("link") or None
    reference = context_for_request(None, links, None)
    ctx = get_resolver(request).resolve(reference)
    return ctx, context_from_link_header(links) or CORE_CONTEXT_URL


def _output(request: Request) -> _Output:
    params = request.query_params
    options = {o.strip() for o in params.get("options", "").split(",") if o.strip()}
    unknown = options - {"keyValues", "concise", "normalized", "sysAttrs", "simplified"}
    if unknown:
        raise bad_request(f"options: unknown {', '.join(sorted(unknown))}")
    forms = options & {"keyValues", "concise", "normalized", "simplified"}
    if params.get("format"):
        forms.add(params["format"])
    forms = {"keyValues" if f == "simplified" else f for f in forms}
    if len(forms) > 1:
        raise bad_request(f"options: {' and '.join(sorted(forms))} exclude each other")
    ctx, url = _context(request)
    accept = request.headers.get("accept", "")
    return _Output(
        form=next(iter(forms), "normalized"),
        sys_attrs="sysAttrs" in options,
        lang=params.get("lang"),
        ctx=ctx,
        context_url=url,
        ld_json=LD_JSON in accept,
    )


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _int(params: Any, name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise bad_request(f"{name}: {text!r} is not an integer") from None


def _stored_name(iri: str) -> str | None:
    """Return the store's short name for an expanded name, or None when it has none."""
    name = core_context().compact_iri(iri)
    return None if ":" in name else name


# --- output ------------------------------------------------------------------------------------


def _compacted(fragment: EntityFragment, ctx: ActiveContext) -> EntityFragment:
    return replace(
        fragment,
        types=tuple(ctx.compact_type(t) for t in fragment.types),
        attributes=tuple(replace(a, name=ctx.compact_iri(a.name)) for a in fragment.attributes),
    )


def _render(fragment: EntityFragment, out: _Output, attrs: set[str] | None) -> dict[str, Any]:
    if attrs is not None:
        kept = tuple(a for a in fragment.attributes if a.name in attrs)
        fragment = replace(fragment, attributes=kept)
    body = render_entity(
        _compacted(fragment, out.ctx), out.form, sys_attrs=out.sys_attrs, lang=out.lang
    )
    if out.ld_json:
        body["@context"] = out.context_url
    return body


def _respond(content: Any, out: _Output, links: Sequence[str] = ()) -> JSONResponse:
    if out.ld_json:
        response = JSONResponse(content, media_type=LD_JSON)
    else:
        response = JSONResponse(content)
        response.headers.append(
            "Link",
            f'<{out.context_url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"',
        )
    for link in links:
        response.headers.append("Link", link)
    return response


# --- reading the store ---------------------------------------------------------------------


def _load(session: Session, entities: Sequence[Entity]) -> list[EntityFragment]:
    return load_entity_rows(session, entities)


@router.get("/entities/{entity_id:path}", summary="Retrieve an entity (NGSI-LD)")
def retrieve_entity(entity_id: str, request: Request, db: SessionDep) -> JSONResponse:
    """Return one entity in normalized, concise or keyValues form."""
    out = _output(request)
    entity = db.get(Entity, entity_id)
    if entity is None:
        raise NgsiLdError("ResourceNotFound", None, f"no entity {entity_id}")
    attrs = _split(request.query_params.get("attrs"))
    wanted = {out.ctx.expand_term(a) for a in attrs} if attrs else None
    return _respond(_render(_load(db, [entity])[0], out, wanted), out)


@dataclass(frozen=True, slots=True)
class _Filters:
    """The parts of a query evaluated in Python, on rows SQL has narrowed."""

    id_pattern: re.Pattern[str] | None
    attrs: set[str] | None
    q: QExpr | None
    geo: GeoQuery | None

    @property
    def any(self) -> bool:
        return any(f is not None for f in (self.id_pattern, self.attrs, self.q, self.geo))

    def accept(self, fragment: EntityFragment) -> bool:
        assert fragment.id is not None
        if self.id_pattern is not None and not self.id_pattern.search(fragment.id):
            return False
        names = {a.name for a in fragment.attributes}
        if self.attrs is not None and not names & self.attrs:
            return False
        if self.geo is not None:
            geometries = [a.value for a in fragment.attributes if a.name == self.geo.geoproperty]
            if not any(matches(self.geo, g) for g in geometries if isinstance(g, dict)):
                return False
        if self.q is not None:
            return evaluate(self.q, render_entity(fragment, "normalized", sys_attrs=True))
        return True


def _filters(request: Request, ctx: ActiveContext) -> _Filters:
    params = request.query_params
    pattern = None
    if params.get("idPattern"):
        try:
            pattern = re.compile(params["idPattern"])
        except re.error as exc:
            raise bad_request(f"idPattern: not a regular expression: {exc}") from None
    attrs = _split(params.get("attrs"))
    q = None
    if params.get("q"):
        try:
            q = map_attribute_names(parse_q(params["q"]), ctx.expand_term)
        except QSyntaxError as exc:
            raise bad_request(f"q: {exc}") from None
    geo = None
    georel, geometry, coordinates = (params.get(n) for n in ("georel", "geometry", "coordinates"))
    if georel is not None or geometry is not None or coordinates is not None:
        try:
            geo = parse_geoquery(georel, geometry, coordinates, params.get("geoproperty"))
        except GeoQueryError as exc:
            raise bad_request(str(exc)) from None
        geo = replace(geo, geoproperty=ctx.expand_term(geo.geoproperty))
    return _Filters(pattern, {ctx.expand_term(a) for a in attrs} if attrs else None, q, geo)


def _narrowed(types: list[str], ids: list[str], ctx: ActiveContext) -> Select[Entity]:
    stmt = select(Entity)
    if types:
        stored = [n for n in (_stored_name(ctx.expand_type(t)) for t in types) if n is not None]
        stmt = stmt.where(Entity.type.in_(stored))
    if ids:
        stmt = stmt.where(Entity.id.in_(ids))
    return stmt


@router.get("/entities", summary="Query entities (NGSI-LD)")
def query_entities(request: Request, db: SessionDep) -> JSONResponse:
    """Return the entities matching type, id, idPattern, attrs, q and a geo-query, paged."""
    out = _output(request)
    params = request.query_params
    types, ids = _split(params.get("type")), _split(params.get("id"))
    if "|" in params.get("type", "") or any(c in t for t in types for c in ";()"):
        raise bad_request("type: only a comma-separated list of types is supported")
    limit = _int(params, "limit", DEFAULT_LIMIT)
    offset = _int(params, "offset", 0)
    if not 0 <= limit <= MAX_LIMIT:
        raise bad_request(f"limit: must be between 0 and {MAX_LIMIT}, not {limit}")
    if offset < 0:
        raise bad_request(f"offset: must not be negative, not {offset}")
    count = params.get("count", "false").lower() == "true"
    filters = _filters(request, out.ctx)
    if not (types or ids or filters.any):
        raise bad_request(
            "a query needs at least one of type, id, idPattern, attrs, q or a geo-query"
        )
    stmt = _narrowed(types, ids, out.ctx)
    if filters.any:
        found = [
            f for f in _load(db, list(db.scalars(stmt.order_by(Entity.id)))) if filters.accept(f)
        ]
        total = len(found)
        page = found[offset : offset + limit]
    else:
        total = int(db.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        rows: list[Entity] = []
        if limit:
            rows = list(db.scalars(stmt.order_by(Entity.id).limit(limit).offset(offset)))
        page = _load(db, rows)
    body = [_render(f, out, filters.attrs) for f in page]
    links = []
    if limit and offset + limit < total:
        nxt = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append(f'<{nxt.path}?{nxt.query}>; rel="next"')
    response = _respond(body, out, links)
    if count:
        response.headers["NGSILD-Results-Count"] = str(total)
    return response


__all__ = ["get_resolver", "install_ngsi_ld_handlers", "router"]
