"""NGSI-LD notifications (clause 5.11): match hub events to subscriptions, send an outbox.

The runtime's :class:`~citysmart.core.events.EventBus` hands every ``ReadingsStored``
to :meth:`Notifier._on_event`, which only puts it on a bounded queue. A *matcher* thread
takes events in batches, loads the active subscriptions of the event's tenant and the
changed entities, evaluates :func:`subscriptions.matches` and writes one ``notification``
row (the outbox) per matching subscription and batch. A *sender* thread sends due rows
over HTTP (httpx) or MQTT (paho) and books each attempt on the subscription. Nothing of
this runs in the request or ingest thread that published the event.

Decisions where the specification or the hub leaves room:

- **One process matches an event: the one that stored it.** Events relayed from another
  process over PostgreSQL (``origin`` not empty) are ignored, so when ``citysmart
  serve`` and ``citysmart worker`` both run, MQTT readings are matched in the worker
  (which runs a notifier too) and HTTP ingest and NGSI-LD writes in the server: each
  change is matched exactly once, and no notification depends on NOTIFY, which is not
  durable. Every process sends outbox rows; a row is *claimed* by moving its ``due_at``
  forward with a conditional ``UPDATE`` (a lease of the timeout plus 30 s), so two senders
  never send the same row, and a sender that dies mid-send leaves the row to another
  once the lease ends (at least once). Rows outlive restarts: pending rows are picked up
  at start.
- What is lost: events still queued in memory when a process dies, and events dropped
  when the queue (10 000) is full (counted in ``dropped``, logged). The outbox is written
  after the change committed, not in its transaction.
- Device readings (trigger ``""``) count as ``attributeUpdated``: ingest does not tell a
  first reading of an attribute from later ones, so a subscription that asks for
  ``attributeCreated`` only hears of NGSI-LD creations, not of a device's first reading.
  Relayed or oversized events without attribute names change every attribute.
- Events of one entity, tenant and trigger in one batch are merged, and one notification
  per subscription and batch carries every matching entity, in its state when matched
  (not the value each event carried). ``showChanges`` has no previous values: events do
  not carry them.
- ``entityDeleted``: the entity is gone when its event is matched, so its types come from
  a cache of entities this notifier has seen; a deletion of an entity it never saw does
  not notify (``ReadingsStored`` carries no types).
- ``throttling`` counts from the later of ``lastNotification`` and the last notification
  this process queued; two processes may each send one within one throttling period.
- Subscriptions are cached per tenant and re-read when their fingerprint (count, latest
  ``modified_at``, latest ``last_notification``) changes, checked once per batch: a
  subscription created, changed or deleted in another process applies to the next batch.
  Routes also :meth:`invalidate` directly.
- Notifications are compacted with ``jsonldContext`` when the subscription has one, else
  with the @context it was made with; that context is named in the ``Link`` header
  (``application/json``) or in ``@context`` (``application/ld+json``). If it cannot be
  resolved, the core context is used and named instead. An inline (non-URL) context
  cannot go in a ``Link`` header: the first URL in it, or the core context, is named.
- HTTP: POST ``endpoint.uri`` with ``Content-Type`` = ``endpoint.accept``,
  ``receiverInfo`` as headers (Content-Type and Link cannot be overridden), and
  ``NGSILD-Tenant`` for a non-default tenant; any 2xx is a success. MQTT (clause 7.3):
  ``mqtt[s]://[user:password@]host[:port]/topic`` gets ``{"metadata": headers, "body":
  notification}``, QoS 1 unless ``notifierInfo`` ``MQTT-QoS`` says 0 or 2, MQTT 3.1.1
  unless ``MQTT-Version`` is ``mqtt5.0``. The timeout is ``endpoint.timeout`` or
  ``CITYSMART_NGSI_LD_NOTIFY_TIMEOUT_S``.
- A failed attempt is retried after ``retry_base_s`` x 2^(attempts-1) (at most
  ``retry_max_s``); after ``CITYSMART_NGSI_LD_NOTIFY_ATTEMPTS`` attempts the row stays,
  ``failed``, with its last error, for operators. Every attempt counts in ``timesSent``,
  failures in ``timesFailed``. A row queued while its subscription was active is sent
  even if the subscription is paused meanwhile; deleting the subscription deletes it.
- ``timeInterval``: every tick (0.5 s) a due subscription is notified of the current
  state of its matching entities (at most 1000); a period is claimed in the database, so
  one process notifies it. A period with no matching entity sends nothing.
- Entities of the types a service keeps private are never notified. The resolver and
  private types are the app's once a subscription route ran (:meth:`bind`); until then
  (and in ``citysmart worker``) the notifier builds its own from the settings.
- The sender is one thread: a slow endpoint delays the others by at most its timeout.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from citysmart.core.config import Settings
from citysmart.core.events import EventBus, ReadingsStored
from citysmart.core.time import utcnow
from citysmart.hub.models import EntityType
from citysmart.hub.ngsi_ld.codec import expanded_name, stored_type
from citysmart.hub.ngsi_ld.context import (
    CORE_CONTEXT_URL,
    JSONLD_CONTEXT_REL,
    ActiveContext,
    ContextError,
    ContextResolver,
    ContextSettings,
)
from citysmart.hub.ngsi_ld.entity_store import load_entities
from citysmart.hub.ngsi_ld.model import EntityFragment, NgsiLdError
from citysmart.hub.ngsi_ld.render import render_entity
from citysmart.hub.ngsi_ld.subscription_store import (
    EPOCH,
    StoredSubscription,
    active_rows,
    book_attempt,
    claim_period,
    fingerprint,
    from_row,
    parse_body,
    with_status,
)
from citysmart.hub.ngsi_ld.subscriptions import (
    ChangeEvent,
    Endpoint,
    Subscription,
    Trigger,
    due_periodic,
    matches,
    notification_body,
    selects,
)
from citysmart.hub.ngsi_ld.tables import NotificationRow, SubscriptionRow
from citysmart.hub.ngsi_ld.tenancy import TENANT_HEADER, Tenants

if TYPE_CHECKING:
    from citysmart.hub.ngsi_ld.http import NgsiLdState

logger = logging.getLogger(__name__)

JSON: Final = "application/json"
QUEUE_SIZE: Final = 10_000
BATCH_SIZE: Final = 500
SEND_BATCH: Final = 20
MAX_PERIODIC_ENTITIES: Final = 1000
TYPE_CACHE_SIZE: Final = 10_000
TENANT_REFRESH_S: Final = 5.0
LEASE_MARGIN_S: Final = 30.0
WARN_EVERY_S: Final = 30.0
_TRIGGERS: Final = frozenset(t.value for t in Trigger)


@dataclass(slots=True)
class _Change:
    """Events of one entity, tenant and trigger, merged."""

    tenant: str
    entity_id: str
    trigger: Trigger
    attributes: frozenset[str]  # expanded; empty: every attribute
    stored_at: dt.datetime | None = None  # the newest of its events' announcement times


@dataclass(frozen=True, slots=True)
class _Claimed:
    """An outbox row this sender holds the lease of."""

    id: int
    subscription_id: str
    attempts: int
    body: Mapping[str, Any]


@dataclass(slots=True)
class _Cached:
    """A tenant's active subscriptions and the fingerprint they were read at."""

    mark: tuple[Any, ...]
    subs: list[StoredSubscription] = field(default_factory=list)


def trigger_of(event: ReadingsStored) -> Trigger:
    """Return the trigger of an event; device readings are attribute updates."""
    return Trigger(event.trigger) if event.trigger in _TRIGGERS else Trigger.ATTRIBUTE_UPDATED


def coalesce(events: Iterable[ReadingsStored]) -> dict[str, list[_Change]]:
    """Merge the events of one entity, tenant and trigger; group them by tenant."""
    merged: dict[tuple[str, str, Trigger], _Change] = {}
    for event in events:
        trigger = trigger_of(event)
        names = frozenset(expanded_name(a) for a in event.attributes)
        key = (event.tenant, event.entity_id, trigger)
        found = merged.get(key)
        if found is None:
            merged[key] = found = _Change(event.tenant, event.entity_id, trigger, names)
        elif found.attributes and names:
            found.attributes |= names
        else:
            found.attributes = frozenset()
        if event.stored_at is not None and (
            found.stored_at is None or event.stored_at > found.stored_at
        ):
            found.stored_at = event.stored_at
    grouped: dict[str, list[_Change]] = {}
    for change in merged.values():
        grouped.setdefault(change.tenant, []).append(change)
    return grouped


def changed_before(change: _Change, sub: Subscription) -> bool:
    """Tell whether a change was stored before a subscription was made (not its business)."""
    return (
        change.stored_at is not None
        and sub.created_at is not None
        and (change.stored_at < sub.created_at)
    )


def backoff(attempts: int, base_s: float, max_s: float) -> float:
    """Return the seconds to wait after the ``attempts``-th failed attempt."""
    return float(min(base_s * 2 ** max(attempts - 1, 0), max_s))


def context_url(reference: Any) -> str:
    """Return the URL a Link header can name for a context reference."""
    if isinstance(reference, str):
        return reference
    if isinstance(reference, list):
        return next((r for r in reference if isinstance(r, str)), CORE_CONTEXT_URL)
    return CORE_CONTEXT_URL


def headers_for(endpoint: Endpoint, link_url: str | None, tenant: str) -> dict[str, str]:
    """Return the headers of a notification: receiverInfo, Content-Type, Link, tenant."""
    headers = {pair.key: pair.value for pair in endpoint.receiver_info}
    for key in [k for k in headers if k.lower() in ("content-type", "link")]:
        del headers[key]
    headers["Content-Type"] = endpoint.accept
    if endpoint.accept == JSON and link_url:
        headers["Link"] = f'<{link_url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'
    if tenant:
        headers[TENANT_HEADER] = tenant
    return headers


def publish_mqtt(
    endpoint: Endpoint, headers: Mapping[str, str], message: Any, timeout: float
) -> None:
    """Publish a notification to an MQTT endpoint (clause 7.3); raise on failure."""
    parts = urlsplit(endpoint.uri)
    secure = parts.scheme.lower() == "mqtts"
    topic = unquote(parts.path.lstrip("/"))
    if not topic or not parts.hostname:
        raise ValueError(f"{endpoint.uri} names no host or topic")
    info = {pair.key: pair.value for pair in endpoint.notifier_info}
    qos = int(info["MQTT-QoS"]) if info.get("MQTT-QoS") in ("0", "1", "2") else 1
    v5 = info.get("MQTT-Version") == "mqtt5.0"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"citysmart-notifier-{uuid.uuid4().hex[:12]}",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    client.connect_timeout = timeout
    if parts.username:
        client.username_pw_set(unquote(parts.username), unquote(parts.password or "") or None)
    if secure:
        client.tls_set()
    payload = json.dumps({"metadata": dict(headers), "body": message}).encode()
    client.connect(parts.hostname, parts.port or (8883 if secure else 1883))
    client.loop_start()
    try:
        sent = client.publish(topic, payload, qos=qos)
        sent.wait_for_publish(timeout)
        if not sent.is_published():
            raise TimeoutError(f"no acknowledgement from {parts.hostname} in {timeout:g} s")
    finally:
        client.disconnect()
        client.loop_stop()


class Notifier:
    """Match hub events to subscriptions and send the notifications, off the request path."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        sessions: sessionmaker[Session],
        events: EventBus,
        *,
        tick_s: float = 0.5,
        retry_base_s: float = 1.0,
        retry_max_s: float = 300.0,
    ) -> None:
        self.settings = settings
        self.events = events
        self.tenants = Tenants(engine, sessions, settings.data_dir / "tenants")
        self.tick_s = tick_s
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.dropped = 0  # events lost to a full queue
        self.queued = 0  # notifications this notifier put in the outbox
        self._queue: queue.Queue[ReadingsStored | None] = queue.Queue(QUEUE_SIZE)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._http = httpx.Client(follow_redirects=False)
        self._resolver: ContextResolver | None = None
        self._private: frozenset[str] | None = None
        self._cache: dict[str, _Cached] = {}
        self._parsed: dict[tuple[str, str], tuple[dt.datetime, Subscription]] = {}
        self._types: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._queued_at: dict[tuple[str, str], dt.datetime] = {}
        self._quiet_until: dict[tuple[str, str], dt.datetime] = {}
        self._tenant_names: tuple[float, list[str]] = (float("-inf"), [""])
        self._warned: dict[str, float] = {}

    # -- life ----------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to the event bus and start the matcher and sender threads."""
        if self._threads:
            return
        self._unsubscribe = self.events.subscribe(self._on_event)
        for target, name in (
            (self._match_loop, "ngsi-ld-match"),
            (self._send_loop, "ngsi-ld-send"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float | None = None) -> None:
        """Stop both threads (waiting at most ``timeout`` for each) and close connections."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stop.set()
        self._wake.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)  # wakes the matcher
        wait = timeout if timeout is not None else self.settings.ngsi_ld_notify_timeout_s + 1
        for thread in self._threads:
            thread.join(wait)
        self._threads.clear()
        self._http.close()
        self.tenants.dispose()

    def bind(self, state: NgsiLdState) -> None:
        """Use the app's @context resolver and private types."""
        self._resolver = state.resolver
        self._private = state.private_types

    def invalidate(self, tenant: str) -> None:
        """Forget a tenant's cached subscriptions (one was created, changed or deleted)."""
        self._cache.pop(tenant, None)

    # -- events --------------------------------------------------------------------------

    def _on_event(self, event: ReadingsStored) -> None:
        """Queue an event this process stored; never block or raise."""
        if event.origin:
            return  # stored by another process, which matches it
        if event.stored_at is None:
            event = replace(event, stored_at=utcnow())
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            self._warn("queue", f"notification queue full, {self.dropped} event(s) dropped")

    def _match_loop(self) -> None:
        next_tick = 0.0
        while not self._stop.is_set():
            batch = self._take(self.tick_s)
            if batch:
                self._guarded("matching", partial(self._match, batch))
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.tick_s
                self._guarded("periodic notifications", self._periodic_all)

    def _take(self, wait: float) -> list[ReadingsStored]:
        """Wait for an event, then take what else is queued (at most a batch)."""
        try:
            first = self._queue.get(timeout=wait)
        except queue.Empty:
            return []
        batch = [first] if first is not None else []
        while len(batch) < BATCH_SIZE:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                break
            if event is not None:
                batch.append(event)
        return batch

    def _match(self, events: Sequence[ReadingsStored]) -> None:
        for tenant, changes in coalesce(events).items():
            self._guarded(
                f"matching tenant {tenant!r}", partial(self._match_tenant, tenant, changes)
            )

    def _match_tenant(self, tenant: str, changes: Sequence[_Change]) -> None:
        """Match a tenant's changes; again with fresh subscriptions if one was just deleted."""
        try:
            self._match_changes(tenant, changes)
        except IntegrityError:
            self.invalidate(tenant)
            self._match_changes(tenant, changes)

    def _match_changes(self, tenant: str, changes: Sequence[_Change]) -> None:
        factory = self.tenants.sessions(tenant)
        with factory() as session:
            subs = [s for s in self._subscriptions(tenant, session) if s.sub.time_interval is None]
            if not subs:
                return
            entities = load_entities(session, self._worth_loading(session, subs, changes))
            now = utcnow()
            found = self._matching(tenant, subs, changes, entities, now)
            if not found:
                return
            for stored, fragments in found:
                session.add(self._outbox_row(stored, fragments, now))
            session.commit()
        for stored, _ in found:
            self._queued_at[(tenant, stored.sub.id)] = now
        self.queued += len(found)
        self._wake.set()

    def _worth_loading(
        self, session: Session, subs: Sequence[StoredSubscription], changes: Sequence[_Change]
    ) -> list[str]:
        """Return the changed entities some subscription may select (watched names, types)."""
        watched: set[str] | None = set()
        for stored in subs:
            if watched is not None and stored.sub.watched_attributes:
                watched.update(stored.sub.watched_attributes)
            else:
                watched = None
        ids = [
            c.entity_id
            for c in changes
            if watched is None or not c.attributes or not watched.isdisjoint(c.attributes)
        ]
        if not ids or any(not stored.sub.entities for stored in subs):
            return ids
        types = {stored_type(s.type) for stored in subs for s in stored.sub.entities}
        typed = select(EntityType.entity_id).where(
            EntityType.entity_id.in_(ids), EntityType.type.in_(types)
        )
        return sorted(set(session.scalars(typed)))

    def _matching(
        self,
        tenant: str,
        subs: Sequence[StoredSubscription],
        changes: Sequence[_Change],
        entities: Mapping[str, EntityFragment],
        now: dt.datetime,
    ) -> list[tuple[StoredSubscription, list[EntityFragment]]]:
        """Return each subscription some change notifies, with the entities it notifies of."""
        picked: dict[str, tuple[StoredSubscription, dict[str, EntityFragment]]] = {}
        last = {s.sub.id: self._last_sent(tenant, s.sub) for s in subs}
        for change in changes:
            event, fragment = self._event(change, entities.get(change.entity_id))
            if event is None or fragment is None:
                continue
            for stored in subs:
                if changed_before(change, stored.sub):
                    continue  # queued before the subscription existed
                if matches(stored.sub, event, now, last[stored.sub.id]):
                    picked.setdefault(stored.sub.id, (stored, {}))[1][change.entity_id] = fragment
        return [(stored, list(found.values())) for stored, found in picked.values()]

    def _event(
        self, change: _Change, fragment: EntityFragment | None
    ) -> tuple[ChangeEvent | None, EntityFragment | None]:
        """Return the ChangeEvent of a change and the entity to notify of."""
        entity: dict[str, Any] | None = None
        if fragment is not None:
            self._remember_types(change.entity_id, fragment.types)
            entity = render_entity(fragment, sys_attrs=True)
        elif change.trigger is Trigger.ENTITY_DELETED and change.entity_id in self._types:
            fragment = EntityFragment(id=change.entity_id, types=self._types[change.entity_id])
        if fragment is None or self._is_private(fragment.types):
            return None, None
        event = ChangeEvent(
            entity_id=change.entity_id,
            entity_types=fragment.types,
            trigger=change.trigger,
            attributes=change.attributes,
            entity=entity,
        )
        return event, fragment

    def _remember_types(self, entity_id: str, types: tuple[str, ...]) -> None:
        self._types[entity_id] = types
        self._types.move_to_end(entity_id)
        while len(self._types) > TYPE_CACHE_SIZE:
            self._types.popitem(last=False)

    def _last_sent(self, tenant: str, sub: Subscription) -> dt.datetime | None:
        times = [t for t in (sub.last_notification, self._queued_at.get((tenant, sub.id))) if t]
        return max(times) if times else None

    # -- subscriptions -------------------------------------------------------------------

    def _subscriptions(self, tenant: str, session: Session) -> list[StoredSubscription]:
        """Return a tenant's active subscriptions, read again when they changed."""
        mark = fingerprint(session)
        cached = self._cache.get(tenant)
        if cached is not None and cached.mark == mark:
            return cached.subs
        subs = []
        for row in active_rows(session, utcnow()):
            try:
                subs.append(self._read(tenant, row))
            except NgsiLdError as exc:
                self._warn(f"subscription {row.id}", f"cannot read subscription {row.id}: {exc}")
        self._cache[tenant] = _Cached(mark, subs)
        self._forget_others(tenant, {s.sub.id for s in subs})
        return subs

    def _forget_others(self, tenant: str, kept: set[str]) -> None:
        """Drop what is remembered of a tenant's subscriptions that are gone or inactive."""
        for memory in (self._parsed, self._queued_at, self._quiet_until):
            for key in [k for k in memory if k[0] == tenant and k[1] not in kept]:
                del memory[key]

    def _read(self, tenant: str, row: SubscriptionRow) -> StoredSubscription:
        """Read a row, parsing its body only when it changed."""
        key = (tenant, row.id)
        parsed = self._parsed.get(key)
        if parsed is None or parsed[0] != row.modified_at:
            parsed = (row.modified_at, parse_body(row.body))
            self._parsed[key] = parsed
        return with_status(parsed[1], row)

    # -- notification bodies -------------------------------------------------------------

    def _outbox_row(
        self, stored: StoredSubscription, fragments: Sequence[EntityFragment], now: dt.datetime
    ) -> NotificationRow:
        """Return the outbox row of one notification: the message and the context URL."""
        sub = stored.sub
        ctx, reference = self._context(sub.jsonld_context or stored.context or CORE_CONTEXT_URL)
        message = notification_body(
            sub,
            fragments,
            now,
            compact_term=ctx.compact_iri,
            compact_type=ctx.compact_type,
            context=reference,
        )
        return NotificationRow(
            subscription_id=sub.id,
            created_at=now,
            due_at=now,
            attempts=0,
            status="pending",
            body={"context": context_url(reference), "message": message},
        )

    def _context(self, reference: Any) -> tuple[ActiveContext, Any]:
        """Resolve a subscription's @context; the core one when it cannot be had."""
        resolver = self._context_resolver()
        try:
            return resolver.resolve(reference), reference
        except ContextError as exc:
            self._warn(f"context {reference!r}", f"notifying with the core @context: {exc}")
            return resolver.core, CORE_CONTEXT_URL

    def _context_resolver(self) -> ContextResolver:
        if self._resolver is None:
            s = self.settings
            resolver = ContextResolver(
                settings=ContextSettings(allow_remote=s.ngsi_ld_remote_contexts)
            )
            if s.ngsi_ld_context_preload is not None:
                resolver.preload_mapping(s.ngsi_ld_context_preload)
            self._resolver = resolver
        return self._resolver

    def _is_private(self, types: Sequence[str]) -> bool:
        if self._private is None:
            from citysmart.core.service import discover_services

            core = self._context_resolver().core
            self._private = frozenset(
                stored_type(core.expand_type(t))
                for manifest in discover_services()
                for t in manifest.private_types
            )
        return bool(self._private) and any(stored_type(t) in self._private for t in types)

    # -- periodic notifications ----------------------------------------------------------

    def _periodic_all(self) -> None:
        for tenant in self._known_tenants():
            self._guarded(f"periodic tenant {tenant!r}", partial(self._periodic, tenant))

    def _periodic(self, tenant: str) -> None:
        factory = self.tenants.sessions(tenant)
        with factory() as session:
            subs = self._subscriptions(tenant, session)
            now = utcnow()
            for stored in subs:
                if stored.sub.time_interval is not None and due_periodic(stored.sub, now):
                    self._notify_period(tenant, session, stored, now)

    def _notify_period(
        self, tenant: str, session: Session, stored: StoredSubscription, now: dt.datetime
    ) -> None:
        """Notify a due periodic subscription of its entities, if this process wins the period."""
        sub = stored.sub
        key = (tenant, sub.id)
        if self._quiet_until.get(key, EPOCH) > now:
            return
        fragments = self._current_entities(session, sub)
        if not fragments:
            self._quiet_until[key] = now + dt.timedelta(seconds=sub.time_interval or 0)
            return
        if not claim_period(session, sub.id, sub.last_notification, now):
            session.rollback()
            return
        session.add(self._outbox_row(stored, fragments, now))
        session.commit()
        self.queued += 1
        self._wake.set()

    def _current_entities(self, session: Session, sub: Subscription) -> list[EntityFragment]:
        """Return the entities a subscription selects now (entities, q, geoQ, scopeQ)."""
        types = sorted({stored_type(s.type) for s in sub.entities})
        stmt = select(EntityType.entity_id).where(EntityType.type.in_(types)).distinct()
        ids = [s.id for s in sub.entities if s.id is not None]
        if len(ids) == len(sub.entities):
            stmt = stmt.where(EntityType.entity_id.in_(ids))
        stmt = stmt.order_by(EntityType.entity_id).limit(MAX_PERIODIC_ENTITIES)
        entities = load_entities(session, list(session.scalars(stmt)))
        return [
            fragment
            for entity_id, fragment in sorted(entities.items())
            if not self._is_private(fragment.types)
            and selects(sub, entity_id, fragment.types, render_entity(fragment, sys_attrs=True))
        ]

    # -- sending -------------------------------------------------------------------------

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.tick_s)
            self._wake.clear()
            for tenant in self._known_tenants():
                self._guarded(f"sending tenant {tenant!r}", partial(self._send_tenant, tenant))

    def _send_tenant(self, tenant: str) -> None:
        factory = self.tenants.sessions(tenant)
        while not self._stop.is_set() and self._send_due(tenant, factory):
            pass

    def _send_due(self, tenant: str, factory: sessionmaker[Session]) -> int:
        """Claim and send due rows; return how many were claimed."""
        claimed = self._claim(factory)
        for index, row in enumerate(claimed):
            if self._stop.is_set():
                self._release(factory, [r.id for r in claimed[index:]])
                break
            self._deliver(tenant, factory, row)
        return len(claimed)

    def _lease_s(self) -> float:
        return self.settings.ngsi_ld_notify_timeout_s + LEASE_MARGIN_S

    def _claim(self, factory: sessionmaker[Session]) -> list[_Claimed]:
        """Take the lease of due pending rows that no other sender took first."""
        n = NotificationRow
        now = utcnow()
        lease = now + dt.timedelta(seconds=self._lease_s())
        claimed = []
        with factory() as session:
            due = session.execute(
                select(n.id, n.subscription_id, n.attempts, n.body, n.due_at)
                .where(n.status == "pending", n.due_at <= now)
                .order_by(n.due_at, n.id)
                .limit(SEND_BATCH)
            ).all()
            for row_id, sub_id, attempts, body, due_at in due:
                taken = session.execute(
                    update(n)
                    .where(n.id == row_id, n.status == "pending", n.due_at == due_at)
                    .values(due_at=lease)
                )
                if getattr(taken, "rowcount", 0) == 1:
                    claimed.append(_Claimed(row_id, sub_id, attempts, body))
            session.commit()
        return claimed

    def _release(self, factory: sessionmaker[Session], ids: list[int]) -> None:
        """Give back the lease of rows this sender will not send (it is stopping)."""
        n = NotificationRow
        with factory() as session:
            session.execute(update(n).where(n.id.in_(ids)).values(due_at=utcnow()))
            session.commit()

    def _deliver(self, tenant: str, factory: sessionmaker[Session], row: _Claimed) -> None:
        """Send one row, then book the attempt and delete, retry or fail the row."""
        with factory() as session:
            found = session.get(SubscriptionRow, row.subscription_id)
            stored = from_row(found) if found is not None else None
        error = self._send(tenant, stored.sub.notification.endpoint, row.body) if stored else None
        now = utcnow()
        n = NotificationRow
        with factory() as session:
            if stored is None or error is None:
                session.execute(delete(n).where(n.id == row.id))
            else:
                attempts = row.attempts + 1
                failed = attempts >= self.settings.ngsi_ld_notify_attempts
                wait = backoff(attempts, self.retry_base_s, self.retry_max_s)
                session.execute(
                    update(n)
                    .where(n.id == row.id)
                    .values(
                        attempts=attempts,
                        status="failed" if failed else "pending",
                        due_at=now + dt.timedelta(seconds=wait),
                        last_error=error[:2000],
                    )
                )
            if stored is not None:
                book_attempt(session, row.subscription_id, error is None, now)
            session.commit()

    def _send(self, tenant: str, endpoint: Endpoint, body: Mapping[str, Any]) -> str | None:
        """Send a notification; return None on success, else what went wrong."""
        headers = headers_for(endpoint, body.get("context"), tenant)
        message = body.get("message")
        timeout = (endpoint.timeout or 0) / 1000 or self.settings.ngsi_ld_notify_timeout_s
        try:
            if urlsplit(endpoint.uri).scheme.lower() in ("mqtt", "mqtts"):
                publish_mqtt(endpoint, headers, message, timeout)
                return None
            response = self._http.post(
                endpoint.uri,
                content=json.dumps(message, ensure_ascii=False).encode(),
                headers=headers,
                timeout=timeout,
            )
        except Exception as exc:  # any failure of the endpoint is a failed attempt
            return f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        return f"HTTP {response.status_code}: {response.text[:500]}"

    # -- helpers -------------------------------------------------------------------------

    def _known_tenants(self) -> list[str]:
        """Return the default tenant and the others, listed again every few seconds."""
        listed_at, names = self._tenant_names
        if time.monotonic() - listed_at >= TENANT_REFRESH_S:
            try:
                names = ["", *self.tenants.known()]
            except Exception as exc:
                self._warn("tenants", f"cannot list tenants: {exc}")
            self._tenant_names = (time.monotonic(), names)
        return names

    def _guarded(self, what: str, work: Callable[[], object]) -> None:
        """Run one piece of work; log a failure (at most every 30 s per kind), never raise."""
        try:
            work()
        except Exception as exc:
            self._warn(what, f"{what} failed: {type(exc).__name__}: {exc}")

    def _warn(self, key: str, message: str) -> None:
        now = time.monotonic()
        if now - self._warned.get(key, float("-inf")) >= WARN_EVERY_S:
            self._warned[key] = now
            logger.warning("%s", message)


__all__ = [
    "Notifier",
    "backoff",
    "coalesce",
    "context_url",
    "headers_for",
    "publish_mqtt",
    "trigger_of",
]
