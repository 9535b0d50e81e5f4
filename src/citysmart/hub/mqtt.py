"""The hub's MQTT consumer: readings in over QoS 1, acknowledged only once committed."""

from __future__ import annotations

import enum
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
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from citysmart.hub.ingest import Ingestor, Message

logger = logging.getLogger(__name__)

DEVICE_TOPIC = "citysmart/v1/devices/+/senml"
# The width of device.id: a longer id in a topic cannot name a registered device.
_DEVICE_ID_MAX = 128
# MQTT 5 Receive Maximum: how many unacknowledged QoS 1 messages the broker may have in
# flight to the hub. Mosquitto holds only ``max_queued_messages`` (1000 by default) beyond
# that and silently drops the rest, although it acknowledged them to the device; while the
# database is away the hub acknowledges nothing, so the protocol maximum gives it the most
# room to wait (the messages are then held in the hub's memory, not lost).
RECEIVE_MAXIMUM = 65535


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


class _Outcome(enum.Enum):
    STORED = "stored"  # committed (or kept as a dead letter): may be acknowledged
    FAILED = "failed"  # the database answers but refuses these messages
    STOPPED = "stopped"  # the consumer is stopping: leave the messages with the broker


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

    Shared subscriptions: with a share group (MQTT 5) several workers split the load, and
    a worker's session keeps its share while it is away. Mosquitto 2.0, however, does not
    save shared subscriptions in its persistence file: after a broker restart, until the
    hub has reconnected and subscribed again, readings are answered "no matching
    subscribers" and dropped. A single worker should therefore subscribe without a share
    group (``share_group`` empty), a subscription Mosquitto does keep across restarts.

    Threads: paho's network thread runs the callbacks and queues what arrives; one
    storing thread commits batches and then acknowledges them. Acknowledgements carry the
    packet ids of one connection, so a message received before a reconnect is never
    acknowledged on the next connection (the broker redelivers it; storage is idempotent).
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
        receive_maximum: int = RECEIVE_MAXIMUM,
    ) -> None:
        self.ingestor = ingestor
        self.client_id = client_id
        self.address = BrokerAddress.parse(url)
        self.mqtt5 = mqtt5
        self.topic = (
            f"$share/{share_group}/{DEVICE_TOPIC}" if share_group and mqtt5 else DEVICE_TOPIC
        )
        self.session_expiry_s = session_expiry_s
        self.batch_size, self.batch_wait_s = batch_size, batch_wait_s
        self.receive_maximum = max(1, min(receive_maximum, RECEIVE_MAXIMUM))
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.last_error: str | None = None
        self.processed = 0
        self._queue: queue.Queue[_Received] = queue.Queue()
        # Guards the connection generation against acknowledgements racing a disconnect.
        self._ack_lock = threading.Lock()
        self._generation = 0
        self._connections = 0
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
        # Come back quickly after a broker restart: see the class docstring on $share.
        client.reconnect_delay_set(min_delay=1, max_delay=5)
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
        if self.mqtt5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.session_expiry_s
            props.ReceiveMaximum = self.receive_maximum
            self.client.connect_async(
                self.address.host,
                self.address.port,
                keepalive=30,
                clean_start=False,
                properties=props,
            )
        else:
            self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        logger.info("subscribing to %s at QoS 1 as %s", self.topic, self.client_id)
        self.client.loop_start()

    def stop(self) -> None:
        """Stop consuming; messages not yet committed stay with the broker."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=30)
        self.client.disconnect()
        self.client.loop_stop()

    # -- callbacks (paho's network thread) -------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, _u: object, flags: mqtt.ConnectFlags, rc: object, _p: object
    ) -> None:
        if getattr(rc, "is_failure", False):
            self.last_error = f"broker refused the connection: {rc}"
            logger.warning(self.last_error)
            return
        self._connections += 1
        if self._connections > 1 and not flags.session_present:
            # The broker forgot our session (restarted without persistence, or it expired):
            # whatever it had queued for the hub while we were away is gone.
            logger.error(
                "the MQTT broker had no session for %s: messages queued for the hub while it "
                "was disconnected may be lost (is broker persistence on?)",
                self.client_id,
            )
        logger.info("connected to MQTT broker %s:%s", self.address.host, self.address.port)
        self.connected.set()
        self.last_error = None
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(
        self, _c: object, _u: object, _mid: int, reason_codes: list[ReasonCode], _p: object
    ) -> None:
        refused = [rc for rc in reason_codes if rc.is_failure]
        if refused:
            self.last_error = f"broker refused the subscription to {self.topic}: {refused[0]}"
            logger.error(self.last_error)
            return
        if any(rc.value == 0 for rc in reason_codes):
            logger.error(
                "the broker granted QoS 0 for %s: readings are not kept while the hub is away",
                self.topic,
            )
        self.subscribed.set()

    def _on_disconnect(self, _c: object, _u: object, _f: object, rc: object, _p: object) -> None:
        # Messages received on the old connection are redelivered on the next; their packet
        # ids mean nothing any more, so they must not be acknowledged (see _ack).
        with self._ack_lock:
            self._generation += 1
        self.connected.clear()
        self.subscribed.clear()
        if not self._stop.is_set():
            self.last_error = f"disconnected from broker: {rc}"
            logger.warning(self.last_error)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        # An exception here would end paho's network thread, and with it all ingest.
        try:
            self._queue.put(
                _Received(msg.mid, msg.qos, msg.topic, bytes(msg.payload), self._generation)
            )
        except Exception:
            logger.exception("could not take an MQTT message; the broker will redeliver it")

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
                if remaining > 0:
                    batch.append(self._queue.get(timeout=remaining))
                else:
                    batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _store_loop(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._next_batch()
                if batch:
                    self._store(batch)
            except Exception:
                # Never let the storing thread die: the messages stay unacknowledged.
                logger.exception("MQTT ingest failed unexpectedly; carrying on")
                self._stop.wait(1.0)

    def _store(self, batch: list[_Received]) -> bool:
        """Commit a batch and acknowledge it; return False when stopped first.

        A batch the database refuses (while it is up) is split until the message that
        fails is found; that one is kept as a dead letter, so that one bad message never
        holds up the others, and is never dropped either.
        """
        outcome, error = self._commit(batch, attempts=1 if len(batch) > 1 else 3)
        if outcome is _Outcome.STOPPED:
            return False
        if outcome is _Outcome.FAILED:
            if len(batch) > 1:
                half = len(batch) // 2
                return self._store(batch[:half]) and self._store(batch[half:])
            if self._quarantine(batch[0], error) is _Outcome.STOPPED:
                return False
        self.processed += len(batch)
        self._ack(batch)
        return True

    def _commit(self, batch: list[_Received], attempts: int) -> tuple[_Outcome, str]:
        """Store a batch, retrying for as long as the database is unavailable."""
        messages = [
            Message(_device_or_topic(item.topic), item.topic, item.payload) for item in batch
        ]
        failures, delay = 0, 0.5
        while True:
            try:
                self.ingestor.ingest_messages(messages)
            except Exception as exc:
                error = _describe(exc)
                if self._transient(exc):
                    # The database is away: keep the messages unacknowledged and try again.
                    self.last_error = f"database unavailable, retrying: {error}"
                    logger.warning("%s", self.last_error)
                else:
                    failures += 1
                    self.last_error = f"ingest failed: {error}"
                    if not isinstance(exc, DBAPIError):
                        logger.exception("ingest of %d message(s) failed", len(batch))
                    if failures >= attempts:
                        logger.warning(
                            "%s; isolating the failing message among %d", error, len(batch)
                        )
                        return _Outcome.FAILED, error
                if self._stop.wait(delay):
                    return _Outcome.STOPPED, error
                delay = min(delay * 2, 5.0)
            else:
                if self.last_error and self.connected.is_set():
                    self.last_error = None
                return _Outcome.STORED, ""

    def _transient(self, exc: Exception) -> bool:
        """Whether a failure is the database's (wait) rather than the messages' (isolate)."""
        if isinstance(exc, OperationalError):
            return True  # no connection, shutting down, locked, deadlock, out of space...
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        try:
            with self.ingestor.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return True
        return False

    def _quarantine(self, item: _Received, error: str) -> _Outcome:
        """Keep a message the database refuses as a dead letter (retrying until it is kept)."""
        delay = 0.5
        while True:
            try:
                self._write_dead_letter(item, error)
            except Exception as exc:
                logger.warning("cannot keep a failing message as a dead letter: %s", _describe(exc))
            else:
                logger.error("message on %s kept as a dead letter: %s", item.topic[:256], error)
                return _Outcome.STORED
            if self._stop.wait(delay):
                return _Outcome.STOPPED
            delay = min(delay * 2, 5.0)
            # Perhaps the database took no writes at all for a while: try the message again.
            outcome, error = self._commit([item], attempts=1)
            if outcome is not _Outcome.FAILED:
                return outcome

    def _write_dead_letter(self, item: _Received, error: str) -> None:
        self.ingestor.keep_dead_letter(
            _device_or_topic(item.topic), item.topic, item.payload, f"could not be stored: {error}"
        )

    def _ack(self, batch: list[_Received]) -> None:
        with self._ack_lock:
            for item in batch:
                if item.qos == 0 or item.generation != self._generation:
                    continue
                self.client.ack(item.mid, item.qos)


def _device_or_topic(topic: str) -> str:
    """Return the device id a topic names, or a marker that no registered id can match."""
    device_id = device_id_from_topic(topic)
    if device_id is not None and len(device_id) <= _DEVICE_ID_MAX:
        return device_id
    return _clip(f"(bad topic {topic})", _DEVICE_ID_MAX)


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _describe(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {first[0]}" if first else exc.__class__.__name__
