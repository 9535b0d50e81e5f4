"""NGSI-LD temporal API (ETSI GS CIM 009 V1.8 clauses 5.6.11-5.6.16, 5.7.3, 5.7.4, 6.18-6.22).

One store, two views: an entity's temporal evolution is its ``observation`` rows, device
readings (Property instances whose unitCode comes from the SenML unit) and every instance
NGSI-LD writes. Query parameters, representations and paging are ``temporal.py``'s; the
SQL is ``temporal_store.py``'s (which also defines ``instanceId``).

Decisions where the specification leaves room:

- ``timeproperty``: the store keeps one instant per instance, its observedAt
  (``observation.observed_at``; the write time for an instance written without one). Past
  instances' createdAt and modifiedAt are not recorded, so ``timeproperty=createdAt`` or
  ``modifiedAt`` is OperationNotSupported (422) and ``sysAttrs`` adds nothing to instances.
- An entity that does not exist (or has a type a service keeps private) has no temporal
  representation: 404, even when rows of it remain; DELETE still purges those.
- Query: entities are selected as ``GET /entities`` selects them (``query.py``: type
  expressions, ``id``, ``idPattern``, ``attrs``, ``q``, geo-queries and ``scopeQ``, on
  their current state), paged with ``limit`` (default 20), ``offset``, ``count`` and
  ``next``/``prev`` Links, in id order; ``attrs`` also keeps only those attributes'
  instances. A selected entity with no instance in the window has only its id and type.
- Paging instances: an attribute holds at most ``temporal_page_size`` instances
  (``CITYSMART_NGSI_LD_TEMPORAL_PAGE_SIZE``); a query cuts all its entities at one instant,
  so one ``Content-Range`` (206) covers the whole response (see ``page_instances``).
- ``aggregatedValues`` are computed in SQL and not paged; ``lastN`` keeps the newest N
  periods per attribute and datasetId. ``lang`` is not applied to temporal results.
- POST ``/temporal/entities`` takes an entity whose attributes are instances (one, or an
  array) each with observedAt: 201 when it creates the entity, whose current attributes are
  then the newest instance of each attribute and datasetId; 204 when it adds to an existing
  one, whose new types are added. An instance at a stored instant replaces it. An added
  instance at or after the current instance's observedAt (or when the current one has
  none) becomes the current value and is announced; older ones only join the history.
- PATCH ``.../attrs/{attrId}/{instanceId}`` replaces the instance's content (value, kind,
  unitCode, sub-attributes); its observedAt and datasetId are its identity (another
  value is BadRequestData). Changing the current instance changes the current value;
  deleting it makes the newest remaining instance current, or removes the attribute.
- DELETE ``.../attrs/{attrId}`` deletes the default instances, ``datasetId=X`` that
  datasetId's, ``deleteAll=true`` all (not both: BadRequestData), current ones included.
  DELETE ``/temporal/entities/{id}`` deletes the entity and all its history, readings too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from citysmart.core.time import utcnow
from citysmart.hub.models import Observation
from citysmart.hub.ngsi_ld import temporal_store as store
from citysmart.hub.ngsi_ld.codec import expanded_name, row_instance, stored_name, stored_type
from citysmart.hub.ngsi_ld.context import ActiveContext, compact_entity, expand_entity
from citysmart.hub.ngsi_ld.entity_store import (
    begin_write,
    delete_entity,
    insert_entity,
    load_entities,
    update_entity,
)
from citysmart.hub.ngsi_ld.http import (
    JSON,
    LD_JSON,
    Announcements,
    AnnouncementsDep,
    BodyDep,
    Output,
    ReadDb,
    WriteDb,
    WriterDep,
    expand_attribute,
    flag,
    int_param,
    is_private,
    ngsi_state,
    no_content,
    not_found,
    request_context,
    respond,
    split,
)
from citysmart.hub.ngsi_ld.model import (
    AttributeInstance,
    Change,
    EntityFragment,
    NgsiLdError,
    add_types,
    bad_request,
    parse_attribute,
    parse_entity,
)
from citysmart.hub.ngsi_ld.query import (
    Page,
    QuerySpec,
    load_fragments,
    run_query,
    spec_from_params,
)
from citysmart.hub.ngsi_ld.temporal import (
    Representation,
    TemporalInstance,
    TemporalPage,
    TemporalQuery,
    page_instances,
    parse_temporal_query,
    render_aggregated,
    render_temporal_entity,
)

router = APIRouter()

_PATH: Final = "/temporal/entities"
DEFAULT_LIMIT: Final = 20
_OPTIONS: Final = frozenset(
    {"temporalValues", "aggregatedValues", "sysAttrs", "normalized", "concise", "keyValues"}
    | {"simplified"}
)
_ENTITY_MEMBERS: Final = frozenset({"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt"})
_TRIGGERS: Final = {
    "created": "attributeCreated",
    "updated": "attributeUpdated",
    "deleted": "attributeDeleted",
}

Instances = dict[str, list[TemporalInstance]]  # expanded attribute name -> instances


# --- reading: request ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Read:
    """A temporal read: the query, how to write the answer, the instances per page."""

    query: TemporalQuery
    out: Output
    page_size: int


@dataclass(frozen=True, slots=True)
class _Target:
    """An entity whose temporal evolution is asked for (types expanded)."""

    id: str
    types: tuple[str, ...]


def _read_request(request: Request) -> _Read:
    """Validate a temporal read's parameters."""
    params = request.query_params
    query = parse_temporal_query(params)
    unknown = set(split(params.get("options"))) - _OPTIONS
    if unknown:
        raise bad_request(f"options: unknown {', '.join(sorted(unknown))}")
    if query.timeproperty != "observedAt":
        raise NgsiLdError(
            "OperationNotSupported",
            None,
            f"timeproperty={query.timeproperty}: this broker records the observedAt of "
            "each instance only",
        )
    return _Read(query, _output(request, query), ngsi_state(request).temporal_page_size)


def _output(request: Request, query: TemporalQuery) -> Output:
    """Return how to answer: JSON with a Link header, or ld+json with the @context inside."""
    accept = request.headers.get("accept", "")
    if accept and not any(t in accept for t in (JSON, LD_JSON, "*/*", "application/*")):
        raise NgsiLdError("NotAcceptable", "Not acceptable", f"can answer {JSON} or {LD_JSON}", 406)
    ld_json = LD_JSON in accept and JSON not in accept.replace(LD_JSON, "")
    return Output("normalized", query.sys_attrs, None, request_context(request), ld_json)


def _stored_names(ctx: ActiveContext, attrs: Sequence[str]) -> list[str] | None:
    """Return the stored names of an ``attrs`` parameter (None when absent: all)."""
    if not attrs:
        return None
    return sorted({stored_name(expand_attribute(ctx, a)) for a in attrs})


def _target_of(fragment: EntityFragment) -> _Target:
    """Return what a temporal read needs of an entity: its id and types."""
    assert fragment.id is not None
    return _Target(fragment.id, fragment.types)


def _visible_entity(db: Session, request: Request, entity_id: str) -> EntityFragment:
    """Return a stored, public entity or raise ResourceNotFound."""
    found = load_fragments(db, [entity_id], ())
    fragment = found[0] if found else None
    if fragment is None or is_private(request, [stored_type(t) for t in fragment.types]):
        raise not_found(f"no entity {entity_id}")
    return fragment


# --- reading: instances and aggregates ------------------------------------------------------


def _instances(
    db: Session, read: _Read, targets: Sequence[_Target], names: list[str] | None
) -> dict[str, Instances]:
    """Read each target's instances per attribute: enough for page_instances to cut."""
    query, size = read.query, read.page_size + 1
    count = size if query.last_n is None else min(query.last_n, size)
    out: dict[str, Instances] = {}
    for target in targets:
        attributes = names if names is not None else store.history_attributes(db, target.id)
        out[target.id] = {
            expanded_name(a): [
                store.temporal_instance(r)
                for r in store.read_instances(db, target.id, a, query, count)
            ]
            for a in attributes
        }
    return out


def _page(found: Mapping[str, Instances], read: _Read) -> tuple[dict[str, Instances], TemporalPage]:
    """Cut every entity's attributes at one instant (one Content-Range for the response)."""
    pairs = [(entity, name) for entity, attributes in found.items() for name in attributes]
    flat = {str(i): found[e][n] for i, (e, n) in enumerate(pairs)}
    page = page_instances(
        flat, read.page_size, time_property=read.query.timeproperty, last_n=read.query.last_n
    )
    kept: dict[str, Instances] = {entity: {} for entity in found}
    for label, instances in page.attributes.items():
        entity, name = pairs[int(label)]
        kept[entity][name] = instances
    return kept, page


def _compact_names(body: dict[str, Any], ctx: ActiveContext) -> dict[str, Any]:
    """Compact a temporalValues or aggregated body's type and attribute names."""
    types = body["type"]
    out: dict[str, Any] = {
        "id": body["id"],
        "type": [ctx.compact_type(t) for t in types]
        if isinstance(types, list)
        else ctx.compact_type(types),
    }
    for name, value in body.items():
        if name not in ("id", "type"):
            out[ctx.compact_iri(name)] = value
    return out


def _finish(body: dict[str, Any], read: _Read) -> dict[str, Any]:
    """Compact a rendered body with the client's context (and embed it for ld+json)."""
    if read.query.representation is Representation.NORMALIZED:
        body = compact_entity(body, read.out.ctx)
    else:
        body = _compact_names(body, read.out.ctx)
    if read.out.ld_json:
        body["@context"] = read.out.context.reference
    return body


def _aggregated(
    db: Session, read: _Read, targets: Sequence[_Target], names: list[str] | None
) -> list[dict[str, Any]]:
    """Aggregate in SQL and render each target (clause 4.5.19)."""
    rows = store.aggregate(db, [t.id for t in targets], names, read.query)
    by_entity: dict[str, dict[str, Any]] = {t.id: {} for t in targets}
    for (entity, attribute), found in rows.items():
        by_entity[entity][expanded_name(attribute)] = found
    methods = read.query.aggr_methods
    return [
        _finish(render_aggregated(t.id, t.types, by_entity[t.id], methods), read) for t in targets
    ]


def _bodies(
    db: Session, read: _Read, targets: Sequence[_Target], names: list[str] | None
) -> tuple[list[dict[str, Any]], TemporalPage | None]:
    """Return the targets' temporal representations and the page they were cut to."""
    query = read.query
    if query.representation is Representation.AGGREGATED_VALUES:
        return _aggregated(db, read, targets, names), None
    kept, page = _page(_instances(db, read, targets, names), read)
    bodies = [
        _finish(
            render_temporal_entity(
                t.id,
                t.types,
                kept[t.id],
                query.representation,
                time_property=query.timeproperty,
                sys_attrs=query.sys_attrs,
            ),
            read,
        )
        for t in targets
    ]
    return bodies, page


def _answer(
    content: Any, read: _Read, page: TemporalPage | None, links: Sequence[str] = ()
) -> JSONResponse:
    """Respond 200, or 206 with Content-Range when instances were left for another page."""
    cut = page.content_range if page is not None else None
    if cut is None:
        return respond(content, read.out, links)
    return respond(content, read.out, links, 206, {"Content-Range": cut})


# --- reading: entity selection for the query ------------------------------------------------


def _spec(request: Request, ctx: ActiveContext) -> QuerySpec:
    """Read the entity selection: type, id, idPattern, attrs, q, geo-query, scopeQ."""
    spec = spec_from_params(request.query_params, ctx, lambda t: expand_attribute(ctx, t))
    if not spec.restricted:
        raise bad_request(
            "a temporal query needs at least one of type, id, idPattern, attrs, q or a geo-query"
        )
    return spec


def _entity_page(request: Request) -> Page:
    """Read limit, offset and count (as the entity query does)."""
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


# --- reading: routes -----------------------------------------------------------------------


@router.get(_PATH, summary="Query the temporal evolution of entities (NGSI-LD)")
def query_temporal_entities(request: Request, db: ReadDb) -> JSONResponse:
    """Return the selected entities' instances, temporalValues or aggregates, paged."""
    read = _read_request(request)
    spec = _spec(request, read.out.ctx)
    page = _entity_page(request)
    result = run_query(db, spec, page, ngsi_state(request).private_types)
    targets = [_target_of(f) for f in load_fragments(db, result.ids, ())]
    names = sorted({stored_name(a) for a in spec.attrs}) if spec.attrs else None
    bodies, cut = _bodies(db, read, targets, names)
    response = _answer(bodies, read, cut, _links(request, page, result.more))
    if result.total is not None:
        response.headers["NGSILD-Results-Count"] = str(result.total)
    return response


# --- writing: bodies -----------------------------------------------------------------------


def _parse_instances(name: str, raw: Any) -> list[AttributeInstance]:
    """Parse one attribute's instances (one or an array), each with observedAt."""
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise bad_request(f"attribute {name!r}: an empty array has no instances")
    out: list[AttributeInstance] = []
    for item in items:
        for parsed in parse_attribute(name, item):
            if not isinstance(parsed, AttributeInstance) or parsed.observed_at is None:
                raise bad_request(f"attribute {name!r}: every temporal instance needs observedAt")
            out.append(parsed)
    return out


def _parse_temporal_body(
    body: Any, ctx: ActiveContext, *, require_id_type: bool
) -> tuple[EntityFragment, list[AttributeInstance]]:
    """Parse a temporal entity (or fragment) into its entity members and its instances."""
    if not isinstance(body, Mapping):
        raise bad_request("a temporal entity must be a JSON object")
    expanded = expand_entity(body, ctx)
    members = {k: v for k, v in expanded.items() if k in _ENTITY_MEMBERS}
    head = parse_entity(members, require_id_type=require_id_type)
    instances = [
        instance
        for name, raw in expanded.items()
        if name not in _ENTITY_MEMBERS
        for instance in _parse_instances(name, raw)
    ]
    seen: set[tuple[str, str | None, Any]] = set()
    for i in instances:
        if (i.name, i.dataset_id, i.observed_at) in seen:
            raise bad_request(f"attribute {i.name!r}: two instances at {i.observed_at}")
        seen.add((i.name, i.dataset_id, i.observed_at))
    return head, instances


def _newest(
    instances: Sequence[AttributeInstance],
) -> dict[tuple[str, str | None], AttributeInstance]:
    """Return the newest instance of each attribute and datasetId."""
    newest: dict[tuple[str, str | None], AttributeInstance] = {}
    for instance in instances:
        assert instance.observed_at is not None
        old = newest.get(instance.key)
        if old is None or (old.observed_at is not None and instance.observed_at > old.observed_at):
            newest[instance.key] = instance
    return newest


# --- writing: store updates ----------------------------------------------------------------


def _create(db: Session, head: EntityFragment, instances: Sequence[AttributeInstance]) -> None:
    """Store a new entity: its history, and the newest instances as its current attributes."""
    assert head.id is not None
    now = utcnow()
    current = [replace(i, created_at=now, modified_at=now) for i in _newest(instances).values()]
    insert_entity(db, replace(head, attributes=tuple(current)), now)
    store.write_instances(db, head.id, instances)


def _advanced(before: EntityFragment, instances: Sequence[AttributeInstance]) -> list[Change]:
    """Return the current attributes that newer instances replace."""
    now = utcnow()
    current = {a.key: a for a in before.attributes}
    changes = []
    for key, new in _newest(instances).items():
        old = current.get(key)
        assert new.observed_at is not None
        if old is not None and old.observed_at is not None and new.observed_at < old.observed_at:
            continue
        created = old.created_at if old is not None and old.created_at else now
        stamped = replace(new, created_at=created, modified_at=now)
        changes.append(Change(new.name, new.dataset_id, old, stamped))
    return changes


def _add(
    db: Session,
    before: EntityFragment,
    types: Sequence[str],
    instances: Sequence[AttributeInstance],
) -> list[Change]:
    """Add instances (and types) to an existing entity; return the current values changed."""
    assert before.id is not None
    changes = _advanced(before, instances)
    store.write_instances(db, before.id, instances)
    all_types = add_types(before.types, types)
    if changes or all_types != before.types:
        _update(db, before, all_types, changes)
    return changes


def _update(
    db: Session, before: EntityFragment, types: Sequence[str], changes: Sequence[Change]
) -> None:
    """Store new current attributes (and types) through the entity store.

    The changes go without their ``before``: an instance a temporal write makes current
    keeps its own observedAt in the history, even when it is the current one modified.
    """
    stored = [replace(c, before=None) for c in changes]
    update_entity(db, before, replace(before, types=tuple(types)), stored, utcnow())


def _announce(news: Announcements, entity_id: str, changes: Sequence[Change]) -> None:
    """Announce the current attributes created, updated and deleted."""
    for action, trigger in _TRIGGERS.items():
        names = [c.name for c in changes if c.action == action]
        if names:
            news.add(entity_id, names, trigger)


def _begin(db: Session, instances: Sequence[AttributeInstance] = ()) -> None:
    """Start a write: partitions for the instances first (PostgreSQL), then the lock."""
    store.ensure_partitions(db, [i.observed_at for i in instances if i.observed_at])
    begin_write(db)


def _existing(db: Session, entity_id: str) -> EntityFragment:
    """Return the entity a write changes, locked, or raise ResourceNotFound."""
    fragment = load_entities(db, [entity_id], lock=True).get(entity_id)
    if fragment is None:
        raise not_found(f"no entity {entity_id}")
    return fragment


# --- writing: routes -------------------------------------------------------------------------


@router.post(_PATH, status_code=201, summary="Create or add to a temporal entity (NGSI-LD)")
def upsert_temporal_entity(
    request: Request, writer: WriterDep, body: BodyDep, db: WriteDb, news: AnnouncementsDep
) -> Response:
    """Create an entity from its temporal evolution (201), or add to an existing one (204)."""
    head, instances = _parse_temporal_body(
        body, request_context(request, body).ctx, require_id_type=True
    )
    assert head.id is not None
    writer.check(head.id)
    _begin(db, instances)
    before = load_entities(db, [head.id], lock=True).get(head.id)
    if before is None:
        _create(db, head, instances)
        news.add(head.id, sorted({i.name for i in instances}), "entityCreated")
        news.commit(db, request)
        location = f"{request.url.path.rstrip('/')}/{head.id}"
        return Response(status_code=201, headers={"Location": location})
    _announce(news, head.id, _add(db, before, head.types, instances))
    news.commit(db, request)
    return no_content()


# Routes below work on an entity that must exist: ReadDb does not create a missing tenant.


@router.post(_PATH + "/{entity_id}/attrs", status_code=204, summary="Add temporal instances")
def append_temporal_attributes(
    entity_id: str,
    request: Request,
    writer: WriterDep,
    body: BodyDep,
    db: ReadDb,
    news: AnnouncementsDep,
) -> Response:
    """Add attribute instances to an entity's temporal evolution (clause 5.6.12)."""
    writer.check(entity_id)
    head, instances = _parse_temporal_body(
        body, request_context(request, body).ctx, require_id_type=False
    )
    if head.id is not None and head.id != entity_id:
        raise bad_request(f"the body's id {head.id} is not the path's {entity_id}")
    _begin(db, instances)
    before = _existing(db, entity_id)
    _announce(news, entity_id, _add(db, before, head.types, instances))
    news.commit(db, request)
    return no_content()


@router.patch(
    _PATH + "/{entity_id}/attrs/{attr_id}/{instance_id}",
    status_code=204,
    summary="Modify an attribute instance (NGSI-LD)",
)
def modify_instance(
    entity_id: str,
    attr_id: str,
    instance_id: str,
    request: Request,
    writer: WriterDep,
    body: BodyDep,
    db: ReadDb,
    news: AnnouncementsDep,
) -> Response:
    """Replace the content of one instance (clause 5.6.15)."""
    writer.check(entity_id)
    ctx = request_context(request, body).ctx
    name = expand_attribute(ctx, attr_id)
    _begin(db)
    before = _existing(db, entity_id)
    row = _instance_row(db, entity_id, name, instance_id)
    new = _patched(name, attr_id, body, ctx, row)
    store.write_instances(db, entity_id, [new])
    current = _current(before, name, row)
    if current is not None:
        stamped = replace(new, created_at=current.created_at, modified_at=utcnow())
        change = Change(name, new.dataset_id, current, stamped)
        _update(db, before, before.types, [change])
        _announce(news, entity_id, [change])
    news.commit(db, request)
    return no_content()


@router.delete(
    _PATH + "/{entity_id}/attrs/{attr_id}/{instance_id}",
    status_code=204,
    summary="Delete an attribute instance (NGSI-LD)",
)
def delete_instance(
    entity_id: str,
    attr_id: str,
    instance_id: str,
    request: Request,
    writer: WriterDep,
    db: ReadDb,
    news: AnnouncementsDep,
) -> Response:
    """Delete one instance (clause 5.6.16); the newest remaining one may become current."""
    writer.check(entity_id)
    name = expand_attribute(request_context(request).ctx, attr_id)
    _begin(db)
    before = _existing(db, entity_id)
    row = _instance_row(db, entity_id, name, instance_id)
    current = _current(before, name, row)
    key = store.InstanceKey(row.dataset_id, row.observed_at)
    store.delete_instance(db, entity_id, row.attribute, key)
    if current is not None:
        newest = store.newest_instance(db, entity_id, row.attribute, row.dataset_id)
        after = None
        if newest is not None:
            after = replace(
                row_instance(newest, None), created_at=current.created_at, modified_at=utcnow()
            )
        change = Change(name, current.dataset_id, current, after)
        _update(db, before, before.types, [change])
        _announce(news, entity_id, [change])
    news.commit(db, request)
    return no_content()


@router.delete(
    _PATH + "/{entity_id}/attrs/{attr_id}",
    status_code=204,
    summary="Delete an attribute's temporal evolution (NGSI-LD)",
)
def delete_temporal_attribute(
    entity_id: str,
    attr_id: str,
    request: Request,
    writer: WriterDep,
    db: ReadDb,
    news: AnnouncementsDep,
) -> Response:
    """Delete an attribute's instances: default, one datasetId, or all (clause 5.6.14)."""
    writer.check(entity_id)
    name = expand_attribute(request_context(request).ctx, attr_id)
    every = flag(request, "deleteAll")
    dataset_id = request.query_params.get("datasetId")
    if every and dataset_id is not None:
        raise bad_request("deleteAll=true and datasetId exclude each other")
    _begin(db)
    before = _existing(db, entity_id)
    which = None if every else (dataset_id or "")
    removed = store.delete_history(db, entity_id, stored_name(name), which)
    gone = [
        Change(a.name, a.dataset_id, a, None)
        for a in before.attributes
        if a.name == name and (every or (a.dataset_id or "") == which)
    ]
    if not removed and not gone:
        raise not_found(f"entity {entity_id} has no instances of {attr_id}")
    if gone:
        _update(db, before, before.types, gone)
        _announce(news, entity_id, gone)
    news.commit(db, request)
    return no_content()


@router.delete(
    _PATH + "/{entity_id:path}",
    status_code=204,
    summary="Delete the temporal representation of an entity (NGSI-LD)",
)
def delete_temporal_entity(
    entity_id: str, request: Request, writer: WriterDep, db: ReadDb, news: AnnouncementsDep
) -> Response:
    """Delete an entity and its whole history (clause 5.6.13)."""
    writer.check(entity_id)
    _begin(db)
    load_entities(db, [entity_id], lock=True)
    removed = store.delete_history(db, entity_id)
    existed = delete_entity(db, entity_id)
    if not existed and not removed:
        raise not_found(f"no entity {entity_id}")
    if existed:
        news.add(entity_id, [], "entityDeleted")
    news.commit(db, request)
    return no_content()


@router.get(_PATH + "/{entity_id:path}", summary="Retrieve a temporal entity (NGSI-LD)")
def retrieve_temporal_entity(entity_id: str, request: Request, db: ReadDb) -> JSONResponse:
    """Return one entity's instances, temporalValues or aggregates (clause 5.7.3)."""
    read = _read_request(request)
    target = _target_of(_visible_entity(db, request, entity_id))
    names = _stored_names(read.out.ctx, split(request.query_params.get("attrs")))
    bodies, page = _bodies(db, read, [target], names)
    return _answer(bodies[0], read, page)


# --- writing: instance helpers ---------------------------------------------------------------


def _instance_row(db: Session, entity_id: str, name: str, instance_id: str) -> Observation:
    """Return the row an instanceId names under this attribute, or raise ResourceNotFound."""
    stored = stored_name(name)
    key = store.parse_instance_id(instance_id, stored)
    row = None if key is None else store.find_instance(db, entity_id, stored, key)
    if row is None:
        raise not_found(f"entity {entity_id} has no instance {instance_id} of {name}")
    return row


def _current(before: EntityFragment, name: str, row: Observation) -> AttributeInstance | None:
    """Return the current attribute if the row is its instance (same datasetId and time)."""
    for attribute in before.attributes:
        same_dataset = (attribute.dataset_id or "") == row.dataset_id
        if attribute.name == name and same_dataset and attribute.observed_at == row.observed_at:
            return attribute
    return None


def _patched(
    name: str, attr_id: str, body: Any, ctx: ActiveContext, row: Observation
) -> AttributeInstance:
    """Parse a PATCH body into the instance's new content, keeping its identity."""
    raw = next(iter(expand_entity({attr_id: body}, ctx).values()), None)
    items = parse_attribute(name, raw)
    new = items[0] if len(items) == 1 else None
    if not isinstance(new, AttributeInstance):
        raise bad_request("the body must be one attribute instance")
    if new.observed_at not in (None, row.observed_at):
        raise bad_request("observedAt identifies the instance and cannot change")
    if new.dataset_id not in (None, row.dataset_id or None):
        raise bad_request("datasetId identifies the instance and cannot change")
    return replace(new, observed_at=row.observed_at, dataset_id=row.dataset_id or None)


__all__ = ["router"]
