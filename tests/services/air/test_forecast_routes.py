"""The forecast API: the next 6 hours per area with grades, how they were made, and the skill.

Area means are six real Beijing stations (UCI data set) standing in for Sejong's areas.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citysmart.hub.runtime import HubRuntime
from citysmart.services.air.areas import areas_by_code
from citysmart.services.air.forecast_features import AreaSeries
from citysmart.services.air.forecast_job import MIN_HISTORY_DAYS, run_forecast, run_refit
from citysmart.services.air.grades import grade
from tests.services.air.test_api import problem
from tests.services.air.test_forecast_job import (
    CODES,
    HOUR,
    LAST,
    NOW,
    QUICK,
    clear_forecast_tables,
    stand_in_series,
    store_area_means,
)

API = "/api/v1/air/forecast"
GRADE_KEYS = {"level", "key", "label_ko", "label_en", "colour"}


@pytest.fixture
def beijing() -> AreaSeries:
    """The stand-in area means: six Beijing stations."""
    return stand_in_series()


@pytest.fixture
def forecast_runtime(air_runtime: HubRuntime) -> HubRuntime:
    """The air runtime with the forecast tables emptied too."""
    return clear_forecast_tables(air_runtime)


@pytest.fixture
def api(air_client: TestClient, forecast_runtime: HubRuntime) -> TestClient:
    """The air API on empty tables, forecast tables included."""
    return air_client


def _check_points(points: list[dict[str, Any]], pollutant: str) -> None:
    assert [p["horizon"] for p in points] == [1, 2, 3, 4, 5, 6]
    for h, point in enumerate(points, start=1):
        assert point["hour"] == (LAST + h * HOUR).isoformat().replace("+00:00", "Z")
        assert point["lower"] <= point["value"] <= point["upper"]
        graded = grade(point["value"], pollutant)
        assert set(point["grade"]) >= GRADE_KEYS
        assert point["grade"]["level"] == graded.level
        assert point["grade"]["label_ko"] == graded.label_ko
        assert point["upper_grade"]["level"] >= point["grade"]["level"]


def test_one_area_gets_six_graded_hours_labelled_as_persistence_before_a_model(
    api: TestClient, forecast_runtime: HubRuntime, beijing: AreaSeries
) -> None:
    store_area_means(forecast_runtime, beijing, 72)
    run_forecast(forecast_runtime, NOW, QUICK)
    code = CODES[2]
    response = api.get(API, params={"area": code, "pollutant": "pm10"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["area"] == {
        "code": code,
        "name_ko": areas_by_code()[code].name_ko,
        "name_en": areas_by_code()[code].name_en,
    }
    assert body["pollutant"] == "pm10"
    assert body["scheme"] == "kr"
    assert body["from_hour"] == LAST.isoformat().replace("+00:00", "Z")
    assert body["issued_at"] == NOW.isoformat().replace("+00:00", "Z")
    assert body["interval"] == 0.8
    assert body["method"] == "persistence"
    assert body["fallback"] is True
    assert body["trained_on"] is None
    assert body["model_version"] is None
    assert "not a model" in body["note"]
    _check_points(body["points"], "pm10")
    assert {p["method"] for p in body["points"]} == {"persistence"}
    # persistence: the area's latest hourly mean, every hour
    assert {p["value"] for p in body["points"]} == {round(float(beijing.pm10[71, 2]), 1)}


def test_without_an_area_every_area_is_answered(
    api: TestClient, forecast_runtime: HubRuntime, beijing: AreaSeries
) -> None:
    store_area_means(forecast_runtime, beijing, 72)
    run_forecast(forecast_runtime, NOW, QUICK)
    body = api.get(API).json()
    assert body["pollutant"] == "pm25"
    assert body["fallback"] is True
    assert [a["code"] for a in body["areas"]] == sorted(CODES)
    for area in body["areas"]:
        assert area["name_ko"]
        assert area["method"] == "persistence"
        _check_points(area["points"], "pm25")


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"pollutant": "pm1"}, 400, ("pm1",)),
        ({"area": " "}, 400, ("area",)),
        ({"area": "9999999"}, 404, ("9999999",)),
    ],
)
def test_bad_input_is_a_clear_problem(
    api: TestClient, params: dict[str, str], status: int, words: tuple[str, ...]
) -> None:
    problem(api.get(API, params=params), status, *words)


def test_before_any_forecast_the_answer_is_404_and_the_skill_says_why(
    api: TestClient, forecast_runtime: HubRuntime, beijing: AreaSeries
) -> None:
    problem(api.get(API), 404, "no forecast")
    problem(api.get(API, params={"area": CODES[0]}), 404, "no forecast")
    store_area_means(forecast_runtime, beijing, 48)
    skill = api.get(f"{API}/skill").json()
    assert skill["status"] == "not_enough_history"
    assert skill["history_days"] == 2.0
    assert skill["min_history_days"] == MIN_HISTORY_DAYS
    assert skill["evaluation"] is None
    assert "persistence" in skill["message"]


def test_after_a_refit_the_skill_compares_with_persistence_and_the_forecast_names_the_model(
    api: TestClient, forecast_runtime: HubRuntime, beijing: AreaSeries
) -> None:
    store_area_means(forecast_runtime, beijing, 5 * 24)
    fitted = run_refit(forecast_runtime, NOW, QUICK)
    assert fitted.version is not None
    run_forecast(forecast_runtime, NOW, QUICK)
    skill = api.get(f"{API}/skill").json()
    assert skill["status"] == "evaluated"
    assert skill["model"]["version"] == fitted.version
    assert skill["model"]["trained_on"].startswith("Sejong's hourly area means")
    evaluation = skill["evaluation"]
    test_start = dt.datetime.fromisoformat(evaluation["test_hours_utc"][0])
    assert test_start > dt.datetime.fromisoformat(evaluation["train_hours_utc"][1])
    for pollutant in ("pm25", "pm10"):
        rows = evaluation["pollutants"][pollutant]
        assert [r["horizon_hours"] for r in rows] == [1, 2, 3, 4, 5, 6]
        assert all(r["model"]["rmse"] > 0 and r["persistence"]["rmse"] > 0 for r in rows)
        assert len(skill["served"][pollutant]) == 6
    for pollutant in ("pm25", "pm10"):
        body = api.get(API, params={"area": CODES[0], "pollutant": pollutant}).json()
        served = skill["served"][pollutant]
        assert [p["method"] for p in body["points"]] == served
        assert body["fallback"] is False
        assert body["model_version"] == fitted.version
        expected = served[0] if len(set(served)) == 1 else "mixed"
        assert body["method"] == expected
        assert (body["trained_on"] is not None) == ("model" in served)
        _check_points(body["points"], pollutant)
