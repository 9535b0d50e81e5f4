"""Remembered driver sizes steer plans only: a stale size never changes an answer."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from citysmart.hub.ngsi_ld.driver_sizes import SizeCache
from citysmart.hub.runtime import HubRuntime
from tests.hub.ngsi_ld.test_entity_writes import operator

BASE = "/ngsi-ld/v1"


def test_sizes_expire_and_the_oldest_leave_first() -> None:
    cache = SizeCache(ttl_s=0.05, capacity=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert cache.get("a") is None  # pushed out
    assert (cache.get("b"), cache.get("c")) == (2, 3)
    time.sleep(0.06)
    assert cache.get("c") is None


def test_a_query_right_after_the_data_changed_answers_the_new_data(
    client: TestClient, runtime: HubRuntime
) -> None:
    headers = operator(runtime)
    parks = [
        {
            "id": f"urn:ngsi-ld:OffStreetParking:s{i:03d}",
            "type": "OffStreetParking",
            "status": {"type": "Property", "value": "closed" if i else "open"},
        }
        for i in range(60)
    ]
    response = client.post(f"{BASE}/entityOperations/create", json=parks, headers=headers)
    assert response.status_code == 201
    query = {"type": "OffStreetParking", "q": 'status=="open"', "limit": 100}
    assert len(client.get(f"{BASE}/entities", params=query).json()) == 1  # "open" drives
    flip = [{**p, "status": {"type": "Property", "value": "open"}} for p in parks]
    response = client.post(f"{BASE}/entityOperations/update", json=flip, headers=headers)
    assert response.status_code == 204, response.text
    assert len(client.get(f"{BASE}/entities", params=query).json()) == 60  # size now stale
