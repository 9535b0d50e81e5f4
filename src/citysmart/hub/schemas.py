"""Request and response bodies of the hub API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class RejectedRecord(BaseModel):
    """A record of a pack that was not stored."""

    index: int
    reason: str


class IngestPublic(BaseModel):
    """The answer to an accepted pack."""

    stored: int = Field(description="readings newly stored")
    duplicates: int = Field(
        description="readings already stored earlier (same entity, attribute, time)"
    )
    rejected: list[RejectedRecord]


class SeriesPoint(BaseModel):
    """One reading."""

    t: dt.datetime
    v: float | str | bool | None


class SeriesBucket(BaseModel):
    """One aggregated time bucket; ``n`` readings fell in it."""

    t: dt.datetime
    v: float | None
    n: int


class SeriesPublic(BaseModel):
    """A time series of one attribute of one entity."""

    entity: str
    attribute: str
    unit: str | None
    start: dt.datetime = Field(serialization_alias="from")
    end: dt.datetime = Field(serialization_alias="to")
    every: str | None = None
    agg: str | None = None
    points: list[SeriesPoint] | None = None
    buckets: list[SeriesBucket] | None = None
    truncated: bool = False


class EntityCreate(BaseModel):
    """An entity to create or update."""

    id: str
    type: str
    name: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    location: dict[str, Any] | None = None


class DevicePublic(BaseModel):
    """A device as operators see it (never its key)."""

    id: str
    entity_id: str
    status: str
    key_prefix: str
    created_at: dt.datetime
    last_seen_at: dt.datetime | None
    error_count: int
    last_error: str | None


class EntityPublic(BaseModel):
    """An entity with its latest values and devices."""

    id: str
    type: str
    name: str | None
    properties: dict[str, Any]
    location: dict[str, Any] | None
    created_at: dt.datetime
    modified_at: dt.datetime
    latest: dict[str, dict[str, Any]]
    devices: list[DevicePublic]


class EntitiesPublic(BaseModel):
    """A page of entities."""

    data: list[EntityPublic]
    count: int


class DeviceCreate(BaseModel):
    """A device to register."""

    id: str
    entity_id: str
    entity_type: str
    name: str | None = None
    location: dict[str, Any] | None = None


class DeviceKeyPublic(BaseModel):
    """A newly issued device key, shown once."""

    device_id: str
    key: str


class DeadLetterPublic(BaseModel):
    """A payload the hub could not store."""

    id: int
    received_at: dt.datetime
    source: str
    device_id: str | None
    topic: str | None
    payload: str
    reason: str
