"""The hub's MQTT consumer: readings in over QoS 1, acknowledged only once committed."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.exc import DBAPIError, OperationalError

from citysmart.hub.ingest import Ingestor, Message

logger = logging.getLogger(__name__)

DEVICE_TOPIC = "citysmart/v1/devices/+/senml"


def device_topic(device_id: str) -> str:
    """Return the topic a device publishes its SenML packs to."""
    return f"citysmart/v1/devices/{device_id}/senml"


def device_id_from_topic(topic: str) -> str | None:
    """Return the device id in a device topic, or None if the topic is not one."""
    parts = topic.split("/")
    if len(parts) == 5 and parts[:3] == ["citysmart", "v1", "devices"] and parts[4] == "senml":
        return parts[3] or None
    return None


@dataclass(slots=True)
class _Received:
    mid: int
    qos: int
    topic: str
    payload: bytes
    generation: int


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and how to log in."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse ``mqtt://user:pass@host:port`` (or ``mqtts://``)."""
        parts = urlparse(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"MQTT URL {url!r} must start with mqtt:// or mqtts://")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(
            parts.hostname or "127.0.0.1",
            parts.port or (8883 if tls else 1883),
            parts.username,
            parts.password,
            tls,
        )


class MqttIngest:
    """Consume device packs from the broker and store them through the ingestor.

    A persistent session (clean start off, long session expiry) makes the broker keep
    QoS 1 messages while the hub is away; manual acknowledgement after commit means a
    crash or a database outage never loses a reading the broker accepted.
    """

    def __init__(
        self,
        ingestor: Ingestor,
        url: str,
        client_id: str,
        share_group: str | None,
        mqtt5: bool = True,
        session_expiry_s: int = 7 * 24 * 3600,
        batch_size: int = 2000,
        batch_wait_s: float = 0.05,
    ) -> None:
        self.ingestor = ingestor
        self.address = BrokerAddress.parse(url)
        self.mqtt5 = mqtt5
        self.topic = f"$share/{share_group}/{DEVICE_TOPIC}" if share_group and mqtt5 else DEVICE_TOPIC
        self.session_expiry_s = session_expiry_s
        self.batch_size, self.batch_wait_s = batch_size, batch_wait_s
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.last_error: str | None = None
        self.processed = 0
        self._queue: queue.Queue[_Received] = queue.Queue()
        self._generation = 0
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.client = self._make_client(client_id)

    def _make_client(self, client_id: str) -> mqtt.Client:
        protocol = mqtt.MQTTv5 if self.mqtt5 else mqtt.MQTTv311
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            clean_session=None if self.mqtt5 else False,
            manual_ack=True,
        )
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def start(self) -> None:
        """Connect (retrying in the background) and start storing."""
        self._stop.clear()
        self._worker = threading.Thread(target=self._store_loop, name="mqtt-ingest", daemon=True)
        self._worker.start()
        kwargs = {}
        if self.mqtt5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry_s
            props.ReceiveMaximum = min(65535, max(self.batch_size * 2, 100))
            kwargs = {"clean_start": False, "properties": props}
        self.client.connect_async(self.address.host, self.address.port, keepalive=30, **kwargs)
        self.client.loop_start()

    def stop(self) -> None:
        """Stop consuming; messages not yet committed stay with the broker."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=30)
        self.client.disconnect()
        self.client.loop_stop()

    # -- callbacks (paho's network thread) -------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        if getattr(rc, "is_failure", False):
            self.last_error = f"broker refused the connection: {rc}"
            logger.warning(self.last_error)
            return
        logger.info("connected to MQTT broker %s:%s", self.address.host, self.address.port)
        self.connected.set()
        self.last_error = None
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(self, *_args: object) -> None:
        self.subscribed.set()

    def _on_disconnect(self, _c: object, _u: object, _f: object, rc: object, _p: object) -> None:
        # Messages received on the old connection are redelivered on the next; their packet
        # ids mean nothing any more, so they must not be acknowledged (see _ack).
        self._generation += 1
        self.connected.clear()
        self.subscribed.clear()
        if not self._stop.is_set():
            self.last_error = f"disconnected from broker: {rc}"
            logger.warning(self.last_error)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(_Received(msg.mid, msg.qos, msg.topic, msg.payload, self._generation))

    # -- the storing thread ----------------------------------------------------------------
    def _next_batch(self) -> list[_Received]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=max(remaining, 0)) if remaining > 0
                             else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _store_loop(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            if batch:
                self._store(batch)

    def _store(self, batch: list[_Received]) -> None:
        messages = []
        for item in batch:
            device_id = _device_or_topic(item.topic)
            messages.append(Message(device_id, item.topic, item.payload))
        delay = 0.5
        while True:
            try:
                self.ingestor.ingest_messages(messages)
                break
            except (OperationalError, DBAPIError) as exc:
                # The database is away: keep the messages unacknowledged and try again.
                self.last_error = f"database unavailable, retrying: {exc.__class__.__name__}"
                logger.warning("%s (%s)", self.last_error, str(exc).splitlines()[0])
            except Exception as exc:
                # A fault of ours, not of the payload (those become dead letters): keep the
                # messages with the broker, say so loudly, and retry rather than drop them.
                self.last_error = f"ingest failed, retrying: {exc!r}"
                logger.exception("ingest failed; the batch stays unacknowledged")
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, 5.0)
        self.processed += len(batch)
        for item in batch:
            self._ack(item)

    def _ack(self, item: _Received) -> None:
        if item.qos == 0 or item.generation != self._generation:
            return
        self.client.ack(item.mid, item.qos)


def _device_or_topic(topic: str) -> str:
    return device_id_from_topic(topic) or f"(bad topic {topic})"
