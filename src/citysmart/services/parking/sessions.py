"""Parking sessions from entry and exit events, and overstay alerts against a lot's limit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

EventKind = Literal["entry", "exit"]


@dataclass(frozen=True)
class GateEvent:
    """A vehicle passing a lot's gate; ``vehicle`` is a ticket or a hashed plate, never a plate."""

    lot: str
    vehicle: str
    kind: EventKind
    at: dt.datetime


@dataclass(frozen=True)
class Session:
    """A stay in a lot: open until its exit is seen."""

    lot: str
    vehicle: str
    entry: dt.datetime
    exit: dt.datetime | None = None

    def duration(self, now: dt.datetime) -> dt.timedelta:
        """Return how long the stay lasted, or has lasted until ``now`` when still open."""
        return (self.exit or now) - self.entry


@dataclass(frozen=True)
class Anomaly:
    """An event that does not fit a session: an exit never entered, an entry seen twice."""

    event: GateEvent
    reason: str


def build_sessions(events: Iterable[GateEvent]) -> tuple[list[Session], list[Anomaly]]:
    """Pair each lot's entries and exits by vehicle, in time order."""
    open_: dict[tuple[str, str], GateEvent] = {}
    sessions: list[Session] = []
    anomalies: list[Anomaly] = []
    for event in sorted(events, key=lambda e: (e.at, e.kind == "entry")):
        key = (event.lot, event.vehicle)
        if event.kind == "entry":
            earlier = open_.get(key)
            if earlier is not None:
                # A second entry without an exit: the exit was missed; close nothing, flag it.
                anomalies.append(Anomaly(earlier, "entry without exit before a new entry"))
            open_[key] = event
            continue
        entry = open_.pop(key, None)
        if entry is None:
            anomalies.append(Anomaly(event, "exit without entry"))
            continue
        sessions.append(Session(event.lot, event.vehicle, entry.at, event.at))
    sessions.extend(Session(e.lot, e.vehicle, e.at) for e in open_.values())
    sessions.sort(key=lambda s: (s.entry, s.lot, s.vehicle))
    return sessions, anomalies


def overstays(
    sessions: Iterable[Session], limits: dict[str, dt.timedelta], now: dt.datetime
) -> list[Session]:
    """Return the open sessions that have passed their lot's time limit (lots without one: none)."""
    found = []
    for session in sessions:
        limit = limits.get(session.lot)
        if session.exit is None and limit is not None and session.duration(now) > limit:
            found.append(session)
    return found


def turnover(
    sessions: Iterable[Session], capacity: int, start: dt.datetime, end: dt.datetime
) -> float:
    """Return sessions started in [start, end) per space: how often each space changed hands."""
    if capacity <= 0:
        raise ValueError("capacity must be positive")
    started = sum(1 for s in sessions if start <= s.entry < end)
    return started / capacity
