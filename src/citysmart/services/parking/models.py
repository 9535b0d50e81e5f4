"""The parking service's tables: each lot's settings and its stored free-space forecasts.

Lots are NOT here: a lot is a hub entity of type ``OffStreetParking`` (its name, location,
``totalSpotNumber`` and ``occupancyDetectionType`` in the entity; its counters' readings
in the hub's attributes), and each spot of a lot with a sensor per spot is a
``ParkingSpot`` entity (see ``citysmart.services.parking.lots``). Tables here refer to a
lot by its code (the last part of the entity's URN). Times are aware UTC.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Double, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime


class LotSetting(Base):
    """A lot's settings: how it is counted, its spots, and its counters' last correction.

    ``correction_*`` is the last trusted full count of a counter lot
    (``occupancy.Correction``): the offset added to entries minus exits since then.
    """

    __tablename__ = "parking_lot"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    detection: Mapped[str] = mapped_column(String(32))  # singleSpaceDetection or balancing
    spots: Mapped[int] = mapped_column(Integer, default=0)  # ParkingSpot entities it has
    time_limit_min: Mapped[int | None] = mapped_column(Integer)
    tariff_id: Mapped[str | None] = mapped_column(String(64))
    correction_offset: Mapped[int | None] = mapped_column(Integer)
    correction_trusted: Mapped[int | None] = mapped_column(Integer)
    correction_counter: Mapped[int | None] = mapped_column(Integer)
    correction_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    correction_source: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FreeSpaceForecast(Base):
    """One stored forecast of a lot's free spaces at ``target``, made at ``origin``."""

    __tablename__ = "parking_forecast"
    __table_args__ = (Index("ix_parking_forecast_lot_target", "lot_code", "target"),)

    lot_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    target: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    free_expected: Mapped[float] = mapped_column(Double)
    free_low: Mapped[float] = mapped_column(Double)  # the 80% interval
    free_high: Mapped[float] = mapped_column(Double)


PARKING_TABLES = ("parking_forecast", "parking_lot")
