"""Forecast routes under ``/api/v1/air``: the next 6 hours per area, and the model's skill.

Public, like the map. Thin: parse, read what the forecast job stored, shape the answer.
A forecast says how it was made (``method`` per point and overall; ``fallback`` when no
model has been fitted yet and persistence stands in), so a fallback is never shown as
the model. Bad input is a problem document: 400 for an unknown pollutant or an empty
area, 404 for an unknown area or when no forecast has been issued yet.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Query

from citysmart.core.auth import SessionDep
from citysmart.core.errors import Problem
from citysmart.core.time import isoformat
from citysmart.services.air import forecast_store, store
from citysmart.services.air.api import grade_public
from citysmart.services.air.areas import areas_by_code
from citysmart.services.air.forecast_job import (
    HISTORY_DAYS,
    MIN_HISTORY_DAYS,
    ForecastSettings,
    history_window,
)
from citysmart.services.air.grades import grade
from citysmart.services.air.models_forecast import AirForecast
from citysmart.services.air.types import Pollutant, as_pollutant

router = APIRouter(prefix="/api/v1/air", tags=["air forecast"])
UNIT = "µg/m³"


def _pollutant(value: str) -> Pollutant:
    try:
        return as_pollutant(value)
    except ValueError as exc:
        raise Problem(400, "Unknown pollutant", str(exc)) from exc


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 1)


def _graded(value: float | None, pollutant: Pollutant) -> dict[str, Any] | None:
    return grade_public(grade(value, pollutant)) if value is not None else None


def point_public(row: AirForecast, pollutant: Pollutant) -> dict[str, Any]:
    """Return one forecast hour as the API gives it (Korean grades of the value and upper)."""
    value, upper = _round(row.value), _round(row.upper)
    return {
        "hour": isoformat(row.hour),
        "horizon": row.horizon,
        "value": value,
        "lower": _round(row.lower),
        "upper": upper,
        "method": row.method,
        "grade": _graded(value, pollutant),
        "upper_grade": _graded(upper, pollutant),
    }


def _method(rows: list[AirForecast]) -> str:
    methods = {r.method for r in rows}
    return methods.pop() if len(methods) == 1 else ("mixed" if methods else "none")


def _note(method: str, fallback: bool, rows: list[AirForecast]) -> str:
    """Say in words how the forecast was made."""
    if fallback:
        return (
            "Persistence (each area's latest hourly mean repeated), not a model: the model is "
            f"fitted once {MIN_HISTORY_DAYS} days of hourly maps are stored. The range is how "
            "much the areas' means changed over the last days."
        )
    if method == "persistence":
        return (
            "Persistence (the latest hourly mean repeated): the fitted model did not beat it "
            "on Sejong's held-out hours, so it is not served."
        )
    model_hours = sorted({r.horizon for r in rows if r.method == "model"})
    where = "at every hour" if method == "model" else f"at +{', +'.join(map(str, model_hours))} h"
    return (
        f"Forecast by the model {where} (it beat persistence there on Sejong's held-out hours)"
        + ("; persistence at the other hours." if method == "mixed" else ".")
    )


def _summary(rows: list[AirForecast]) -> dict[str, Any]:
    """Return how a set of points was made: method, fallback, fit and labels."""
    method = _method(rows)
    fallback = bool(rows) and all(r.model_version is None for r in rows)
    trained = sorted({r.trained_on for r in rows if r.trained_on})
    versions = sorted({r.model_version for r in rows if r.model_version})
    return {
        "method": method,
        "fallback": fallback,
        "trained_on": trained[0] if trained else None,
        "model_version": versions[0] if versions else None,
        "note": _note(method, fallback, rows),
    }


def _area_public(code: str) -> dict[str, str]:
    area = areas_by_code().get(code)
    return {
        "code": code,
        "name_ko": area.name_ko if area else code,
        "name_en": area.name_en if area else code,
    }


@router.get("/forecast", summary="The next 6 hours of PM per area, with an 80 % interval")
def read_forecast(
    session: SessionDep,
    area: str | None = Query(None, description="An area's code; all areas when left out"),
    pollutant: str = Query("pm25", description="pm25 or pm10"),
) -> dict[str, Any]:
    """Return the newest forecast of one area, or of every area, hour by hour."""
    chosen = _pollutant(pollutant)
    names = areas_by_code()
    if area is not None:
        if not area.strip():
            raise Problem(400, "Empty area", "area must be an area's code, e.g. 2901053")
        if area not in names:
            raise Problem(404, "Unknown area", f"no area with code {area!r}")
    from_hour = forecast_store.latest_from_hour(session, chosen.value)
    if from_hour is None:
        raise Problem(404, "No forecast yet", "no forecast has been issued yet; try again later")
    rows = forecast_store.read_forecast(session, from_hour, chosen.value, area)
    head: dict[str, Any] = {
        "pollutant": chosen.value,
        "scheme": "kr",
        "unit": UNIT,
        "issued_at": isoformat(rows[0].issued_at) if rows else None,
        "from_hour": isoformat(from_hour),
        "interval": rows[0].interval if rows else None,
        "source": forecast_store.data_source(session),
    }
    if not rows and area is None:
        raise Problem(404, "No forecast yet", "the newest forecast holds no area")
    if area is not None:
        if not rows:
            # the area had no reading in the last day: nothing to start a forecast from
            issued = forecast_store.read_forecast(session, from_hour, chosen.value)
            head["issued_at"] = isoformat(issued[0].issued_at) if issued else None
        return {
            "area": _area_public(area),
            **head,
            **_summary(rows),
            "points": [point_public(r, chosen) for r in rows],
        }
    by_area: dict[str, list[AirForecast]] = {}
    for row in rows:
        by_area.setdefault(row.area_code, []).append(row)
    return {
        **head,
        **_summary(rows),
        "areas": [
            {
                **_area_public(code),
                "method": _method(mine),
                "points": [point_public(r, chosen) for r in mine],
            }
            for code, mine in sorted(by_area.items())
        ],
    }


def _history_days(session: SessionDep) -> float:
    last = store.last_processed_hour(session)
    if last is None:
        return 0.0
    start, end = history_window(last, ForecastSettings())
    return round(forecast_store.mapped_hours(session, start, end) / 24, 1)


@router.get("/forecast/skill", summary="The forecast model's last evaluation against persistence")
def read_forecast_skill(session: SessionDep) -> dict[str, Any]:
    """Return the newest fit's time-ordered test on Sejong's stored history, or why none."""
    history = _history_days(session)
    fits = forecast_store.fits(session, 1)
    base: dict[str, Any] = {
        "min_history_days": MIN_HISTORY_DAYS,
        "history_window_days": HISTORY_DAYS,
        "history_days": history,
        "source": forecast_store.data_source(session),
    }
    if not fits:
        return {
            "status": "not_enough_history" if history < MIN_HISTORY_DAYS else "not_fitted_yet",
            "message": (
                f"{history:g} days of hourly maps stored; the model is fitted and evaluated "
                f"once there are {MIN_HISTORY_DAYS}. Until then persistence is served."
                if history < MIN_HISTORY_DAYS
                else "Enough history: the daily refit has not run yet."
            ),
            **base,
            "model": None,
            "served": None,
            "evaluation": None,
            "beats_persistence_at_every_horizon": None,
        }
    fit = fits[0]
    evaluation = fit.evaluation
    return {
        "status": "evaluated",
        "message": (
            "Tested time-ordered on Sejong's stored hourly area means: fitted on the first "
            f"{1 - evaluation.get('test_fraction', 0.25):.0%} of the hours, scored on the rest "
            "against persistence and climatology (RMSE and MAE, µg/m³). The model is served "
            "at a horizon only where it beat persistence."
        ),
        **base,
        "model": {
            "version": fit.version,
            "trained_on": fit.trained_on,
            "fitted_at": isoformat(fit.fitted_at),
            "train_hours_utc": [isoformat(fit.train_start), isoformat(fit.train_end)],
            "areas": fit.areas,
            "boosting_rounds": fit.boosting_rounds,
            "fit_seconds": fit.seconds,
        },
        "served": fit.served,
        "evaluation": evaluation,
        "beats_persistence_at_every_horizon": evaluation.get("beats_persistence_at_every_horizon"),
    }


__all__ = ["point_public", "router"]
