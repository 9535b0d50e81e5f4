"""An in-process event bus: the hub announces stored readings, services react."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReadingsStored:
    """New readings of an entity were committed."""

    entity_id: str
    attributes: frozenset[str]
    latest: dt.datetime
    count: int
    origin: str = ""  # empty when stored by this process; else the storing process's id
    tenant: str = ""  # the NGSI-LD tenant; empty for the hub's own database
    trigger: str = ""  # an NGSI-LD trigger (entityCreated, ...); empty for device readings
    stored_at: dt.datetime | None = None  # when it was announced, if the publisher says


Handler = Callable[[ReadingsStored], None]


class EventBus:
    """Deliver events to every subscriber; a failing subscriber never stops the others."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._lock = threading.Lock()

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Register a handler; return a function that unsubscribes it."""
        with self._lock:
            self._handlers.append(handler)

        def unsubscribe() -> None:
            with self._lock:
                if handler in self._handlers:
                    self._handlers.remove(handler)

        return unsubscribe

    def publish(self, event: ReadingsStored) -> None:
        """Call every handler with the event."""
        with self._lock:
            handlers = list(self._handlers)
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                logger.exception("event handler %r failed", handler)
