"""Restarts while devices publish lose no reading the broker accepted at QoS 1.

Each case runs its own Mosquitto and PostgreSQL (see conftest.py), streams uniquely
numbered readings from several devices at a steady rate, restarts one part mid-stream, and
compares what the broker acknowledged to the simulator (PUBACK) with what was stored.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine

from citysmart.core.config import Settings
from citysmart.core.db import make_engine
from citysmart.hub.mqtt import MqttIngest
from citysmart.hub.runtime import HubRuntime
from tests.faults.conftest import (
    HubWorker,
    PrivatePostgres,
    Simulator,
    register_devices,
    stored_rows,
    stored_values,
)
from tests.servers import MOSQUITTO, PrivateMosquitto, wait_until

pytestmark = pytest.mark.faults

DEVICES = 5
COUNT = 1500
RATE = 125.0  # messages per second: a 12 s stream


@pytest.fixture
def store(fault_database: str) -> Iterator[Engine]:
    engine = make_engine(fault_database)
    yield engine
    engine.dispose()


HubFactory = Callable[..., HubRuntime]


@pytest.fixture
def make_hub(fault_database: str, private_mosquitto: PrivateMosquitto) -> Iterator[HubFactory]:
    """Start the hub in this process, from the private broker into the private store."""
    started: list[HubRuntime] = []

    def make(share_group: str = "") -> HubRuntime:
        settings = Settings(
            database_url=fault_database,
            mqtt_url=private_mosquitto.url,
            mqtt_client_id=f"fault-hub-{uuid.uuid4().hex[:8]}",
            mqtt_share_group=share_group,
            ingest_batch_size=200,
        )
        runtime = HubRuntime.create(settings)
        started.append(runtime)
        runtime.start_mqtt()
        consumer = consumer_of(runtime)
        assert consumer.subscribed.wait(15), consumer.last_error
        return runtime

    yield make
    for runtime in started:
        runtime.stop()


def consumer_of(runtime: HubRuntime) -> MqttIngest:
    assert runtime.consumer is not None
    return runtime.consumer


def check_nothing_lost(case: str, sim: Simulator, engine: Engine, timeout: float = 30) -> None:
    """Wait for the store to catch up, print the counts, and compare them."""
    sim.wait_all_accepted()
    accepted = sim.accepted()
    try:
        wait_until(
            lambda: accepted <= stored_values(engine),
            timeout,
            "the hub to store every accepted reading",
        )
    except AssertionError:
        missing = sorted(accepted - stored_values(engine))
        print(f"\n{case}: {len(missing)} accepted readings not stored, e.g. {missing[:30]}")
        raise
    time.sleep(0.5)  # let anything still in flight land, to count it too
    stored, rows = stored_values(engine), stored_rows(engine)
    lost = sorted(accepted - stored)
    print(
        f"\n{case}: published {sim.count}, accepted by the broker (PUBACK) {len(accepted)}, "
        f"stored {len(stored)} distinct readings in {rows} rows, lost {len(lost)}; "
        f"simulator disconnects {sim.disconnects}, PUBACK reason codes {sorted(sim.reason_codes())}"
    )
    assert not sim.refused(), f"the broker refused messages: {sim.refused()[:10]}"
    assert len(accepted) == sim.count
    assert not lost, f"{len(lost)} accepted readings lost, e.g. {lost[:20]}"
    assert stored == set(range(sim.count))
    assert rows == len(stored), "a reading was stored twice"


def test_restarting_mosquitto_loses_nothing(
    make_hub: HubFactory,
    private_mosquitto: PrivateMosquitto,
    fault_database: str,
    store: Engine,
    simulator: Callable[..., Simulator],
) -> None:
    # The default, one worker on a plain subscription: Mosquitto 2.0 keeps it over a
    # restart but not a shared one (see test_mosquitto_keeps_which_subscriptions).
    consumer = consumer_of(make_hub())
    assert consumer.topic == "citysmart/v1/devices/+/senml"
    devices = register_devices(fault_database, DEVICES)
    sim = simulator(private_mosquitto.port, devices, COUNT, RATE)
    sim.connect()
    sim.warm_up(store)
    sim.start()
    wait_until(lambda: sim.published >= COUNT * 0.4, 30, "40% of the stream")
    private_mosquitto.restart(down_s=2.0)  # SIGTERM: Mosquitto saves its sessions and queues
    sim.wait_published()
    check_nothing_lost("Mosquitto restart", sim, store)
    assert sim.disconnects >= 1
    # The hub found its way back by itself, to the same session.
    assert consumer.connected.is_set()
    assert consumer.subscribed.is_set()
    assert consumer._connections >= 2


def test_killing_the_hub_loses_nothing(
    private_mosquitto: PrivateMosquitto,
    fault_database: str,
    store: Engine,
    simulator: Callable[..., Simulator],
    hub_worker: Callable[[str, str], HubWorker],
) -> None:
    devices = register_devices(fault_database, DEVICES)
    worker = hub_worker(fault_database, private_mosquitto.url)
    worker.start()
    sim = simulator(private_mosquitto.port, devices, COUNT, RATE)
    sim.connect()
    sim.warm_up(store)
    sim.start()
    wait_until(lambda: sim.published >= COUNT * 0.4, 30, "40% of the stream")
    # SIGKILL: no goodbye, batches half stored, messages received but not acknowledged.
    assert worker.stop(signal.SIGKILL) == -signal.SIGKILL
    stored_while_down = len(stored_values(store))
    time.sleep(2.0)
    assert len(stored_values(store)) == stored_while_down, "something else is storing"
    worker.start()  # same client id: the broker kept the session and queued for it
    sim.wait_published()
    check_nothing_lost("hub SIGKILL and restart", sim, store)
    assert worker.alive(), worker.output()
    assert worker.output().count("hub worker consuming from") == 2


def test_restarting_postgresql_loses_nothing(
    make_hub: HubFactory,
    private_mosquitto: PrivateMosquitto,
    private_postgres: PrivatePostgres,
    fault_database: str,
    store: Engine,
    simulator: Callable[..., Simulator],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="citysmart.hub.mqtt")
    hub = make_hub(share_group="citysmart-hub")  # scaled out: a shared subscription
    consumer = consumer_of(hub)
    assert consumer.topic.startswith("$share/citysmart-hub/")
    devices = register_devices(fault_database, DEVICES)
    sim = simulator(private_mosquitto.port, devices, COUNT, RATE)
    sim.connect()
    sim.warm_up(store)
    sim.start()
    wait_until(lambda: sim.published >= COUNT * 0.3, 30, "30% of the stream")
    private_postgres.stop("fast")
    try:
        time.sleep(3.0)
        assert hub.health()["database"].startswith("down")
    finally:
        private_postgres.start()
    sim.wait_published()
    check_nothing_lost("PostgreSQL restart", sim, store)
    retries = [r for r in caplog.records if "database unavailable, retrying" in r.getMessage()]
    print(f"the hub retried {len(retries)} time(s) while PostgreSQL was down")
    assert retries, "the hub never noticed the database was down"
    assert consumer.connected.is_set()
    assert consumer.last_error is None


def test_a_database_outage_outlasting_the_brokers_queue_loses_nothing(
    make_hub: HubFactory,
    private_mosquitto: PrivateMosquitto,
    private_postgres: PrivatePostgres,
    fault_database: str,
    store: Engine,
    simulator: Callable[..., Simulator],
) -> None:
    # While the database is down the hub acknowledges nothing. Mosquitto sends a client at
    # most its Receive Maximum of unacknowledged messages, queues 1000 more
    # (max_queued_messages) and then drops further messages, after acknowledging them to
    # the device. The hub's Receive Maximum must leave room for a burst like this one.
    make_hub()
    devices = register_devices(fault_database, DEVICES)
    count = 7000
    sim = simulator(private_mosquitto.port, devices, count, 5000.0)
    sim.connect()
    sim.warm_up(store)
    private_postgres.stop("fast")
    try:
        sim.start()
        sim.wait_published()
        sim.wait_all_accepted()
    finally:
        private_postgres.start()
    check_nothing_lost("burst during a PostgreSQL outage", sim, store, timeout=60)


MOSQUITTO_VERSION = subprocess.run(
    [MOSQUITTO, "-h"], capture_output=True, text=True, check=False
).stdout.split("\n", 1)[0]


@pytest.mark.parametrize("shared", [False, True], ids=["plain", "shared"])
def test_mosquitto_keeps_which_subscriptions(
    private_mosquitto: PrivateMosquitto, shared: bool
) -> None:
    """What the hub relies on: which subscriptions of an absent session survive a restart.

    Mosquitto 2.0 saves plain subscriptions in its persistence file but not shared ones:
    after a restart, messages for a shared subscription whose worker has not reconnected
    yet are acknowledged with reason 0x10 (no matching subscribers) and dropped.
    """
    topic = "$share/g/citysmart/v1/devices/+/senml" if shared else "citysmart/v1/devices/+/senml"
    received: list[bytes] = []

    def session(subscribe: bool) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="probe-hub", protocol=mqtt.MQTTv5
        )
        client.on_message = lambda _c, _u, msg: received.append(bytes(msg.payload))
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        client.connect("127.0.0.1", private_mosquitto.port, clean_start=False, properties=props)
        client.loop_start()
        if subscribe:
            client.subscribe(topic, qos=1)
            time.sleep(0.3)
        return client

    hub = session(subscribe=True)
    hub.disconnect()
    hub.loop_stop()
    private_mosquitto.restart(down_s=0.2)
    codes: list[int] = []
    device = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="probe-device", protocol=mqtt.MQTTv5
    )
    device.on_publish = lambda _c, _u, _mid, rc, _p: codes.append(rc.value)
    device.connect("127.0.0.1", private_mosquitto.port)
    device.loop_start()
    for i in range(5):
        device.publish("citysmart/v1/devices/d1/senml", str(i).encode(), qos=1).wait_for_publish(5)
    device.disconnect()
    device.loop_stop()
    hub = session(subscribe=False)  # the session comes back, as the hub's would
    time.sleep(1.0)
    hub.disconnect()
    hub.loop_stop()
    print(
        f"\n{MOSQUITTO_VERSION}, {'shared' if shared else 'plain'} subscription: "
        f"PUBACK reason codes {codes}, {len(received)} of 5 delivered after the restart"
    )
    if not shared:
        assert codes == [0] * 5
        assert sorted(received) == [str(i).encode() for i in range(5)]
    elif MOSQUITTO_VERSION.startswith("mosquitto version 2.0."):
        assert codes == [0x10] * 5, "Mosquitto now keeps shared subscriptions: update the docs"
        assert received == []
    else:
        pytest.skip(f"shared subscriptions over restarts not pinned for {MOSQUITTO_VERSION}")
