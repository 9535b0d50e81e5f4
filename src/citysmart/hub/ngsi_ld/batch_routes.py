"""NGSI-LD batch entity operations (clauses 5.6.7-5.6.10; API clauses 6.14-6.17, V1.8).

Each entity of a batch succeeds or fails on its own, and a failure never leaves it
half-written. The entities a batch names are loaded in one query (three per 500 ids);
each write is then decided in Python, in order (ids, model, access, existence). The
writes decided are stored together, inside one savepoint, in a few statements whatever
their number. Only if that store fails (a database error, such as a concurrent create)
is it rolled back and the batch redone entity by entity, each in its own savepoint, so
the failure stays with its entity. The batch commits once, then its changes are
announced.

Decisions where the specification leaves room:

- The body must be a non-empty JSON array (else BadRequestData for the whole request).
  An item that is not an entity, has no valid id, breaks the model, uses an @context
  that cannot be resolved, or that the writer may not touch (a device writing another
  entity: 403) is an error entry; ``entityId`` is then the item's ``id`` as given, or
  null when it has none.
- Misplaced @contexts for the whole request (a Link header with ld+json) are
  BadRequestData; each ld+json item carries its own @context.
- An id named twice is written twice, in order: in a create the second is AlreadyExists;
  in an upsert the second updates what the first wrote.
- Upsert answers 201 with the ids it created when it created any and nothing failed, 204
  when it only updated, 207 when anything failed (``success`` then lists created and
  updated ids). ``options=update`` appends (clause 5.6.3) to existing entities,
  ``options=replace`` (the default) replaces them.
- Update is Append Entity Attributes per entity (clause 5.6.9): the entity must exist;
  with ``noOverwrite`` existing attributes are kept and the entity still counts as a
  success.
- A database error on one entity (not a validation error) is an InternalError entry
  (500) for that entity; the others are kept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from citysmart.hub.ngsi_ld import entity_ops
from citysmart.hub.ngsi_ld.context import (
    ActiveContext,
    ContextError,
    contexts_for_batch,
    expand_entity,
)
from citysmart.hub.ngsi_ld.entity_ops import Rules, Written
from citysmart.hub.ngsi_ld.entity_store import begin_write, load_entities
from citysmart.hub.ngsi_ld.http import (
    Announcements,
    AnnouncementsDep,
    BodyDep,
    WriteDb,
    Writer,
    WriterDep,
    get_resolver,
    media_type,
    no_content,
)
from citysmart.hub.ngsi_ld.model import (
    EntityFragment,
    NgsiLdError,
    bad_request,
    check_uri,
    parse_entity,
)
from citysmart.hub.ngsi_ld.write_routes import announce, options, rules

router = APIRouter()
logger = logging.getLogger(__name__)

Failure = NgsiLdError | ContextError


@dataclass(frozen=True, slots=True)
class _Item:
    """One batch item: its id (as given when invalid) and entity, or why it cannot be written."""

    entity_id: Any
    entity: EntityFragment | None = None
    error: Failure | None = None


Operation = Callable[[Rules, _Item, EntityFragment | None], Written]


@dataclass(slots=True)
class _Result:
    """What a batch did: the ids written, the errors, and the writes to announce."""

    success: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    written: list[Written] = field(default_factory=list)

    def fail(self, entity_id: Any, exc: Failure) -> None:
        """Book an entity's error as a BatchEntityError."""
        problem = {"type": exc.problem_type, "title": exc.title, "status": exc.status}
        self.errors.append({"entityId": entity_id, "error": {**problem, "detail": exc.detail}})

    def succeed(self, written: Written) -> None:
        """Book an entity written."""
        self.success.append(written.entity_id)
        if written.created:
            self.created.append(written.entity_id)
        self.written.append(written)

    def multi_status(self) -> JSONResponse:
        """Return 207 with the BatchOperationResult (clause 5.2.16)."""
        return JSONResponse({"success": self.success, "errors": self.errors}, status_code=207)


# --- parsing ---------------------------------------------------------------------------------


def _array(body: Any) -> list[Any]:
    if not isinstance(body, list) or not body:
        raise bad_request("a batch body must be a non-empty JSON array")
    return body


class _Contexts:
    """Resolve each item's @context, once per distinct reference."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.kind = media_type(request)
        self.links = request.headers.getlist("link") or None
        contexts_for_batch(self.kind, self.links, [])  # the whole request's @context errors
        self.cache: dict[str, ActiveContext] = {}

    def of(self, item: Any) -> ActiveContext:
        """Return the active context of one item."""
        reference = contexts_for_batch(self.kind, self.links, [item])[0]
        key = json.dumps(reference, sort_keys=True)
        ctx = self.cache.get(key)
        if ctx is None:
            ctx = self.cache[key] = get_resolver(self.request).resolve(reference)
        return ctx


def _entity_item(raw: Any, contexts: _Contexts, writer: Writer) -> _Item:
    """Expand and parse one entity of a batch; an error stays with the item."""
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    try:
        if not isinstance(raw, dict):
            raise bad_request("a batch item must be a JSON object (an entity)")
        entity = parse_entity(expand_entity(raw, contexts.of(raw)))
        assert entity.id is not None
        writer.check(entity_ops.check_entity_id(entity.id))
    except (NgsiLdError, ContextError) as exc:
        return _Item(raw_id, error=exc)
    return _Item(entity.id, entity)


def _entity_items(request: Request, body: Any, writer: Writer) -> list[_Item]:
    contexts = _Contexts(request)
    return [_entity_item(raw, contexts, writer) for raw in _array(body)]


def _id_item(raw: Any, writer: Writer) -> _Item:
    try:
        entity_id = entity_ops.check_entity_id(check_uri(raw, "an entity id"))
        writer.check(entity_id)
    except NgsiLdError as exc:
        return _Item(raw if isinstance(raw, str) else None, error=exc)
    return _Item(entity_id)


# --- running ---------------------------------------------------------------------------------

ItemOutcome = Written | Failure
Step = Callable[[_Item, EntityFragment | None], ItemOutcome]


def _each(
    items: Sequence[_Item], loaded: dict[str, EntityFragment | None], step: Step
) -> list[ItemOutcome]:
    """Run a step on every valid item in order, each seeing what those before it wrote."""
    current = dict(loaded)
    out: list[ItemOutcome] = []
    for item in items:
        outcome = item.error or step(item, current.get(item.entity_id))
        if isinstance(outcome, Written):
            current[item.entity_id] = outcome.after
        out.append(outcome)
    return out


def _decide(rule: Rules, op: Operation, item: _Item, current: EntityFragment | None) -> ItemOutcome:
    """Decide one entity's write, or why it cannot be done."""
    try:
        return op(rule, item, current)
    except (NgsiLdError, ContextError) as exc:
        return exc


def _store_alone(
    db: Session, rule: Rules, op: Operation, item: _Item, current: EntityFragment | None
) -> ItemOutcome:
    """Decide and store one entity in its own savepoint: a failure rolls back only it."""
    try:
        with db.begin_nested():
            written = op(rule, item, current)
            entity_ops.save(db, written, rule.now)
            return written
    except (NgsiLdError, ContextError) as exc:
        return exc
    except SQLAlchemyError as exc:
        logger.exception("batch write of %s failed", item.entity_id)
        detail = f"the store failed: {type(exc).__name__}"
        return NgsiLdError("InternalError", "Internal error", detail, 500)


def _store_together(db: Session, rule: Rules, outcomes: Sequence[ItemOutcome]) -> bool:
    """Store every decided write in one savepoint and a few statements; False if it fails."""
    writes = [w for w in outcomes if isinstance(w, Written)]
    if len({w.entity_id for w in writes}) < len(writes):
        return False  # an entity written twice: one by one, each on what the last stored
    try:
        with db.begin_nested():
            entity_ops.save_all(db, writes, rule.now)
    except SQLAlchemyError:
        logger.warning("batch store failed; storing entity by entity", exc_info=True)
        return False
    return True


def _run(request: Request, db: Session, items: list[_Item], op: Operation) -> _Result:
    """Write every valid item after one load of them all; each succeeds or fails alone."""
    rule = rules(request)
    begin_write(db)
    ids = [i.entity_id for i in items if i.error is None]
    loaded: dict[str, EntityFragment | None] = {**load_entities(db, ids, lock=True)}
    outcomes = _each(items, loaded, lambda item, stored: _decide(rule, op, item, stored))
    if not _store_together(db, rule, outcomes):
        outcomes = _each(
            items, loaded, lambda item, stored: _store_alone(db, rule, op, item, stored)
        )
    result = _Result()
    for item, outcome in zip(items, outcomes, strict=True):
        if isinstance(outcome, Written):
            result.succeed(outcome)
        else:
            result.fail(item.entity_id, outcome)
    return result


def _commit(result: _Result, db: Session, request: Request, ann: Announcements) -> None:
    """Commit the batch, then announce what it changed."""
    for written in result.written:
        announce(ann, written)
    ann.commit(db, request)


def _entity(item: _Item) -> EntityFragment:
    assert item.entity is not None
    return item.entity


# --- routes ----------------------------------------------------------------------------------


@router.post("/entityOperations/create", status_code=201, summary="Batch create (NGSI-LD)")
def batch_create(
    request: Request, writer: WriterDep, body: BodyDep, db: WriteDb, ann: AnnouncementsDep
) -> Response:
    """Create each entity: 201 with their ids, or 207 with what failed."""
    options(request, set())
    items = _entity_items(request, body, writer)

    def create(rule: Rules, item: _Item, current: EntityFragment | None) -> Written:
        return entity_ops.create(rule, _entity(item), current is not None)

    result = _run(request, db, items, create)
    _commit(result, db, request, ann)
    if result.errors:
        return result.multi_status()
    return JSONResponse(result.success, status_code=201)


@router.post("/entityOperations/upsert", status_code=201, summary="Batch upsert (NGSI-LD)")
def batch_upsert(
    request: Request, writer: WriterDep, body: BodyDep, db: WriteDb, ann: AnnouncementsDep
) -> Response:
    """Create or replace (``options=update``: append to) each entity (clause 5.6.8)."""
    given = options(request, {"replace", "update"})
    if len(given) > 1:
        raise bad_request("options: replace and update exclude each other")
    replacing = "update" not in given
    items = _entity_items(request, body, writer)

    def upsert(rule: Rules, item: _Item, current: EntityFragment | None) -> Written:
        return entity_ops.upsert(rule, _entity(item), current, replace_existing=replacing)

    result = _run(request, db, items, upsert)
    _commit(result, db, request, ann)
    if result.errors:
        return result.multi_status()
    if result.created:
        return JSONResponse(result.created, status_code=201)
    return no_content()


@router.post("/entityOperations/update", status_code=204, summary="Batch update (NGSI-LD)")
def batch_update(
    request: Request, writer: WriterDep, body: BodyDep, db: WriteDb, ann: AnnouncementsDep
) -> Response:
    """Append attributes to each existing entity (``noOverwrite`` keeps existing ones)."""
    no_overwrite = "noOverwrite" in options(request, {"noOverwrite"})
    items = _entity_items(request, body, writer)

    def update(rule: Rules, item: _Item, current: EntityFragment | None) -> Written:
        entity = _entity(item)
        return entity_ops.append(rule, item.entity_id, current, entity, no_overwrite=no_overwrite)

    result = _run(request, db, items, update)
    _commit(result, db, request, ann)
    return result.multi_status() if result.errors else no_content()


@router.post("/entityOperations/delete", status_code=204, summary="Batch delete (NGSI-LD)")
def batch_delete(
    request: Request, writer: WriterDep, body: BodyDep, db: WriteDb, ann: AnnouncementsDep
) -> Response:
    """Delete each entity named (an array of ids): 204, or 207 with what failed."""
    options(request, set())
    items = [_id_item(raw, writer) for raw in _array(body)]

    def delete(rule: Rules, item: _Item, current: EntityFragment | None) -> Written:
        return entity_ops.delete(rule, item.entity_id, current)

    result = _run(request, db, items, delete)
    _commit(result, db, request, ann)
    return result.multi_status() if result.errors else no_content()


__all__ = ["router"]
