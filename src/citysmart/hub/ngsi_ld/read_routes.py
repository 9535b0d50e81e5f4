"""NGSI-LD reads: retrieve an entity and query entities (clauses 5.7.1, 5.7.2).

Reads are public, like the hub API's public entity types, except types a service marks
private, which are never served. A request's names are expanded with the client's
@context (``Link`` header) and the response is compacted with it.

Decisions where the specification leaves room:

- ``type`` and ``id`` narrow the rows in SQL; ``idPattern`` (searched, like POSIX
  ``regexec``), ``attrs``, ``q`` and geo-queries are evaluated in Python on those rows and
  the result is paged in Python. Without those filters, paging and counting are SQL.
- In a query, ``attrs`` keeps the entities that have at least one of the attributes.
- ``limit`` above the configured maximum (1000) or below 0 is BadRequestData.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from fastapi import APIRouter, Request
from sqlalchemy import Select, func, select
from starlette.responses import JSONResponse

from citysmart.hub.models import Entity, EntityType
from citysmart.hub.ngsi_ld.codec import stored_type
from citysmart.hub.ngsi_ld.context import ActiveContext
from citysmart.hub.ngsi_ld.entity_store import load_entity_rows
from citysmart.hub.ngsi_ld.geo import GeoQuery, GeoQueryError, matches, parse_geoquery
from citysmart.hub.ngsi_ld.http import (
    ReadDb,
    expand_attribute,
    int_param,
    is_private,
    ngsi_state,
    not_found,
    output,
    render,
    respond,
    split,
)
from citysmart.hub.ngsi_ld.model import EntityFragment, bad_request
from citysmart.hub.ngsi_ld.qlang import QExpr, QSyntaxError, evaluate, map_attribute_names, parse_q
from citysmart.hub.ngsi_ld.render import render_entity

router = APIRouter()

DEFAULT_LIMIT: Final = 20


@router.get("/entities/{entity_id:path}", summary="Retrieve an entity (NGSI-LD)")
def retrieve_entity(entity_id: str, request: Request, db: ReadDb) -> JSONResponse:
    """Return one entity in normalized, concise or keyValues form."""
    out = output(request)
    entity = db.get(Entity, entity_id)
    if entity is None:
        raise not_found(f"no entity {entity_id}")
    fragment = load_entity_rows(db, [entity])[0]
    if is_private(request, [stored_type(t) for t in fragment.types]):
        raise not_found(f"no entity {entity_id}")
    attrs = split(request.query_params.get("attrs"))
    wanted = {expand_attribute(out.ctx, a) for a in attrs} if attrs else None
    return respond(render(fragment, out, wanted), out)


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
    attrs = split(params.get("attrs"))
    q = None
    if params.get("q"):
        try:
            q = map_attribute_names(parse_q(params["q"]), lambda t: expand_attribute(ctx, t))
        except QSyntaxError as exc:
            raise bad_request(f"q: {exc}") from None
    geo = None
    georel, geometry, coordinates = (params.get(n) for n in ("georel", "geometry", "coordinates"))
    if georel is not None or geometry is not None or coordinates is not None:
        try:
            geo = parse_geoquery(georel, geometry, coordinates, params.get("geoproperty"))
        except GeoQueryError as exc:
            raise bad_request(str(exc)) from None
        geo = replace(geo, geoproperty=expand_attribute(ctx, geo.geoproperty))
    wanted = {expand_attribute(ctx, a) for a in attrs} if attrs else None
    return _Filters(pattern, wanted, q, geo)


def _narrowed(types: list[str], ids: list[str], ctx: ActiveContext) -> Select[Entity]:
    stmt = select(Entity)
    if types:
        stored = [stored_type(ctx.expand_type(t)) for t in types]
        typed = select(EntityType.entity_id).where(EntityType.type.in_(stored))
        stmt = stmt.where(Entity.id.in_(typed))
    if ids:
        stmt = stmt.where(Entity.id.in_(ids))
    return stmt


@router.get("/entities", summary="Query entities (NGSI-LD)")
def query_entities(request: Request, db: ReadDb) -> JSONResponse:
    """Return the entities matching type, id, idPattern, attrs, q and a geo-query, paged."""
    out = output(request)
    params = request.query_params
    types, ids = split(params.get("type")), split(params.get("id"))
    if "|" in params.get("type", "") or any(c in t for t in types for c in ";()"):
        raise bad_request("type: only a comma-separated list of types is supported")
    limit = int_param(request, "limit", DEFAULT_LIMIT)
    offset = int_param(request, "offset", 0)
    max_limit = ngsi_state(request).max_limit
    if not 0 <= limit <= max_limit:
        raise bad_request(f"limit: must be between 0 and {max_limit}, not {limit}")
    if offset < 0:
        raise bad_request(f"offset: must not be negative, not {offset}")
    count = params.get("count", "false").lower() == "true"
    filters = _filters(request, out.ctx)
    if not (types or ids or filters.any):
        raise bad_request(
            "a query needs at least one of type, id, idPattern, attrs, q or a geo-query"
        )
    stmt = _narrowed(types, ids, out.ctx)
    private = ngsi_state(request).private_types
    if private:  # entities of a type some service keeps private are never served
        hidden = select(EntityType.entity_id).where(EntityType.type.in_(sorted(private)))
        stmt = stmt.where(Entity.id.not_in(hidden))
    if filters.any:
        candidates = list(db.scalars(stmt.order_by(Entity.id)))
        found = [f for f in load_entity_rows(db, candidates) if filters.accept(f)]
        total = len(found)
        page = found[offset : offset + limit]
    else:
        total = int(db.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        rows: list[Entity] = []
        if limit:
            rows = list(db.scalars(stmt.order_by(Entity.id).limit(limit).offset(offset)))
        page = load_entity_rows(db, rows)
    body = [render(f, out, filters.attrs) for f in page]
    links = []
    if limit and offset + limit < total:
        nxt = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append(f'<{nxt.path}?{nxt.query}>; rel="next"')
    response = respond(body, out, links)
    if count:
        response.headers["NGSILD-Results-Count"] = str(total)
    return response


__all__ = ["router"]
