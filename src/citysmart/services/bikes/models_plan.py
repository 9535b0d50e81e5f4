"""Rebalancing plans (each truck's ordered jobs, what drivers report done) and forecasts.

A plan is made for a horizon from the stations' live status and the demand forecast;
a newer plan supersedes the active one (its jobs not done are dropped, those done stay
as the record of the day). Stations are referred to by code, as in ``models``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Double, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime


class Plan(Base):
    """A rebalancing plan for all trucks over a horizon."""

    __tablename__ = "bike_plan"
    __table_args__ = (Index("ix_bike_plan_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    horizon_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    horizon_end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # active, superseded
    trigger: Mapped[str] = mapped_column(String(16))  # morning, replan, manual
    demand_source: Mapped[str] = mapped_column(Text)  # where the forecast came from
    stations: Mapped[int] = mapped_column(Integer)  # stations with a signed demand
    bikes_wanted: Mapped[int] = mapped_column(Integer)  # sum of |signed demand|
    bikes_planned: Mapped[int] = mapped_column(Integer)  # what the routes move
    lost_expected_before: Mapped[float] = mapped_column(Double)
    lost_expected_after: Mapped[float] = mapped_column(Double)


class PlanRoute(Base):
    """One truck's route in a plan."""

    __tablename__ = "bike_plan_route"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("bike_plan.id", ondelete="CASCADE"))
    truck_id: Mapped[str] = mapped_column(String(64))
    start_load: Mapped[int] = mapped_column(Integer)
    distance_m: Mapped[float] = mapped_column(Double)
    duration_s: Mapped[float] = mapped_column(Double)


class PlanJob(Base):
    """A stop of a route: take (> 0) or bring (< 0) bikes at a station, and its outcome."""

    __tablename__ = "bike_plan_job"
    __table_args__ = (Index("ix_bike_plan_job_route", "route_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("bike_plan.id", ondelete="CASCADE"))
    route_id: Mapped[int] = mapped_column(ForeignKey("bike_plan_route.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    station_code: Mapped[str] = mapped_column(String(64))
    bikes: Mapped[int] = mapped_column(Integer)
    eta: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_bikes: Mapped[int | None] = mapped_column(Integer)  # what the driver really moved
    done_by: Mapped[str | None] = mapped_column(String(128))


class DemandForecast(Base):
    """A station's expected pickups and returns in one hour, as last forecast."""

    __tablename__ = "bike_demand_forecast"

    station_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    pickups: Mapped[float] = mapped_column(Double)
    returns: Mapped[float] = mapped_column(Double)
    method: Mapped[str] = mapped_column(String(16))  # model, fallback
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


PLAN_TABLES = ("bike_plan_job", "bike_plan_route", "bike_plan", "bike_demand_forecast")
