"""Reading series back: raw points and SQL-side aggregates."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from citysmart.hub.runtime import HubRuntime
from citysmart.hub.senml import Reading
from tests.factories import create_device, create_user_with_token

ENTITY = "urn:ngsi-ld:AirQualityObserved:aq-0001"
# 2026-11-24 00:00 in Seoul is 2026-11-23 15:00 UTC.
SEOUL_MIDNIGHT = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)


def seed(runtime: HubRuntime) -> None:
    """Two days of 10-minute PM10 readings: value = minutes since Seoul midnight / 10."""
    create_device(runtime)
    readings = []
    for i in range(2 * 144):
        when = SEOUL_MIDNIGHT + dt.timedelta(minutes=10 * i)
        micros = int(when.timestamp() * 1_000_000)
        readings.append(Reading("pm10", micros, float(i % 144), None, "n", "ug/m3"))
    runtime.ingestor.store_readings(ENTITY, "aq-0001", readings)


@pytest.fixture
def token(runtime: HubRuntime) -> str:
    return create_user_with_token(runtime, "reader", "citizen")


def get(client: TestClient, token: str, **params: str):  # type: ignore[no-untyped-def]
    return client.get(
        "/api/v1/series",
        params={"entity": ENTITY, "attr": "pm10", **params},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_points_come_back_in_time_order(
    client: TestClient, runtime: HubRuntime, token: str
) -> None:
    seed(runtime)
    response = get(
        client, token, **{"from": "2026-11-24T00:00:00+09:00", "to": "2026-11-24T01:00:00+09:00"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["unit"] == "ug/m3"
    assert [p["v"] for p in body["points"]] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    times = [dt.datetime.fromisoformat(p["t"]) for p in body["points"]]
    assert times == sorted(times)
    assert times[0] == SEOUL_MIDNIGHT


def test_limit_truncates_and_says_so(client: TestClient, runtime: HubRuntime, token: str) -> None:
    seed(runtime)
    body = get(
        client,
        token,
        **{"from": "2026-11-23T00:00:00Z", "to": "2026-11-26T00:00:00Z", "limit": "10"},
    ).json()
    assert len(body["points"]) == 10
    assert body["truncated"] is True


@pytest.mark.parametrize(
    ("agg", "first_two"),
    [
        ("avg", [2.5, 8.5]),
        ("min", [0.0, 6.0]),
        ("max", [5.0, 11.0]),
        ("sum", [15.0, 51.0]),
        ("count", [6.0, 6.0]),
    ],
)
def test_hourly_buckets_are_computed_in_sql(
    client: TestClient, runtime: HubRuntime, token: str, agg: str, first_two: list[float]
) -> None:
    seed(runtime)
    body = get(
        client,
        token,
        **{"from": "2026-11-24T00:00:00+09:00", "to": "2026-11-25T00:00:00+09:00"},
        every="1h",
        agg=agg,
    ).json()
    assert len(body["buckets"]) == 24
    assert [b["v"] for b in body["buckets"][:2]] == first_two
    assert all(b["n"] == 6 for b in body["buckets"])
    assert dt.datetime.fromisoformat(body["buckets"][1]["t"]) == SEOUL_MIDNIGHT + dt.timedelta(
        hours=1
    )


def test_daily_buckets_start_at_seoul_midnight(
    client: TestClient, runtime: HubRuntime, token: str
) -> None:
    seed(runtime)
    body = get(
        client,
        token,
        **{"from": "2026-11-20T00:00:00Z", "to": "2026-11-30T00:00:00Z"},
        every="P1D",
        agg="avg",
    ).json()
    assert [dt.datetime.fromisoformat(b["t"]) for b in body["buckets"]] == [
        SEOUL_MIDNIGHT,
        SEOUL_MIDNIGHT + dt.timedelta(days=1),
    ]
    assert [b["v"] for b in body["buckets"]] == [71.5, 71.5]


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"from": "yesterday"}, 400, "not an ISO 8601 time"),
        ({"from": "2026-11-24T00:00:00"}, 400, "no UTC offset"),
        ({"from": "2026-11-25T00:00:00Z", "to": "2026-11-24T00:00:00Z"}, 400, "must be before"),
        ({"every": "1h"}, 400, "both every and agg"),
        ({"every": "soon", "agg": "avg"}, 400, "not a duration"),
        ({"every": "1h", "agg": "median"}, 422, "agg"),
        ({"entity": "urn:ngsi-ld:AirQualityObserved:nope"}, 404, "no entity"),
    ],
)
def test_bad_queries_say_what_is_wrong(
    client: TestClient,
    runtime: HubRuntime,
    token: str,
    params: dict[str, str],
    status: int,
    words: str,
) -> None:
    seed(runtime)
    response = get(client, token, **params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.text


def test_series_needs_a_signed_in_user(client: TestClient, runtime: HubRuntime) -> None:
    seed(runtime)
    response = client.get("/api/v1/series", params={"entity": ENTITY, "attr": "pm10"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
