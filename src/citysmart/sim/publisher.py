"""Simulated devices that publish SenML over MQTT (QoS 1), one connection each."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from citysmart.hub.mqtt import device_topic
from citysmart.sim.geography import Site
from citysmart.sim.model import SiteState, new_state, reading, senml_pack

logger = logging.getLogger(__name__)
# A site's reading set at an instant (the demo's replay of real series, for one).
ReadingSource = Callable[[Site, dt.datetime], dict[str, float]]


class DeviceFleet:
    """Publish a reading from every site each ``interval_s`` seconds.

    Readings come from ``source`` when given (an empty set is not sent), else from the
    simulated model of ``sim.model``.
    """

    def __init__(
        self,
        sites: list[Site],
        broker_url: str,
        interval_s: float = 5.0,
        source: ReadingSource | None = None,
    ) -> None:
        self.sites, self.interval_s, self.source = sites, interval_s, source
        parts = urlparse(broker_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 1883
        self.states: dict[str, SiteState] = {
            s.device_id: new_state(s.area_code, s.device_id) for s in sites
        }
        self.clients: dict[str, mqtt.Client] = {}
        self.published = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect every device and start publishing."""
        for site in self.sites:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=f"sim-{site.device_id}",
                protocol=mqtt.MQTTv311,
                clean_session=False,
            )
            client.username_pw_set(site.device_id)
            client.reconnect_delay_set(1, 10)
            client.connect_async(self.host, self.port, keepalive=60)
            client.loop_start()
            self.clients[site.device_id] = client
        self._thread = threading.Thread(target=self._run, name="device-fleet", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = dt.datetime.now(dt.UTC)
            for site in self.sites:
                if self.source is not None:
                    values = self.source(site, now)
                    if not values:
                        continue
                else:
                    values = reading(self.states[site.device_id], now, site.reference)
                payload = json.dumps(senml_pack(site.device_id, values, now))
                self.clients[site.device_id].publish(device_topic(site.device_id), payload, qos=1)
                self.published += 1
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        """Stop publishing and disconnect."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for client in self.clients.values():
            client.disconnect()
            client.loop_stop()
