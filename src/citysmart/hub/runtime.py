"""The hub's moving parts in one process: store, ingestor, embedded broker, MQTT consumer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from citysmart.core.config import Settings
from citysmart.core.db import make_engine, make_sessionmaker
from citysmart.core.event_relay import PostgresEventRelay
from citysmart.core.events import EventBus
from citysmart.core.jobs import JobRunner, core_jobs, jobs_setting
from citysmart.core.migrate import upgrade
from citysmart.core.service import ServiceManifest, discover_services
from citysmart.hub.broker import EmbeddedBroker
from citysmart.hub.ingest import Ingestor
from citysmart.hub.mqtt import MqttIngest
from citysmart.hub.ngsi_ld.http import NgsiLdState
from citysmart.hub.ngsi_ld.notifier import Notifier

logger = logging.getLogger(__name__)


@dataclass
class HubRuntime:
    """Everything the hub runs; ``start`` brings it up, ``stop`` takes it down."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    events: EventBus
    ingestor: Ingestor
    broker: EmbeddedBroker | None = None
    consumer: MqttIngest | None = None
    relay: PostgresEventRelay | None = None
    notifier: Notifier | None = None
    ngsi_ld: NgsiLdState | None = None  # the app's NGSI-LD state, when an app serves it
    jobs: JobRunner | None = None  # the services' scheduled jobs (core/jobs.py says where)
    started: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, settings: Settings, engine: Engine | None = None) -> HubRuntime:
        """Build the runtime (nothing is started yet)."""
        engine = engine or make_engine(settings.database_url)
        events = EventBus()
        ingestor = Ingestor(engine, events, settings.max_clock_skew_s, settings.max_pack_bytes)
        return cls(settings, engine, make_sessionmaker(engine), events, ingestor)

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        upgrade(self.engine)

    def start_events(self) -> None:
        """Share events with the hub's other processes (PostgreSQL only; SQLite is one).

        Also start the NGSI-LD notifier, which matches the events this process stores.
        """
        if self.engine.dialect.name == "postgresql" and self.relay is None:
            self.relay = PostgresEventRelay(self.engine, self.events)
            self.relay.start()
        if self.notifier is None:
            self.notifier = Notifier(self.settings, self.engine, self.sessions, self.events)
            if self.ngsi_ld is not None:
                self.notifier.bind(self.ngsi_ld)  # the app's @context resolver, private types
            self.notifier.start()
        if jobs_setting() is True:
            self.start_jobs()

    def start_jobs(
        self, manifests: Sequence[ServiceManifest] | None = None, run_now: bool = False
    ) -> JobRunner:
        """Start the services' jobs (once; every service's when ``manifests`` is None).

        ``run_now`` runs each job once in this thread first, so its results are there
        when this returns (the demo's map before its URL is printed).
        """
        if self.jobs is None:
            chosen = discover_services() if manifests is None else manifests
            runner = JobRunner(
                self.engine, [*core_jobs(), *(j for m in chosen for j in m.jobs)], self
            )
            if run_now:
                runner.run_now()
            self.jobs = runner
            runner.start()
        return self.jobs

    def start_mqtt(self) -> None:
        """Start the embedded broker (if no broker is configured) and the consumer."""
        s = self.settings
        if s.embedded_mqtt:
            self.broker = EmbeddedBroker("127.0.0.1", s.embedded_mqtt_port)
            self.broker.start()
            logger.info("embedded MQTT broker on 127.0.0.1:%s", s.embedded_mqtt_port)
        self.consumer = MqttIngest(
            self.ingestor,
            s.effective_mqtt_url,
            s.mqtt_client_id,
            s.mqtt_share_group,
            # amqtt speaks MQTT 3.1.1 only; an external broker gets MQTT 5 and $share.
            mqtt5=not s.embedded_mqtt,
            session_expiry_s=s.mqtt_session_expiry_s,
            batch_size=s.ingest_batch_size,
            batch_wait_s=s.ingest_batch_wait_s,
        )
        self.consumer.start()
        # Embedded mode: no separate worker can run (a worker needs a broker), so this
        # process runs the jobs unless CITYSMART_RUN_JOBS=0.
        if s.embedded_mqtt and jobs_setting() is not False:
            self.start_jobs()

    def stop(self) -> None:
        """Stop the jobs, the consumer, the relay and notifier, then the broker; close the pool."""
        if self.jobs is not None:
            self.jobs.stop()
        if self.consumer is not None:
            self.consumer.stop()
        if self.relay is not None:
            self.relay.stop()
        if self.notifier is not None:
            self.notifier.stop()
        if self.broker is not None:
            self.broker.stop()
        self.engine.dispose()

    def health(self) -> dict[str, str]:
        """Report the database and broker connection."""
        status = {}
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            status["database"] = "ok"
        except Exception as exc:
            status["database"] = f"down: {exc.__class__.__name__}"
        if self.consumer is None:
            status["mqtt"] = "disabled"
        elif self.consumer.connected.is_set():
            status["mqtt"] = "ok"
        else:
            status["mqtt"] = f"down: {self.consumer.last_error or 'connecting'}"
        return status
