"""Drive a running hub with ngsildclient, the third-party NGSI-LD client (Orange, PyPI).

Run by tests/interop/test_ngsildclient.py with the interpreter of ``.venv-interop`` (the
client pins an httpx the hub cannot share). Arguments: host, port, operator token,
notification receiver URL. Prints one JSON object with what it saw; any failed
expectation raises, so the exit status is not 0.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import requests
from ngsildclient import Client, Entity, SubscriptionBuilder

TYPE = "OffStreetParking"


class Bearer(requests.auth.AuthBase):
    """Send the operator's API token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def parking(number: int, free: int, when: dt.datetime) -> Entity:
    """Return one Sejong parking lot as an ngsildclient entity."""
    lot = Entity(TYPE, f"sejong-lot-{number:03d}")
    lot.prop("name", f"Sejong lot {number}")
    lot.prop("availableSpotNumber", free, observedat=when)
    lot.prop("totalSpotNumber", 200)
    lot.gprop("location", (36.48 + number / 1000, 127.26 + number / 1000))
    return lot


def check(condition: bool, what: str) -> None:
    """Fail the scenario with a message."""
    if not condition:
        raise AssertionError(what)


def main(host: str, port: int, token: str, receiver: str) -> dict[str, Any]:
    """Create, query, batch-upsert, subscribe and read temporal data; return what was seen."""
    seen: dict[str, Any] = {}
    client = Client(hostname=host, port=port, custom_auth=Bearer(token), verbose=False)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    first = parking(1, 120, now - dt.timedelta(hours=1))
    check(client.create(first) is True, "create returned False")
    got = client.get(first.id)
    check(got["availableSpotNumber"]["value"] == 120, f"retrieve: {got.to_dict()}")
    seen["retrieved"] = got.to_dict()

    result = client.upsert([parking(n, 10 * n, now) for n in range(2, 12)])
    check(result.ok, f"batch upsert failed: {result}")
    seen["upserted"] = result.n_ok

    few = client.query(type=TYPE, q="availableSpotNumber>=60")
    seen["query"] = sorted(e.id for e in few)
    check(len(few) == 7, f"query availableSpotNumber>=60 found {seen['query']}")
    seen["count"] = client.count(type=TYPE)
    check(seen["count"] == 11, f"count {seen['count']}")

    subscription = (
        SubscriptionBuilder(receiver)
        .description("free spots at Sejong lot 1")
        .select_type(TYPE)
        .watch(["availableSpotNumber"])
        .query("availableSpotNumber<50")
        .build()
    )
    seen["subscription"] = client.subscriptions.create(subscription)
    check(client.subscriptions.exists(seen["subscription"]), "subscription not found")

    # The lot fills up: a new value, which the subscription's q now matches.
    first.prop("availableSpotNumber", 7, observedat=now)
    result = client.upsert([first], update=True)
    check(result.ok, f"batch update failed: {result}")

    history = client.temporal.get(first.id, attrs=["availableSpotNumber"])
    seen["temporal"] = history
    values = history["availableSpotNumber"]["values"]
    check([v[0] for v in values][-2:] == [120, 7], f"temporal values {values}")
    client.close()
    return seen


if __name__ == "__main__":
    host, port, token, receiver = sys.argv[1:5]
    print(json.dumps(main(host, int(port), token, receiver), default=str))
