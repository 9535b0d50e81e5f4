"""NGSI-LD entity writes (clauses 5.6.1-5.6.6, 5.6.17, 5.6.18; API clause 6.4-6.7, V1.8).

Every write needs an operator's token or a device's key (a device writes only its own
entity). A body is expanded with the client's @context (``Link`` header, or ``@context``
in an ``application/ld+json`` body) and parsed by ``model.py``; ``entity_ops.py`` applies
it in one transaction with one ``now``; the change is announced once committed. Attribute
names in an UpdateResult are compacted with the client's @context.

Decisions where the specification leaves room:

- ``options`` takes only what each operation defines (``noOverwrite`` on append);
  anything else is BadRequestData, so a misspelt option never goes unnoticed.
- Merge takes ``lang`` (for bare values merged into a LanguageProperty) and
  ``observedAt`` (applied to the merged attributes that have one), as clause 6.5.3.4 says.
- ``PATCH /entities/{id}/attrs/{attrId}`` may carry several instances (by datasetId);
  ``DELETE .../attrs/{attrId}`` with ``deleteAll=true`` ignores ``datasetId``.
- Routes under ``/entities/{id}/attrs`` are declared first: the entity id is a path
  parameter that may hold ``/``; ``attrId`` may too (an IRI), the last ``/attrs/`` splits.
- The 201 of a create has no body; ``Location`` is the entity's path under this API.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from citysmart.core.time import utcnow
from citysmart.hub.ngsi_ld import entity_ops
from citysmart.hub.ngsi_ld.context import JSONLD_CONTEXT_REL, expand_entity
from citysmart.hub.ngsi_ld.entity_ops import Rules, Written
from citysmart.hub.ngsi_ld.entity_store import begin_write, existing_ids
from citysmart.hub.ngsi_ld.http import (
    Announcements,
    AnnouncementsDep,
    BodyDep,
    PatchBodyDep,
    RequestContext,
    WriteDb,
    WriterDep,
    expand_attribute,
    flag,
    ngsi_state,
    no_content,
    request_context,
    split,
)
from citysmart.hub.ngsi_ld.model import (
    EntityFragment,
    Patch,
    bad_request,
    check_uri,
    is_language_tag,
    parse_attribute,
    parse_datetime,
    parse_entity,
)

router = APIRouter()


# --- shared with batch_routes ------------------------------------------------------------------


def rules(request: Request) -> Rules:
    """Return the request's write rules: one ``now`` and the reserved types."""
    return Rules(now=utcnow(), private_types=ngsi_state(request).private_types)


def options(request: Request, allowed: set[str]) -> set[str]:
    """Return the ``options`` given, refusing any the operation does not define."""
    given = set(split(request.query_params.get("options")))
    unknown = given - allowed
    if unknown:
        raise bad_request(
            f"options: {', '.join(sorted(unknown))} not supported here; "
            f"use {' or '.join(sorted(allowed)) or 'none'}"
        )
    return given


def announce(announcements: Announcements, written: Written) -> None:
    """Note a write's changes, to be announced once committed."""
    for trigger, names in written.events():
        announcements.add(written.entity_id, names, trigger)


def update_result(written: Written, ctx: RequestContext) -> dict[str, Any]:
    """Return the UpdateResult of a write (clause 5.2.18), names compacted."""
    compact = ctx.ctx.compact_iri
    return {
        "updated": [compact(n) for n in written.updated],
        "notUpdated": [
            {"attributeName": compact(n.name), "reason": n.reason.replace(n.name, compact(n.name))}
            for n in written.not_updated
        ],
    }


def link_header(ctx: RequestContext) -> str:
    """Return the @context Link header naming the client's context."""
    return f'<{ctx.url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'


def multi_status(content: Any, ctx: RequestContext) -> JSONResponse:
    """Return 207 Multi-Status with the client's @context in a Link header."""
    return JSONResponse(content, status_code=207, headers={"Link": link_header(ctx)})


def expanded_body(request: Request, body: Any) -> tuple[dict[str, Any], RequestContext]:
    """Return an entity (fragment) body expanded with the request's @context."""
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object (an entity or entity fragment)")
    ctx = request_context(request, body)
    return expand_entity(body, ctx.ctx), ctx


# --- helpers ---------------------------------------------------------------------------------


def _finish(
    written: Written,
    rule: Rules,
    ctx: RequestContext,
    request: Request,
    db: WriteDb,
    ann: Announcements,
) -> Response:
    """Store, commit, announce, and answer 204 or 207 with an UpdateResult."""
    entity_ops.save(db, written, rule.now)
    announce(ann, written)
    ann.commit(db, request)
    if written.not_updated:
        return multi_status(update_result(written, ctx), ctx)
    return no_content()


def _fragment(
    request: Request, body: Any, entity_id: str, mode: Patch
) -> tuple[EntityFragment, RequestContext]:
    expanded, ctx = expanded_body(request, body)
    fragment = parse_entity(expanded, require_id_type=False, merge=mode)
    entity_ops.check_same_id(fragment, entity_id)
    return fragment, ctx


def _lang(request: Request) -> str | None:
    lang = request.query_params.get("lang")
    if lang is not None and lang != "@none" and not is_language_tag(lang):
        raise bad_request(f"lang: {lang!r} is not a language tag")
    return lang


def _observed_at(request: Request) -> dt.datetime | None:
    text = request.query_params.get("observedAt")
    return None if text is None else parse_datetime(text, "observedAt")


def _attribute_body(request: Request, attr_id: str, body: Any) -> tuple[str, Any, RequestContext]:
    """Return an attribute's expanded name and body (sub-attribute names expanded)."""
    ctx = request_context(request, body)
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "@context"}
    expanded = expand_entity({attr_id: body}, ctx.ctx)
    if len(expanded) != 1:
        raise bad_request(f"{attr_id!r} is not an attribute name")
    name, value = next(iter(expanded.items()))
    return name, value, ctx


def _dataset_id(request: Request) -> str | None:
    text = request.query_params.get("datasetId")
    if text is None or text == "@none":
        return None
    return check_uri(text, "datasetId")


# --- /entities/{id}/attrs (declared before /entities/{id}) -------------------------------------


@router.patch(
    "/entities/{entity_id:path}/attrs/{attr_id:path}",
    status_code=204,
    summary="Partial attribute update (NGSI-LD)",
)
def patch_attribute(
    entity_id: str,
    attr_id: str,
    request: Request,
    writer: WriterDep,
    body: PatchBodyDep,
    db: WriteDb,
    ann: AnnouncementsDep,
) -> Response:
    """Replace the members given of one attribute's instance; 404 if it is missing."""
    writer.check(entity_id)
    name, value, ctx = _attribute_body(request, attr_id, body)
    items = parse_attribute(name, value, merge=Patch.UPDATE)
    begin_write(db)
    current = entity_ops.load(db, entity_id)
    rule = rules(request)
    written = entity_ops.patch_attribute(rule, entity_id, current, items)
    return _finish(written, rule, ctx, request, db, ann)


@router.delete(
    "/entities/{entity_id:path}/attrs/{attr_id:path}",
    status_code=204,
    summary="Delete an attribute (NGSI-LD)",
)
def delete_attribute(
    entity_id: str,
    attr_id: str,
    request: Request,
    writer: WriterDep,
    db: WriteDb,
    ann: AnnouncementsDep,
) -> Response:
    """Delete one instance (``datasetId``) or every instance (``deleteAll=true``)."""
    writer.check(entity_id)
    ctx = request_context(request)
    name = expand_attribute(ctx.ctx, attr_id)
    dataset_id, delete_all = _dataset_id(request), flag(request, "deleteAll")
    begin_write(db)
    current = entity_ops.load(db, entity_id)
    rule = rules(request)
    written = entity_ops.delete_attribute(
        rule, entity_id, current, name, dataset_id=dataset_id, delete_all=delete_all
    )
    return _finish(written, rule, ctx, request, db, ann)


@router.post(
    "/entities/{entity_id:path}/attrs", status_code=204, summary="Append attributes (NGSI-LD)"
)
def append_attributes(
    entity_id: str,
    request: Request,
    writer: WriterDep,
    body: BodyDep,
    db: WriteDb,
    ann: AnnouncementsDep,
) -> Response:
    """Add attributes; with ``options=noOverwrite`` existing ones are kept (207)."""
    writer.check(entity_id)
    no_overwrite = "noOverwrite" in options(request, {"noOverwrite"})
    fragment, ctx = _fragment(request, body, entity_id, Patch.NONE)
    begin_write(db)
    current = entity_ops.load(db, entity_id)
    rule = rules(request)
    written = entity_ops.append(rule, entity_id, current, fragment, no_overwrite=no_overwrite)
    return _finish(written, rule, ctx, request, db, ann)


@router.patch(
    "/entities/{entity_id:path}/attrs", status_code=204, summary="Update attributes (NGSI-LD)"
)
def update_attributes(
    entity_id: str,
    request: Request,
    writer: WriterDep,
    body: PatchBodyDep,
    db: WriteDb,
    ann: AnnouncementsDep,
) -> Response:
    """Replace existing attributes; the others are reported as not updated (207)."""
    writer.check(entity_id)
    fragment, ctx = _fragment(request, body, entity_id, Patch.UPDATE)
    begin_write(db)
    current = entity_ops.load(db, entity_id)
    rule = rules(request)
    written = entity_ops.update(rule, entity_id, current, fragment)
    return _finish(written, rule, ctx, request, db, ann)


# --- /entities and /entities/{id} --------------------------------------------------------------


@router.post("/entities", status_code=201, summary="Create an entity (NGSI-LD)")
def create_entity(
    request: Request, writer: WriterDep, body: BodyDep, db: WriteDb, ann: AnnouncementsDep
) -> Response:
    """Create an entity; 409 if its id is taken."""
    expanded, _ = expanded_body(request, body)
    entity = parse_entity(expanded)
    assert entity.id is not None
    writer.check(entity.id)
    begin_write(db)
    rule = rules(request)
    written = entity_ops.create(rule, entity, bool(existing_ids(db, [entity.id])))
    entity_ops.save(db, written, rule.now)
    announce(ann, written)
    ann.commit(db, request)
    location = f"{request.url.path.rstrip('/')}/{quote(entity.id, safe=':/')}"
    return Response(status_code=201, headers={"Location": location})


@router.patch("/entities/{entity_id:path}", status_code=204, summary="Merge an entity (NGSI-LD)")
def merge_entity(
    entity_id: str,
    request: Request,
    writer: WriterDep,
    body: PatchBodyDep,
    db: WriteDb,
    ann: AnnouncementsDep,
) -> Response:
    """Merge a fragment into an entity; NGSI-LD Null deletes (207 for what is missing)."""
    writer.check(entity_id)
    lang, observed_at = _lang(request), _observed_at(request)
    fragment, ctx = _fragment(request, body, entity_id, Patch.MERGE)
    begin_write(db)
    current = entity_ops.load(db, entity_id)
    rule = rules(request)
    written = entity_ops.merge(
        rule, entity_id, current, fragment, lang=lang, observed_at=observed_at
    )
    return _finish(written, rule, ctx, request, db, ann)


@router.put("/entities/{entity_id:path}", status_code=204, summary="Replace an entity (NGSI-LD)")
def replace_entity(
    entity_id: str,
    request: Request,
    writer: WriterDep,
    body: BodyDep,
    db: WriteDb,
    ann: AnnouncementsDep,
) -> Response:
    """Replace all of an entity but its id and createdAt."""
    writer.check(entity_id)
    entity, ctx = _fragment(request, body, entity_id, Patch.NONE)
    begin_write(db)
    current = entity_ops.load(db, entity_id)
    rule = rules(request)
    written = entity_ops.replace_all(rule, entity_id, current, entity)
    return _finish(written, rule, ctx, request, db, ann)


@router.delete("/entities/{entity_id:path}", status_code=204, summary="Delete an entity (NGSI-LD)")
def delete_entity(
    entity_id: str, request: Request, writer: WriterDep, db: WriteDb, ann: AnnouncementsDep
) -> Response:
    """Delete an entity and its attributes (its history stays)."""
    writer.check(entity_id)
    begin_write(db)
    current = entity_ops.load(db, entity_id)
    rule = rules(request)
    written = entity_ops.delete(rule, entity_id, current)
    entity_ops.save(db, written, rule.now)
    announce(ann, written)
    ann.commit(db, request)
    return no_content()


__all__ = [
    "announce",
    "expanded_body",
    "link_header",
    "multi_status",
    "options",
    "router",
    "rules",
    "update_result",
]
