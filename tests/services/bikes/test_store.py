"""Stations through the hub, and the bikes tables: fleet, trucks, staff and shifts."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from citysmart.hub.models import Device, Entity, Observation
from citysmart.hub.registry import revoke_device
from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes import gbfs, store
from citysmart.services.bikes.stations import (
    LIVE_ATTRIBUTES,
    StationError,
    StationSpec,
    read_station,
    read_stations,
    register_stations,
    station_history,
    write_station_status,
)
from tests.factories import create_user_with_token
from tests.services.bikes.factories import STATIONS, add_stations

T0 = dt.datetime(2026, 11, 25, 0, 0, tzinfo=dt.UTC)


# --- stations in the hub -------------------------------------------------------------------


def test_registering_creates_an_entity_and_a_controller_device_per_station(
    bikes_runtime: HubRuntime,
) -> None:
    keys = add_stations(bikes_runtime)
    assert set(keys) == {s.code for s in STATIONS}
    assert all(isinstance(k, str) and k for k in keys.values())
    with bikes_runtime.sessions() as session:
        entity = session.get(Entity, "urn:ngsi-ld:BikeHireDockingStation:SJ001")
        assert entity is not None
        assert entity.type == "BikeHireDockingStation"
        assert entity.name == "세종시청"
        assert entity.properties["totalSlotNumber"] == 20
        assert entity.properties["alternateName"] == "Sejong City Hall"
        assert entity.location == {"type": "Point", "coordinates": [127.289, 36.48]}
        devices = session.scalar(select(func.count()).select_from(Device))
    assert devices == 3
    # Registering again updates the stations and keeps their controllers' keys.
    renamed = StationSpec("SJ001", "세종시청 북측", "Sejong City Hall North", 127.289, 36.481, 24)
    again = register_stations(bikes_runtime, [renamed])
    assert again == {"SJ001": None}
    with bikes_runtime.sessions() as session:
        station = read_station(session, "SJ001")
    assert station is not None
    assert (station.name_ko, station.capacity, station.lat) == ("세종시청 북측", 24, 36.481)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (StationSpec("bad code", "가", "A", 127.0, 36.0, 10), ["station code"]),
        (StationSpec("S1", "", "A", 127.0, 36.0, 10), ["name_ko"]),
        (StationSpec("S1", "가", "A", 127.0, 36.0, -1), ["capacity"]),
        (StationSpec("S1", "가", "A", 200.0, 36.0, 10), ["longitude"]),
    ],
)
def test_a_bad_station_registers_nothing(
    bikes_runtime: HubRuntime, spec: StationSpec, words: list[str]
) -> None:
    good = StationSpec("S0", "가", "A", 127.0, 36.0, 10)
    with pytest.raises(StationError) as caught:
        register_stations(bikes_runtime, [good, spec])
    for word in words:
        assert word in str(caught.value)
    with bikes_runtime.sessions() as session:
        assert read_stations(session) == []


def test_a_status_report_is_stored_in_the_hub_with_its_history(bikes_runtime: HubRuntime) -> None:
    add_stations(bikes_runtime)
    write_station_status(bikes_runtime, "SJ001", 12, 8, at=T0)
    write_station_status(
        bikes_runtime, "SJ001", 4, 16, "almostEmpty", at=T0 + dt.timedelta(minutes=5)
    )
    with bikes_runtime.sessions() as session:
        station = read_station(session, "SJ001")
        history = station_history(
            session, "SJ001", "availableBikeNumber", T0, T0 + dt.timedelta(hours=1)
        )
        observations = session.scalar(
            select(func.count()).where(
                Observation.entity_id == "urn:ngsi-ld:BikeHireDockingStation:SJ001",
                Observation.attribute.in_(LIVE_ATTRIBUTES),
            )
        )
    assert station is not None
    assert (station.bikes, station.docks, station.status) == (4, 16, "almostEmpty")
    assert station.last_reported == T0 + dt.timedelta(minutes=5)
    assert [(p.t, p.value) for p in history] == [(T0, 12), (T0 + dt.timedelta(minutes=5), 4)]
    assert observations == 6  # bikes, docks and status, twice


def test_a_late_report_does_not_replace_a_newer_one(bikes_runtime: HubRuntime) -> None:
    add_stations(bikes_runtime)
    write_station_status(bikes_runtime, "SJ002", 7, 8, at=T0 + dt.timedelta(minutes=10))
    write_station_status(bikes_runtime, "SJ002", 1, 14, at=T0)
    with bikes_runtime.sessions() as session:
        station = read_station(session, "SJ002")
    assert station is not None
    assert station.bikes == 7


@pytest.mark.parametrize(
    ("code", "bikes", "docks", "status", "words"),
    [
        ("SJ404", 1, 1, "working", ["no station 'SJ404'"]),
        ("SJ003", -1, 1, "working", ["bikes", ">= 0"]),
        ("SJ003", 1, 2.5, "working", ["docks"]),
        ("SJ003", 1, 1, "broken", ["unknown status 'broken'"]),
        ("SJ003", 8, 5, "working", ["exceed its 10 docks"]),
    ],
)
def test_a_bad_status_report_is_refused_and_stores_nothing(
    bikes_runtime: HubRuntime, code: str, bikes: int, docks: int, status: str, words: list[str]
) -> None:
    add_stations(bikes_runtime)
    with pytest.raises(StationError) as caught:
        write_station_status(bikes_runtime, code, bikes, docks, status)
    for word in words:
        assert word in str(caught.value)
    with bikes_runtime.sessions() as session:
        live = select(func.count()).where(Observation.attribute.in_(LIVE_ATTRIBUTES))
        assert session.scalar(live) == 0


def test_a_revoked_controller_cannot_report(bikes_runtime: HubRuntime) -> None:
    add_stations(bikes_runtime)
    with bikes_runtime.sessions.begin() as session:
        revoke_device(session, "bike-dock-SJ001")
    with pytest.raises(StationError, match="revoked"):
        write_station_status(bikes_runtime, "SJ001", 1, 1)


def test_a_controller_posting_senml_with_its_key_updates_the_station(
    bikes_client: TestClient, bikes_runtime: HubRuntime
) -> None:
    keys = add_stations(bikes_runtime)
    pack = [
        {"bn": "urn:dev:bike-dock-SJ003:", "n": "availableBikeNumber", "u": "count", "v": 6},
        {"n": "freeSlotNumber", "u": "count", "v": 4},
        {"n": "status", "vs": "working"},
    ]
    response = bikes_client.post(
        "/api/v1/ingest", json=pack, headers={"Authorization": f"Bearer {keys['SJ003']}"}
    )
    assert response.status_code in (200, 201, 202), response.text
    body = bikes_client.get("/gbfs/station_status.json").json()
    sj003 = next(s for s in body["data"]["stations"] if s["station_id"] == "SJ003")
    assert sj003["num_vehicles_available"] == 6
    assert sj003["is_renting"]


def test_an_ngsi_ld_write_updates_the_station(
    bikes_client: TestClient, bikes_runtime: HubRuntime
) -> None:
    add_stations(bikes_runtime)
    token = create_user_with_token(bikes_runtime, "op", "operator")
    # Append (POST): the attributes do not exist until the station first reports.
    response = bikes_client.post(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:BikeHireDockingStation:SJ002/attrs",
        json={
            "availableBikeNumber": {"type": "Property", "value": 3},
            "freeSlotNumber": {"type": "Property", "value": 12},
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 204, response.text
    with bikes_runtime.sessions() as session:
        station = read_station(session, "SJ002")
    assert station is not None
    assert (station.bikes, station.docks) == (3, 12)
    assert station.last_reported is not None


# --- fleet, trucks, staff ------------------------------------------------------------------


def test_a_scooters_public_id_rotates_after_a_trip_only(bikes_runtime: HubRuntime) -> None:
    with bikes_runtime.sessions.begin() as session:
        store.add_vehicle(session, "k-1", gbfs.SCOOTER_TYPE)
        first = store.report_vehicle(session, "k-1", 127.28, 36.49, T0, fuel_percent=0.9).public_id
        moved = store.report_vehicle(session, "k-1", 127.281, 36.49, T0 + dt.timedelta(minutes=1))
        assert moved.public_id == first
        after = store.report_vehicle(
            session, "k-1", 127.3, 36.5, T0 + dt.timedelta(minutes=20), after_trip=True
        )
        assert after.public_id != first
        with pytest.raises(store.StoreError, match="older than the one stored"):
            store.report_vehicle(session, "k-1", 127.3, 36.5, T0)
        with pytest.raises(store.StoreError, match="fuel_percent"):
            store.report_vehicle(
                session, "k-1", 127.3, 36.5, T0 + dt.timedelta(hours=1), fuel_percent=1.5
            )
        with pytest.raises(store.StoreError, match="unknown vehicle type"):
            store.add_vehicle(session, "x-1", "hoverboard")
        with pytest.raises(store.StoreError, match="already in the fleet"):
            store.add_vehicle(session, "k-1", gbfs.SCOOTER_TYPE)


def _truck(truck_id: str = "T1", capacity: int = 20) -> store.TruckSpec:
    return store.TruckSpec(
        truck_id, "1호차", capacity, "Depot", 127.28, 36.48, dt.time(7, 0), dt.time(16, 0)
    )


def test_staff_on_duty_are_those_inside_a_shift(bikes_runtime: HubRuntime) -> None:
    with bikes_runtime.sessions.begin() as session:
        store.add_truck(session, _truck())
        store.add_staff(session, "d1", "김기사", "driver")
        store.add_staff(session, "m1", "이정비", "mechanic")
        store.add_shift(session, "d1", T0, T0 + dt.timedelta(hours=8), "T1")
        store.add_shift(session, "m1", T0 + dt.timedelta(hours=4), T0 + dt.timedelta(hours=12))
    with bikes_runtime.sessions() as session:
        at_2h = [
            (s.id, shift.truck_id)
            for s, shift in store.on_duty(session, T0 + dt.timedelta(hours=2))
        ]
        at_6h = [s.id for s, _ in store.on_duty(session, T0 + dt.timedelta(hours=6))]
        at_8h = [s.id for s, _ in store.on_duty(session, T0 + dt.timedelta(hours=8))]
    assert at_2h == [("d1", "T1")]
    assert at_6h == ["d1", "m1"]
    assert at_8h == ["m1"]  # a shift ends at its end


@pytest.mark.parametrize(
    ("start_h", "end_h", "truck", "words"),
    [
        (5, 9, None, "overlapping"),
        (10, 9, None, "end after it starts"),
        (10, 40, None, "at most 24 hours"),
        (10, 12, "T9", "no truck 'T9'"),
    ],
)
def test_a_bad_shift_is_refused(
    bikes_runtime: HubRuntime, start_h: int, end_h: int, truck: str | None, words: str
) -> None:
    with bikes_runtime.sessions.begin() as session:
        store.add_staff(session, "d1", "김기사", "driver")
        store.add_shift(session, "d1", T0, T0 + dt.timedelta(hours=8))
    with bikes_runtime.sessions.begin() as session, pytest.raises(store.StoreError, match=words):
        store.add_shift(
            session, "d1", T0 + dt.timedelta(hours=start_h), T0 + dt.timedelta(hours=end_h), truck
        )
    with bikes_runtime.sessions() as session:
        assert len(store.on_duty(session, T0 + dt.timedelta(hours=1))) == 1


def test_a_truck_is_stored_with_its_shift_and_bad_trucks_are_refused(
    bikes_runtime: HubRuntime,
) -> None:
    with bikes_runtime.sessions.begin() as session:
        store.add_truck(session, _truck())
    with bikes_runtime.sessions() as session:
        (truck,) = store.list_trucks(session)
    assert (truck.capacity, truck.shift_start, truck.shift_end) == (20, dt.time(7), dt.time(16))
    with bikes_runtime.sessions.begin() as session:
        with pytest.raises(store.StoreError, match="already exists"):
            store.add_truck(session, _truck())
        with pytest.raises(store.StoreError, match="capacity"):
            store.add_truck(session, _truck("T2", 0))
