"""Many clients writing at once with one token: every write lands, none waits on another."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from citysmart.hub.runtime import HubRuntime
from tests.factories import create_user_with_token

BASE = "/ngsi-ld/v1"
WRITERS = 48  # more than the connection pool (20 + 10 overflow) and the thread pool (40)


def test_a_burst_of_creates_with_one_token_all_succeed(
    client: TestClient, runtime: HubRuntime
) -> None:
    token = create_user_with_token(runtime, "burst", "operator")
    headers = {"Authorization": f"Bearer {token}"}

    def create(number: int) -> int:
        body = {
            "id": f"urn:ngsi-ld:OffStreetParking:burst-{number:03d}",
            "type": "OffStreetParking",
            "availableSpotNumber": {"type": "Property", "value": number},
        }
        return client.post(f"{BASE}/entities", json=body, headers=headers).status_code

    with ThreadPoolExecutor(WRITERS) as pool:
        statuses = list(pool.map(create, range(WRITERS * 3)))
    assert statuses == [201] * (WRITERS * 3)
    count = client.get(
        f"{BASE}/entities", params={"type": "OffStreetParking", "count": "true", "limit": 0}
    )
    assert count.headers["NGSILD-Results-Count"] == str(WRITERS * 3)
