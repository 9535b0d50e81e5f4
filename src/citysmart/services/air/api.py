"""The air service's HTTP API under ``/api/v1/air``: hours, map, surface, areas, series, exports.

Operators also get the stale sensors and the calibrations. Routes are thin: parse and
check the query, read the store, shape the answer. Bad input is a problem document
(RFC 7807) that says what was wrong: 400 for a value that cannot be used (an unparsable
or non-whole hour, an unknown pollutant or method, a start after its end, a period too
long), 404 for something that does not exist (an unknown sensor or area, an hour without
a map). Times are ISO 8601 UTC with ``Z``; an hour is its start.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import threading
from collections import OrderedDict
from typing import Any, Final

from fastapi import APIRouter, Query
from starlette.responses import JSONResponse, Response

from citysmart.core.auth import OperatorDep, SessionDep
from citysmart.core.errors import Problem
from citysmart.core.time import isoformat, parse_instant, utcnow
from citysmart.hub.queries import latest_values
from citysmart.services.air import plan_store, realtime, store
from citysmart.services.air.areas import PILOT_AREA_CODES, bounds, city_grid, load_areas
from citysmart.services.air.grades import Grade, grade
from citysmart.services.air.models import AirMapHour, AirSensor
from citysmart.services.air.opendata import ExportRow, export_csv, export_geojson
from citysmart.services.air.pipeline import VARIABLES, draw_surface
from citysmart.services.air.qc import stale_sensors
from citysmart.services.air.surface_png import render_surface
from citysmart.services.air.types import Pollutant, as_pollutant

router = APIRouter(prefix="/api/v1/air", tags=["air"])
API: Final = "/api/v1/air"
MAP_HOURS = 48
MAX_SERIES_HOURS = 24 * 31
MAX_EXPORT = dt.timedelta(days=31)
STALE_AFTER = dt.timedelta(hours=2)
# How far back the map looks for a sensor's last reading before calling it never seen.
LAST_SEEN_LOOKBACK = dt.timedelta(days=7)
METHODS: Final = ("served", "idw", "kriging", "tuned")
_HOUR = dt.timedelta(hours=1)


# --- parsing -------------------------------------------------------------------------------


def _pollutant(value: str) -> Pollutant:
    try:
        return as_pollutant(value)
    except ValueError as exc:
        raise Problem(400, "Unknown pollutant", str(exc)) from exc


def _instant(name: str, value: str) -> dt.datetime:
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise Problem(400, "Invalid time", f"{name}: {exc}") from exc


def _hour(value: str) -> dt.datetime:
    """Parse an hour given as its start (``2026-11-25T07:00:00Z`` or with an offset)."""
    when = _instant("hour", value)
    start = _floor(when)
    if when != start:
        raise Problem(
            400,
            "Invalid hour",
            f"hour {value!r} is not the start of an hour (use e.g. {isoformat(start)})",
        )
    return when


def _map_row(session: SessionDep, hour: str, pollutant: Pollutant) -> AirMapHour:
    """Return the map of an hour ("latest" = the newest) or a 404 problem."""
    if hour.strip().lower() == "latest":
        newest = [r.hour for r in store.map_hours(session, 1) if r.pollutant == pollutant.value]
        found = store.read_map(session, newest[-1], pollutant.value) if newest else None
        if found is None:
            raise Problem(404, "No map yet", "no hour has been computed yet; try again later")
        return found
    when = _hour(hour)
    row = store.read_map(session, when, pollutant.value)
    if row is None or row.status != "ok":
        why = "no sensor had a valid mean" if row is not None else "it has not been computed"
        raise Problem(404, "No map for this hour", f"{isoformat(when)}: {why}")
    return row


# --- shaping -------------------------------------------------------------------------------


def grade_public(graded: Grade | None) -> dict[str, Any] | None:
    """Return a grade as the API gives it."""
    if graded is None:
        return None
    return {
        "level": graded.level,
        "key": graded.key,
        "label_ko": graded.label_ko,
        "label_en": graded.label_en,
        "colour": graded.colour,
        "index": graded.index,
    }


def _graded(value: float | None, pollutant: Pollutant | str) -> dict[str, Any] | None:
    return grade_public(grade(value, pollutant)) if value is not None else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def _source_summary(sensors: list[AirSensor]) -> str:
    """Say where the readings come from: every label other than "measured", else "measured"."""
    labels = sorted({s.source for s in sensors if s.source != "measured"})
    return "; ".join(labels) if labels else "measured"


def _surface_url(hour: dt.datetime, pollutant: Pollutant, method: str = "served") -> str:
    return f"{API}/surface.png?hour={isoformat(hour)}&pollutant={pollutant.value}&method={method}"


# --- routes --------------------------------------------------------------------------------


@router.get("/hours", summary="Hours with a computed map")
def list_hours(session: SessionDep) -> dict[str, Any]:
    """Return the hours with a map (newest last, at most the last 48) and when they were made."""
    rows = store.map_hours(session, MAP_HOURS)
    hours = sorted({r.hour for r in rows})
    if hours:
        hours = [h for h in hours if h > hours[-1] - MAP_HOURS * _HOUR]
    latest = hours[-1] if hours else None
    updated = max((r.computed_at for r in rows if r.hour == latest), default=None)
    return {
        "hours": [isoformat(h) for h in hours],
        "latest": isoformat(latest) if latest else None,
        "updated_at": isoformat(updated) if updated else None,
    }


@router.get("/map", summary="One hour's map: sensors, areas, surface")
def read_map(
    session: SessionDep,
    hour: str = Query("latest", description="The hour's start (ISO 8601) or 'latest'"),
    pollutant: str = Query("pm25", description="pm25 or pm10"),
) -> dict[str, Any]:
    """Return an hour's sensors with their grades, the areas' mean and worst, and the surface."""
    chosen = _pollutant(pollutant)
    row = _map_row(session, hour, chosen)
    when = row.hour
    end = when + _HOUR
    sensors = store.stored_sensors(session)
    hourly = {(r.sensor_id, r.variable): r for r in store.hourly_at(session, when)}
    seen = store.last_seen(session, end, end - LAST_SEEN_LOOKBACK)
    stale = {s.sensor_id for s in stale_sensors({s.id: seen.get(s.id) for s in sensors}, end)}
    areas = {a.area_code: a for a in store.area_hour(session, when, chosen.value)}
    day = realtime.figures_at(session, when)
    west_south, east_north = bounds()

    def value(sensor: AirSensor, variable: str) -> float | None:
        found = hourly.get((sensor.id, variable))
        return _round(found.value) if found is not None and found.sufficient else None

    def _day(sensor_id: str) -> realtime.DayFigures | None:
        return day.get(sensor_id, {}).get(chosen.value)

    def sensor_public(sensor: AirSensor) -> dict[str, Any]:
        mine = hourly.get((sensor.id, chosen.value))
        pm10, pm25 = value(sensor, "pm10"), value(sensor, "pm25")
        last = seen.get(sensor.id)
        return {
            "id": sensor.id,
            "name": sensor.name,
            "lon": sensor.lon,
            "lat": sensor.lat,
            "kind": sensor.kind,
            "area_code": sensor.area_code,
            "stale": sensor.id in stale,
            "last_seen": isoformat(last) if last else None,
            "pm10": pm10,
            "pm25": pm25,
            "capture_ok": bool(mine is not None and mine.sufficient),
            "grade": _graded(pm25 if chosen is Pollutant.PM25 else pm10, chosen),
            "capture": {
                p: _round(hourly[(sensor.id, p)].capture, 3) if (sensor.id, p) in hourly else 0.0
                for p in ("pm10", "pm25")
            },
            "calibrated": bool(mine is not None and mine.corrected is not None),
            "source": sensor.source,
            # AirKorea's figures for the chosen pollutant: the 24-hour mean (18 valid hours)
            # and the predicted 24-hour moving average C24E.
            "mean_24h": figures.mean_24h if (figures := _day(sensor.id)) else None,
            "c24e": figures.c24e if figures else None,
        }

    def area_public(code: str, name_ko: str, name_en: str) -> dict[str, Any]:
        stats = areas.get(code)
        mean = _round(stats.mean) if stats else None
        worst = _round(stats.worst) if stats else None
        return {
            "code": code,
            "name_ko": name_ko,
            "name_en": name_en,
            "pilot": code in PILOT_AREA_CODES,
            "mean": mean,
            "worst": worst,
            "mean_grade": _graded(mean, chosen),
            "worst_grade": _graded(worst, chosen),
        }

    return {
        "hour": isoformat(when),
        "updated_at": isoformat(row.computed_at),
        "pollutant": chosen.value,
        "scheme": "kr",
        "method_served": row.method_served,
        "loo_rmse": {
            "idw": _round(row.loo_rmse_idw, 3),
            "kriging": _round(row.loo_rmse_kriging, 3),
        },
        "note": row.note,
        "sensors_used": row.sensors_used,
        "source": _source_summary(sensors),
        "sensors": [sensor_public(s) for s in sensors],
        "areas": [area_public(a.code, a.name_ko, a.name_en) for a in load_areas()],
        "surface": {
            "url": _surface_url(when, chosen),
            "bounds": [list(west_south), list(east_north)],
        },
    }


class _PngCache:
    """The last few rendered surfaces of this process (a map is drawn again rarely)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self.items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], png: bytes) -> None:
        with self.lock:
            self.items[key] = png
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_PNGS = _PngCache()


@router.get(
    "/surface.png",
    summary="One hour's interpolated surface as a PNG",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def read_surface(
    session: SessionDep,
    hour: str = Query("latest"),
    pollutant: str = Query("pm25"),
    method: str = Query("served", description="served, idw, kriging or tuned"),
) -> Response:
    """Draw the surface of an hour (served method, IDW, kriging or tuned) over the map bounds.

    Tuned kriging is drawn with the plan the hour was served with; an hour served without
    one has no tuned surface (404).
    """
    chosen = _pollutant(pollutant)
    if method not in METHODS:
        raise Problem(400, "Unknown method", f"method {method!r}: use {', '.join(METHODS)}")
    row = _map_row(session, hour, chosen)
    drawn = method if method != "served" else (row.method_served or "idw")
    plan = plan_store.map_plan(session, row.hour, chosen.value)
    if drawn == "tuned" and plan is None:
        raise Problem(404, "No tuned surface", "this hour was served without a tuned-kriging plan")
    key = (row.hour, chosen.value, drawn, row.computed_at)
    png = _PNGS.get(key)
    if png is None:
        inputs = store.map_inputs(row)
        raster = draw_surface(city_grid(), inputs, drawn, plan)  # type: ignore[arg-type]
        (south, _), (north, _) = bounds()
        png = render_surface(raster, chosen, south, north)
        _PNGS.put(key, png)
    return Response(
        png,
        media_type="image/png",
        headers={"Cache-Control": "public, max-age=300", "X-Method": drawn},
    )


@functools.lru_cache(maxsize=1)
def _areas_geojson() -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "source": "KOSTAT SGIS administrative boundaries of Sejong, 2018",
        "features": [
            {
                "type": "Feature",
                "id": a.code,
                "geometry": a.geojson,
                "properties": {
                    "code": a.code,
                    "name_ko": a.name_ko,
                    "name_en": a.name_en,
                    "pilot": a.pilot,
                },
            }
            for a in load_areas()
        ],
    }


@router.get("/areas.geojson", summary="Sejong's eup/myeon/dong polygons")
def read_areas() -> Response:
    """Return the 17 areas as a GeoJSON FeatureCollection (code, names, pilot)."""
    return JSONResponse(
        _areas_geojson(),
        media_type="application/geo+json",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/series", summary="Hourly means of a sensor or an area")
def read_series(
    session: SessionDep,
    sensor: str | None = Query(None, description="A sensor's id (its entity URN)"),
    area: str | None = Query(None, description="An area's code"),
    hours: int = Query(
        24, description=f"How many hours back from the latest (1 to {MAX_SERIES_HOURS})"
    ),
) -> dict[str, Any]:
    """Return one point per hour, newest last; values are null where capture was under 75 %."""
    if (sensor is None) == (area is None):
        raise Problem(400, "Sensor or area", "give either sensor=<id> or area=<code>, not both")
    if not 1 <= hours <= MAX_SERIES_HOURS:
        raise Problem(
            400, "Period too long", f"hours must be from 1 to {MAX_SERIES_HOURS}, got {hours}"
        )
    latest = store.last_processed_hour(session)
    end = (latest + _HOUR) if latest else _floor(utcnow())
    start = end - hours * _HOUR
    slots = [start + k * _HOUR for k in range(hours)]
    points: dict[dt.datetime, dict[str, Any]] = {
        h: {
            "hour": isoformat(h),
            "pm10": None,
            "pm25": None,
            "grade_pm10": None,
            "grade_pm25": None,
        }
        for h in slots
    }
    if sensor is not None:
        if session.get(AirSensor, sensor) is None:
            raise Problem(404, "Unknown sensor", f"no sensor {sensor!r} on the air map")
        for row in store.sensor_series(session, sensor, start, end):
            if row.sufficient and row.value is not None and row.hour in points:
                points[row.hour][row.variable] = _round(row.value)
        selected = {"sensor": sensor}
    else:
        assert area is not None
        if area not in {a.code for a in load_areas()}:
            raise Problem(404, "Unknown area", f"no area with code {area!r}")
        for stats in store.area_series(session, area, start, end):
            if stats.hour in points:
                points[stats.hour][stats.pollutant] = _round(stats.mean)
                points[stats.hour][f"worst_{stats.pollutant}"] = _round(stats.worst)
        selected = {"area": area}
    for point in points.values():
        point["grade_pm10"] = _graded(point["pm10"], Pollutant.PM10)
        point["grade_pm25"] = _graded(point["pm25"], Pollutant.PM25)
    return {**selected, "hours": hours, "points": [points[h] for h in slots]}


def _floor(when: dt.datetime) -> dt.datetime:
    return when.replace(minute=0, second=0, microsecond=0)


@router.get("/stale", summary="Sensors silent for over 2 hours (operators)")
def list_stale(session: SessionDep, principal: OperatorDep) -> dict[str, Any]:
    """List sensors with no reading for over 2 h, the longest silent first."""
    sensors = store.stored_sensors(session)
    latest = latest_values(session, [s.id for s in sensors])
    seen: dict[str, dt.datetime | None] = {}
    for sensor in sensors:
        times = [
            v["observedAt"] for name, v in latest.get(sensor.id, {}).items() if name in VARIABLES
        ]
        seen[sensor.id] = max(times) if times else None
    now = utcnow()
    names = {s.id: s.name for s in sensors}
    return {
        "checked_at": isoformat(now),
        "sensors": [
            {
                "id": s.sensor_id,
                "name": names[s.sensor_id],
                "last_seen": isoformat(s.last_seen) if s.last_seen else None,
                "silent_for_s": round(s.silent_for.total_seconds()) if s.silent_for else None,
            }
            for s in stale_sensors(seen, now, STALE_AFTER)
        ],
    }


@router.get("/calibration", summary="Calibration of each low-cost sensor (operators)")
def list_calibrations(session: SessionDep, principal: OperatorDep) -> dict[str, Any]:
    """Return each low-cost sensor's calibration in use and its latest attempt."""
    sensors = {s.id: s for s in store.stored_sensors(session)}
    current = store.current_fits(session)
    attempts = {(a.sensor_id, a.pollutant): a for a in store.latest_attempts(session)}
    fits = []
    for sensor in sensors.values():
        if sensor.kind != "lowcost":
            continue
        for pollutant in ("pm10", "pm25"):
            fit = current.get((sensor.id, pollutant))
            attempt = attempts.get((sensor.id, pollutant))
            station = sensors.get(fit.station_id) if fit else None
            fits.append(
                {
                    "sensor": sensor.id,
                    "name": sensor.name,
                    "pollutant": pollutant,
                    "status": "ok" if fit else (attempt.status if attempt else "pending"),
                    "station": fit.station_id if fit else None,
                    "station_name": station.name if station else None,
                    "distance_m": _round(fit.distance_m, 0) if fit else None,
                    "model": fit.model if fit else None,
                    "coefficients": dict(fit.coefficients) if fit else None,
                    "n": fit.n if fit else 0,
                    "r2": _round(fit.r2, 3) if fit else None,
                    "rmse": _round(fit.rmse, 2) if fit else None,
                    "mae": _round(fit.mae, 2) if fit else None,
                    "raw_rmse": _round(fit.raw_rmse, 2) if fit else None,
                    "fitted_at": isoformat(fit.fitted_at) if fit else None,
                    "window": [isoformat(fit.window_start), isoformat(fit.window_end)]
                    if fit
                    else None,
                    "last_attempt": {
                        "status": attempt.status,
                        "reason": attempt.reason,
                        "at": isoformat(attempt.fitted_at),
                    }
                    if attempt
                    else None,
                }
            )
    return {"fits": fits}


def _period(
    start: str | None, end: str | None, session: SessionDep
) -> tuple[dt.datetime, dt.datetime]:
    """Return the export period: given, or the last 24 computed hours."""
    latest = store.last_processed_hour(session)
    until = _instant("end", end) if end else ((latest + _HOUR) if latest else _floor(utcnow()))
    since = _instant("start", start) if start else until - 24 * _HOUR
    if since >= until:
        raise Problem(
            400,
            "Invalid period",
            f"start ({isoformat(since)}) must be before end ({isoformat(until)})",
        )
    if until - since > MAX_EXPORT:
        raise Problem(
            400,
            "Period too long",
            f"{(until - since) / dt.timedelta(days=1):.1f} days asked; at most "
            f"{MAX_EXPORT.days} days per download",
        )
    return since, until


def _export_rows(session: SessionDep, start: dt.datetime, end: dt.datetime) -> list[ExportRow]:
    sensors = {s.id: s for s in store.stored_sensors(session)}
    grouped: dict[tuple[dt.datetime, str], dict[str, Any]] = {}
    for row in store.hourly_between(session, start, end):
        grouped.setdefault((row.hour, row.sensor_id), {})[row.variable] = row
    rows = []
    for (hour, sensor_id), variables in grouped.items():
        sensor = sensors.get(sensor_id)
        if sensor is None:
            continue
        rows.append(
            ExportRow(
                hour=hour,
                sensor_id=sensor_id,
                name=sensor.name,
                kind=sensor.kind,
                area_code=sensor.area_code,
                lon=sensor.lon,
                lat=sensor.lat,
                source=sensor.source,
                values={v: r.value if r.sufficient else None for v, r in variables.items()},
                raw={v: r.raw for v, r in variables.items() if v in ("pm10", "pm25")},
                capture={v: r.capture for v, r in variables.items()},
            )
        )
    return rows


@router.get(
    "/export.csv",
    summary="Hourly means per sensor for a period, as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_hourly_csv(
    session: SessionDep, start: str | None = None, end: str | None = None
) -> Response:
    """Download hourly means per sensor in ``[start, end)`` (at most 31 days) as CSV."""
    since, until = _period(start, end, session)
    body = export_csv(_export_rows(session, since, until))
    name = f"sejong-air-{since:%Y%m%dT%H}-{until:%Y%m%dT%H}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/export.geojson", summary="Hourly means per sensor for a period, as GeoJSON")
def export_hourly_geojson(
    session: SessionDep, start: str | None = None, end: str | None = None
) -> Response:
    """Download hourly means per sensor in ``[start, end)`` as a GeoJSON FeatureCollection."""
    since, until = _period(start, end, session)
    return JSONResponse(
        export_geojson(_export_rows(session, since, until), since, until),
        media_type="application/geo+json",
    )


__all__ = ["API", "grade_public", "router"]
