"""The hourly computation: QC, 75 % capture, calibration, grades, the map and area figures."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import numpy as np
import pytest

from citysmart.services.air.areas import areas_by_code, city_grid
from citysmart.services.air.calibration import CalibrationFit
from citysmart.services.air.grid import Grid
from citysmart.services.air.interpolation import Method
from citysmart.services.air.pipeline import (
    QC_HISTORY,
    VARIABLES,
    HourResult,
    Readings,
    SensorHour,
    SensorMeta,
    align_readings,
    compute_hours,
    draw_surface,
)
from citysmart.services.air.types import Pollutant

START = dt.datetime(2026, 11, 25, 3, tzinfo=dt.UTC)
END = START + dt.timedelta(hours=2)
MINUTE = 60.0
# A value of each variable at an instant (seconds) for one sensor; NaN = not sent.
Signal = Callable[[float], dict[str, float]]


@pytest.fixture(scope="module")
def grid() -> Grid:
    return city_grid(800.0)  # coarse: the tests check figures, not resolution


def centre(code: str) -> tuple[float, float]:
    point = areas_by_code()[code].geometry.representative_point()
    return point.x, point.y


def sensor(
    name: str, code: str, kind: str = "lowcost", offset: tuple[float, float] = (0, 0)
) -> SensorMeta:
    lon, lat = centre(code)
    return SensorMeta(
        id=f"urn:ngsi-ld:AirQualityObserved:{name}",
        name=name,
        kind=kind,  # type: ignore[arg-type]
        lon=lon + offset[0],
        lat=lat + offset[1],
        area_code=code,
        interval_s=MINUTE if kind == "lowcost" else 3600.0,
    )


def steady(pm10: float, pm25: float, rh: float = 50.0) -> Signal:
    """Readings that wobble a little (never stuck) around fixed levels."""

    def signal(t: float) -> dict[str, float]:
        wobble = 0.3 * math.sin(t / 97.0)
        return {
            "pm10": pm10 + wobble,
            "pm25": pm25 + wobble,
            "temperature": 5.0 + wobble,
            "relativeHumidity": rh + wobble,
        }

    return signal


def build(
    sensors: list[SensorMeta],
    signals: list[Signal],
    every: list[float] | None = None,
    start: dt.datetime = START - QC_HISTORY,
    end: dt.datetime = END,
) -> Readings:
    """Flat rows as the hub stores them, aligned by the pipeline's own function."""
    rows: list[tuple[int, int, float, float]] = []
    for index, (meta, signal) in enumerate(zip(sensors, signals, strict=True)):
        step = every[index] if every else meta.interval_s
        t = start.timestamp()
        while t < end.timestamp():
            for name, value in signal(t).items():
                if not math.isnan(value):
                    rows.append((index, VARIABLES.index(name), t, value))
            t += step
    array = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return align_readings(
        [s.id for s in sensors],
        array[:, 0].astype(np.int64),
        array[:, 1].astype(np.int64),
        array[:, 2],
        array[:, 3],
    )


def rows_of(result: HourResult, sensor_id: str) -> dict[str, SensorHour]:
    return {r.variable: r for r in result.sensors if r.sensor_id == sensor_id}


def test_hourly_means_need_75_percent_capture(grid: Grid) -> None:
    full, sparse = sensor("full", "2901053"), sensor("sparse", "2901056")
    # The sparse sensor reports every 2 minutes: 30 of the 60 readings an hour holds.
    readings = build([full, sparse], [steady(40, 20), steady(60, 30)], every=[MINUTE, 120.0])
    first, second = compute_hours(readings, [full, sparse], START, END, grid)
    assert [first.hour, second.hour] == [START, START + dt.timedelta(hours=1)]
    pm25 = rows_of(first, full.id)["pm25"]
    assert pm25.sufficient
    assert pm25.count == pm25.expected == 60
    assert pm25.value == pytest.approx(20.0, abs=0.3)
    thin = rows_of(first, sparse.id)["pm25"]
    assert not thin.sufficient
    assert thin.capture == pytest.approx(0.5)
    assert thin.raw is None
    assert thin.value is None
    # Never graded, never drawn.
    assert sparse.id not in first.grades
    assert [i.sensor_id for i in first.maps[Pollutant.PM25].inputs] == [full.id]


def test_flagged_readings_are_left_out_and_counted(grid: Grid) -> None:
    spiky, humid = sensor("spiky", "2901053"), sensor("humid", "2901056", offset=(0.002, 0))
    spike_at = START.timestamp() + 30 * MINUTE

    def with_spike(t: float) -> dict[str, float]:
        values = steady(40, 20)(t)
        if t == spike_at:
            values["pm25"] = 400.0
        return values

    def humid_air(t: float) -> dict[str, float]:
        values = steady(40, 20, rh=95.0)(t)
        # Dry for the first 40 minutes of the first hour only.
        if START.timestamp() <= t < START.timestamp() + 40 * MINUTE:
            values["relativeHumidity"] = 60.0
        return values

    result = compute_hours(
        build([spiky, humid], [with_spike, humid_air]), [spiky, humid], START, END, grid
    )
    first, second = result
    pm25 = rows_of(first, spiky.id)["pm25"]
    assert pm25.flags["spike"] == 1
    assert pm25.count == 59
    assert pm25.value == pytest.approx(20.0, abs=0.3)
    wet = rows_of(first, humid.id)["pm10"]
    assert wet.flags["humidity"] == 20
    assert wet.count == 40
    assert not wet.sufficient  # 40 of 60: under 75 %
    soaked = rows_of(second, humid.id)["pm10"]
    assert soaked.flags["humidity"] == 60
    assert soaked.value is None


def test_reference_stations_repeat_values_without_being_flagged_stuck(grid: Grid) -> None:
    station = sensor("station", "2901033", kind="reference")

    def hourly(t: float) -> dict[str, float]:
        return {"pm10": 31.0, "pm25": 15.0, "temperature": math.nan, "relativeHumidity": math.nan}

    readings = build([station], [hourly], start=START - dt.timedelta(hours=6))
    first, _ = compute_hours(readings, [station], START, END, grid)
    pm10 = rows_of(first, station.id)["pm10"]
    assert pm10.sufficient
    assert pm10.value == 31.0
    assert pm10.flags["stuck"] == 0
    # A low-cost sensor repeating one value for hours is stuck.
    frozen = sensor("frozen", "2901033", offset=(0.003, 0))

    def flat(t: float) -> dict[str, float]:
        return {**hourly(t), "temperature": 3.0, "relativeHumidity": 40.0}

    first, _ = compute_hours(build([frozen], [flat]), [frozen], START, END, grid)
    assert rows_of(first, frozen.id)["pm10"].value is None


def fit(sensor_id: str, pollutant: str, a: float, b: float, c: float) -> CalibrationFit:
    when = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    return CalibrationFit(
        sensor_id, "urn:ref", 500.0, "linear", {"intercept": a, "raw": b, "rh": c},
        100, 0.9, 3.0, 2.0, 6.0, 5.0, when, when, when,
    )  # fmt: skip


def test_calibration_corrects_low_cost_pm_and_spares_reference_stations(grid: Grid) -> None:
    cheap, station = sensor("cheap", "2901053"), sensor("ref", "2901056", kind="reference")
    fits = {
        (cheap.id, "pm25"): fit(cheap.id, "pm25", 2.0, 0.5, 0.1),
        (station.id, "pm25"): fit(station.id, "pm25", 100.0, 1.0, 0.0),  # must be ignored
    }

    def reference(t: float) -> dict[str, float]:
        return {"pm10": 50.0, "pm25": 25.0, "temperature": math.nan, "relativeHumidity": math.nan}

    readings = build([cheap, station], [steady(40, 30, rh=60), reference])
    first, _ = compute_hours(readings, [cheap, station], START, END, grid, fits)
    pm25 = rows_of(first, cheap.id)["pm25"]
    raw, rh = pm25.raw, rows_of(first, cheap.id)["relativeHumidity"].value
    assert raw is not None
    assert rh is not None
    assert pm25.corrected == pytest.approx(2.0 + 0.5 * raw + 0.1 * rh)
    assert pm25.value == pm25.corrected
    assert rows_of(first, cheap.id)["pm10"].corrected is None  # no PM10 fit: raw is used
    assert rows_of(first, station.id)["pm25"].value == 25.0
    assert rows_of(first, station.id)["pm25"].corrected is None


def test_the_overall_grade_is_the_worse_of_the_two(grid: Grid) -> None:
    one = sensor("one", "2901053")
    # PM10 40 is 보통 (moderate); PM2.5 40 is 나쁨 (unhealthy): the sensor is unhealthy.
    first, _ = compute_hours(build([one], [steady(40, 40)]), [one], START, END, grid)
    graded = first.grades[one.id]
    assert (graded.key, graded.label_ko, graded.pollutant) == ("unhealthy", "나쁨", Pollutant.PM25)


def test_the_map_serves_the_lower_loo_error_and_reports_areas(grid: Grid) -> None:
    codes = ["2901053", "2901056", "2901058", "2901059", "2901060", "2901061", "2901011"]
    sensors = [sensor(f"s{i}", code) for i, code in enumerate(codes)]
    levels = [10.0, 12.0, 14.0, 16.0, 18.0, 20.0, 90.0]  # Jochiwon-eup (2901011) is smoggy
    signals = [steady(2 * level, level) for level in levels]
    first, _ = compute_hours(build(sensors, signals), sensors, START, END, grid)
    pm25 = first.maps[Pollutant.PM25]
    assert pm25.status == "ok"
    assert len(pm25.inputs) == 7
    assert pm25.served == min(pm25.loo_rmse, key=lambda m: pm25.loo_rmse[m])
    areas = {a.code: a for a in pm25.areas}
    assert set(areas) == set(areas_by_code())
    jochiwon = areas["2901011"]
    assert jochiwon.worst is not None
    assert jochiwon.mean is not None
    assert jochiwon.worst >= jochiwon.mean
    # The smoggy sensor's area is the worst of all, and no area exceeds the highest sensor.
    assert jochiwon.worst == max(a.worst for a in areas.values() if a.worst is not None)
    assert all(a.worst is not None and a.worst <= 90.0 + 0.5 for a in areas.values())
    assert all(a.mean is not None and a.mean >= 10.0 - 0.5 for a in areas.values())


def test_a_redrawn_surface_matches_the_hours_area_figures(grid: Grid) -> None:
    codes = ["2901053", "2901056", "2901011", "2901033"]
    sensors = [sensor(f"r{i}", code) for i, code in enumerate(codes)]
    signals = [steady(30, v) for v in (11.0, 25.0, 48.0, 17.0)]
    first, _ = compute_hours(build(sensors, signals), sensors, START, END, grid)
    pm25 = first.maps[Pollutant.PM25]
    raster = draw_surface(grid, pm25.inputs)
    assert raster.shape == grid.shape
    assert np.isnan(raster[~grid.mask]).all()
    assert np.isfinite(raster[grid.mask]).all()
    cells = raster[grid.mask]
    for area in pm25.areas:
        mine = grid.area_of_point == grid.area_names.index(area.code)
        if mine.any():
            assert area.mean == pytest.approx(float(cells[mine].mean()), rel=1e-4)
            assert area.worst == pytest.approx(float(cells[mine].max()), rel=1e-4)
    other: Method = "idw" if pm25.served == "kriging" else "kriging"
    assert not np.allclose(draw_surface(grid, pm25.inputs, other)[grid.mask], cells)


def test_an_hour_without_valid_means_has_no_map(grid: Grid) -> None:
    silent = sensor("silent", "2901053")
    readings = build([silent], [steady(40, 20)], end=START)  # stops before the hour
    first, _ = compute_hours(readings, [silent], START, END, grid)
    assert first.sensors == ()
    pm10 = first.maps[Pollutant.PM10]
    assert pm10.status == "no_data"
    assert pm10.served is None
    assert pm10.inputs == ()
    assert all(a.mean is None for a in pm10.areas)


def test_readings_of_one_pack_share_a_column() -> None:
    ids = ["a", "b"]
    readings = align_readings(
        ids,
        np.array([1, 0, 0, 0, 1]),
        np.array([0, 0, 3, 1, 1]),
        np.array([20.0, 10.0, 10.0, 5.0, 20.0]),
        np.array([7.0, 1.0, 95.0, 2.0, 8.0]),
    )
    assert readings.times.tolist() == [[5.0, 10.0], [20.0, 20.0]]
    assert readings.values["pm10"][0].tolist() == [pytest.approx(math.nan, nan_ok=True), 1.0]
    assert readings.values["relativeHumidity"][0, 1] == 95.0
    assert readings.values["pm10"][1, 0] == 7.0
    assert readings.values["pm25"][1, 0] == 8.0
    with pytest.raises(ValueError, match="outside sensor_ids"):
        align_readings(ids, np.array([2]), np.array([0]), np.array([1.0]), np.array([1.0]))


def test_bad_windows_are_refused(grid: Grid) -> None:
    one = sensor("one", "2901053")
    readings = build([one], [steady(40, 20)])
    with pytest.raises(ValueError, match="whole hours"):
        compute_hours(readings, [one], START + dt.timedelta(minutes=5), END, grid)
    with pytest.raises(ValueError, match="order"):
        compute_hours(readings, [sensor("other", "2901053")], START, END, grid)
