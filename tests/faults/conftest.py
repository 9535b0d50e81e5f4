"""Private servers for fault tests: a Mosquitto and a PostgreSQL of our own to restart.

The system servers are shared with other test runs and must never be restarted; these
listen on free ports, keep their state in temporary directories and are always torn down.
Also here: a device simulator that counts what the broker acknowledged, and the hub as a
``citysmart worker`` process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import Engine, func, select

from citysmart.core.config import Settings
from citysmart.core.db import make_engine
from citysmart.core.migrate import upgrade
from citysmart.hub.models import Observation
from citysmart.hub.mqtt import device_topic
from citysmart.hub.registry import register_device
from citysmart.hub.runtime import HubRuntime
from tests.conftest import free_port, unavailable
from tests.servers import IS_ROOT, PrivateMosquitto, running_mosquitto, wait_until

PG_BIN = Path(os.environ.get("CITYSMART_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def private_mosquitto() -> Iterator[PrivateMosquitto]:
    """A private, persistent Mosquitto the test may restart."""
    with running_mosquitto() as broker:
        yield broker


# -- PostgreSQL -----------------------------------------------------------------------------
class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory (run as ``postgres`` when we are root)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.log = directory / "postgres.log"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = list(args)
        if IS_ROOT:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {result.stdout}{result.stderr}")

    def init(self) -> None:
        if IS_ROOT:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c max_connections=60 -c shared_buffers=32MB"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"citysmart_fault_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "pg_ctl").exists():
        unavailable("PostgreSQL binaries", f"{PG_BIN}/pg_ctl not found")
    directory = Path(tempfile.mkdtemp(prefix="citysmart-pg-"))
    server = PrivatePostgres(directory)
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            server.stop("immediate")
        except Exception as exc:  # already down after a failed restart
            print(f"private PostgreSQL stop: {exc}")
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def fault_database(private_postgres: PrivatePostgres) -> str:
    """A new, migrated database on the private server, for one test."""
    url = private_postgres.create_database()
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


# -- the devices ----------------------------------------------------------------------------
class Simulator:
    """Devices publishing one uniquely timed reading per message at QoS 1.

    Reading ``i`` carries the value ``i``, so the store can be compared message by message.
    A message counts as sent once the broker acknowledged it (PUBACK with a success code):
    that is "accepted at QoS 1". paho keeps the messages it could not get acknowledged and
    sends them again when it reconnects (persistent session, clean start off).
    """

    def __init__(self, port: int, devices: list[str], count: int, rate: float) -> None:
        assert count < 65535, "message ids must not wrap during a run"
        self.devices, self.count, self.rate = devices, count, rate
        self.start_time = time.time() - 2 * 3600
        self.client_id = f"sim-{uuid.uuid4().hex[:8]}"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.max_queued_messages_set(0)
        self.port = port
        self._mids: dict[int, int] = {}
        self._acks: list[tuple[int, int]] = []  # (mid, reason code), appended by paho's thread
        self.published = 0
        self.disconnects = 0
        self._thread: threading.Thread | None = None
        self.client.on_publish = self._on_publish
        self.client.on_disconnect = self._on_disconnect

    def _on_publish(self, _c: object, _u: object, mid: int, rc: ReasonCode, _p: object) -> None:
        self._acks.append((mid, rc.value))

    def _on_disconnect(self, *_args: object) -> None:
        self.disconnects += 1

    def payload(self, i: int) -> tuple[str, bytes]:
        device = self.devices[i % len(self.devices)]
        pack = [{"bn": f"urn:dev:{device}:", "bt": self.start_time + i * 0.25, "n": "seq", "v": i}]
        return device, json.dumps(pack).encode()

    def warm_up(self, engine: Engine, timeout: float = 30) -> None:
        """Send a reading of another attribute until the hub has stored it.

        The broker drops what nobody subscribed to yet, so it is sent again every second
        until the hub's subscription is in place (storing it twice changes nothing).
        """
        device = self.devices[0]
        pack = [{"bn": f"urn:dev:{device}:", "bt": self.start_time - 1, "n": "warmup", "v": 1}]
        query = (
            select(func.count()).select_from(Observation).where(Observation.attribute == "warmup")
        )
        next_send = 0.0

        def stored() -> bool:
            nonlocal next_send
            with engine.connect() as conn:
                if conn.scalar(query):
                    return True
            if time.monotonic() >= next_send:
                self.client.publish(device_topic(device), json.dumps(pack).encode(), qos=1)
                next_send = time.monotonic() + 1.0
            return False

        wait_until(stored, timeout, "the hub to store the warm-up reading")

    def connect(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect_async("127.0.0.1", self.port, clean_start=False, properties=props)
        self.client.loop_start()
        wait_until(self.client.is_connected, 10, "the simulator's connection")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = 1.0 / self.rate
        began = time.monotonic()
        for i in range(self.count):
            delay = began + i * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            device, payload = self.payload(i)
            info = self.client.publish(device_topic(device), payload, qos=1)
            self._mids[info.mid] = i
            self.published = i + 1

    def wait_published(self, timeout: float = 60) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the simulator did not finish publishing"

    def accepted(self) -> set[int]:
        """The readings whose messages the broker acknowledged."""
        return {self._mids[mid] for mid, rc in list(self._acks) if rc < 0x80 and mid in self._mids}

    def refused(self) -> list[tuple[int, int]]:
        return [(mid, rc) for mid, rc in list(self._acks) if rc >= 0x80]

    def reason_codes(self) -> set[int]:
        """The PUBACK reason codes of the stream (0x10: accepted, but nobody subscribed)."""
        return {rc for mid, rc in list(self._acks) if mid in self._mids}

    def wait_all_accepted(self, timeout: float = 30) -> None:
        wait_until(
            lambda: len(self.accepted()) == self.count,
            timeout,
            f"the broker to accept all {self.count} messages",
        )

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def simulator() -> Iterator[Callable[..., Simulator]]:
    made: list[Simulator] = []

    def make(port: int, devices: list[str], count: int, rate: float) -> Simulator:
        sim = Simulator(port, devices, count, rate)
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.close()


def register_devices(url: str, count: int) -> list[str]:
    """Register ``count`` devices on a database and return their ids."""
    runtime = HubRuntime.create(Settings(database_url=url))
    devices = [f"fault-{uuid.uuid4().hex[:6]}-{n}" for n in range(count)]
    try:
        with runtime.sessions.begin() as session:
            for device in devices:
                register_device(session, device, f"urn:ngsi-ld:Counter:{device}", "Counter")
    finally:
        runtime.engine.dispose()
    return devices


def stored_values(engine: Engine) -> set[int]:
    """The simulator's reading numbers in the store."""
    query = select(Observation.num_value).where(Observation.attribute == "seq")
    with engine.connect() as conn:
        return {int(v) for v in conn.scalars(query) if v is not None}


def stored_rows(engine: Engine) -> int:
    """How many rows the simulator's readings take (one per (entity, attribute, time))."""
    query = select(func.count()).select_from(Observation).where(Observation.attribute == "seq")
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)


# -- the hub as a process -------------------------------------------------------------------
class HubWorker:
    """``python -m citysmart worker`` with a fixed MQTT client id (so, a fixed session)."""

    def __init__(self, database_url: str, mqtt_url: str, directory: Path) -> None:
        self.directory = directory
        self.log_path = directory / "worker.log"
        self.env = {
            **os.environ,
            "CITYSMART_DATABASE_URL": database_url,
            "CITYSMART_MQTT_URL": mqtt_url,
            "CITYSMART_MQTT_CLIENT_ID": f"fault-hub-{uuid.uuid4().hex[:8]}",
            "CITYSMART_MQTT_SHARE_GROUP": "citysmart-hub",
            "CITYSMART_DATA_DIR": str(directory),
            "PYTHONPATH": os.pathsep.join(
                [str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")]
            ),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self._log = self.log_path.open("ab")
        self._log.write(f"--- start {self.starts} ---\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "citysmart", "worker"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(5)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def hub_worker(tmp_path: Path) -> Iterator[Callable[[str, str], HubWorker]]:
    made: list[HubWorker] = []

    def make(database_url: str, mqtt_url: str) -> HubWorker:
        worker = HubWorker(database_url, mqtt_url, tmp_path)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.stop()
