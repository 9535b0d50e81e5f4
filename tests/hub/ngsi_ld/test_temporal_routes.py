"""The NGSI-LD temporal API over the hub's store (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citysmart.core.time import utcnow
from citysmart.hub.ngsi_ld.context import core_context, expand_entity
from citysmart.hub.ngsi_ld.entity_store import insert_entity
from citysmart.hub.ngsi_ld.model import NgsiLdError, parse_entity
from citysmart.hub.ngsi_ld.temporal_store import InstanceKey, instance_id, parse_instance_id
from citysmart.hub.runtime import HubRuntime
from tests.factories import create_device, create_user_with_token, pm_pack

BASE = "/ngsi-ld/v1"
TEMPORAL = f"{BASE}/temporal/entities"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
AQ = "urn:ngsi-ld:AirQualityObserved:aq-0001"
CAR = "urn:ngsi-ld:Vehicle:A4567"
UTC = dt.UTC


def at(hour: int, minute: int = 0, second: int = 0) -> str:
    return (
        dt.datetime(2018, 8, 1, hour, minute, second, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    )


def operator(runtime: HubRuntime) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_user_with_token(runtime, 'ops', 'operator')}"}


def seed(runtime: HubRuntime, body: dict[str, Any]) -> None:
    """Store an NGSI-LD entity the way POST /entities will."""
    with runtime.sessions.begin() as session:
        entity = parse_entity(expand_entity(body, core_context()))
        insert_entity(session, entity, utcnow())


def instances(name: str, values: list[tuple[Any, str]], **extra: Any) -> list[dict[str, Any]]:
    return [{"type": "Property", "value": v, "observedAt": t, **extra} for v, t in values]


def vehicle(values: list[tuple[Any, str]], **more: Any) -> dict[str, Any]:
    return {"id": CAR, "type": "Vehicle", "speed": instances("speed", values), **more}


def create(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> None:
    response = client.post(TEMPORAL, json=body, headers=headers)
    assert response.status_code == 201, response.text


def problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == ERRORS + kind, body
    return body


def get(client: TestClient, entity_id: str = CAR, **params: Any) -> Any:
    response = client.get(f"{TEMPORAL}/{entity_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def times(attribute: Any) -> list[str]:
    return [i["observedAt"] for i in attribute]


def ingest(client: TestClient, key: str, pack: list[dict[str, Any]]) -> None:
    response = client.post(
        "/api/v1/ingest",
        content=json.dumps(pack).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/senml+json"},
    )
    assert response.status_code == 202, response.text


# --- device readings ---------------------------------------------------------------------------


def test_ingested_readings_are_the_temporal_evolution(
    client: TestClient, runtime: HubRuntime
) -> None:
    key = create_device(runtime)
    pack = pm_pack(3)
    pack.append({"n": "pm25", "u": "ug/m3", "v": 5.0, "t": 120.0})
    ingest(client, key, pack)
    body = get(client, AQ)
    assert body["id"] == AQ
    assert body["type"] == "AirQualityObserved"
    assert [i["value"] for i in body["pm10"]] == [20.0, 21.0, 22.0]
    first = body["pm10"][0]
    assert first["type"] == "Property"
    assert first["unitCode"] == "GQ"
    assert first["observedAt"].endswith("Z")
    assert first["instanceId"].startswith("urn:ngsi-ld:Instance:")
    assert len({i["instanceId"] for i in body["pm10"]}) == 3
    assert [i["value"] for i in body["pm25"]] == [5.0]
    assert "location" not in body  # the registry's location has no history

    simple = get(client, AQ, options="temporalValues", attrs="pm10")
    assert set(simple) == {"id", "type", "pm10"}
    assert simple["pm10"]["type"] == "Property"
    assert [v for v, _ in simple["pm10"]["values"]] == [20.0, 21.0, 22.0]
    assert [t for _, t in simple["pm10"]["values"]] == times(body["pm10"])

    counted = get(client, AQ, options="aggregatedValues", aggrMethods="totalCount,avg,max")
    assert counted["pm10"]["totalCount"][0][0] == 3
    assert counted["pm10"]["avg"][0][0] == pytest.approx(21.0)
    assert counted["pm10"]["max"][0][0] == 22.0


# --- time filters and lastN ----------------------------------------------------------------------


SPEEDS = [(float(10 * i), at(10, 10 * i)) for i in range(6)]  # 0 at 10:00 ... 50 at 10:50


def test_timerel_before_after_between(client: TestClient, runtime: HubRuntime) -> None:
    create(client, operator(runtime), vehicle(SPEEDS))

    def values(**params: str) -> list[float]:
        return [i["value"] for i in get(client, **params).get("speed", [])]

    assert values() == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert values(timerel="before", timeAt=at(10, 20)) == [0.0, 10.0]
    assert values(timerel="after", timeAt=at(10, 20)) == [30.0, 40.0, 50.0]
    between = values(timerel="between", timeAt=at(10, 10), endTimeAt=at(10, 30))
    assert between == [10.0, 20.0]
    assert values(timerel="after", timeAt=at(11)) == []
    assert values(lastN="2") == [40.0, 50.0]
    assert values(lastN="2", timerel="before", timeAt=at(10, 30)) == [10.0, 20.0]
    assert values(lastN="10") == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]


# --- aggregation ---------------------------------------------------------------------------------


def test_every_aggregation_method_per_period(client: TestClient, runtime: HubRuntime) -> None:
    data = [(1, at(10, 0)), (2, at(10, 10)), (3, at(10, 20)), (4, at(10, 30))]
    data += [(4, at(10, 40)), (10, at(10, 50))]
    create(client, operator(runtime), vehicle(data))
    methods = "totalCount,distinctCount,sum,avg,min,max,stddev,sumsq"
    body = get(
        client,
        options="aggregatedValues",
        aggrMethods=methods,
        aggrPeriodDuration="PT30M",
        timerel="between",
        timeAt=at(10),
        endTimeAt=at(11),
    )
    speed = body["speed"]
    assert speed["type"] == "Property"
    first, second = (at(10), at(10, 30)), (at(10, 30), at(11))
    expected = {
        "totalCount": (3, 3),
        "distinctCount": (3, 2),
        "sum": (6, 18),
        "avg": (2, 6),
        "min": (1, 4),
        "max": (3, 10),
        "sumsq": (14, 132),
        "stddev": (math.sqrt(2 / 3), math.sqrt(8)),
    }
    for method, (one, two) in expected.items():
        assert [p[1:] for p in speed[method]] == [list(first), list(second)], method
        assert [p[0] for p in speed[method]] == [pytest.approx(one), pytest.approx(two)], method
    assert isinstance(speed["totalCount"][0][0], int)


def test_periods_align_on_time_at_or_the_first_instance(
    client: TestClient, runtime: HubRuntime
) -> None:
    data = [(1, at(10, 5)), (2, at(10, 25)), (3, at(10, 45)), (4, at(11, 10))]
    create(client, operator(runtime), vehicle(data))

    def periods(**params: str) -> list[list[Any]]:
        body = get(client, options="aggregatedValues", aggrMethods="sum", **params)
        result: list[list[Any]] = body["speed"]["sum"]
        return result

    assert periods(aggrPeriodDuration="PT30M") == [
        [3, at(10, 5), at(10, 35)],
        [3, at(10, 35), at(11, 5)],
        [4, at(11, 5), at(11, 35)],
    ]
    assert periods(aggrPeriodDuration="PT30M", timerel="after", timeAt=at(10)) == [
        [3, at(10), at(10, 30)],
        [3, at(10, 30), at(11)],
        [4, at(11), at(11, 30)],
    ]
    # before: periods still run forwards, aligned on timeAt
    assert periods(aggrPeriodDuration="PT30M", timerel="before", timeAt=at(11)) == [
        [3, at(10), at(10, 30)],
        [3, at(10, 30), at(11)],
    ]
    # no period (or a zero one): the whole window
    assert periods() == [[10, at(10, 5), at(11, 10)]]
    assert periods(aggrPeriodDuration="PT0S", timerel="after", timeAt=at(10)) == [
        [10, at(10), at(11, 10)]
    ]
    whole = periods(timerel="between", timeAt=at(10, 20), endTimeAt=at(11))
    assert whole == [[5, at(10, 20), at(11)]]
    assert periods(aggrPeriodDuration="PT30M", lastN="1") == [[4, at(11, 5), at(11, 35)]]


def test_aggregates_of_booleans_strings_and_datasets(
    client: TestClient, runtime: HubRuntime
) -> None:
    body = {
        "id": CAR,
        "type": "Vehicle",
        "moving": instances("moving", [(True, at(10)), (False, at(10, 1)), (True, at(10, 2))]),
        "driver": instances("driver", [("bob", at(10)), ("alice", at(10, 1)), ("bob", at(10, 2))]),
        "speed": [
            {"type": "Property", "value": 1, "observedAt": at(10)},
            {"type": "Property", "value": 5, "observedAt": at(10), "datasetId": "urn:gps"},
            {"type": "Property", "value": 7, "observedAt": at(10, 1), "datasetId": "urn:gps"},
        ],
    }
    create(client, operator(runtime), body)
    methods = "totalCount,distinctCount,sum,avg,min,max,stddev,sumsq"
    found = get(client, options="aggregatedValues", aggrMethods=methods)
    moving = {m: v[0][0] for m, v in found["moving"].items() if m != "type"}
    assert moving["totalCount"] == 3
    assert moving["distinctCount"] == 2
    assert moving["sum"] == 2
    assert moving["avg"] == pytest.approx(2 / 3)
    assert moving["min"] is False
    assert moving["max"] is True
    assert moving["sumsq"] == 2
    assert moving["stddev"] == pytest.approx(math.sqrt(2 / 9))
    driver = {m: v for m, v in found["driver"].items() if m != "type"}
    assert set(driver) == set(methods.split(","))
    assert driver["min"][0][0] == "alice"
    assert driver["max"][0][0] == "bob"
    assert driver["distinctCount"][0][0] == 2
    assert driver["sum"] == []  # no numbers: left out of the period
    speed = found["speed"]
    assert isinstance(speed, list)
    default, gps = speed
    assert "datasetId" not in default
    assert default["sum"][0][0] == 1
    assert gps["datasetId"] == "urn:gps"
    assert gps["sum"][0][0] == 12
    assert gps["sum"][0][1:] == [at(10), at(10, 1)]


# --- paging --------------------------------------------------------------------------------------


def test_content_range_pages_walk_the_whole_history(
    client: TestClient, runtime: HubRuntime
) -> None:
    start = dt.datetime(2018, 8, 1, tzinfo=UTC)

    def stamp(seconds: int) -> str:
        return (start + dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

    speed = [(float(i), stamp(60 * i)) for i in range(47)]
    fuel = [(float(i), stamp(90 * i + 30)) for i in range(23)]
    body = vehicle(speed, fuel=instances("fuel", fuel))
    create(client, operator(runtime), body)
    client.app.state.ngsi_ld.temporal_page_size = 10  # type: ignore[attr-defined]
    seen: dict[str, list[str]] = {"speed": [], "fuel": []}
    params: dict[str, str] = {}
    pages = 0
    while True:
        response = client.get(f"{TEMPORAL}/{CAR}", params=params)
        pages += 1
        found = response.json()
        for name in seen:
            assert len(found.get(name, [])) <= 10
            seen[name] += times(found.get(name, []))
        if response.status_code == 200:
            assert "content-range" not in response.headers
            break
        assert response.status_code == 206, response.text
        unit, _, span = response.headers["Content-Range"].partition(" ")
        assert unit == "date-time"
        assert span.endswith("/*")
        first, last = span[: len(span) - 2].split("Z-")
        assert first + "Z" == min(t for name in seen for t in times(found.get(name, [])))
        params = {"timerel": "after", "timeAt": last}
    assert seen["speed"] == [t for _, t in speed]
    assert seen["fuel"] == [t for _, t in fuel]
    assert pages >= 5

    backwards = client.get(f"{TEMPORAL}/{CAR}", params={"lastN": "25", "attrs": "speed"})
    assert backwards.status_code == 206
    kept = times(backwards.json()["speed"])
    assert kept == [t for _, t in speed[-10:]]
    assert backwards.headers["Content-Range"] == f"date-time {kept[-1]}-{kept[0]}/25"


# --- writes --------------------------------------------------------------------------------------


def test_post_creates_then_adds_and_keeps_the_current_value(
    client: TestClient, runtime: HubRuntime
) -> None:
    headers = operator(runtime)
    response = client.post(TEMPORAL, json=vehicle(SPEEDS[:3]), headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"{TEMPORAL}/{CAR}"
    assert [i["value"] for i in get(client)["speed"]] == [0.0, 10.0, 20.0]
    current = client.get(f"{BASE}/entities/{CAR}").json()
    assert current["speed"]["value"] == 20.0
    assert current["speed"]["observedAt"] == at(10, 20)

    older = client.post(TEMPORAL, json=vehicle([(-5.0, at(9))]), headers=headers)
    assert older.status_code == 204, older.text
    assert client.get(f"{BASE}/entities/{CAR}").json()["speed"]["value"] == 20.0

    newer = {"speed": instances("speed", SPEEDS[3:]), "fuel": instances("fuel", [(9, at(9))])}
    added = client.post(f"{TEMPORAL}/{CAR}/attrs", json=newer, headers=headers)
    assert added.status_code == 204, added.text
    history = get(client)
    assert [i["value"] for i in history["speed"]] == [-5.0, 0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert [i["value"] for i in history["fuel"]] == [9]
    now = client.get(f"{BASE}/entities/{CAR}").json()
    assert now["speed"]["value"] == 50.0
    assert now["fuel"]["value"] == 9

    again = client.post(TEMPORAL, json=vehicle([(99.0, at(10))]), headers=headers)
    assert again.status_code == 204  # an instance at a stored instant replaces it
    assert [i["value"] for i in get(client)["speed"]][:3] == [-5.0, 99.0, 10.0]


def test_instances_are_modified_and_deleted_by_instance_id(
    client: TestClient, runtime: HubRuntime
) -> None:
    headers = operator(runtime)
    create(client, headers, vehicle(SPEEDS[:3]))
    ids = [i["instanceId"] for i in get(client)["speed"]]
    assert ids == [i["instanceId"] for i in get(client)["speed"]]  # stable

    patch = {"type": "Property", "value": 11.5, "unitCode": "KMH"}
    changed = client.patch(f"{TEMPORAL}/{CAR}/attrs/speed/{ids[1]}", json=patch, headers=headers)
    assert changed.status_code == 204, changed.text
    middle = get(client)["speed"][1]
    assert middle["value"] == 11.5
    assert middle["unitCode"] == "KMH"
    assert middle["instanceId"] == ids[1]
    moved = {"value": 1, "observedAt": at(12)}
    problem(
        client.patch(f"{TEMPORAL}/{CAR}/attrs/speed/{ids[1]}", json=moved, headers=headers),
        400,
        "BadRequestData",
    )

    latest = client.patch(
        f"{TEMPORAL}/{CAR}/attrs/speed/{ids[2]}", json={"value": 21}, headers=headers
    )
    assert latest.status_code == 204
    assert client.get(f"{BASE}/entities/{CAR}").json()["speed"]["value"] == 21

    gone = client.delete(f"{TEMPORAL}/{CAR}/attrs/speed/{ids[2]}", headers=headers)
    assert gone.status_code == 204, gone.text
    assert [i["instanceId"] for i in get(client)["speed"]] == ids[:2]
    current = client.get(f"{BASE}/entities/{CAR}").json()["speed"]
    assert (current["value"], current["observedAt"]) == (11.5, at(10, 10))
    again = client.delete(f"{TEMPORAL}/{CAR}/attrs/speed/{ids[2]}", headers=headers)
    problem(again, 404, "ResourceNotFound")
    other = client.delete(f"{TEMPORAL}/{CAR}/attrs/fuel/{ids[0]}", headers=headers)
    problem(other, 404, "ResourceNotFound")
    junk = client.delete(f"{TEMPORAL}/{CAR}/attrs/speed/urn:ngsi-ld:Instance:!!", headers=headers)
    problem(junk, 400, "BadRequestData")


def test_delete_attribute_and_entity(client: TestClient, runtime: HubRuntime) -> None:
    headers = operator(runtime)
    body = vehicle(SPEEDS[:2])
    body["speed"] += instances("speed", [(7, at(10))], datasetId="urn:gps")
    body["fuel"] = instances("fuel", [(9, at(9))])
    create(client, headers, body)
    url = f"{TEMPORAL}/{CAR}/attrs/speed"
    assert client.delete(url, headers=headers).status_code == 204
    left = get(client)["speed"]
    assert [(i["value"], i.get("datasetId")) for i in left] == [(7, "urn:gps")]
    both = client.delete(url, params={"deleteAll": "true", "datasetId": "x"}, headers=headers)
    problem(both, 400, "BadRequestData")
    assert client.delete(url, params={"deleteAll": "true"}, headers=headers).status_code == 204
    assert "speed" not in get(client)
    assert "speed" not in client.get(f"{BASE}/entities/{CAR}").json()
    problem(client.delete(url, headers=headers), 404, "ResourceNotFound")

    assert client.delete(f"{TEMPORAL}/{CAR}", headers=headers).status_code == 204
    problem(client.get(f"{TEMPORAL}/{CAR}"), 404, "ResourceNotFound")
    problem(client.get(f"{BASE}/entities/{CAR}"), 404, "ResourceNotFound")
    problem(client.delete(f"{TEMPORAL}/{CAR}", headers=headers), 404, "ResourceNotFound")


def test_writes_need_a_writer_for_the_entity(client: TestClient, runtime: HubRuntime) -> None:
    body = vehicle(SPEEDS[:1])
    problem(client.post(TEMPORAL, json=body), 401, "Unauthorized")
    citizen = create_user_with_token(runtime, "jo", "citizen")
    as_citizen = {"Authorization": f"Bearer {citizen}"}
    problem(client.post(TEMPORAL, json=body, headers=as_citizen), 403, "Forbidden")
    device = {"Authorization": f"Bearer {create_device(runtime)}"}
    problem(client.post(TEMPORAL, json=body, headers=device), 403, "Forbidden")
    own = {"id": AQ, "type": "AirQualityObserved", "no2": instances("no2", [(3, at(10))])}
    assert client.post(TEMPORAL, json=own, headers=device).status_code == 204
    assert [i["value"] for i in get(client, AQ, attrs="no2")["no2"]] == [3]
    create(client, operator(runtime), body)
    for response in (
        client.delete(f"{TEMPORAL}/{CAR}"),
        client.delete(f"{TEMPORAL}/{CAR}", headers=device),
        client.post(f"{TEMPORAL}/{CAR}/attrs", json={}, headers=as_citizen),
    ):
        assert response.status_code in (401, 403), response.text


def test_bad_bodies(client: TestClient, runtime: HubRuntime) -> None:
    headers = operator(runtime)
    untimed = {"id": CAR, "type": "Vehicle", "speed": {"type": "Property", "value": 1}}
    problem(client.post(TEMPORAL, json=untimed, headers=headers), 400, "BadRequestData")
    twice = vehicle([(1, at(10)), (2, at(10))])
    problem(client.post(TEMPORAL, json=twice, headers=headers), 400, "BadRequestData")
    nameless = {"speed": instances("speed", [(1, at(10))])}
    problem(client.post(TEMPORAL, json=nameless, headers=headers), 400, "BadRequestData")
    missing = client.post(f"{TEMPORAL}/{CAR}/attrs", json=nameless, headers=headers)
    problem(missing, 404, "ResourceNotFound")


# --- read errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"timerel": "during", "timeAt": at(10)},
        {"timerel": "before"},
        {"timerel": "between", "timeAt": at(10)},
        {"timerel": "between", "timeAt": at(10), "endTimeAt": at(9)},
        {"timerel": "after", "timeAt": "yesterday"},
        {"lastN": "0"},
        {"options": "aggregatedValues"},
        {"options": "aggregatedValues", "aggrMethods": "median"},
        {"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "P1M"},
        {"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "1h"},
        {"options": "temporalValues,aggregatedValues", "aggrMethods": "avg"},
        {"options": "nonsense"},
    ],
)
def test_bad_query_parameters(
    client: TestClient, runtime: HubRuntime, params: dict[str, str]
) -> None:
    create(client, operator(runtime), vehicle(SPEEDS[:1]))
    problem(client.get(f"{TEMPORAL}/{CAR}", params=params), 400, "BadRequestData")


def test_unknown_entity_and_unsupported_time_property(
    client: TestClient, runtime: HubRuntime
) -> None:
    problem(client.get(f"{TEMPORAL}/urn:ngsi-ld:Thing:none"), 404, "ResourceNotFound")
    create(client, operator(runtime), vehicle(SPEEDS[:1]))
    modified = client.get(f"{TEMPORAL}/{CAR}", params={"timeproperty": "modifiedAt"})
    problem(modified, 422, "OperationNotSupported")
    problem(client.get(TEMPORAL), 400, "BadRequestData")
    problem(client.get(TEMPORAL, params={"type": "(A;B"}), 400, "BadRequestData")


# --- query ---------------------------------------------------------------------------------------


def test_query_by_type_pages_entities_and_filters_on_current_state(
    client: TestClient, runtime: HubRuntime
) -> None:
    for i in range(3):
        seed(runtime, {"id": f"urn:ngsi-ld:Bike:b{i}", "type": "Bike", "dock": {"value": i}})
    seed(runtime, {"id": "urn:ngsi-ld:Lot:l0", "type": "Lot", "free": {"value": 1}})
    seed(runtime, {"id": "urn:ngsi-ld:Tree:t0", "type": "Tree", "free": {"value": 1}})
    headers = operator(runtime)
    for i in range(3):
        history = {"id": f"urn:ngsi-ld:Bike:b{i}", "type": "Bike"}
        history["speed"] = instances("speed", [(i, at(10)), (i + 1, at(11))])
        assert client.post(TEMPORAL, json=history, headers=headers).status_code == 204

    def query(**params: str) -> Any:
        response = client.get(TEMPORAL, params=params)
        assert response.status_code == 200, response.text
        return response

    page = query(type="Bike|Lot", limit="2", count="true")
    assert page.headers["NGSILD-Results-Count"] == "4"
    assert [e["id"] for e in page.json()] == ["urn:ngsi-ld:Bike:b0", "urn:ngsi-ld:Bike:b1"]
    assert 'rel="next"' in page.headers["link"]
    rest = query(type="Bike,Lot", limit="2", offset="2").json()
    assert [e["id"] for e in rest] == ["urn:ngsi-ld:Bike:b2", "urn:ngsi-ld:Lot:l0"]
    assert [i["value"] for i in rest[0]["speed"]] == [2, 3]
    assert [i["value"] for i in rest[1]["free"]] == [1]

    speeds = query(type="Bike", attrs="speed", timerel="after", timeAt=at(10, 30)).json()
    assert [[i["value"] for i in e["speed"]] for e in speeds] == [[1], [2], [3]]
    assert all(set(e) == {"id", "type", "speed"} for e in speeds)
    fast = query(type="Bike", q="dock>0", options="temporalValues", attrs="speed").json()
    assert [e["id"] for e in fast] == ["urn:ngsi-ld:Bike:b1", "urn:ngsi-ld:Bike:b2"]
    assert fast[0]["speed"]["values"] == [[1, at(10)], [2, at(11)]]
    summed = query(type="Bike", options="aggregatedValues", aggrMethods="sum", attrs="speed")
    assert [e["speed"]["sum"][0][0] for e in summed.json()] == [1, 3, 5]
    assert query(type="(Bike;Lot)").json() == []
    by_id = query(id="urn:ngsi-ld:Tree:t0", lastN="1").json()
    assert [e["id"] for e in by_id] == ["urn:ngsi-ld:Tree:t0"]


def test_query_pages_all_entities_at_one_instant(client: TestClient, runtime: HubRuntime) -> None:
    headers = operator(runtime)
    for i in range(2):
        body = {"id": f"urn:ngsi-ld:Bike:b{i}", "type": "Bike"}
        body["speed"] = instances("speed", [(m, at(10, m + i)) for m in range(0, 30, 2)])
        create(client, headers, body)
    client.app.state.ngsi_ld.temporal_page_size = 5  # type: ignore[attr-defined]
    response = client.get(TEMPORAL, params={"type": "Bike"})
    assert response.status_code == 206
    b0, b1 = response.json()
    assert times(b0["speed"]) == [at(10, m) for m in range(0, 10, 2)]
    assert times(b1["speed"]) == [at(10, m + 1) for m in range(0, 8, 2)]
    assert response.headers["Content-Range"] == f"date-time {at(10)}-{at(10, 8)}/*"


def test_ld_json_and_a_user_context(client: TestClient, runtime: HubRuntime) -> None:
    create(client, operator(runtime), vehicle(SPEEDS[:1]))
    ld = client.get(f"{TEMPORAL}/{CAR}", headers={"Accept": "application/ld+json"})
    assert ld.headers["content-type"].startswith("application/ld+json")
    assert "@context" in ld.json()
    assert ld.json()["speed"][0]["value"] == 0.0


def test_instance_ids_decode_to_the_row_key() -> None:
    when = dt.datetime(2018, 8, 1, 10, 0, 0, 123456, tzinfo=UTC)
    default = instance_id("speed", "", when)
    gps = instance_id("speed", "urn:ngsi-ld:Dataset:gps", when)
    assert default.startswith("urn:ngsi-ld:Instance:")
    assert len({default, gps, instance_id("fuel", "", when)}) == 3
    assert parse_instance_id(default, "speed") == InstanceKey("", when)
    assert parse_instance_id(gps, "speed") == InstanceKey("urn:ngsi-ld:Dataset:gps", when)
    shouted = "urn:ngsi-ld:Instance:" + gps.removeprefix("urn:ngsi-ld:Instance:").upper()
    assert parse_instance_id(shouted, "speed") == InstanceKey("urn:ngsi-ld:Dataset:gps", when)
    assert parse_instance_id(default, "fuel") is None  # another attribute's instance
    for junk in ("urn:ngsi-ld:Instance:abc", "urn:ngsi-ld:Instance:!", default[21:]):
        with pytest.raises(NgsiLdError):
            parse_instance_id(junk, "speed")


def test_a_tenant_that_does_not_exist_has_no_history(client: TestClient) -> None:
    ghost = {"NGSILD-Tenant": "ghost-temporal"}
    response = client.get(f"{TEMPORAL}/{CAR}", headers=ghost)
    problem(response, 404, "NonexistentTenant")
