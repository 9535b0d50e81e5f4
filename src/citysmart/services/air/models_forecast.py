"""The air service's forecast tables: the fitted models and the forecasts issued each hour.

``air_forecast_model`` keeps every fit with its time-ordered evaluation against
persistence (operators read it at ``/forecast/skill``); the fitted model itself
(``blob``, a pickle this platform wrote) is kept for the newest few fits only. A table
rather than a file, so that every worker and API process sees the same model.
``air_forecast`` holds what was issued: per origin hour (``from_hour``, the newest hour
with a map), area, pollutant and horizon, the value and its interval, and how it was made.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Double, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.types import UTCDateTime


class AirForecastModel(Base):
    """One fit of the forecast model on the stored hourly area means, and its evaluation.

    ``version`` names the fit; ``trained_on`` says on what data (a label for people);
    ``train_start``/``train_end`` are the first and last hour it learnt from.
    ``evaluation`` is the time-ordered test (fit on the earlier hours, scored on the
    later ones, RMSE and MAE of the model, persistence and climatology per horizon);
    ``served`` maps each pollutant to the method served at each horizon (``model`` or
    ``persistence``): the model only where it beat persistence in that test. ``blob`` is
    null once the fit is superseded (see ``forecast_store.KEEP_BLOBS``).
    """

    __tablename__ = "air_forecast_model"
    __table_args__ = (Index("ix_air_forecast_model_fitted_at", "fitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    trained_on: Mapped[str] = mapped_column(Text)
    fitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    train_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    train_end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    areas: Mapped[int] = mapped_column(Integer)
    boosting_rounds: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Double)
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON)
    served: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)


class AirForecast(Base):
    """One issued forecast point: an area's pollutant ``horizon`` hours after ``from_hour``.

    ``hour`` is the forecast hour's start (``from_hour`` + ``horizon`` h). ``method`` is
    ``model`` or ``persistence``. ``model_version`` is the fit in use when it was issued
    (which chose the method at this horizon), null when none was fitted yet: persistence
    then stands in as a fallback. ``trained_on`` says what the model learnt from (null
    for persistence, which learns nothing). ``lower``/``upper`` bound the ``interval``
    (0.8: 80 %) prediction interval; null when there was too little history to set one.
    """

    __tablename__ = "air_forecast"
    __table_args__ = (Index("ix_air_forecast_area_code", "area_code", "pollutant", "from_hour"),)

    from_hour: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    pollutant: Mapped[str] = mapped_column(String(16), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    horizon: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    value: Mapped[float] = mapped_column(Double)
    lower: Mapped[float | None] = mapped_column(Double)
    upper: Mapped[float | None] = mapped_column(Double)
    interval: Mapped[float] = mapped_column(Double)
    method: Mapped[str] = mapped_column(String(32))
    model_version: Mapped[str | None] = mapped_column(String(64))
    trained_on: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


FORECAST_TABLES = ("air_forecast", "air_forecast_model")
