"""MQTT ingest: devices publish SenML packs at QoS 1; the hub stores them like HTTP packs.

Each test runs against the system Mosquitto (MQTT 5, shared subscription) and against the
embedded amqtt broker (MQTT 3.1.1, plain subscription), on SQLite and on PostgreSQL.
The broker is shared with other test runs: every test uses its own device ids, client ids
and share group, and looks only at its own devices' rows.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from citysmart.hub.broker import EmbeddedBroker
from citysmart.hub.ingest import Ingestor, Message
from citysmart.hub.models import DeadLetter, Device, Observation
from citysmart.hub.mqtt import BrokerAddress, MqttIngest, device_id_from_topic, device_topic
from citysmart.hub.registry import revoke_device
from citysmart.hub.runtime import HubRuntime
from tests.conftest import free_port
from tests.factories import create_device, pm_pack
from tests.servers import wait_until


@dataclass(frozen=True)
class Broker:
    url: str
    mqtt5: bool


@pytest.fixture(params=[pytest.param("mosquitto", marks=pytest.mark.mosquitto), "amqtt"])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    if request.param == "mosquitto":
        yield Broker(request.getfixturevalue("mosquitto_url"), mqtt5=True)
        return
    embedded = EmbeddedBroker("127.0.0.1", free_port())
    embedded.start()
    try:
        yield Broker(f"mqtt://127.0.0.1:{embedded.port}", mqtt5=False)
    finally:
        embedded.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


ConsumerFactory = Callable[..., MqttIngest]


@pytest.fixture
def consumer(broker: Broker, runtime: HubRuntime) -> Iterator[ConsumerFactory]:
    """Start MqttIngest workers on the test database; all are stopped afterwards."""
    started: list[MqttIngest] = []

    def start(
        ingestor: Ingestor | None = None, share_group: str | None = None, **kwargs: Any
    ) -> MqttIngest:
        worker = MqttIngest(
            ingestor or runtime.ingestor,
            broker.url,
            unique("test-hub"),
            share_group or unique("test-group"),
            mqtt5=broker.mqtt5,
            session_expiry_s=60,  # do not leave sessions behind on the shared broker
            batch_wait_s=0.02,
            **kwargs,
        )
        worker.start()
        started.append(worker)
        assert worker.subscribed.wait(15), f"no subscription: {worker.last_error}"
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def publish(broker: Broker) -> Iterator[Callable[[str, bytes | Any], None]]:
    """Publish at QoS 1 and wait for the broker's acknowledgement."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=unique("test-device"),
        protocol=mqtt.MQTTv5 if broker.mqtt5 else mqtt.MQTTv311,
    )
    address = BrokerAddress.parse(broker.url)
    if address.username:
        client.username_pw_set(address.username, address.password)
    client.connect(address.host, address.port)
    client.loop_start()

    def send(device_id: str, body: bytes | Any) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        info = client.publish(device_topic(device_id), payload, qos=1)
        info.wait_for_publish(10)
        assert info.is_published()

    yield send
    client.disconnect()
    client.loop_stop()


def new_device(runtime: HubRuntime) -> tuple[str, str]:
    device_id = unique("mq")
    entity_id = f"urn:ngsi-ld:AirQualityObserved:{device_id}"
    create_device(runtime, device_id, entity_id)
    return device_id, entity_id


def observations(runtime: HubRuntime, device_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    with runtime.sessions() as s:
        rows = s.execute(
            select(
                Observation.entity_id,
                Observation.device_id,
                Observation.attribute,
                Observation.num_value,
            )
            .where(Observation.device_id.in_(device_ids))
            .order_by(Observation.observed_at)
        )
        return [tuple(r) for r in rows]


def dead_letters(runtime: HubRuntime, device_ids: Sequence[str]) -> list[DeadLetter]:
    with runtime.sessions() as s:
        return list(
            s.scalars(
                select(DeadLetter)
                .where(DeadLetter.device_id.in_(device_ids))
                .order_by(DeadLetter.id)
            )
        )


def device(runtime: HubRuntime, device_id: str) -> Device:
    with runtime.sessions() as s:
        found = s.get(Device, device_id)
    assert found is not None
    return found


def test_device_topics() -> None:
    assert device_topic("aq-1") == "citysmart/v1/devices/aq-1/senml"
    assert device_id_from_topic("citysmart/v1/devices/aq-1/senml") == "aq-1"
    assert device_id_from_topic("citysmart/v1/devices//senml") is None
    assert device_id_from_topic("citysmart/v1/devices/aq-1/other") is None
    assert device_id_from_topic("citysmart/v2/devices/aq-1/senml") is None


def test_a_pack_is_stored_for_the_entity_of_the_device_in_the_topic(
    runtime: HubRuntime, consumer: ConsumerFactory, publish: Callable[[str, Any], None]
) -> None:
    device_id, entity_id = new_device(runtime)
    consumer()
    # The base name names another device: the topic, not the pack, says who reports.
    publish(device_id, pm_pack(3))
    wait_until(lambda: len(observations(runtime, [device_id])) == 3, what="3 readings")
    assert observations(runtime, [device_id]) == [
        (entity_id, device_id, "pm10", 20.0),
        (entity_id, device_id, "pm10", 21.0),
        (entity_id, device_id, "pm10", 22.0),
    ]
    stored = device(runtime, device_id)
    assert stored.last_seen_at is not None
    assert stored.error_count == 0


def test_bad_messages_become_dead_letters_and_the_consumer_goes_on(
    runtime: HubRuntime, consumer: ConsumerFactory, publish: Callable[[str, Any], None]
) -> None:
    device_id, entity_id = new_device(runtime)
    stranger = unique("mq-unknown")
    worker = consumer()
    publish(device_id, b"this is not json {")
    publish(stranger, pm_pack(2))
    publish(device_id, pm_pack(2))
    wait_until(lambda: len(observations(runtime, [device_id])) == 2, what="the valid pack")
    letters = dead_letters(runtime, [device_id, stranger])
    assert [(d.device_id, d.source) for d in letters] == [
        (device_id, "mqtt"),
        (stranger, "mqtt"),
    ]
    garbage, unknown = letters
    assert garbage.reason.startswith("Not JSON")
    assert garbage.topic == device_topic(device_id)
    assert "this is not json" in garbage.payload
    assert unknown.reason == f"unknown device {stranger!r}"
    assert json.loads(unknown.payload)[0]["n"] == "pm10"
    stored = device(runtime, device_id)
    assert stored.error_count == 1
    assert stored.last_error is not None
    assert stored.last_error.startswith("Not JSON")
    assert worker.client.is_connected()


def test_a_revoked_devices_messages_are_dead_letters(
    runtime: HubRuntime, consumer: ConsumerFactory, publish: Callable[[str, Any], None]
) -> None:
    device_id, _ = new_device(runtime)
    with runtime.sessions.begin() as session:
        revoke_device(session, device_id)
    consumer()
    publish(device_id, pm_pack(2))
    publish(device_id, pm_pack(1))
    wait_until(lambda: len(dead_letters(runtime, [device_id])) == 2, what="two dead letters")
    assert [d.reason for d in dead_letters(runtime, [device_id])] == [
        f"device {device_id} is revoked"
    ] * 2
    assert observations(runtime, [device_id]) == []
    assert device(runtime, device_id).error_count == 2


def test_rejected_records_are_dead_letters_and_the_rest_is_stored(
    runtime: HubRuntime, consumer: ConsumerFactory, publish: Callable[[str, Any], None]
) -> None:
    device_id, _ = new_device(runtime)
    consumer()
    now = time.time()
    publish(
        device_id,
        [
            {"bn": f"urn:dev:{device_id}:", "bt": now - 60, "n": "pm10", "u": "ug/m3", "v": 12},
            {"n": "pm25", "u": "ug/m3", "v": -4},
        ],
    )
    wait_until(lambda: len(dead_letters(runtime, [device_id])) == 1, what="a dead letter")
    assert [r[2:] for r in observations(runtime, [device_id])] == [("pm10", 12.0)]
    (letter,) = dead_letters(runtime, [device_id])
    assert letter.reason.startswith("record 1:")
    assert "below the physical minimum" in letter.reason
    assert device(runtime, device_id).error_count == 1


def test_nul_characters_do_not_stop_the_consumer(
    runtime: HubRuntime, consumer: ConsumerFactory, publish: Callable[[str, Any], None]
) -> None:
    # PostgreSQL text cannot hold NUL: neither a raw NUL byte in a dead letter's payload nor
    # a NUL in a string value may block the messages after them.
    device_id, _ = new_device(runtime)
    consumer()
    now = time.time()
    publish(device_id, b"\x00 not json")
    publish(
        device_id,
        [{"bn": f"urn:dev:{device_id}:", "bt": now - 90, "n": "status", "vs": "on\u0000off"}],
    )
    publish(
        device_id,
        [{"bn": f"urn:dev:{device_id}:", "bt": now - 60, "n": "pm10", "u": "ug/m3", "v": 7}],
    )
    wait_until(
        lambda: ("pm10", 7.0) in [r[2:] for r in observations(runtime, [device_id])],
        what="the pack after them",
    )
    letters = dead_letters(runtime, [device_id])
    assert letters, "the NUL payload was not kept"
    garbage = letters[0]
    assert "not json" in garbage.payload
    # "Not JSON" from validation; on PostgreSQL the hub's fallback keeps it with the
    # database's reason until ingest stores dead letters without NUL characters.
    assert garbage.reason.startswith("Not JSON") or "NUL" in garbage.reason
    stored_or_kept = len(observations(runtime, [device_id])) + len(letters)
    assert stored_or_kept == 3
    assert device(runtime, device_id).error_count == len(letters)


def test_a_topic_with_an_overlong_device_id_is_a_dead_letter(
    runtime: HubRuntime, consumer: ConsumerFactory, publish: Callable[[str, Any], None]
) -> None:
    # Longer than any device id (128): it must neither match a device nor, on PostgreSQL,
    # overflow dead_letter.device_id and hold up the messages after it.
    device_id, _ = new_device(runtime)
    overlong = unique("mq-long") + "x" * 200
    consumer()
    publish(overlong, pm_pack(1))
    publish(device_id, pm_pack(2))
    wait_until(lambda: len(observations(runtime, [device_id])) == 2, what="the valid pack")
    marker = f"(bad topic {device_topic(overlong)}"[:127] + "…"
    wait_until(lambda: len(dead_letters(runtime, [marker])) == 1, what="the dead letter")
    (letter,) = dead_letters(runtime, [marker])
    assert letter.reason.startswith("unknown device '(bad topic citysmart/v1/devices/mq-long-")
    assert letter.topic is not None
    assert len(letter.topic) <= 256


class FlakyIngestor(Ingestor):
    """Fails like an unreachable database a few times, then stores."""

    def __init__(self, runtime: HubRuntime, failures: int) -> None:
        super().__init__(runtime.engine, runtime.events)
        self.failures = failures
        self.calls = 0

    def ingest_messages(self, messages: Sequence[Message]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        super().ingest_messages(messages)


def test_a_message_is_acknowledged_only_once_committed(
    runtime: HubRuntime, consumer: ConsumerFactory, publish: Callable[[str, Any], None]
) -> None:
    device_id, _ = new_device(runtime)
    ingestor = FlakyIngestor(runtime, failures=2)
    worker = consumer(ingestor)
    acks: list[tuple[int, int, int]] = []
    real_ack = worker.client.ack

    def ack(mid: int, qos: int) -> MQTTErrorCode:
        acks.append((mid, qos, len(observations(runtime, [device_id]))))
        return real_ack(mid, qos)

    worker.client.ack = ack  # type: ignore[method-assign]
    publish(device_id, pm_pack(2))
    wait_until(lambda: len(observations(runtime, [device_id])) == 2, what="the pack")
    wait_until(lambda: bool(acks), what="the acknowledgement")
    assert ingestor.calls >= 3
    # By the time the hub acknowledged the message its readings were committed.
    assert [(qos, count) for _, qos, count in acks] == [(1, 2)]


class PoisonIngestor(Ingestor):
    """Fails on any batch that holds a message with ``poison`` in it (a bug of ours)."""

    def ingest_messages(self, messages: Sequence[Message]) -> None:
        if any(b"poison" in m.payload for m in messages):
            raise ValueError("cannot store this")
        super().ingest_messages(messages)


def test_a_message_that_cannot_be_stored_does_not_hold_up_the_others(
    runtime: HubRuntime, consumer: ConsumerFactory, publish: Callable[[str, Any], None]
) -> None:
    device_id, _ = new_device(runtime)
    worker = consumer(PoisonIngestor(runtime.engine, runtime.events), batch_size=50)
    # Hold the worker back so that the poison lands in a batch with valid messages.
    gate = threading.Lock()
    real_next = worker._next_batch

    def next_batch() -> list[Any]:
        with gate:
            return real_next()

    worker._next_batch = next_batch  # type: ignore[method-assign]
    start = time.time() - 600
    with gate:
        for i in range(10):
            publish(
                device_id,
                [
                    {
                        "bn": f"urn:dev:{device_id}:",
                        "bt": start + i,
                        "n": "pm10",
                        "u": "ug/m3",
                        "v": float(i),
                    }
                ],
            )
            if i == 4:
                publish(device_id, b'[{"n": "poison"}]')
        time.sleep(0.3)
    wait_until(lambda: len(observations(runtime, [device_id])) == 10, what="the valid packs")
    wait_until(lambda: len(dead_letters(runtime, [device_id])) == 1, what="the dead letter")
    (letter,) = dead_letters(runtime, [device_id])
    assert letter.reason == "could not be stored: ValueError: cannot store this"
    assert letter.payload == '[{"n": "poison"}]'
    assert device(runtime, device_id).error_count == 1


@pytest.mark.parametrize(
    "broker", [pytest.param("mosquitto", marks=pytest.mark.mosquitto)], indirect=True
)
def test_two_workers_share_the_subscription(
    runtime: HubRuntime, consumer: ConsumerFactory, publish: Callable[[str, Any], None]
) -> None:
    # amqtt has no shared subscriptions: Mosquitto only.
    devices = [new_device(runtime)[0] for _ in range(4)]
    mine = set(devices)
    seen: dict[str, list[tuple[str, bytes]]] = {"a": [], "b": []}

    class Recording(Ingestor):
        def __init__(self, name: str) -> None:
            super().__init__(runtime.engine, runtime.events)
            self.name = name

        def ingest_messages(self, messages: Sequence[Message]) -> None:
            super().ingest_messages(messages)
            seen[self.name] += [(m.device_id, m.payload) for m in messages if m.device_id in mine]

    group = unique("test-group")
    consumer(Recording("a"), share_group=group)
    consumer(Recording("b"), share_group=group)
    start = time.time() - 3600
    count = 200
    for i in range(count):
        publish(
            devices[i % 4],
            [
                {
                    "bn": f"urn:dev:{devices[i % 4]}:",
                    "bt": start + i,
                    "n": "pm10",
                    "u": "ug/m3",
                    "v": float(i),
                }
            ],
        )
    wait_until(lambda: len(observations(runtime, devices)) == count, what=f"{count} readings")
    received = seen["a"] + seen["b"]
    print(f"worker a stored {len(seen['a'])}, worker b {len(seen['b'])} of {count}")
    assert len(received) == count, "a message was delivered to both workers"
    assert len(set(received)) == count
    assert seen["a"], "worker a got nothing"
    assert seen["b"], "worker b got nothing"
    assert sorted(r[3] for r in observations(runtime, devices)) == [float(i) for i in range(count)]
