"""The parking API as drivers and operators call it, with occupancy arriving through the hub."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from citysmart.core.models import AuditEvent
from citysmart.hub.runtime import HubRuntime
from citysmart.services.parking.models import LotSetting

API = "/api/v1/parking"
# Around Jochiwon station (Sejong's north); the destination is between the lots.
NEAR = {"code": "JC-1", "name": "조치원역 공영주차장", "lon": 127.2890, "lat": 36.6010}
FAR = {"code": "JC-2", "name": "조치원시장 주차장", "lon": 127.2925, "lat": 36.6020}
DESTINATION = {"lon": 127.2895, "lat": 36.6012}


def problem(response: Any, status: int, *words: str) -> None:
    """Assert a problem document of this status whose text says each word."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    text = response.text
    for word in words:
        assert word in text, text


def register(
    client: TestClient, headers: dict[str, str], lot: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """Register a lot and return the answer (with its device keys)."""
    body = {"capacity": 4, "occupancy_detection": "singleSpaceDetection", **lot, **extra}
    response = client.post(f"{API}/lots", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def post_pack(client: TestClient, key: str, pack: list[dict[str, Any]]) -> None:
    """Send a SenML pack to the hub as the device that owns ``key``."""
    response = client.post("/api/v1/ingest", json=pack, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 202, response.text


def spot(client: TestClient, key: str, status: str, at: float | None = None) -> None:
    """Report one spot's status as its sensor does."""
    post_pack(client, key, [{"bt": at or time.time(), "n": "status", "vs": status}])


def counters(
    client: TestClient, key: str, entries: float, exits: float, at: float | None = None
) -> None:
    """Report a counter lot's cumulative entries and exits as its controller does."""
    when = at or time.time()
    post_pack(
        client,
        key,
        [
            {"bt": when, "n": "entryCount", "u": "count", "v": entries},
            {"n": "exitCount", "u": "count", "v": exits},
        ],
    )


def lot(client: TestClient, code: str) -> dict[str, Any]:
    """Return one lot's live view."""
    response = client.get(f"{API}/lots/{code}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_spot_sensor_lot_counts_its_occupied_spots(
    parking_client: TestClient, operator: dict[str, str]
) -> None:
    made = register(parking_client, operator, NEAR)
    assert made["device_key"].startswith("csd")
    keys = list(made["spot_keys"].values())
    assert len(keys) == 4
    assert made["status"] == "unknown"
    assert "no_reading" in made["flags"]
    for key, status in zip(keys, ("occupied", "occupied", "free", "occupied"), strict=True):
        spot(parking_client, key, status)
    view = lot(parking_client, "JC-1")
    assert (view["occupied"], view["free"], view["status"]) == (3, 1, "free")
    assert view["trusted"]
    assert view["last_updated"] is not None
    spot(parking_client, keys[2], "occupied")
    assert lot(parking_client, "JC-1")["status"] == "full"
    # The entities are FIWARE's, readable through NGSI-LD too.
    listed = parking_client.get(f"{API}/lots").json()["lots"]
    assert [v["code"] for v in listed] == ["JC-1"]
    assert listed[0]["entity_id"] == "urn:ngsi-ld:OffStreetParking:JC-1"


def test_a_lot_with_unreported_spots_is_not_shown_as_truth(
    parking_client: TestClient, operator: dict[str, str]
) -> None:
    keys = list(register(parking_client, operator, NEAR)["spot_keys"].values())
    spot(parking_client, keys[0], "free")
    view = lot(parking_client, "JC-1")
    assert view["status"] == "unknown"
    assert view["occupied"] is None
    assert view["flags"] == ["spots_unreported"]
    assert view["reasons"] == ["some spot sensors have never reported"]


def test_a_counter_lot_is_entries_minus_exits_corrected_by_a_full_count(
    parking_client: TestClient, parking_runtime: HubRuntime, operator: dict[str, str]
) -> None:
    made = register(parking_client, operator, FAR, capacity=100, occupancy_detection="balancing")
    assert made["spot_keys"] == {}
    key = made["device_key"]
    counters(parking_client, key, 500, 460)
    view = lot(parking_client, "JC-2")
    assert (view["occupied"], view["free"], view["status"]) == (40, 60, "free")
    assert view["correction"] is None
    # Staff count 52 cars: the counters missed 12; the correction is kept and shown.
    counted = parking_client.post(
        f"{API}/lots/JC-2/counts", json={"occupied": 52}, headers=operator
    )
    assert counted.status_code == 201, counted.text
    body = counted.json()
    assert body["occupied"] == 52
    assert body["raw_count"] == 40
    assert (body["correction"]["offset"], body["correction"]["source"]) == (12, "full_count")
    counters(parking_client, key, 530, 470)
    view = lot(parking_client, "JC-2")
    assert (view["raw_count"], view["occupied"]) == (60, 72)
    with parking_runtime.sessions() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.target == "JC-2"))
        assert set(actions) == {"parking.lot.created", "parking.lot.counted"}


@pytest.mark.parametrize(
    ("entries", "exits", "age_s", "flag"),
    [
        (10, 30, 0, "negative"),  # a missed entry loop: more exits than entries
        (200, 80, 0, "over_capacity"),  # 120 cars in 100 spaces is beyond the tolerance
        (50, 10, 3600, "stale"),  # an hour old
    ],
)
def test_a_bad_counter_feed_is_flagged_and_never_shown(
    parking_client: TestClient,
    operator: dict[str, str],
    entries: int,
    exits: int,
    age_s: float,
    flag: str,
) -> None:
    key = register(parking_client, operator, FAR, capacity=100, occupancy_detection="balancing")[
        "device_key"
    ]
    counters(parking_client, key, entries, exits, at=time.time() - age_s)
    view = lot(parking_client, "JC-2")
    assert view["flags"] == [flag]
    assert (view["status"], view["occupied"], view["free"], view["trusted"]) == (
        "unknown",
        None,
        None,
        False,
    )
    # Guidance leaves it out rather than guess.
    guidance = parking_client.get(f"{API}/guidance", params=DESTINATION).json()
    assert guidance["lots"] == []
    assert guidance["left_out"] == {"JC-2": "left out: occupancy unknown"}


def test_a_stale_spot_lot_is_unknown(parking_client: TestClient, operator: dict[str, str]) -> None:
    keys = list(register(parking_client, operator, NEAR, capacity=2)["spot_keys"].values())
    for key in keys:
        spot(parking_client, key, "free", at=time.time() - 1800)
    view = lot(parking_client, "JC-1")
    assert view["flags"] == ["stale"]
    assert view["status"] == "unknown"


def test_guidance_prefers_the_near_lot_unless_it_is_full(
    parking_client: TestClient, operator: dict[str, str]
) -> None:
    near_keys = list(register(parking_client, operator, NEAR, capacity=3)["spot_keys"].values())
    far_key = register(
        parking_client, operator, FAR, capacity=100, occupancy_detection="balancing"
    )["device_key"]
    for key in near_keys:
        spot(parking_client, key, "free")
    counters(parking_client, far_key, 60, 20)
    ranked = parking_client.get(f"{API}/guidance", params=DESTINATION).json()["lots"]
    assert [r["code"] for r in ranked] == ["JC-1", "JC-2"]
    assert ranked[0]["source"] == "live"
    assert ranked[0]["free_expected"] == 3
    assert ranked[0]["walk_m"] < ranked[1]["walk_m"]
    for key in near_keys:
        spot(parking_client, key, "occupied")
    ranked = parking_client.get(f"{API}/guidance", params=DESTINATION).json()["lots"]
    assert [r["code"] for r in ranked] == ["JC-2", "JC-1"]
    # guidance.chance_of_space keeps a spread of at least half a space: a full lot keeps ~16%.
    assert ranked[1]["chance_free"] < 0.2
    # Later arrivals without a stored forecast: today's free spaces, a widening interval.
    later = parking_client.get(f"{API}/guidance", params={**DESTINATION, "arrive_in": 60}).json()
    far = next(r for r in later["lots"] if r["code"] == "JC-2")
    assert far["source"] == "persistence"
    assert far["free_expected"] == 60
    low, high = far["free_interval_80"]
    assert low < 60 < high


def test_guidance_uses_a_stored_forecast_for_a_later_arrival(
    parking_client: TestClient, parking_runtime: HubRuntime, operator: dict[str, str]
) -> None:
    import datetime as dt

    from citysmart.services.parking.models import FreeSpaceForecast
    from citysmart.services.parking.store import save_forecasts

    far_key = register(
        parking_client, operator, FAR, capacity=100, occupancy_detection="balancing"
    )["device_key"]
    counters(parking_client, far_key, 60, 20)
    now = dt.datetime.now(dt.UTC)
    with parking_runtime.sessions.begin() as session:
        save_forecasts(
            session,
            [FreeSpaceForecast(lot_code="JC-2", origin=now, target=now + dt.timedelta(hours=1),
                               free_expected=5.0, free_low=0.0, free_high=12.0)],
        )  # fmt: skip
    later = parking_client.get(f"{API}/guidance", params={**DESTINATION, "arrive_in": 60}).json()
    (far,) = later["lots"]
    assert far["source"] == "forecast"
    assert (far["free_expected"], far["free_interval_80"]) == (5.0, [0.0, 12.0])


def test_only_operators_register_lots_and_record_counts(
    parking_client: TestClient,
    parking_runtime: HubRuntime,
    operator: dict[str, str],
    citizen: dict[str, str],
) -> None:
    body = {**FAR, "capacity": 10, "occupancy_detection": "balancing"}
    assert parking_client.post(f"{API}/lots", json=body).status_code == 401
    problem(parking_client.post(f"{API}/lots", json=body, headers=citizen), 403)
    register(parking_client, operator, FAR, capacity=10, occupancy_detection="balancing")
    count = parking_client.post(f"{API}/lots/JC-2/counts", json={"occupied": 3}, headers=citizen)
    problem(count, 403)
    with parking_runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LotSetting)) == 1


def test_bad_lot_requests_say_what_was_wrong_and_store_nothing(
    parking_client: TestClient, parking_runtime: HubRuntime, operator: dict[str, str]
) -> None:
    post = parking_client.post
    seoul = {**NEAR, "lon": 126.98, "lat": 37.56}
    problem(post(f"{API}/lots", json={**seoul, "capacity": 5, "occupancy_detection": "balancing"},
                 headers=operator), 422, "not in Sejong")  # fmt: skip
    problem(post(f"{API}/lots", json={**NEAR, "capacity": 5, "occupancy_detection": "cameras"},
                 headers=operator), 400, "cameras", "balancing")  # fmt: skip
    problem(post(f"{API}/lots", json={**NEAR, "code": "a b", "capacity": 5,
                                      "occupancy_detection": "balancing"}, headers=operator),
            400, "lot code")  # fmt: skip
    problem(post(f"{API}/lots", json={**NEAR, "capacity": 0, "occupancy_detection": "balancing"},
                 headers=operator), 422, "capacity")  # fmt: skip
    with parking_runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LotSetting)) == 0
    register(parking_client, operator, NEAR)
    problem(post(f"{API}/lots", json={**NEAR, "capacity": 4,
                                      "occupancy_detection": "balancing"}, headers=operator),
            409, "already registered")  # fmt: skip
    problem(parking_client.get(f"{API}/lots/NOPE"), 404, "NOPE")
    # Full counts correct counter lots only, and never exceed the lot.
    problem(
        post(f"{API}/lots/JC-1/counts", json={"occupied": 1}, headers=operator), 400, "per spot"
    )
    key = register(parking_client, operator, FAR, capacity=10, occupancy_detection="balancing")[
        "device_key"
    ]
    problem(post(f"{API}/lots/JC-2/counts", json={"occupied": 1}, headers=operator),
            400, "not reported")  # fmt: skip
    counters(parking_client, key, 5, 1)
    problem(post(f"{API}/lots/JC-2/counts", json={"occupied": 50}, headers=operator), 400, "over")
    problem(post(f"{API}/lots/JC-2/counts", json={"occupied": -1}, headers=operator), 422)
    assert lot(parking_client, "JC-2")["correction"] is None


@pytest.mark.parametrize(
    ("params", "status", "word"),
    [
        ({"lat": 37.56, "lon": 126.98}, 422, "not in Sejong"),
        ({"lat": 36.6}, 422, "lon"),
        ({"lat": "north", "lon": 127.29}, 422, "lat"),
        ({**DESTINATION, "arrive_in": -5}, 422, "arrive_in"),
        ({**DESTINATION, "arrive_in": 181}, 422, "arrive_in"),
    ],
)
def test_bad_guidance_parameters_are_refused(
    parking_client: TestClient, params: dict[str, Any], status: int, word: str
) -> None:
    problem(parking_client.get(f"{API}/guidance", params=params), status, word)
