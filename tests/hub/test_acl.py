"""The generated Mosquitto ACL confines each device to its own topic (on a real broker)."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from citysmart.hub.acl import mosquitto_acl
from citysmart.hub.mqtt import DEVICE_TOPIC, device_topic
from tests.servers import running_mosquitto

pytestmark = pytest.mark.mosquitto
PASSWORDS = {"aq-1": "csd_key-of-aq-1", "aq-2": "csd_key-of-aq-2", "citysmart-hub": "hub-secret"}


def connect(port: int, user: str, password: str) -> tuple[mqtt.Client, list[bytes], ReasonCode]:
    received: list[bytes] = []
    connected = threading.Event()
    result: list[ReasonCode] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-{user}", protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.on_message = lambda _c, _u, msg: received.append(msg.payload)

    def on_connect(_c: object, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        result.append(rc)
        connected.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert connected.wait(10)
    return client, received, result[0]


def subscribe(client: mqtt.Client, topic: str) -> ReasonCode:
    granted = threading.Event()
    codes: list[ReasonCode] = []

    def on_subscribe(_c: object, _u: object, _m: int, rcs: list[ReasonCode], _p: object) -> None:
        codes.extend(rcs)
        granted.set()

    client.on_subscribe = on_subscribe
    client.subscribe(topic, qos=1)
    assert granted.wait(10)
    return codes[0]


def publish(client: mqtt.Client, topic: str, payload: str) -> None:
    client.publish(topic, payload, qos=1).wait_for_publish(10)


def test_each_device_publishes_only_to_its_own_topic(tmp_path: Path) -> None:
    acl = tmp_path / "citysmart.acl"
    acl.write_text(mosquitto_acl("citysmart-hub"))
    passwd = tmp_path / "passwd"
    passwd.touch()
    for user, password in PASSWORDS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
    config = f"password_file {passwd}\nacl_file {acl}\n"
    with running_mosquitto(config, anonymous=False) as broker:
        hub, received, _ = connect(broker.port, "citysmart-hub", PASSWORDS["citysmart-hub"])
        device, snooped, _ = connect(broker.port, "aq-1", PASSWORDS["aq-1"])
        other, _, _ = connect(broker.port, "aq-2", PASSWORDS["aq-2"])
        intruder, _, refused = connect(broker.port, "aq-1", "wrong key")
        try:
            assert refused.is_failure, "a wrong key must not connect"
            assert not subscribe(hub, DEVICE_TOPIC).is_failure
            # Mosquitto grants the subscription but delivers nothing the ACL forbids.
            subscribe(device, DEVICE_TOPIC)

            publish(device, device_topic("aq-2"), "forged by aq-1 as aq-2")
            publish(device, device_topic("aq-1"), "aq-1 reading")
            publish(other, device_topic("aq-2"), "aq-2 reading")
            wait = threading.Event()
            for _ in range(100):
                if len(received) >= 2:
                    break
                wait.wait(0.1)
            wait.wait(0.5)  # time for a forged message to arrive, were it let through
            assert sorted(received) == [b"aq-1 reading", b"aq-2 reading"]
            assert snooped == [], "a device must not read other devices' readings"
        finally:
            for client in (hub, device, other, intruder):
                client.loop_stop()
                client.disconnect()
