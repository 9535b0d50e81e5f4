"""Hub tables: entities and their types, devices, observations, attributes, dead letters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Double, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime


class Entity(Base):
    """A thing in the city with an URN id: a sensor site, a station, a lot, a manhole."""

    __tablename__ = "entity"
    __table_args__ = (Index("ix_entity_type", "type"),)

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    type: Mapped[str] = mapped_column(String(256))  # the first type; entity_type has them all
    name: Mapped[str | None] = mapped_column(String(256))
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    scope: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class EntityType(Base):
    """One of an entity's types (NGSI-LD entities may have several)."""

    __tablename__ = "entity_type"
    __table_args__ = (Index("ix_entity_type_type", "type", "entity_id"),)

    entity_id: Mapped[str] = mapped_column(
        ForeignKey("entity.id", ondelete="CASCADE"), primary_key=True
    )
    type: Mapped[str] = mapped_column(String(256), primary_key=True)


class Device(Base):
    """A sensor that reports for one entity, authenticated by its own key."""

    __tablename__ = "device"
    __table_args__ = (Index("ix_device_entity_id", "entity_id"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    entity_id: Mapped[str] = mapped_column(ForeignKey("entity.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Observation(Base):
    """One reading: an entity's attribute at an instant.

    The primary key (entity, attribute, time, datasetId) makes ingest idempotent, serves
    both the "one attribute over a time range" scan and Citus sharding by ``entity_id``; on
    PostgreSQL the table is partitioned by month on ``observed_at`` (see docs/storage.md).
    ``value_type`` is ``n``umber, ``s``tring, ``b``oolean or ``j``SON (in ``text_value``);
    ``meta`` holds what an NGSI-LD instance has beyond a plain reading (kind,
    sub-attributes, unitCode), and is null for device readings.
    """

    __tablename__ = "observation"
    __table_args__ = (
        {"sqlite_with_rowid": False, "postgresql_partition_by": "RANGE (observed_at)"},
    )

    entity_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(256), primary_key=True)
    observed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(256), primary_key=True, server_default="")
    num_value: Mapped[float | None] = mapped_column(Double)
    text_value: Mapped[str | None] = mapped_column(Text)
    value_type: Mapped[str] = mapped_column(String(1))
    unit: Mapped[str | None] = mapped_column(String(16))
    device_id: Mapped[str | None] = mapped_column(String(128))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Attribute(Base):
    """The current instance of each attribute of each entity (NGSI-LD's view of "now").

    Ingest keeps readings current here (``kind`` Property, ``unit`` from SenML); NGSI-LD
    writes any kind. Values sit in typed columns so ``q`` compiles to indexed SQL; a
    GeoProperty also keeps its bounding box for geo-queries. ``created_at`` and
    ``modified_at`` left null by ingest read as the reading's ``observed_at``. Short texts
    and JSON values have partial indexes for NGSI-LD queries (migration 0003).
    """

    __tablename__ = "attribute"
    __table_args__ = (
        Index("ix_attribute_attribute_num_value", "attribute", "num_value"),
        Index(
            "ix_attribute_attribute_box", "attribute", "min_lon", "max_lon", "min_lat", "max_lat"
        ),
        Index(
            "ix_attribute_attribute_text_value",
            "attribute",
            "text_value",
            sqlite_where=text("length(text_value) <= 256"),
            postgresql_where=text("length(text_value) <= 256"),
        ),
        Index(
            "ix_attribute_attribute_json",
            "attribute",
            sqlite_where=text("value_type = 'j'"),
            postgresql_where=text("value_type = 'j'"),
        ),
    )

    entity_id: Mapped[str] = mapped_column(
        ForeignKey("entity.id", ondelete="CASCADE"), primary_key=True
    )
    attribute: Mapped[str] = mapped_column(String(256), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(256), primary_key=True, server_default="")
    kind: Mapped[str] = mapped_column(String(24), server_default="Property")
    observed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    num_value: Mapped[float | None] = mapped_column(Double)
    text_value: Mapped[str | None] = mapped_column(Text)
    value_type: Mapped[str] = mapped_column(String(1))
    unit: Mapped[str | None] = mapped_column(String(16))
    device_id: Mapped[str | None] = mapped_column(String(128))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    min_lon: Mapped[float | None] = mapped_column(Double)
    min_lat: Mapped[float | None] = mapped_column(Double)
    max_lon: Mapped[float | None] = mapped_column(Double)
    max_lat: Mapped[float | None] = mapped_column(Double)
    created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    modified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class DeadLetter(Base):
    """A payload the hub could not store, kept with the reason for operators."""

    __tablename__ = "dead_letter"
    __table_args__ = (Index("ix_dead_letter_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(16))
    device_id: Mapped[str | None] = mapped_column(String(128), index=True)
    topic: Mapped[str | None] = mapped_column(String(256))
    payload: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
