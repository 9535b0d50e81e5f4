"""The hub's HTTP API: ingest, series, entities, devices, dead letters."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from citysmart.core.auth import AdminDep, CurrentPrincipal, OperatorDep, SessionDep
from citysmart.core.errors import Problem
from citysmart.core.time import isoformat, parse_duration, parse_instant, utcnow
from citysmart.hub import queries, registry
from citysmart.hub.ingest import DeviceRefused, Ingestor
from citysmart.hub.models import Entity
from citysmart.hub.schemas import (
    DeadLetterPublic,
    DeviceCreate,
    DeviceKeyPublic,
    DevicePublic,
    EntitiesPublic,
    EntityCreate,
    EntityPublic,
    IngestPublic,
    RejectedRecord,
    SeriesBucket,
    SeriesPoint,
    SeriesPublic,
)
from citysmart.hub.senml import PackError

router = APIRouter(prefix="/api/v1", tags=["hub"])
SENML_TYPES = ("application/senml+json", "application/json")
MAX_POINTS = 100_000


def get_ingestor(request: Request) -> Ingestor:
    """Return the app's ingestor."""
    ingestor: Ingestor = request.app.state.ingestor
    return ingestor


IngestorDep = Annotated[Ingestor, Depends(get_ingestor)]


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "Pack too large", f"the pack is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "Pack too large", f"the pack is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/ingest",
    status_code=202,
    response_model=IngestPublic,
    summary="Store a SenML pack from a device",
    responses={400: {}, 401: {}, 403: {}, 413: {}, 415: {}, 422: {}},
)
async def create_ingest(request: Request, ingestor: IngestorDep) -> JSONResponse:
    """Validate and store a SenML JSON pack sent by the device that owns the bearer key."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "Device key required", "send 'Authorization: Bearer <device key>'")
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if media_type not in SENML_TYPES:
        raise Problem(
            415, "Unsupported media type", f"send {' or '.join(SENML_TYPES)}, not {media_type}"
        )
    body = await _read_limited(request, ingestor.max_pack_bytes)
    try:
        result = await run_in_threadpool(ingestor.ingest_for_key, key.strip(), body)
    except DeviceRefused as exc:
        raise Problem(exc.status, exc.title, exc.detail) from exc
    except PackError as exc:
        status = 413 if exc.title == "Pack too large" else 400
        raise Problem(status, exc.title, exc.detail) from exc
    rejected = [RejectedRecord(index=r.index, reason=r.reason) for r in result.rejections]
    if result.stored == 0 and result.duplicates == 0 and rejected:
        raise Problem(
            422,
            "No valid record",
            f"all {len(rejected)} records were rejected; nothing was stored",
            rejected=[r.model_dump() for r in rejected],
        )
    body_out = IngestPublic(stored=result.stored, duplicates=result.duplicates, rejected=rejected)
    return JSONResponse(body_out.model_dump(), status_code=202)


def _parse_time(name: str, value: str | None, default: dt.datetime) -> dt.datetime:
    if value is None:
        return default
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise Problem(400, "Invalid time", f"{name}: {exc}") from exc


@router.get("/series", response_model=SeriesPublic, response_model_by_alias=True)
def read_series(
    request: Request,
    db: SessionDep,
    _user: CurrentPrincipal,
    entity: Annotated[str, Query(description="entity URN")],
    attr: Annotated[str, Query(description="attribute name")],
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    every: Annotated[str | None, Query(description="bucket size: 15m, 1h, 1d or PT1H")] = None,
    agg: Annotated[queries.Aggregate | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_POINTS)] = 10_000,
) -> SeriesPublic:
    """Return one attribute over [from, to): the points, or buckets with ``every`` and ``agg``."""
    end_t = _parse_time("to", end, utcnow())
    start_t = _parse_time("from", start, end_t - dt.timedelta(days=1))
    if start_t >= end_t:
        raise Problem(400, "Invalid time range", f"from ({start}) must be before to ({end})")
    if db.get(Entity, entity) is None:
        raise Problem(404, "Unknown entity", f"no entity {entity!r}")
    conn = db.connection()
    latest = queries.latest_values(db, [entity])[entity].get(attr)
    unit = latest["unit"] if latest else None
    series = SeriesPublic(entity=entity, attribute=attr, unit=unit, start=start_t, end=end_t)
    if every is None and agg is None:
        points = queries.read_series(conn, entity, attr, start_t, end_t, limit + 1)
        series.truncated = len(points) > limit
        series.points = [SeriesPoint(t=p.t, v=p.value) for p in points[:limit]]
        return series
    if every is None or agg is None:
        raise Problem(400, "Incomplete aggregation", "give both every and agg, or neither")
    try:
        step = parse_duration(every)
    except ValueError as exc:
        raise Problem(400, "Invalid duration", str(exc)) from exc
    if (end_t - start_t) / step > MAX_POINTS:
        raise Problem(
            400, "Too many buckets", f"the range holds over {MAX_POINTS} buckets of {every}"
        )
    tz = zoneinfo.ZoneInfo(request.app.state.settings.timezone)
    # Buckets start at local midnight (Asia/Seoul has no daylight saving, so one offset holds).
    offset = dt.datetime(1970, 1, 1, tzinfo=tz).utcoffset() or dt.timedelta(0)
    origin = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) - offset
    buckets = queries.aggregate_series(conn, entity, attr, start_t, end_t, step, agg, origin)
    series.every, series.agg = every, agg
    series.buckets = [SeriesBucket(t=b.start, v=b.value, n=b.count) for b in buckets]
    return series


def _device_public(device: object) -> DevicePublic:
    return DevicePublic.model_validate(device, from_attributes=True)


def _entities_public(db: SessionDep, entities: list[Entity]) -> list[EntityPublic]:
    ids = [e.id for e in entities]
    latest = queries.latest_values(db, ids)
    devices = queries.devices_of(db, ids)
    return [
        EntityPublic(
            id=e.id,
            type=e.type,
            name=e.name,
            properties=e.properties or {},
            location=e.location,
            created_at=e.created_at,
            modified_at=e.modified_at,
            latest={
                a: {**v, "observedAt": isoformat(v["observedAt"])} for a, v in latest[e.id].items()
            },
            devices=[_device_public(d) for d in devices[e.id]],
        )
        for e in entities
    ]


@router.get("/entities", response_model=EntitiesPublic)
def list_entities(
    db: SessionDep,
    _user: CurrentPrincipal,
    type: Annotated[str | None, Query()] = None,  # noqa: A002  (the API's word)
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> EntitiesPublic:
    """List entities with their latest values and device status."""
    entities, total = queries.list_entities(db, type, limit, offset)
    return EntitiesPublic(data=_entities_public(db, entities), count=total)


@router.get("/entities/{entity_id}", response_model=EntityPublic)
def read_entity(entity_id: str, db: SessionDep, _user: CurrentPrincipal) -> EntityPublic:
    """Return one entity with its latest values and devices."""
    entity = db.get(Entity, entity_id)
    if entity is None:
        raise Problem(404, "Unknown entity", f"no entity {entity_id!r}")
    return _entities_public(db, [entity])[0]


@router.post("/entities", response_model=EntityPublic, status_code=201)
def create_entity(entity_in: EntityCreate, db: SessionDep, user: OperatorDep) -> EntityPublic:
    """Create or update an entity (operators)."""
    try:
        entity = registry.upsert_entity(
            db,
            entity_in.id,
            entity_in.type,
            entity_in.name,
            entity_in.properties,
            entity_in.location,
        )
    except registry.RegistryError as exc:
        raise Problem(422, "Invalid entity", str(exc)) from exc
    db.flush()
    return _entities_public(db, [entity])[0]


@router.get("/devices", response_model=list[DevicePublic])
def list_devices(
    db: SessionDep,
    _user: OperatorDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DevicePublic]:
    """List devices with status, last seen and error count (operators)."""
    return [_device_public(d) for d in queries.list_devices(db, limit, offset)]


@router.post("/devices", response_model=DeviceKeyPublic, status_code=201)
def create_device(device_in: DeviceCreate, db: SessionDep, user: AdminDep) -> DeviceKeyPublic:
    """Register a device and return its key, shown only this once (admins)."""
    try:
        issued = registry.register_device(
            db,
            device_in.id,
            device_in.entity_id,
            device_in.entity_type,
            actor=user.username,
            location=device_in.location,
            name=device_in.name,
        )
    except registry.RegistryError as exc:
        raise Problem(422, "Invalid device", str(exc)) from exc
    return DeviceKeyPublic(device_id=issued.device_id, key=issued.key)


@router.post("/devices/{device_id}/revoke", response_model=DevicePublic)
def revoke_device(device_id: str, db: SessionDep, user: AdminDep) -> DevicePublic:
    """Revoke a device's key (admins)."""
    try:
        device = registry.revoke_device(db, device_id, actor=user.username)
    except registry.RegistryError as exc:
        raise Problem(404, "Unknown device", str(exc)) from exc
    return _device_public(device)


@router.get("/dead-letters", response_model=list[DeadLetterPublic])
def list_dead_letters(
    db: SessionDep,
    _user: OperatorDep,
    device: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DeadLetterPublic]:
    """List payloads the hub could not store, newest first (operators)."""
    return [
        DeadLetterPublic.model_validate(d, from_attributes=True)
        for d in queries.list_dead_letters(db, device, limit, offset)
    ]
