"""The air service's tables: its sensors, hourly means, hourly maps and calibrations.

Raw readings stay in the hub (``observation``); these tables hold only what the service
derives from them. Times are the START of the hour (UTC). Keys lead with the sensor where
a query reads one sensor's series, and with the hour where the map reads one hour, so each
read is an index range (and a distributed PostgreSQL can shard the per-sensor tables by
``sensor_id``). Surfaces are not stored: each hour keeps the sensor values it was drawn
from (``AirMapHour.inputs``), from which any method's surface is redrawn exactly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Double, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime
from citysmart.services.air import models_alerts, models_forecast, models_plan  # noqa: F401


class AirSensor(Base):
    """A PM sensor as the air service sees it, kept in step with the hub's entity.

    ``id`` is the hub entity's id. ``kind`` is ``lowcost`` or ``reference`` (an
    AirKorea-type station); ``rated_rh_max`` is the model's rated humidity (%) above which
    its PM readings are flagged; ``interval_s`` is the nominal reporting interval the
    75 % capture rule counts against; ``source`` says where the readings come from
    ("measured", "simulated", or a replay label).
    """

    __tablename__ = "air_sensor"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    device_id: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(128))
    rated_rh_max: Mapped[float] = mapped_column(Double)
    interval_s: Mapped[float] = mapped_column(Double)
    area_code: Mapped[str | None] = mapped_column(String(32))
    lon: Mapped[float] = mapped_column(Double)
    lat: Mapped[float] = mapped_column(Double)
    source: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AirHourly(Base):
    """One sensor's hourly mean of one variable (pm10, pm25, temperature, relativeHumidity).

    ``raw`` is the mean of the valid (present, unflagged) readings, null when capture is
    under 75 % (``sufficient`` false); ``corrected`` is the calibrated value (low-cost PM
    with a fit); ``value`` is what the map and grades use (corrected, else raw). ``count``
    valid readings of ``expected``; ``readings`` present ones (flagged included); the
    ``flag_*`` columns count readings per QC flag; ``last_at`` is the hour's last reading.
    """

    __tablename__ = "air_hourly"
    __table_args__ = (Index("ix_air_hourly_hour", "hour"),)

    sensor_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    variable: Mapped[str] = mapped_column(String(32), primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    raw: Mapped[float | None] = mapped_column(Double)
    corrected: Mapped[float | None] = mapped_column(Double)
    value: Mapped[float | None] = mapped_column(Double)
    count: Mapped[int] = mapped_column(Integer)
    readings: Mapped[int] = mapped_column(Integer)
    expected: Mapped[int] = mapped_column(Integer)
    capture: Mapped[float] = mapped_column(Double)
    sufficient: Mapped[bool] = mapped_column(Boolean)
    flag_out_of_range: Mapped[int] = mapped_column(Integer, default=0)
    flag_stuck: Mapped[int] = mapped_column(Integer, default=0)
    flag_spike: Mapped[int] = mapped_column(Integer, default=0)
    flag_humidity: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AirMapHour(Base):
    """One hour's map of one pollutant: the served method, its errors and its inputs.

    ``status`` is ``ok`` or ``no_data`` (no sensor had a valid mean: the hour was
    processed, nothing could be drawn). ``inputs`` is the list of
    ``[sensor_id, lon, lat, value]`` the surface was drawn from.
    """

    __tablename__ = "air_map_hour"

    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    pollutant: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    method_served: Mapped[str | None] = mapped_column(String(16))
    loo_rmse_idw: Mapped[float | None] = mapped_column(Double)
    loo_rmse_kriging: Mapped[float | None] = mapped_column(Double)
    note: Mapped[str] = mapped_column(Text, default="")
    sensors_used: Mapped[int] = mapped_column(Integer)
    inputs: Mapped[list[Any]] = mapped_column(JSON)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AirAreaHour(Base):
    """One area's (dong/eup/myeon) mean and worst value of one hour's served surface."""

    __tablename__ = "air_area_hour"
    __table_args__ = (Index("ix_air_area_hour_area_code", "area_code", "pollutant", "hour"),)

    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    pollutant: Mapped[str] = mapped_column(String(16), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))
    mean: Mapped[float | None] = mapped_column(Double)
    worst: Mapped[float | None] = mapped_column(Double)
    cells: Mapped[int] = mapped_column(Integer)


class AirCalibration(Base):
    """A calibration attempt of one low-cost sensor and pollutant: a fit, or why none.

    ``status`` is ``ok`` (the fit is used from then on) or ``refused`` (``reason`` says
    why); the newest ``ok`` row of a sensor and pollutant is its current calibration.
    """

    __tablename__ = "air_calibration"
    __table_args__ = (Index("ix_air_calibration_sensor_id", "sensor_id", "pollutant", "fitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sensor_id: Mapped[str] = mapped_column(String(256))
    pollutant: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    station_id: Mapped[str | None] = mapped_column(String(256))
    distance_m: Mapped[float | None] = mapped_column(Double)
    model: Mapped[str] = mapped_column(String(16))
    coefficients: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    n: Mapped[int] = mapped_column(Integer, default=0)
    r2: Mapped[float | None] = mapped_column(Double)
    rmse: Mapped[float | None] = mapped_column(Double)
    mae: Mapped[float | None] = mapped_column(Double)
    raw_rmse: Mapped[float | None] = mapped_column(Double)
    raw_mae: Mapped[float | None] = mapped_column(Double)
    fitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    window_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


AIR_TABLES = ("air_calibration", "air_area_hour", "air_map_hour", "air_hourly", "air_sensor")
