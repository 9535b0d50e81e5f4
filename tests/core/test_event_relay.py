"""Events cross processes: readings stored by one hub process reach the others' buses."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from citysmart.core.config import Settings
from citysmart.core.event_relay import decode, encode
from citysmart.core.events import ReadingsStored
from citysmart.hub.runtime import HubRuntime
from citysmart.hub.senml import Reading
from tests.factories import create_device

pytestmark = pytest.mark.postgres
ENTITY = "urn:ngsi-ld:AirQualityObserved:relay-0001"


def test_events_round_trip_through_a_notify_payload() -> None:
    event = ReadingsStored(ENTITY, frozenset({"pm10", "pm25"}), dt.datetime.now(dt.UTC), 2)
    back = decode(encode(event, "proc-a"))
    assert (back.entity_id, back.attributes, back.latest, back.count) == (
        event.entity_id,
        event.attributes,
        event.latest,
        event.count,
    )
    assert back.origin == "proc-a"
    many = ReadingsStored(ENTITY, frozenset(f"a{i}" for i in range(2000)), event.latest, 1)
    assert len(encode(many, "p")) < 8000  # too many names: sent without them


def test_a_reading_stored_by_one_process_reaches_another(postgresql_url: str) -> None:
    settings = Settings(database_url=postgresql_url, mqtt_ingest=False)
    writer, reader = HubRuntime.create(settings), HubRuntime.create(settings)
    writer.migrate()
    heard: list[ReadingsStored] = []
    arrived = threading.Event()
    reader.events.subscribe(lambda e: (heard.append(e), arrived.set()))
    own: list[ReadingsStored] = []
    writer.events.subscribe(own.append)
    try:
        for runtime in (writer, reader):
            runtime.start_events()
            assert runtime.relay is not None
            assert runtime.relay.listening.wait(10)
        create_device(writer, "relay-0001", ENTITY)
        micros = int(time.time() * 1_000_000)
        writer.ingestor.store_readings(
            ENTITY, "relay-0001", [Reading("pm10", micros, 12.0, None, "n", "ug/m3")]
        )
        assert arrived.wait(10), "the other process never heard of the reading"
        assert heard[0].entity_id == ENTITY
        assert heard[0].attributes == {"pm10"}
        assert writer.relay is not None
        assert heard[0].origin == writer.relay.origin
        time.sleep(0.5)
        assert len(own) == 1, "a process does not hear its own events twice"
    finally:
        writer.stop()
        reader.stop()
