"""Reading and writing the forecast tables, and reading the hourly area means they learn from.

Plain data in and out; the forecast jobs and routes are the only callers. A fitted model
is kept in the database as a compressed pickle (``air_forecast_model.blob``) so that
every worker and API process uses the same one; only the platform's own jobs write it,
and it is read back only from there.
"""

from __future__ import annotations

import datetime as dt
import pickle
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from citysmart.services.air.forecast import ForecastModel
from citysmart.services.air.models import AirAreaHour, AirMapHour, AirSensor
from citysmart.services.air.models_forecast import AirForecast, AirForecastModel

# Fits whose model is kept (older ones keep their evaluation, not the model itself).
KEEP_BLOBS = 2
AreaMeanRow = tuple[dt.datetime, str, float | None, float | None]


@dataclass(frozen=True)
class IssuedPoint:
    """One forecast point to store: an area's pollutant ``horizon`` hours after the origin."""

    area_code: str
    pollutant: str
    horizon: int
    hour: dt.datetime
    value: float
    lower: float | None
    upper: float | None
    interval: float
    method: str
    model_version: str | None
    trained_on: str | None


# --- what the models learn from ------------------------------------------------------------


def area_means(session: Session, start: dt.datetime, end: dt.datetime) -> list[AreaMeanRow]:
    """Return (hour, area, PM2.5 mean, PM10 mean) for every stored area hour in ``[start, end)``."""
    rows = session.execute(
        select(AirAreaHour.hour, AirAreaHour.area_code, AirAreaHour.pollutant, AirAreaHour.mean)
        .where(AirAreaHour.hour >= start, AirAreaHour.hour < end)
        .order_by(AirAreaHour.hour)
    )
    by_key: dict[tuple[dt.datetime, str], dict[str, float | None]] = {}
    for hour, code, pollutant, mean in rows:
        by_key.setdefault((hour, code), {})[pollutant] = mean
    return [(hour, code, v.get("pm25"), v.get("pm10")) for (hour, code), v in by_key.items()]


def mapped_hours(session: Session, start: dt.datetime, end: dt.datetime) -> int:
    """Return how many hours in ``[start, end)`` have a drawn map (of either pollutant)."""
    count = session.scalar(
        select(func.count(func.distinct(AirMapHour.hour))).where(
            AirMapHour.hour >= start, AirMapHour.hour < end, AirMapHour.status == "ok"
        )
    )
    return int(count or 0)


def data_source(session: Session) -> str:
    """Return where the readings come from: "measured", or the sensors' other labels."""
    sources = sorted(set(session.scalars(select(AirSensor.source).distinct())))
    labelled = [s for s in sources if s and s != "measured"]
    return "; ".join(labelled) if labelled else "measured"


# --- models --------------------------------------------------------------------------------


def newest_fit(session: Session) -> AirForecastModel | None:
    """Return the newest fit (with or without its model kept)."""
    return session.scalars(
        select(AirForecastModel).order_by(AirForecastModel.fitted_at.desc()).limit(1)
    ).first()


def usable_model(session: Session, origin: dt.datetime) -> AirForecastModel | None:
    """Return the newest kept model that learnt nothing after ``origin`` (no future data)."""
    return session.scalars(
        select(AirForecastModel)
        .where(AirForecastModel.blob.is_not(None), AirForecastModel.train_end <= origin)
        .order_by(AirForecastModel.fitted_at.desc())
        .limit(1)
    ).first()


def save_model(session: Session, model: ForecastModel, **fields: Any) -> AirForecastModel:
    """Store a fit with its model; drop the models (not the evaluations) of older fits."""
    blob = zlib.compress(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), 6)
    row = AirForecastModel(blob=blob, **fields)
    session.add(row)
    session.flush()
    kept = select(AirForecastModel.id).order_by(AirForecastModel.fitted_at.desc()).limit(KEEP_BLOBS)
    session.execute(
        update(AirForecastModel)
        .where(AirForecastModel.id.not_in(kept.scalar_subquery()))
        .values(blob=None)
    )
    return row


_LOADED: dict[str, ForecastModel] = {}
_LOADED_LOCK = threading.Lock()


def load_fitted(row: AirForecastModel) -> ForecastModel:
    """Return the model of a fit (unpickled once per process and version)."""
    with _LOADED_LOCK:
        found = _LOADED.get(row.version)
    if found is not None:
        return found
    if row.blob is None:
        raise ValueError(f"the model of fit {row.version} is no longer kept")
    model = pickle.loads(zlib.decompress(row.blob))
    if not isinstance(model, ForecastModel):
        raise ValueError(f"fit {row.version} does not hold a forecast model")
    with _LOADED_LOCK:
        _LOADED.clear()  # one model in use at a time: the newest
        _LOADED[row.version] = model
    return model


def fits(session: Session, limit: int) -> list[AirForecastModel]:
    """Return the newest fits, newest first (their models are not read)."""
    rows = session.scalars(
        select(AirForecastModel).order_by(AirForecastModel.fitted_at.desc()).limit(limit)
    )
    return list(rows)


# --- issued forecasts ----------------------------------------------------------------------


def issued(session: Session, from_hour: dt.datetime) -> bool:
    """Tell whether a forecast was issued from this hour."""
    found = session.scalar(
        select(AirForecast.from_hour).where(AirForecast.from_hour == from_hour).limit(1)
    )
    return found is not None


def save_forecast(
    session: Session, from_hour: dt.datetime, points: Sequence[IssuedPoint], issued_at: dt.datetime
) -> None:
    """Store a forecast issued from ``from_hour`` (replacing one issued before from it)."""
    session.execute(delete(AirForecast).where(AirForecast.from_hour == from_hour))
    if not points:
        return
    session.execute(
        insert(AirForecast),
        [
            {
                "from_hour": from_hour,
                "pollutant": p.pollutant,
                "area_code": p.area_code,
                "horizon": p.horizon,
                "hour": p.hour,
                "value": p.value,
                "lower": p.lower,
                "upper": p.upper,
                "interval": p.interval,
                "method": p.method,
                "model_version": p.model_version,
                "trained_on": p.trained_on,
                "issued_at": issued_at,
            }
            for p in points
        ],
    )


def prune_forecasts(session: Session, before: dt.datetime) -> int:
    """Delete forecasts issued from hours before ``before``; return how many rows went."""
    result = session.execute(delete(AirForecast).where(AirForecast.from_hour < before))
    return int(getattr(result, "rowcount", 0) or 0)


def latest_from_hour(session: Session, pollutant: str) -> dt.datetime | None:
    """Return the newest hour a forecast of ``pollutant`` was issued from."""
    found: dt.datetime | None = session.scalar(
        select(func.max(AirForecast.from_hour)).where(AirForecast.pollutant == pollutant)
    )
    return found


def read_forecast(
    session: Session, from_hour: dt.datetime, pollutant: str, area_code: str | None = None
) -> list[AirForecast]:
    """Return the points issued from an hour, by area and horizon (one area, or all)."""
    stmt = select(AirForecast).where(
        AirForecast.from_hour == from_hour, AirForecast.pollutant == pollutant
    )
    if area_code is not None:
        stmt = stmt.where(AirForecast.area_code == area_code)
    return list(session.scalars(stmt.order_by(AirForecast.area_code, AirForecast.horizon)))


__all__ = [
    "KEEP_BLOBS",
    "AreaMeanRow",
    "IssuedPoint",
    "area_means",
    "data_source",
    "fits",
    "issued",
    "latest_from_hour",
    "load_fitted",
    "mapped_hours",
    "newest_fit",
    "prune_forecasts",
    "read_forecast",
    "save_forecast",
    "save_model",
    "usable_model",
]
