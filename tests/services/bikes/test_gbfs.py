"""GBFS v3.0 feeds as a trip planner reads them, validated against the official schemas."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes import gbfs, store
from citysmart.services.bikes.stations import StationState, write_station_status
from tests.services.bikes.factories import STATIONS, add_stations, schema_errors

NOW = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
FEEDS = ("gbfs", *gbfs.FEEDS)


def _station(code: str, **changes: Any) -> StationState:
    base: dict[str, Any] = {
        "code": code,
        "entity_id": f"urn:ngsi-ld:BikeHireDockingStation:{code}",
        "name_ko": "세종시청",
        "name_en": "Sejong City Hall",
        "lon": 127.289,
        "lat": 36.48,
        "capacity": 20,
        "address": None,
        "bikes": 7,
        "docks": 13,
        "status": "working",
        "last_reported": NOW - dt.timedelta(minutes=1),
        "registered_at": NOW - dt.timedelta(days=3),
    }
    base.update(changes)
    return StationState(**base)


# --- the pure builders ---------------------------------------------------------------------


def test_every_builder_gives_a_document_the_official_schema_accepts() -> None:
    stations = [
        _station("A"),
        _station("B", last_reported=NOW - dt.timedelta(hours=2)),
        _station("C", bikes=None, docks=None, status=None, last_reported=None),
        _station("D", status="outOfService", name_en=None, capacity=None),
    ]
    scooters = [
        gbfs.ScooterState("p1", gbfs.SCOOTER_TYPE, 127.28, 36.49, False, False, NOW, 0.5),
        gbfs.ScooterState("p2", gbfs.SCOOTER_TYPE, 127.27, 36.50, True, True, NOW, None),
    ]
    urls = {name: f"https://example.org/gbfs/{name}.json" for name in FEEDS}
    documents = {
        "gbfs": gbfs.gbfs_discovery(urls, NOW),
        "system_information": gbfs.system_information(gbfs.EOULLING, NOW),
        "vehicle_types": gbfs.vehicle_types(gbfs.VEHICLE_TYPES, NOW),
        "station_information": gbfs.station_information(stations, NOW),
        "station_status": gbfs.station_status(stations, NOW),
        "vehicle_status": gbfs.vehicle_status(scooters, gbfs.VEHICLE_TYPES, NOW),
    }
    for feed, document in documents.items():
        assert schema_errors(feed, document) == [], feed
        assert document["version"] == "3.0"
        assert document["last_updated"] == "2026-11-25T12:00:00+09:00"


def test_the_schema_check_catches_a_broken_feed() -> None:
    # The validator itself must be able to fail: a feed missing a required field.
    document = gbfs.station_status([_station("A")], NOW)
    del document["data"]["stations"][0]["is_renting"]
    document["last_updated"] = "25 Nov 2026"
    errors = schema_errors("station_status", document)
    assert any("is_renting" in e for e in errors)
    assert any("date-time" in e for e in errors)


def test_a_stale_station_keeps_its_old_time_and_neither_rents_nor_takes_returns() -> None:
    old = NOW - gbfs.DEFAULT_STALE_AFTER - dt.timedelta(seconds=1)
    fresh = gbfs.station_status_item(_station("A"), NOW, gbfs.DEFAULT_STALE_AFTER)
    stale = gbfs.station_status_item(
        _station("A", last_reported=old), NOW, gbfs.DEFAULT_STALE_AFTER
    )
    assert (fresh["is_renting"], fresh["is_returning"]) == (True, True)
    assert (stale["is_renting"], stale["is_returning"]) == (False, False)
    assert stale["last_reported"] == gbfs.rfc3339(old)
    assert stale["num_vehicles_available"] == 7  # the last known count, not invented


def test_a_station_out_of_service_or_never_reported_is_not_renting() -> None:
    out = gbfs.station_status_item(
        _station("A", status="outOfService"), NOW, gbfs.DEFAULT_STALE_AFTER
    )
    never = gbfs.station_status_item(
        _station("B", bikes=None, docks=None, status=None, last_reported=None),
        NOW,
        gbfs.DEFAULT_STALE_AFTER,
    )
    assert not out["is_renting"]
    assert not out["is_returning"]
    assert not never["is_renting"]
    assert never["num_vehicles_available"] == 0
    assert never["last_reported"] == gbfs.rfc3339(NOW - dt.timedelta(days=3))


def test_names_are_localized_in_korean_and_english() -> None:
    info = gbfs.system_information(gbfs.EOULLING, NOW)["data"]
    assert info["name"] == [
        {"text": "어울링", "language": "ko"},
        {"text": "Eoulling", "language": "en"},
    ]
    assert info["languages"] == ["ko", "en"]
    assert info["timezone"] == "Asia/Seoul"
    station = gbfs.station_information([_station("A")], NOW)["data"]["stations"][0]
    assert {n["language"]: n["text"] for n in station["name"]} == {
        "ko": "세종시청",
        "en": "Sejong City Hall",
    }


def test_a_scooters_range_follows_its_charge() -> None:
    scooter = gbfs.ScooterState("p1", gbfs.SCOOTER_TYPE, 127.28, 36.49, False, False, NOW, 0.4)
    item = gbfs.vehicle_status([scooter], gbfs.VEHICLE_TYPES, NOW)["data"]["vehicles"][0]
    assert item["current_range_meters"] == pytest.approx(0.4 * 25_000)
    assert item["current_fuel_percent"] == pytest.approx(0.4)


# --- the feeds served from live data (SQLite and PostgreSQL) -------------------------------


def _seed(runtime: HubRuntime) -> dt.datetime:
    """Three stations (fresh, stale, never reported) and two e-scooters; return 'now'."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    add_stations(runtime)
    write_station_status(runtime, "SJ001", 5, 15, at=now - dt.timedelta(seconds=30))
    write_station_status(runtime, "SJ002", 9, 6, at=now - dt.timedelta(hours=3))
    with runtime.sessions.begin() as session:
        store.add_vehicle(session, "k-1", gbfs.SCOOTER_TYPE)
        store.add_vehicle(session, "k-2", gbfs.SCOOTER_TYPE)
        store.add_vehicle(session, "b-1", gbfs.BIKE_TYPE)
        store.report_vehicle(session, "k-1", 127.281, 36.492, now, fuel_percent=0.8)
        store.report_vehicle(session, "k-2", 127.265, 36.505, now, is_disabled=True)
    return now


def test_every_live_feed_is_discoverable_and_valid(
    bikes_client: TestClient, bikes_runtime: HubRuntime
) -> None:
    _seed(bikes_runtime)
    response = bikes_client.get("/gbfs/gbfs.json")
    assert response.status_code == 200
    discovery = response.json()
    assert schema_errors("gbfs", discovery) == []
    urls = {f["name"]: f["url"] for f in discovery["data"]["feeds"]}
    assert set(urls) == set(FEEDS)
    for name, url in urls.items():
        assert url == f"http://testserver/gbfs/{name}.json"  # absolute, from the request
        answer = bikes_client.get(url)
        assert answer.status_code == 200, name
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.headers["cache-control"] == f"public, max-age={answer.json()['ttl']}"
        assert schema_errors(name, answer.json()) == [], name


def test_discovery_urls_follow_the_host_the_client_used(bikes_client: TestClient) -> None:
    answer = bikes_client.get("/gbfs/gbfs.json", headers={"host": "bikes.sejong.example:8443"})
    urls = [f["url"] for f in answer.json()["data"]["feeds"]]
    assert urls
    assert all(u.startswith("http://bikes.sejong.example:8443/gbfs/") for u in urls)


def test_station_status_shows_the_hubs_live_values_and_stale_stations_honestly(
    bikes_client: TestClient, bikes_runtime: HubRuntime
) -> None:
    now = _seed(bikes_runtime)
    stations = {
        s["station_id"]: s
        for s in bikes_client.get("/gbfs/station_status.json").json()["data"]["stations"]
    }
    assert set(stations) == {s.code for s in STATIONS}
    fresh, stale, silent = stations["SJ001"], stations["SJ002"], stations["SJ003"]
    assert (fresh["num_vehicles_available"], fresh["num_docks_available"]) == (5, 15)
    assert fresh["vehicle_types_available"] == [{"vehicle_type_id": "bike", "count": 5}]
    assert fresh["is_renting"]
    assert fresh["is_returning"]
    assert dt.datetime.fromisoformat(fresh["last_reported"]) == now - dt.timedelta(seconds=30)
    assert not stale["is_renting"]
    assert not stale["is_returning"]
    assert dt.datetime.fromisoformat(stale["last_reported"]) == now - dt.timedelta(hours=3)
    assert not silent["is_renting"]
    assert silent["num_vehicles_available"] == 0

    # A new report reaches the feed at once.
    write_station_status(bikes_runtime, "SJ002", 2, 13, status="almostEmpty")
    stale_now = {
        s["station_id"]: s
        for s in bikes_client.get("/gbfs/station_status.json").json()["data"]["stations"]
    }["SJ002"]
    assert stale_now["num_vehicles_available"] == 2
    assert stale_now["is_renting"]


def test_station_information_lists_the_registered_stations(
    bikes_client: TestClient, bikes_runtime: HubRuntime
) -> None:
    _seed(bikes_runtime)
    body = bikes_client.get("/gbfs/station_information.json").json()
    stations = {s["station_id"]: s for s in body["data"]["stations"]}
    first = STATIONS[0]
    assert stations[first.code]["capacity"] == first.capacity
    assert (stations[first.code]["lat"], stations[first.code]["lon"]) == (first.lat, first.lon)
    assert stations[first.code]["address"] == first.address
    assert {"text": first.name_en, "language": "en"} in stations[first.code]["name"]


def test_vehicle_status_lists_dockless_scooters_only(
    bikes_client: TestClient, bikes_runtime: HubRuntime
) -> None:
    _seed(bikes_runtime)
    vehicles = bikes_client.get("/gbfs/vehicle_status.json").json()["data"]["vehicles"]
    assert len(vehicles) == 2  # the docked bike is counted at its station, not here
    assert {v["vehicle_type_id"] for v in vehicles} == {gbfs.SCOOTER_TYPE}
    ids = {v["vehicle_id"] for v in vehicles}
    assert not ids & {"k-1", "k-2"}  # the published id is not the fleet id
    disabled = [v for v in vehicles if v["is_disabled"]]
    assert len(disabled) == 1
    assert disabled[0]["current_range_meters"] == 0.0


def test_an_unknown_feed_is_a_404_problem(bikes_client: TestClient) -> None:
    response = bikes_client.get("/gbfs/free_bike_status.json")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
