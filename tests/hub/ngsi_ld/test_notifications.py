"""NGSI-LD notifications end to end: a real HTTP receiver, real ingest, real Mosquitto.

Every change is made the way clients make it (NGSI-LD writes over HTTP, HTTP ingest, MQTT
ingest through Mosquitto) and the notification is awaited at a receiver listening on a
free port, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from citysmart.core.events import EventBus, ReadingsStored
from citysmart.core.time import utcnow
from citysmart.hub.mqtt import BrokerAddress, MqttIngest, device_topic
from citysmart.hub.ngsi_ld.codec import expanded_name, expanded_type
from citysmart.hub.ngsi_ld.context import core_context
from citysmart.hub.ngsi_ld.entity_store import insert_entity
from citysmart.hub.ngsi_ld.model import AttributeInstance, EntityFragment, Kind
from citysmart.hub.ngsi_ld.notifier import Notifier, backoff, changed_before, coalesce
from citysmart.hub.ngsi_ld.subscription_store import new_row
from citysmart.hub.ngsi_ld.subscriptions import parse_subscription
from citysmart.hub.ngsi_ld.tables import NotificationRow
from citysmart.hub.runtime import HubRuntime
from tests.conftest import free_port
from tests.factories import create_device, create_user_with_token, pm_pack
from tests.servers import wait_until

BASE = "/ngsi-ld/v1"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
ROAD = "urn:ngsi-ld:AirQualityObserved:road-1"


# --- a receiver -------------------------------------------------------------------------------


class Receiver:
    """An HTTP server that records the notifications POSTed to it."""

    def __init__(self, port: int | None = None, delay: float = 0.0) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/notify"
        self.delay = delay
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(receiver.delay)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append((headers, data))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def bodies(self, subscription_id: str) -> list[dict[str, Any]]:
        return [b for _, b in self.received if b.get("subscriptionId") == subscription_id]

    def headers(self, subscription_id: str) -> list[dict[str, str]]:
        return [h for h, b in self.received if b.get("subscriptionId") == subscription_id]

    def wait(self, subscription_id: str, count: int = 1, timeout: float = 10) -> list[Any]:
        wait_until(
            lambda: len(self.bodies(subscription_id)) >= count,
            timeout,
            f"{count} notification(s) of {subscription_id}",
        )
        return self.bodies(subscription_id)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


@pytest.fixture
def op(runtime: HubRuntime) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_user_with_token(runtime, 'op', 'operator')}"}


@pytest.fixture
def notifier(client: TestClient, runtime: HubRuntime) -> Notifier:
    """The app's notifier, ticking fast and retrying soon."""
    assert runtime.notifier is not None
    runtime.notifier.tick_s = 0.05
    runtime.notifier.retry_base_s = 0.1
    return runtime.notifier


def subscribe(
    client: TestClient, op: dict[str, str], uri: str, *, tenant: str = "", **members: Any
) -> str:
    sub_id = f"urn:ngsi-ld:Subscription:{uuid.uuid4().hex[:8]}"
    notification = {"endpoint": {"uri": uri}, **members.pop("notification", {})}
    body = {
        "id": sub_id,
        "type": "Subscription",
        "entities": [{"type": "AirQualityObserved"}],
        "notification": notification,
        **members,
    }
    headers = {**op, "NGSILD-Tenant": tenant} if tenant else op
    created = client.post(f"{BASE}/subscriptions", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return sub_id


# --- writes ---------------------------------------------------------------------------------


def ngsi_write(
    client: TestClient,
    op: dict[str, str],
    values: dict[str, Any],
    *,
    create: bool = False,
    entity_id: str = ROAD,
    tenant: str = "",
) -> None:
    """Create the entity or update these attributes over the NGSI-LD API."""
    headers = {**op, "NGSILD-Tenant": tenant} if tenant else op
    attrs = {n: {"type": "Property", "value": v} for n, v in values.items()}
    if create:
        body = {"id": entity_id, "type": "AirQualityObserved", **attrs}
        response = client.post(f"{BASE}/entities", json=body, headers=headers)
        assert response.status_code == 201, response.text
    else:
        response = client.patch(f"{BASE}/entities/{entity_id}/attrs", json=attrs, headers=headers)
        assert response.status_code == 204, response.text


def store_and_announce(
    factory: sessionmaker[Session], events: EventBus, values: dict[str, Any]
) -> None:
    """Create an entity as the write routes do without an app: commit, then announce."""
    now = utcnow()
    attrs = tuple(
        AttributeInstance(
            name=expanded_name(n), kind=Kind.PROPERTY, value=v, created_at=now, modified_at=now
        )
        for n, v in values.items()
    )
    types = (expanded_type("AirQualityObserved"),)
    with factory() as session:
        insert_entity(session, EntityFragment(id=ROAD, types=types, attributes=attrs), now)
        session.commit()
    names = frozenset(values)
    events.publish(ReadingsStored(ROAD, names, now, len(names), trigger="entityCreated"))


def subscription(client: TestClient, op: dict[str, str], sub_id: str) -> dict[str, Any]:
    got = client.get(f"{BASE}/subscriptions/{sub_id}", headers=op)
    assert got.status_code == 200, got.text
    found: dict[str, Any] = got.json()
    return found


# --- pure parts -------------------------------------------------------------------------------


def test_backoff_doubles_up_to_a_ceiling() -> None:
    assert [backoff(n, 1.0, 10.0) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 10.0]


def test_events_of_one_entity_merge() -> None:
    now = utcnow()
    events = [
        ReadingsStored("urn:a", frozenset({"pm10"}), now, 1),
        ReadingsStored("urn:a", frozenset({"no2"}), now, 1),
        ReadingsStored("urn:a", frozenset({"pm10"}), now, 1, trigger="attributeCreated"),
        ReadingsStored("urn:b", frozenset({"pm10"}), now, 1, tenant="t1"),
        ReadingsStored("urn:b", frozenset(), now, 1, tenant="t1"),
    ]
    grouped = coalesce(events)
    assert [(c.entity_id, c.trigger.value) for c in grouped[""]] == [
        ("urn:a", "attributeUpdated"),
        ("urn:a", "attributeCreated"),
    ]
    assert grouped[""][0].attributes == {expanded_name("pm10"), expanded_name("no2")}
    assert grouped["t1"][0].attributes == frozenset()  # no names: every attribute


def test_a_change_stored_before_a_subscription_is_not_its_business() -> None:
    """The matcher may run late: it must not notify a new subscription of older changes."""
    made = utcnow()
    sub = parse_subscription(
        {
            "type": "Subscription",
            "entities": [{"type": "AirQualityObserved"}],
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
        },
        expand_term=lambda t: t,
        expand_type=lambda t: t,
        now=made,
    )
    early, late = made - dt.timedelta(seconds=1), made + dt.timedelta(seconds=1)
    events = [
        ReadingsStored("urn:a", frozenset({"pm10"}), early, 1, stored_at=early),
        ReadingsStored("urn:b", frozenset({"pm10"}), early, 1, stored_at=early),
        ReadingsStored("urn:b", frozenset({"pm25"}), late, 1, stored_at=late),
    ]
    changes = {c.entity_id: c for c in coalesce(events)[""]}
    assert changed_before(changes["urn:a"], sub)
    assert not changed_before(changes["urn:b"], sub)  # its newest event came after


# --- end to end -------------------------------------------------------------------------------


def test_an_ngsi_ld_write_notifies_in_each_format(
    client: TestClient,
    runtime: HubRuntime,
    op: dict[str, str],
    receiver: Receiver,
    notifier: Notifier,
) -> None:
    watched = {"watchedAttributes": ["pm10"], "q": "pm10>30"}
    normalized = subscribe(
        client, op, receiver.url, **watched, notification={"attributes": ["pm10"]}
    )
    concise = subscribe(
        client,
        op,
        receiver.url,
        notification={
            "format": "concise",
            "endpoint": {
                "uri": receiver.url,
                "accept": "application/ld+json",
                "receiverInfo": [{"key": "X-Token", "value": "secret-1"}],
            },
        },
    )
    key_values = subscribe(
        client, op, receiver.url, **watched, notification={"format": "keyValues"}
    )
    throttled = subscribe(client, op, receiver.url, **watched, throttling=60)
    deleted = subscribe(client, op, receiver.url, notificationTrigger=["entityDeleted"])
    ngsi_write(client, op, {"pm10": 10.0, "no2": 7.0}, create=True)  # q false
    receiver.wait(concise)  # the entity's creation
    ngsi_write(client, op, {"pm10": 40.0})
    receiver.wait(normalized)
    receiver.wait(throttled)
    ngsi_write(client, op, {"no2": 8.0})  # not watched
    ngsi_write(client, op, {"pm10": 41.0})
    receiver.wait(key_values, 2)
    receiver.wait(normalized, 2)

    first = receiver.bodies(normalized)[0]
    assert first["type"] == "Notification"
    assert first["id"].startswith("urn:ngsi-ld:Notification:")
    assert first["notifiedAt"].endswith("Z")
    (entity,) = first["data"]
    assert set(entity) == {"id", "type", "pm10"}  # notification.attributes
    assert entity["type"] == "AirQualityObserved"
    assert entity["pm10"] == {"type": "Property", "value": 40.0}
    headers = receiver.headers(normalized)[0]
    assert headers["content-type"] == "application/json"
    assert f"<{CORE_CONTEXT}>" in headers["link"]
    assert CONTEXT_REL in headers["link"]

    assert [b["data"][0]["pm10"] for b in receiver.bodies(key_values)] == [40.0, 41.0]
    assert [b["data"][0]["pm10"]["value"] for b in receiver.bodies(normalized)] == [40.0, 41.0]

    concise_bodies = receiver.wait(concise, 3)
    assert concise_bodies[0]["data"][0]["pm10"] == 10.0
    assert concise_bodies[0]["data"][0]["no2"] == 7.0
    assert concise_bodies[0]["@context"] == CORE_CONTEXT
    concise_headers = receiver.headers(concise)[0]
    assert concise_headers["content-type"] == "application/ld+json"
    assert "link" not in concise_headers
    assert concise_headers["x-token"] == "secret-1"

    assert len(receiver.bodies(throttled)) == 1  # 41 came within the throttling period
    assert receiver.bodies(deleted) == []
    assert client.delete(f"{BASE}/entities/{ROAD}", headers=op).status_code == 204
    (gone,) = receiver.wait(deleted)
    assert gone["data"] == [{"id": ROAD, "type": "AirQualityObserved"}]

    wait_until(lambda: subscription(client, op, key_values)["notification"]["timesSent"] == 2)
    status = subscription(client, op, key_values)["notification"]
    assert status["status"] == "ok"
    assert status["timesFailed"] == 0
    assert status["lastSuccess"] == status["lastNotification"]


def test_a_tenants_changes_notify_its_subscriptions_only(
    client: TestClient,
    runtime: HubRuntime,
    op: dict[str, str],
    receiver: Receiver,
    notifier: Notifier,
) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    own = subscribe(client, op, receiver.url, tenant=tenant)
    default = subscribe(client, op, receiver.url)
    ngsi_write(client, op, {"pm10": 12.0}, create=True, tenant=tenant)
    (body,) = receiver.wait(own)
    assert body["data"][0]["pm10"]["value"] == 12.0
    assert receiver.headers(own)[0]["ngsild-tenant"] == tenant
    ngsi_write(client, op, {"pm10": 13.0}, create=True)
    (other,) = receiver.wait(default)
    assert other["data"][0]["pm10"]["value"] == 13.0
    assert len(receiver.bodies(own)) == 1


def ingest(client: TestClient, key: str, pack: list[dict[str, Any]]) -> float:
    """Post a SenML pack; return how long the request took."""
    started = time.monotonic()
    response = client.post(
        "/api/v1/ingest",
        content=json.dumps(pack).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/senml+json"},
    )
    assert response.status_code == 202, response.text
    return time.monotonic() - started


def test_an_http_reading_notifies_without_waiting_for_the_receiver(
    client: TestClient, runtime: HubRuntime, op: dict[str, str], notifier: Notifier
) -> None:
    slow = Receiver(delay=1.0).start()
    try:
        key = create_device(runtime)
        sub_id = subscribe(
            client, op, slow.url, watchedAttributes=["pm10"], notification={"format": "keyValues"}
        )
        took = ingest(client, key, pm_pack(3))
        assert took < 0.9  # the receiver takes 1 s to answer
        (body,) = slow.wait(sub_id, timeout=10)
        (entity,) = body["data"]
        assert entity["id"] == "urn:ngsi-ld:AirQualityObserved:aq-0001"
        assert entity["pm10"] == 22.0
        assert entity["location"] == {"type": "Point", "coordinates": [127.25, 36.5]}
    finally:
        slow.stop()


@pytest.mark.mosquitto
def test_an_mqtt_reading_notifies_over_http_and_mqtt(
    client: TestClient,
    runtime: HubRuntime,
    op: dict[str, str],
    receiver: Receiver,
    notifier: Notifier,
    mosquitto_url: str,
) -> None:
    device_id = f"nt-{uuid.uuid4().hex[:10]}"
    entity_id = f"urn:ngsi-ld:AirQualityObserved:{device_id}"
    create_device(runtime, device_id, entity_id)
    topic = f"citysmart-test/notify/{uuid.uuid4().hex[:10]}"
    got: list[dict[str, Any]] = []
    listener = _mqtt_client(mosquitto_url)
    listener.on_message = lambda _c, _u, message: got.append(json.loads(message.payload))
    subscribed = threading.Event()
    listener.on_subscribe = lambda *_: subscribed.set()
    listener.subscribe(topic, qos=1)
    assert subscribed.wait(10)
    by_id = [{"type": "AirQualityObserved", "id": entity_id}]
    over_http = subscribe(client, op, receiver.url, entities=by_id)
    over_mqtt = subscribe(client, op, f"{mosquitto_url}/{topic}", entities=by_id)
    consumer = MqttIngest(
        runtime.ingestor,
        mosquitto_url,
        f"test-hub-{uuid.uuid4().hex[:8]}",
        f"test-group-{uuid.uuid4().hex[:8]}",
        session_expiry_s=60,
        batch_wait_s=0.02,
    )
    consumer.start()
    try:
        assert consumer.subscribed.wait(15), consumer.last_error
        device = _mqtt_client(mosquitto_url)
        device.publish(device_topic(device_id), json.dumps(pm_pack(2)), qos=1).wait_for_publish(5)
        (body,) = receiver.wait(over_http)
        assert body["data"][0]["id"] == entity_id
        assert body["data"][0]["pm10"]["value"] == 21.0
        assert body["data"][0]["pm10"]["unitCode"] == "GQ"
        wait_until(lambda: len(got) == 1, 10, "the MQTT notification")
        (message,) = got
        assert message["metadata"]["Content-Type"] == "application/json"
        assert CONTEXT_REL in message["metadata"]["Link"]
        assert message["body"]["subscriptionId"] == over_mqtt
        assert message["body"]["data"][0]["pm10"]["value"] == 21.0
        _stop(device)
    finally:
        consumer.stop()
        _stop(listener)


def _mqtt_client(url: str) -> mqtt.Client:
    address = BrokerAddress.parse(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:10]}")
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect(address.host, address.port)
    client.loop_start()
    assert connected.wait(10)
    return client


def _stop(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def outbox(runtime: HubRuntime) -> list[NotificationRow]:
    with runtime.sessions() as session:
        return list(session.scalars(select(NotificationRow).order_by(NotificationRow.id)))


def test_a_down_receiver_is_retried_until_it_comes_back(
    client: TestClient, runtime: HubRuntime, op: dict[str, str], notifier: Notifier
) -> None:
    later = Receiver()  # not listening yet
    sub_id = subscribe(client, op, later.url)
    ngsi_write(client, op, {"pm10": 50.0}, create=True)

    def failing() -> dict[str, Any]:
        found: dict[str, Any] = subscription(client, op, sub_id)["notification"]
        return found

    wait_until(lambda: failing()["timesFailed"] >= 2, what="two failed attempts")
    status = failing()
    assert status["status"] == "failed"
    assert status["lastFailure"] == status["lastNotification"]
    (row,) = outbox(runtime)
    assert row.status == "pending"
    assert row.attempts >= 2
    assert row.last_error
    assert "ConnectError" in row.last_error
    assert row.due_at > row.created_at + dt.timedelta(seconds=0.1 + 0.2 - 0.05)  # backing off
    later.start()
    try:
        (body,) = later.wait(sub_id)
        assert body["data"][0]["pm10"]["value"] == 50.0
        wait_until(lambda: failing()["status"] == "ok", what="the success booked")
        status = failing()
        assert status["timesSent"] == status["timesFailed"] + 1
        assert status["lastSuccess"] == status["lastNotification"]
        assert outbox(runtime) == []
    finally:
        later.stop()


def test_a_notification_fails_for_good_after_the_last_attempt(
    client: TestClient, runtime: HubRuntime, op: dict[str, str], notifier: Notifier
) -> None:
    runtime.settings.ngsi_ld_notify_attempts = 2
    sub_id = subscribe(client, op, f"http://127.0.0.1:{free_port()}/nobody")
    ngsi_write(client, op, {"pm10": 50.0}, create=True)
    wait_until(lambda: [r.status for r in outbox(runtime)] == ["failed"], what="a failed row")
    (row,) = outbox(runtime)
    assert row.attempts == 2
    assert row.last_error
    time.sleep(0.5)  # not retried any more
    status = subscription(client, op, sub_id)["notification"]
    assert (status["timesSent"], status["timesFailed"]) == (2, 2)


def test_a_periodic_subscription_notifies_the_current_state(
    client: TestClient,
    runtime: HubRuntime,
    op: dict[str, str],
    receiver: Receiver,
    notifier: Notifier,
) -> None:
    ngsi_write(client, op, {"pm10": 5.0}, create=True)
    ngsi_write(client, op, {"pm10": 6.0}, create=True, entity_id=ROAD + "b")
    sub_id = subscribe(
        client, op, receiver.url, timeInterval=1, q="pm10>5", notification={"format": "keyValues"}
    )
    first, second = receiver.wait(sub_id, 2, timeout=5)
    assert [e["id"] for e in first["data"]] == [ROAD + "b"]  # q: pm10>5
    assert second["data"][0]["pm10"] == 6.0
    gap = dt.datetime.fromisoformat(second["notifiedAt"]) - dt.datetime.fromisoformat(
        first["notifiedAt"]
    )
    assert gap >= dt.timedelta(seconds=1)


def test_pending_notifications_are_sent_by_the_next_runtime(runtime: HubRuntime) -> None:
    port = free_port()
    sub = parse_subscription(
        {
            "type": "Subscription",
            "entities": [{"type": "AirQualityObserved"}],
            "notification": {"endpoint": {"uri": f"http://127.0.0.1:{port}/notify"}},
        },
        expand_term=core_context().expand_term,
        expand_type=core_context().expand_type,
        now=utcnow(),
    )
    with runtime.sessions.begin() as session:
        session.add(new_row(sub, CORE_CONTEXT))
    runtime.start_events()
    assert runtime.notifier is not None
    runtime.notifier.retry_base_s = 0.3
    store_and_announce(runtime.sessions, runtime.events, {"pm10": 70.0})
    wait_until(lambda: [r.attempts for r in outbox(runtime)] == [1], what="a failed attempt")
    runtime.stop()
    later = Receiver(port).start()
    restarted = HubRuntime.create(runtime.settings)
    try:
        restarted.start_events()
        (body,) = later.wait(sub.id)
        assert body["data"][0]["pm10"]["value"] == 70.0
        wait_until(lambda: outbox(restarted) == [], what="the row deleted")
    finally:
        restarted.stop()
        later.stop()


def test_two_processes_send_each_notification_once(
    client: TestClient,
    runtime: HubRuntime,
    op: dict[str, str],
    receiver: Receiver,
    notifier: Notifier,
) -> None:
    """A second runtime (a ``citysmart worker``) hears relayed events but does not match them."""
    other = HubRuntime.create(runtime.settings)
    relayed: list[ReadingsStored] = []
    other.events.subscribe(relayed.append)
    try:
        other.start_events()
        assert other.notifier is not None
        other.notifier.tick_s = 0.05  # both senders race for every row
        if other.relay is not None:
            assert other.relay.listening.wait(10)
        sub_id = subscribe(client, op, receiver.url, notification={"format": "keyValues"})
        ngsi_write(client, op, {"pm10": 0.0}, create=True)
        for value in range(1, 6):
            ngsi_write(client, op, {"pm10": float(value)})
        wait_until(lambda: outbox(runtime) == [] and len(receiver.bodies(sub_id)) >= 1)
        time.sleep(0.3)
        bodies = receiver.bodies(sub_id)
        assert len({b["id"] for b in bodies}) == len(bodies)  # no notification sent twice
        assert bodies[-1]["data"][0]["pm10"] == 5.0
        status = subscription(client, op, sub_id)["notification"]
        assert status["timesSent"] == len(bodies)
        assert notifier.queued == len(bodies)
        assert other.notifier.queued == 0  # it matches only what it stores itself
        if other.relay is not None:
            assert {e.origin for e in relayed} - {""}  # it did hear the events
    finally:
        other.stop()
