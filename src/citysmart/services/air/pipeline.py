"""The hourly computation, pure: raw readings -> QC -> hourly means -> calibration -> grades -> map.

Given the raw readings of every sensor over a window (the hours to compute plus the
hours before them that QC needs, ``QC_HISTORY``), the sensors' metadata, the city grid
and the current calibrations, :func:`compute_hours` returns for each hour

- per sensor and variable: the hourly mean with its capture and QC flag counts, the
  calibrated value of low-cost PM, and the value the map uses (calibrated, else raw);
- per sensor: the overall Korean grade (the worse of PM10 and PM2.5);
- per pollutant: the interpolation (tuned kriging served where the day has a plan, else
  IDW and kriging fitted and the one with the lower leave-one-out error served), the
  served surface's mean and worst value per area, the sensor values it was drawn from
  (``MapInput``) and the plan it used, from which :func:`draw_surface` redraws any
  method's surface exactly.

No database and no HTTP: the job (``jobs.py``) reads and stores, the API draws.

Rules chosen here (documented because the modules below leave them to the caller):

- Reference (AirKorea-type) stations are checked for range only: their values are
  already validated hourly figures, which repeat legitimately (stuck) and may jump.
- A low-cost sensor's QC uses its model's rated humidity; its hourly mean counts against
  its nominal reporting interval (``SensorMeta.interval_s``).
- Calibration uses the hour's mean RH; where RH has no valid mean the raw value is used
  (``corrected`` is then null, so the row says it was not calibrated).
- Surfaces are clipped at zero (kriging can undershoot near a clean sensor) before the
  area statistics, so they can be graded.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from citysmart.services.air.anisotropy import KrigingPlan
from citysmart.services.air.calibration import CalibrationFit, apply_calibration
from citysmart.services.air.grades import Grade, overall_grade
from citysmart.services.air.grid import Float32Array, Grid, area_stats, to_raster
from citysmart.services.air.interpolation import HourFit, Method, fit_hour
from citysmart.services.air.means import expected_per_hour, hourly_means
from citysmart.services.air.qc import Flag, QCConfig, ReadingFlags, flag_readings
from citysmart.services.air.types import FloatArray, IntArray, Pollutant

# The hub attribute names of what a sensor reports (SenML names of the devices).
VARIABLES: tuple[str, ...] = ("pm10", "pm25", "temperature", "relativeHumidity")
POLLUTANTS: tuple[Pollutant, ...] = (Pollutant.PM10, Pollutant.PM25)
# QC looks this far before an hour (the stuck check spans an hour, the spike window 3 readings).
QC_HISTORY = dt.timedelta(hours=2)
_HOUR_S = 3600.0
_QC_NAMES = {"pm10": "pm10", "pm25": "pm25", "temperature": "temperature"}
_FLAG_COLUMNS = (
    ("out_of_range", Flag.OUT_OF_RANGE),
    ("stuck", Flag.STUCK),
    ("spike", Flag.SPIKE),
    ("humidity", Flag.HUMIDITY_ABOVE_RATED),
)
SensorKind = Literal["lowcost", "reference"]
MapStatus = Literal["ok", "no_data"]


@dataclass(frozen=True)
class SensorMeta:
    """What the computation needs to know of a sensor."""

    id: str
    name: str
    kind: SensorKind
    lon: float
    lat: float
    area_code: str | None = None
    rated_rh_max: float = 90.0
    interval_s: float = 60.0
    device_id: str | None = None
    source: str = "measured"
    model: str | None = None


@dataclass(frozen=True)
class Readings:
    """Raw readings of sensors over a window, aligned per sensor on its reading times.

    ``times`` is ``(sensors, n)`` epoch seconds, ascending along each row (the padding
    after a sensor's last reading repeats its last time); ``values`` maps each variable of
    :data:`VARIABLES` to a ``(sensors, n)`` array, NaN where that variable was not sent.
    """

    sensor_ids: tuple[str, ...]
    times: FloatArray
    values: Mapping[str, FloatArray]


@dataclass(frozen=True)
class SensorHour:
    """One sensor's hourly figures for one variable (see ``models.AirHourly``)."""

    sensor_id: str
    variable: str
    hour: dt.datetime
    raw: float | None
    corrected: float | None
    value: float | None
    count: int
    readings: int
    expected: int
    capture: float
    sufficient: bool
    flags: Mapping[str, int]
    last_at: dt.datetime | None


@dataclass(frozen=True)
class MapInput:
    """A sensor value a surface was drawn from."""

    sensor_id: str
    lon: float
    lat: float
    value: float


@dataclass(frozen=True)
class AreaValue:
    """An area's mean and worst value of the served surface (None: no surface this hour)."""

    code: str
    mean: float | None
    worst: float | None
    cells: int


@dataclass(frozen=True)
class PollutantMap:
    """One hour's map of one pollutant (``plan``: the tuned kriging's, when it served)."""

    pollutant: Pollutant
    status: MapStatus
    served: Method | None
    loo_rmse: Mapping[str, float]
    note: str
    inputs: tuple[MapInput, ...]
    areas: tuple[AreaValue, ...]
    plan: KrigingPlan | None = None


@dataclass(frozen=True)
class HourResult:
    """Everything one hour produced."""

    hour: dt.datetime
    sensors: tuple[SensorHour, ...]
    maps: Mapping[Pollutant, PollutantMap]
    grades: Mapping[str, Grade] = field(default_factory=dict)  # sensor id -> overall grade

    def value(self, sensor_id: str, variable: str) -> float | None:
        """Return a sensor's value of a variable this hour (None when not valid)."""
        for row in self.sensors:
            if row.sensor_id == sensor_id and row.variable == variable:
                return row.value
        return None


def align_readings(
    sensor_ids: Sequence[str],
    sensor_index: IntArray,
    variable_index: IntArray,
    seconds: FloatArray,
    values: FloatArray,
) -> Readings:
    """Build :class:`Readings` from flat rows (sensor index, variable index, time, value).

    Rows of one sensor at one instant (one SenML pack) share a column, so QC can set a
    humidity flag on the PM readings taken with it.
    """
    n_sensors = len(sensor_ids)
    sensor = np.asarray(sensor_index, dtype=np.int64)
    variable = np.asarray(variable_index, dtype=np.int64)
    t = np.asarray(seconds, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if not (sensor.shape == variable.shape == t.shape == v.shape) or sensor.ndim != 1:
        raise ValueError("sensor, variable, time and value rows must be 1-D and of one length")
    if sensor.size and (sensor.min() < 0 or sensor.max() >= n_sensors):
        raise ValueError("a row refers to a sensor index outside sensor_ids")
    if variable.size and (variable.min() < 0 or variable.max() >= len(VARIABLES)):
        raise ValueError("a row refers to a variable index outside VARIABLES")
    order = np.lexsort((t, sensor))
    sensor, variable, t, v = sensor[order], variable[order], t[order], v[order]
    new = np.ones(len(t), dtype=bool)
    new[1:] = (sensor[1:] != sensor[:-1]) | (t[1:] != t[:-1])
    pair = np.cumsum(new) - 1
    pair_sensor = sensor[new]
    first_pair = np.searchsorted(pair_sensor, np.arange(n_sensors))
    per_sensor = np.bincount(pair_sensor, minlength=n_sensors)
    width = max(1, int(per_sensor.max(initial=0)))
    column = pair - first_pair[sensor]
    times = np.zeros((n_sensors, width))
    pair_times = t[new]
    times[pair_sensor, np.arange(len(pair_times)) - first_pair[pair_sensor]] = pair_times
    # Pad each row with its last time, keeping rows ascending (QC refuses anything else).
    filled = np.arange(width)[None, :] < per_sensor[:, None]
    last = np.where(per_sensor > 0, times[np.arange(n_sensors), np.maximum(per_sensor - 1, 0)], 0)
    times = np.where(filled, times, last[:, None])
    blocks = {name: np.full((n_sensors, width), np.nan) for name in VARIABLES}
    for index, name in enumerate(VARIABLES):
        mine = variable == index
        blocks[name][sensor[mine], column[mine]] = v[mine]
    return Readings(tuple(sensor_ids), times, blocks)


def qc_config(sensor: SensorMeta) -> QCConfig:
    """Return the QC settings of a sensor (reference stations: range checks only)."""
    if sensor.kind == "reference":
        # An infinite spike floor judges no jump a spike; the count no run stuck.
        rules = {
            name: replace(rule, spike_floor=math.inf) for name, rule in QCConfig().rules.items()
        }
        return QCConfig(rules=rules, rated_humidity_max=math.inf, stuck_count=2**62)
    return QCConfig(rated_humidity_max=sensor.rated_rh_max)


def _flags(readings: Readings, sensors: Sequence[SensorMeta]) -> dict[str, np.ndarray]:
    """Flag every reading, one QC pass per group of sensors sharing settings."""
    shape = readings.times.shape
    out = {name: np.zeros(shape, dtype=np.uint8) for name in VARIABLES}
    groups: dict[tuple[str, float], list[int]] = {}
    for row, sensor in enumerate(sensors):
        groups.setdefault((sensor.kind, sensor.rated_rh_max), []).append(row)
    for rows in groups.values():
        config = qc_config(sensors[rows[0]])
        found: ReadingFlags = flag_readings(
            readings.times[rows],
            pm10=readings.values["pm10"][rows],
            pm25=readings.values["pm25"][rows],
            temperature=readings.values["temperature"][rows],
            humidity=readings.values["relativeHumidity"][rows],
            config=config,
        )
        for name in VARIABLES:
            out[name][rows] = found.of(_QC_NAMES.get(name, "humidity"))
    return out


@dataclass(frozen=True)
class _Hourly:
    """Hourly figures of one variable for every sensor: (sensors, hours) arrays."""

    mean: FloatArray
    count: IntArray
    readings: IntArray
    expected: IntArray
    capture: FloatArray
    sufficient: np.ndarray
    flags: dict[str, IntArray]
    last: FloatArray  # epoch seconds of the hour's last present reading, NaN if none


def _cells(
    times: FloatArray, present: np.ndarray, start_s: float, n_hours: int
) -> tuple[IntArray, np.ndarray]:
    """Return the (sensor, hour) cell of each reading and which readings fall in the hours."""
    slot = np.floor((times - start_s) / _HOUR_S).astype(np.int64)
    inside = present & (slot >= 0) & (slot < n_hours)
    rows = np.broadcast_to(np.arange(times.shape[0])[:, None], times.shape)
    return (rows * n_hours + slot)[inside], inside


def _hourly(
    readings: Readings,
    sensors: Sequence[SensorMeta],
    flags: dict[str, np.ndarray],
    variable: str,
    start: dt.datetime,
    n_hours: int,
) -> _Hourly:
    """Hourly means of one variable with capture, presence, flag counts and last times."""
    values = readings.values[variable]
    n_sensors = len(sensors)
    shape = (n_sensors, n_hours)
    mean = np.full(shape, np.nan)
    count = np.zeros(shape, dtype=np.int64)
    expected = np.zeros(shape, dtype=np.int64)
    capture = np.zeros(shape)
    sufficient = np.zeros(shape, dtype=bool)
    end = start + dt.timedelta(hours=n_hours)
    intervals: dict[float, list[int]] = {}
    for row, sensor in enumerate(sensors):
        intervals.setdefault(sensor.interval_s, []).append(row)
    for interval_s, rows in intervals.items():
        interval = dt.timedelta(seconds=interval_s)
        result = hourly_means(
            readings.times[rows],
            values[rows],
            interval=interval,
            flags=flags[variable][rows],
            start=start,
            end=end,
        )
        mean[rows] = result.mean
        count[rows] = result.count
        expected[rows] = expected_per_hour(interval)
        capture[rows] = result.capture
        sufficient[rows] = result.sufficient
    present = ~np.isnan(values)
    cells, inside = _cells(readings.times, present, start.timestamp(), n_hours)
    size = n_sensors * n_hours
    present_count = np.bincount(cells, minlength=size).reshape(shape)
    flag_counts = {}
    for name, bit in _FLAG_COLUMNS:
        marked = (flags[variable][inside] & np.uint8(bit)) != 0
        flag_counts[name] = np.bincount(cells[marked], minlength=size).reshape(shape)
    last = np.full(size, -np.inf)
    np.maximum.at(last, cells, readings.times[inside])
    last_times = np.where(np.isfinite(last), last, np.nan).reshape(shape)
    return _Hourly(
        mean, count, present_count, expected, capture, sufficient, flag_counts, last_times
    )


def _number(value: float) -> float | None:
    """Return a finite float, or None for NaN."""
    return float(value) if math.isfinite(value) else None


def _calibrate(
    sensors: Sequence[SensorMeta],
    pollutant: Pollutant,
    raw: FloatArray,
    rh: FloatArray,
    fits: Mapping[tuple[str, str], CalibrationFit],
) -> FloatArray:
    """Return corrected hourly means of low-cost sensors with a fit (NaN elsewhere)."""
    corrected = np.full(raw.shape, np.nan)
    for row, sensor in enumerate(sensors):
        fit = fits.get((sensor.id, pollutant.value))
        if sensor.kind == "lowcost" and fit is not None:
            corrected[row] = apply_calibration(fit, raw[row], rh[row])
    return corrected


def compute_hours(
    readings: Readings,
    sensors: Sequence[SensorMeta],
    start: dt.datetime,
    end: dt.datetime,
    grid: Grid,
    fits: Mapping[tuple[str, str], CalibrationFit] | None = None,
    plans: Mapping[tuple[dt.datetime, Pollutant], KrigingPlan] | None = None,
) -> list[HourResult]:
    """Compute every whole hour in ``[start, end)`` from the readings (see the module).

    ``sensors`` are in the order of ``readings.sensor_ids``; ``fits`` maps (sensor id,
    pollutant) to the sensor's current calibration; ``plans`` maps (hour, pollutant) to
    the tuned kriging's plan for that hour (absent: the per-hour IDW-or-kriging choice).
    ``readings`` should begin :data:`QC_HISTORY` before ``start``, so that QC can judge
    the first readings.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if start.timestamp() % _HOUR_S or end.timestamp() % _HOUR_S:
        raise ValueError("start and end must fall on whole hours")
    if tuple(s.id for s in sensors) != readings.sensor_ids:
        raise ValueError("sensors must be given in the order of readings.sensor_ids")
    n_hours = round((end - start).total_seconds() / _HOUR_S)
    if n_hours <= 0:
        return []
    fits = fits or {}
    plans = plans or {}
    flags = _flags(readings, sensors)
    hourly = {name: _hourly(readings, sensors, flags, name, start, n_hours) for name in VARIABLES}
    rh = hourly["relativeHumidity"].mean
    corrected = {p: _calibrate(sensors, p, hourly[p.value].mean, rh, fits) for p in POLLUTANTS}
    used = {
        p: np.where(np.isfinite(corrected[p]), corrected[p], hourly[p.value].mean)
        for p in POLLUTANTS
    }
    lon = np.array([s.lon for s in sensors], dtype=np.float64)
    lat = np.array([s.lat for s in sensors], dtype=np.float64)
    xy = grid.projection.forward(lon, lat)
    results = []
    for k in range(n_hours):
        hour = start + dt.timedelta(hours=k)
        rows = _sensor_rows(sensors, hourly, corrected, used, hour, k)
        maps = {
            p: _map(p, sensors, xy, used[p][:, k], grid, plans.get((hour, p))) for p in POLLUTANTS
        }
        grades = {}
        for row, sensor in enumerate(sensors):
            graded = overall_grade(
                _number(used[Pollutant.PM10][row, k]), _number(used[Pollutant.PM25][row, k])
            )
            if graded is not None:
                grades[sensor.id] = graded
        results.append(HourResult(hour, tuple(rows), maps, grades))
    return results


def _sensor_rows(
    sensors: Sequence[SensorMeta],
    hourly: Mapping[str, _Hourly],
    corrected: Mapping[Pollutant, FloatArray],
    used: Mapping[Pollutant, FloatArray],
    hour: dt.datetime,
    k: int,
) -> list[SensorHour]:
    """Return the hour's rows of every sensor and variable that had a reading or a value."""
    rows = []
    for name in VARIABLES:
        figures = hourly[name]
        pollutant = Pollutant(name) if name in ("pm10", "pm25") else None
        for row, sensor in enumerate(sensors):
            if figures.readings[row, k] == 0:
                continue  # nothing arrived: no row (the gap shows as a missing hour)
            fixed = corrected[pollutant][row, k] if pollutant else math.nan
            value = used[pollutant][row, k] if pollutant else figures.mean[row, k]
            last = figures.last[row, k]
            rows.append(
                SensorHour(
                    sensor_id=sensor.id,
                    variable=name,
                    hour=hour,
                    raw=_number(figures.mean[row, k]),
                    corrected=_number(fixed),
                    value=_number(value),
                    count=int(figures.count[row, k]),
                    readings=int(figures.readings[row, k]),
                    expected=int(figures.expected[row, k]),
                    capture=float(figures.capture[row, k]),
                    sufficient=bool(figures.sufficient[row, k]),
                    flags={n: int(c[row, k]) for n, c in figures.flags.items()},
                    last_at=(
                        dt.datetime.fromtimestamp(float(last), dt.UTC)
                        if math.isfinite(last)
                        else None
                    ),
                )
            )
    return rows


def _map(
    pollutant: Pollutant,
    sensors: Sequence[SensorMeta],
    xy: FloatArray,
    values: FloatArray,
    grid: Grid,
    plan: KrigingPlan | None = None,
) -> PollutantMap:
    """Fit, draw and summarise one pollutant's hour (with ``plan``: tuned kriging)."""
    ok = np.flatnonzero(np.isfinite(values))
    inputs = tuple(
        MapInput(sensors[i].id, sensors[i].lon, sensors[i].lat, float(values[i]))
        for i in ok.tolist()
    )
    if not inputs:
        areas = tuple(AreaValue(code, None, None, 0) for code in grid.area_names)
        return PollutantMap(pollutant, "no_data", None, {}, "no sensor had a valid mean", (), areas)
    fitted = fit_hour(xy[ok], values[ok], plan=plan)
    surface = np.maximum(fitted.predict(grid.points), 0.0)
    stats = area_stats(grid, surface, fitted.model())
    areas = tuple(AreaValue(s.name, _clipped(s.mean), _clipped(s.worst), s.cells) for s in stats)
    used_plan = plan if fitted.served == "tuned" else None
    return PollutantMap(
        pollutant, "ok", fitted.served, dict(fitted.loo_rmse), fitted.note, inputs, areas,
        used_plan,
    )  # fmt: skip


def _clipped(value: float) -> float | None:
    """Return a non-negative finite statistic, or None."""
    return max(float(value), 0.0) if math.isfinite(value) else None


def fit_inputs(grid: Grid, inputs: Sequence[MapInput], plan: KrigingPlan | None = None) -> HourFit:
    """Fit the interpolators to stored map inputs and plan (the fit the hour was served with)."""
    if not inputs:
        raise ValueError("no map inputs: nothing to draw")
    lon = np.array([i.lon for i in inputs], dtype=np.float64)
    lat = np.array([i.lat for i in inputs], dtype=np.float64)
    values = np.array([i.value for i in inputs], dtype=np.float64)
    return fit_hour(grid.projection.forward(lon, lat), values, plan=plan)


def draw_surface(
    grid: Grid,
    inputs: Sequence[MapInput],
    method: Method | Literal["served"] = "served",
    plan: KrigingPlan | None = None,
) -> Float32Array:
    """Redraw an hour's surface from its inputs: the full raster, NaN outside the boundary.

    Pass the hour's stored plan to redraw a tuned-kriging hour ("served" then means tuned).
    """
    fitted = fit_inputs(grid, inputs, plan)
    values = np.maximum(fitted.predict(grid.points, method), 0.0)
    return to_raster(grid, values)


__all__ = [
    "POLLUTANTS",
    "QC_HISTORY",
    "VARIABLES",
    "AreaValue",
    "HourResult",
    "MapInput",
    "PollutantMap",
    "Readings",
    "SensorHour",
    "SensorKind",
    "SensorMeta",
    "align_readings",
    "compute_hours",
    "draw_surface",
    "fit_inputs",
    "qc_config",
]
