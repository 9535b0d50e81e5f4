"""NGSI-LD discovery: the entity types and attributes in the store (clauses 5.7.5-5.7.8).

``GET /types`` answers an EntityTypeList (5.2.24), or with ``details=true`` an array of
EntityType (5.2.25); ``GET /types/{type}`` an EntityTypeInfo (5.2.26); ``GET /attributes``
an AttributeList (5.2.27), or with ``details=true`` an array of Attribute (5.2.28);
``GET /attributes/{attrId}`` an Attribute. Every figure is a ``GROUP BY`` over the
``entity_type`` and ``attribute`` tables of the request's tenant: no entity is loaded.

Decisions where the specification leaves room:

- An entity with any type a service keeps private counts for nothing: its types, its
  attributes and its instances are left out of every answer, as retrieve and query never
  serve it. A type or attribute only such entities have is 404 ResourceNotFound.
- ``attributeCount`` is the number of attribute instances with the name (one per entity
  and datasetId), as 5.2.28 says; ``attributeTypes`` are the NGSI-LD kinds of those
  instances (Property, Relationship, GeoProperty, ...); ``entityCount`` counts entities
  having the type among their types.
- Names are compacted with the request's @context (``Link`` header); ``id`` is the
  expanded IRI. A path's ``{type}`` or ``{attrId}`` is expanded with the same context, so
  a short name, a compact IRI or the full IRI all work. Lists are sorted by compacted name.
- The ``id`` of an EntityTypeList or AttributeList is a URN derived from its content
  (UUID version 5), so the same answer has the same id.
- An empty store answers an empty ``typeList``/``attributeList`` (``[]`` with details),
  not 404. ``local=true`` is accepted: the hub has no registrations, so every answer is
  local anyway.
- With ``Accept: application/ld+json`` each object carries the ``@context``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import APIRouter, Request
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse

from citysmart.hub.models import Attribute, EntityType
from citysmart.hub.ngsi_ld.codec import expanded_type, stored_name, stored_type
from citysmart.hub.ngsi_ld.context import ActiveContext, core_context
from citysmart.hub.ngsi_ld.http import (
    Output,
    ReadDb,
    flag,
    ngsi_state,
    not_found,
    output,
    respond,
)

router = APIRouter()

_LIST_NAMESPACE: Final = uuid.UUID("6f1d8a52-7a0e-4f57-9c1c-2f6f3b1f3a10")


# --- SQL -------------------------------------------------------------------------------------


def _filters(
    request: Request, entity_id: Any, *extra: ColumnElement[bool] | None
) -> list[ColumnElement[bool]]:
    """Return the conditions given, and one leaving out entities of private types."""
    conditions = [c for c in extra if c is not None]
    private = ngsi_state(request).private_types
    if private:
        hidden = select(EntityType.entity_id).where(EntityType.type.in_(sorted(private)))
        conditions.append(entity_id.not_in(hidden))
    return conditions


@dataclass(slots=True)
class _AttributeStats:
    """What the store holds about one attribute name (stored names)."""

    count: int = 0
    kinds: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)


def _type_names(db: Session, request: Request) -> list[str]:
    """Return the stored names of the visible entity types."""
    stmt = select(EntityType.type).where(*_filters(request, EntityType.entity_id))
    return list(db.scalars(stmt.group_by(EntityType.type)))


def _type_attributes(
    db: Session, request: Request, type_name: str | None = None
) -> dict[str, dict[str, set[str]]]:
    """Return type -> attribute -> kinds for the visible entities (one type, or all)."""
    only = EntityType.type == type_name if type_name is not None else None
    stmt = (
        select(EntityType.type, Attribute.attribute, Attribute.kind)
        .join(Attribute, Attribute.entity_id == EntityType.entity_id)
        .where(*_filters(request, EntityType.entity_id, only))
        .group_by(EntityType.type, Attribute.attribute, Attribute.kind)
    )
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for entity_type, name, kind in db.execute(stmt):
        out[entity_type][name].add(kind)
    return out


def _entity_count(db: Session, request: Request, type_name: str) -> int:
    """Return how many visible entities have a type."""
    only = EntityType.type == type_name
    stmt = select(func.count()).select_from(EntityType)
    return int(db.scalar(stmt.where(*_filters(request, EntityType.entity_id, only))) or 0)


def _attribute_names(db: Session, request: Request) -> list[str]:
    """Return the stored names of the attributes of visible entities."""
    stmt = select(Attribute.attribute).where(*_filters(request, Attribute.entity_id))
    return list(db.scalars(stmt.group_by(Attribute.attribute)))


def _attribute_stats(
    db: Session, request: Request, name: str | None = None
) -> dict[str, _AttributeStats]:
    """Return instance counts, kinds and entity types per attribute (one, or all)."""
    only = Attribute.attribute == name if name is not None else None
    conditions = _filters(request, Attribute.entity_id, only)
    counts = (
        select(Attribute.attribute, Attribute.kind, func.count())
        .where(*conditions)
        .group_by(Attribute.attribute, Attribute.kind)
    )
    stats: dict[str, _AttributeStats] = defaultdict(_AttributeStats)
    for attribute, kind, count in db.execute(counts):
        stats[attribute].count += int(count)
        stats[attribute].kinds.add(kind)
    typed = (
        select(Attribute.attribute, EntityType.type)
        .join(EntityType, EntityType.entity_id == Attribute.entity_id)
        .where(*conditions)
        .group_by(Attribute.attribute, EntityType.type)
    )
    for attribute, entity_type in db.execute(typed):
        stats[attribute].types.add(entity_type)
    return stats


# --- names -------------------------------------------------------------------------------------


def _attribute_iri(stored: str) -> str:
    """Return the expanded IRI of a stored attribute name (core ones in full)."""
    return core_context().expand_term(stored)


def _type_name(ctx: ActiveContext, stored: str) -> str:
    """Return a stored type name compacted with the client's context."""
    return ctx.compact_type(expanded_type(stored))


def _attribute_name(ctx: ActiveContext, stored: str) -> str:
    """Return a stored attribute name compacted with the client's context."""
    return ctx.compact_iri(_attribute_iri(stored))


def _sorted_names(names: Iterable[str]) -> list[str]:
    """Return names without duplicates, in order."""
    return sorted(set(names))


def _list_id(kind: str, names: list[str]) -> str:
    """Return a URN for a list, the same for the same content."""
    return f"urn:ngsi-ld:{kind}:{uuid.uuid5(_LIST_NAMESPACE, chr(10).join(names))}"


def _answer(content: Any, out: Output) -> JSONResponse:
    """Respond, with the @context in each object for application/ld+json."""
    if out.ld_json:
        context = out.context.reference
        if isinstance(content, list):
            content = [{**item, "@context": context} for item in content]
        else:
            content = {**content, "@context": context}
    return respond(content, out)


# --- routes ------------------------------------------------------------------------------------


@router.get("/types", summary="Retrieve available entity types (NGSI-LD)")
def list_types(request: Request, db: ReadDb) -> JSONResponse:
    """Return the EntityTypeList, or with details=true an array of EntityType."""
    out = output(request)
    ctx = out.ctx
    if not flag(request, "details"):
        names = _sorted_names(_type_name(ctx, t) for t in _type_names(db, request))
        body = {"id": _list_id("EntityTypeList", names), "type": "EntityTypeList"}
        return _answer({**body, "typeList": names}, out)
    attributes = _type_attributes(db, request)
    details: list[dict[str, Any]] = [
        {
            "id": expanded_type(stored),
            "type": "EntityType",
            "typeName": _type_name(ctx, stored),
            "attributeNames": _sorted_names(_attribute_name(ctx, a) for a in attributes[stored]),
        }
        for stored in _type_names(db, request)
    ]
    return _answer(sorted(details, key=lambda d: d["typeName"]), out)


@router.get("/types/{entity_type:path}", summary="Retrieve entity type information (NGSI-LD)")
def type_info(entity_type: str, request: Request, db: ReadDb) -> JSONResponse:
    """Return the EntityTypeInfo of one type: its entity count and attribute details."""
    out = output(request)
    stored = stored_type(out.ctx.expand_type(entity_type))
    count = _entity_count(db, request, stored)
    if not count:
        raise not_found(f"no entity has the type {entity_type}")
    attributes = _type_attributes(db, request, stored)[stored]
    details: list[dict[str, Any]] = [
        {
            "id": _attribute_iri(name),
            "type": "Attribute",
            "attributeName": _attribute_name(out.ctx, name),
            "attributeTypes": sorted(kinds),
        }
        for name, kinds in attributes.items()
    ]
    body = {
        "id": expanded_type(stored),
        "type": "EntityTypeInfo",
        "typeName": _type_name(out.ctx, stored),
        "entityCount": count,
        "attributeDetails": sorted(details, key=lambda d: d["attributeName"]),
    }
    return _answer(body, out)


def _attribute_body(ctx: ActiveContext, stored: str, stats: _AttributeStats) -> dict[str, Any]:
    """Return the Attribute data type (5.2.28) of one attribute."""
    return {
        "id": _attribute_iri(stored),
        "type": "Attribute",
        "attributeName": _attribute_name(ctx, stored),
        "attributeCount": stats.count,
        "attributeTypes": sorted(stats.kinds),
        "typeNames": _sorted_names(_type_name(ctx, t) for t in stats.types),
    }


@router.get("/attributes", summary="Retrieve available attributes (NGSI-LD)")
def list_attributes(request: Request, db: ReadDb) -> JSONResponse:
    """Return the AttributeList, or with details=true an array of Attribute."""
    out = output(request)
    if not flag(request, "details"):
        names = _sorted_names(_attribute_name(out.ctx, a) for a in _attribute_names(db, request))
        body = {"id": _list_id("AttributeList", names), "type": "AttributeList"}
        return _answer({**body, "attributeList": names}, out)
    stats = _attribute_stats(db, request)
    details = [_attribute_body(out.ctx, name, s) for name, s in stats.items()]
    return _answer(sorted(details, key=lambda d: d["attributeName"]), out)


@router.get("/attributes/{attr_id:path}", summary="Retrieve attribute information (NGSI-LD)")
def attribute_info(attr_id: str, request: Request, db: ReadDb) -> JSONResponse:
    """Return the Attribute data type of one attribute."""
    out = output(request)
    stored = stored_name(out.ctx.expand_term(attr_id))
    stats = _attribute_stats(db, request, stored).get(stored)
    if stats is None or not stats.count:
        raise not_found(f"no entity has the attribute {attr_id}")
    return _answer(_attribute_body(out.ctx, stored, stats), out)


__all__ = ["router"]
