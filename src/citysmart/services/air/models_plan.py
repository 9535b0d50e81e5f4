"""The air service's tuned-kriging plans: one chosen per day, and the one each map hour used.

``air_kriging_plan`` holds the plan the daily job chose for a UTC day and pollutant from
the stored hourly means of the days before it (or, with too few hours, why none).
``air_map_plan`` records, for each map hour served with tuned kriging, the plan it used,
so that the API redraws exactly the surface the hour served even if plans change later.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Double, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime


class AirKrigingPlan(Base):
    """The tuned-kriging plan of one UTC day and pollutant (no geometry: no plan that day).

    ``hours`` is how many past hours counted in the choice; below the service's minimum
    the row is kept without a plan, so the job does not try again that day.
    """

    __tablename__ = "air_kriging_plan"

    day: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    pollutant: Mapped[str] = mapped_column(String(16), primary_key=True)
    angle_deg: Mapped[float | None] = mapped_column(Double)
    ratio: Mapped[float | None] = mapped_column(Double)
    nuggets_m: Mapped[list[float]] = mapped_column(JSON, default=list)
    hours: Mapped[int] = mapped_column(Integer)
    sensors: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Double)
    chosen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AirMapPlan(Base):
    """The plan one map hour and pollutant was served with, and tuned kriging's LOO RMSE."""

    __tablename__ = "air_map_plan"

    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    pollutant: Mapped[str] = mapped_column(String(16), primary_key=True)
    angle_deg: Mapped[float] = mapped_column(Double)
    ratio: Mapped[float] = mapped_column(Double)
    nuggets_m: Mapped[list[float]] = mapped_column(JSON)
    loo_rmse_tuned: Mapped[float | None] = mapped_column(Double)
