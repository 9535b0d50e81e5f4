"""The bikes JSON API as the operators' console and open-data users call it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citysmart.core.time import isoformat
from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes.stations import write_station_status
from tests.factories import create_user_with_token
from tests.services.bikes.factories import STATIONS, add_stations

API = "/api/v1/bikes"
TRUCK = {
    "id": "T1",
    "name": "1호차",
    "capacity": 20,
    "depot_name": "Sejong depot",
    "depot_lon": 127.28,
    "depot_lat": 36.48,
    "shift_start": "07:00",
    "shift_end": "16:00",
}


def problem(response: Any, status: int, *words: str) -> None:
    """Assert an RFC 7807 problem of this status whose detail says each word."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    for word in words:
        assert word in response.json()["detail"]


@pytest.fixture
def operator(bikes_runtime: HubRuntime) -> dict[str, str]:
    """An operator's headers."""
    return {"Authorization": f"Bearer {create_user_with_token(bikes_runtime, 'op', 'operator')}"}


def test_stations_show_live_status_and_whether_it_is_stale(
    bikes_client: TestClient, bikes_runtime: HubRuntime
) -> None:
    add_stations(bikes_runtime)
    now = dt.datetime.now(dt.UTC)
    write_station_status(bikes_runtime, "SJ001", 3, 17, at=now - dt.timedelta(seconds=5))
    write_station_status(bikes_runtime, "SJ002", 1, 14, at=now - dt.timedelta(hours=1))
    body = bikes_client.get(f"{API}/stations").json()
    stations = {s["code"]: s for s in body["stations"]}
    assert set(stations) == {s.code for s in STATIONS}
    assert (stations["SJ001"]["bikes_available"], stations["SJ001"]["docks_free"]) == (3, 17)
    assert [stations[c]["stale"] for c in ("SJ001", "SJ002", "SJ003")] == [False, True, True]
    one = bikes_client.get(f"{API}/stations/SJ001").json()
    assert one["name_en"] == "Sejong City Hall"
    assert one["capacity"] == 20


def test_a_stations_history_comes_from_the_hubs_observations(
    bikes_client: TestClient, bikes_runtime: HubRuntime
) -> None:
    add_stations(bikes_runtime)
    start = dt.datetime(2026, 11, 24, 0, 0, tzinfo=dt.UTC)
    for minute, bikes in ((0, 9), (10, 6), (20, 2)):
        write_station_status(
            bikes_runtime, "SJ003", bikes, 10 - bikes, at=start + dt.timedelta(minutes=minute)
        )
    query = {"start": isoformat(start), "end": isoformat(start + dt.timedelta(hours=1))}
    body = bikes_client.get(f"{API}/stations/SJ003/history", params=query).json()
    assert [p["value"] for p in body["points"]] == [9, 6, 2]
    docks = bikes_client.get(
        f"{API}/stations/SJ003/history", params={**query, "attribute": "freeSlotNumber"}
    ).json()
    assert [p["value"] for p in docks["points"]] == [1, 4, 8]


def test_bad_station_requests_say_what_was_wrong(
    bikes_client: TestClient, bikes_runtime: HubRuntime
) -> None:
    add_stations(bikes_runtime)
    problem(bikes_client.get(f"{API}/stations/SJ404"), 404, "SJ404")
    problem(bikes_client.get(f"{API}/stations/SJ404/history"), 404, "SJ404")
    history = f"{API}/stations/SJ001/history"
    problem(bikes_client.get(history, params={"attribute": "price"}), 400, "'price'")
    problem(bikes_client.get(history, params={"start": "yesterday"}), 400, "start")
    problem(
        bikes_client.get(
            history, params={"start": "2026-11-25T00:00:00Z", "end": "2026-11-24T00:00:00Z"}
        ),
        400,
        "before",
    )
    problem(
        bikes_client.get(
            history, params={"start": "2026-01-01T00:00:00Z", "end": "2026-11-24T00:00:00Z"}
        ),
        400,
        "31 days",
    )


def test_trips_and_fleet_are_for_operators(
    bikes_client: TestClient, bikes_runtime: HubRuntime, operator: dict[str, str]
) -> None:
    citizen = {"Authorization": f"Bearer {create_user_with_token(bikes_runtime, 'ana', 'citizen')}"}
    for path in ("/trips", "/trucks", "/staff", "/staff/on-duty", "/vehicles"):
        assert bikes_client.get(API + path).status_code == 401, path
        assert bikes_client.get(API + path, headers=citizen).status_code == 403, path
        assert bikes_client.get(API + path, headers=operator).status_code == 200, path


def test_operators_add_trucks_staff_and_shifts_and_see_who_is_on_duty(
    bikes_client: TestClient, operator: dict[str, str]
) -> None:
    created = bikes_client.post(f"{API}/trucks", json=TRUCK, headers=operator)
    assert created.status_code == 201, created.text
    assert created.json()["shift_start"] == "07:00"
    assert bikes_client.get(f"{API}/trucks", headers=operator).json()["trucks"][0]["id"] == "T1"
    staff = {"id": "d1", "name": "김기사", "role": "driver"}
    assert bikes_client.post(f"{API}/staff", json=staff, headers=operator).status_code == 201
    shift = {
        "start": "2026-11-25T07:00:00+09:00",
        "end": "2026-11-25T16:00:00+09:00",
        "truck_id": "T1",
    }
    assert (
        bikes_client.post(f"{API}/staff/d1/shifts", json=shift, headers=operator).status_code == 201
    )
    during = bikes_client.get(
        f"{API}/staff/on-duty", params={"at": "2026-11-25T10:00:00+09:00"}, headers=operator
    ).json()
    assert [(s["id"], s["shift"]["truck_id"]) for s in during["on_duty"]] == [("d1", "T1")]
    after = bikes_client.get(
        f"{API}/staff/on-duty", params={"at": "2026-11-25T16:00:00+09:00"}, headers=operator
    ).json()
    assert after["on_duty"] == []


def test_bad_roster_input_is_refused_and_changes_nothing(
    bikes_client: TestClient, operator: dict[str, str]
) -> None:
    bikes_client.post(f"{API}/trucks", json=TRUCK, headers=operator)
    problem(bikes_client.post(f"{API}/trucks", json=TRUCK, headers=operator), 409, "T1")
    problem(
        bikes_client.post(
            f"{API}/trucks", json={**TRUCK, "id": "T2", "capacity": 0}, headers=operator
        ),
        422,
        "capacity",
    )
    problem(
        bikes_client.post(f"{API}/trucks", json={**TRUCK, "id": "T 3"}, headers=operator),
        400,
        "truck id",
    )
    problem(
        bikes_client.post(
            f"{API}/staff", json={"id": "x", "name": "X", "role": "pilot"}, headers=operator
        ),
        400,
        "'pilot'",
    )
    shift = {"start": "2026-11-25T07:00:00", "end": "2026-11-25T16:00:00+09:00"}
    problem(
        bikes_client.post(f"{API}/staff/nobody/shifts", json=shift, headers=operator),
        400,
        "UTC offset",
    )
    shift["start"] = "2026-11-25T07:00:00+09:00"
    problem(
        bikes_client.post(f"{API}/staff/nobody/shifts", json=shift, headers=operator), 404, "nobody"
    )
    problem(
        bikes_client.get(f"{API}/staff/on-duty", params={"at": "noon"}, headers=operator), 400, "at"
    )
    trucks = bikes_client.get(f"{API}/trucks", headers=operator).json()["trucks"]
    assert [t["id"] for t in trucks] == ["T1"]
    assert bikes_client.get(f"{API}/staff", headers=operator).json()["staff"] == []
