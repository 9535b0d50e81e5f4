"""Subscriptions in a tenant's database: ``subscription`` rows to and from :class:`Subscription`.

A row keeps the subscription expanded in ``body`` (names as IRIs), the @context it was
made with in ``context`` (compacting notifications and reads with it), and the status the
broker maintains in columns (``is_active`` and ``expires_at`` also in columns so they can
be queried). Decisions:

- ``body`` is :func:`render_subscription` with names left expanded and without the
  broker's counters, plus ``qNames``: the term -> IRI map of the names in ``q``, so ``q``
  is read back exactly as given (and rendered as given) yet evaluated with the names the
  subscriber's @context gave them. Reading a row parses ``body`` again with names taken
  as they are, at the epoch (so an ``expiresAt`` now past still reads back).
- A notification attempt is booked with one ``UPDATE`` that adds what
  :func:`record_attempt` adds, so two senders (two processes) never lose a count.
- A ``timeInterval`` period is claimed by moving ``last_notification`` from the value
  the claimer read to now, with one conditional ``UPDATE``: of two processes only one
  wins a period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from citysmart.hub.ngsi_ld.qlang import map_attribute_names, parse_q
from citysmart.hub.ngsi_ld.subscriptions import (
    Endpoint,
    NotificationParams,
    Subscription,
    parse_subscription,
    record_attempt,
    render_subscription,
)
from citysmart.hub.ngsi_ld.tables import SubscriptionRow

EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
Q_NAMES: Final = "qNames"
_COUNTERS: Final = frozenset(
    {"status", "timesSent", "timesFailed", "lastNotification", "lastSuccess", "lastFailure"}
)
# A subscription that was never notified: record_attempt on it gives what one attempt adds.
_BLANK: Final = Subscription(
    id="urn:ngsi-ld:Subscription:blank",
    notification=NotificationParams(endpoint=Endpoint(uri="http://blank.invalid")),
)


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    """A subscription read from its row, with the @context reference it was made with."""

    sub: Subscription
    context: Any


def _same(name: str) -> str:
    return name


def q_names(sub: Subscription) -> dict[str, str]:
    """Return the names of ``q`` as given, mapped to the names ``q_expr`` evaluates."""
    if sub.q is None or sub.q_expr is None:
        return {}
    given: list[str] = []
    expanded: list[str] = []
    map_attribute_names(parse_q(sub.q), _recorder(given))
    map_attribute_names(sub.q_expr, _recorder(expanded))
    return dict(zip(given, expanded, strict=True))


def _recorder(names: list[str]) -> Callable[[str], str]:
    def record(name: str) -> str:
        names.append(name)
        return name

    return record


def to_body(sub: Subscription) -> dict[str, Any]:
    """Return the JSON a row keeps for a subscription (names expanded, no counters)."""
    body = render_subscription(sub, _same, _same, EPOCH)
    body.pop("status", None)
    notification = body["notification"]
    body["notification"] = {k: v for k, v in notification.items() if k not in _COUNTERS}
    names = q_names(sub)
    if names:
        body[Q_NAMES] = names
    return body


def from_row(row: SubscriptionRow) -> StoredSubscription:
    """Read a row back into a subscription with its counters and @context."""
    return with_status(parse_body(row.body), row)


def parse_body(stored: Mapping[str, Any]) -> Subscription:
    """Read what :func:`to_body` wrote (the members, without the row's status)."""
    body = dict(stored)
    names: Mapping[str, str] = body.pop(Q_NAMES, None) or {}
    sub = parse_subscription(body, expand_term=_same, expand_type=_same, now=EPOCH)
    if sub.q is None:
        return sub
    return replace(sub, q_expr=map_attribute_names(parse_q(sub.q), lambda n: names.get(n, n)))


def with_status(sub: Subscription, row: SubscriptionRow) -> StoredSubscription:
    """Return a parsed subscription with its row's status, counters and @context."""
    sub = replace(
        sub,
        is_active=row.is_active,
        expires_at=row.expires_at,
        created_at=row.created_at,
        modified_at=row.modified_at,
        times_sent=row.times_sent,
        times_failed=row.times_failed,
        last_notification=row.last_notification,
        last_success=row.last_success,
        last_failure=row.last_failure,
    )
    return StoredSubscription(sub, row.context)


def new_row(sub: Subscription, context: Any) -> SubscriptionRow:
    """Return the row of a new subscription."""
    row = SubscriptionRow(id=sub.id, times_sent=0, times_failed=0)
    fill_row(row, sub, context)
    row.created_at = sub.created_at or row.modified_at
    return row


def fill_row(row: SubscriptionRow, sub: Subscription, context: Any) -> None:
    """Write a subscription's members (not its counters) into its row."""
    assert sub.modified_at is not None
    row.body = to_body(sub)
    row.context = context
    row.is_active = sub.is_active
    row.expires_at = sub.expires_at
    row.modified_at = sub.modified_at


def load(session: Session, subscription_id: str) -> StoredSubscription | None:
    """Return one subscription, or None."""
    row = session.get(SubscriptionRow, subscription_id)
    return None if row is None else from_row(row)


def page(session: Session, limit: int, offset: int) -> tuple[list[SubscriptionRow], int]:
    """Return a page of subscriptions, oldest first, and how many there are."""
    total = int(session.scalar(select(func.count()).select_from(SubscriptionRow)) or 0)
    rows: list[SubscriptionRow] = []
    if limit:
        stmt = select(SubscriptionRow).order_by(SubscriptionRow.created_at, SubscriptionRow.id)
        rows = list(session.scalars(stmt.limit(limit).offset(offset)))
    return rows, total


def fingerprint(session: Session) -> tuple[Any, ...]:
    """Return what changes whenever a subscription is created, changed, deleted or notified."""
    r = SubscriptionRow
    stmt = select(func.count(), func.max(r.modified_at), func.max(r.last_notification))
    found = session.execute(stmt).one()
    return tuple(found)


def active_rows(session: Session, now: dt.datetime) -> list[SubscriptionRow]:
    """Return the rows of active, unexpired subscriptions."""
    r = SubscriptionRow
    stmt = select(r).where(r.is_active.is_(True), (r.expires_at.is_(None)) | (r.expires_at > now))
    return list(session.scalars(stmt.order_by(r.id)))


def book_attempt(session: Session, subscription_id: str, ok: bool, now: dt.datetime) -> None:
    """Book one notification attempt on the row (what :func:`record_attempt` books)."""
    r = SubscriptionRow
    one = record_attempt(_BLANK, now, ok)
    values: dict[str, Any] = {
        "times_sent": r.times_sent + one.times_sent,
        "times_failed": r.times_failed + one.times_failed,
        "last_notification": one.last_notification,
    }
    if one.last_success is not None:
        values["last_success"] = one.last_success
    if one.last_failure is not None:
        values["last_failure"] = one.last_failure
    session.execute(update(r).where(r.id == subscription_id).values(values))


def claim_period(
    session: Session, subscription_id: str, seen: dt.datetime | None, now: dt.datetime
) -> bool:
    """Move ``last_notification`` from ``seen`` to now; tell whether this caller won."""
    r = SubscriptionRow
    unchanged: ColumnElement[bool] = (
        r.last_notification.is_(None) if seen is None else r.last_notification == seen
    )
    stmt = update(r).where(r.id == subscription_id, unchanged).values(last_notification=now)
    result = session.execute(stmt)
    return bool(getattr(result, "rowcount", 0) == 1)


__all__ = [
    "EPOCH",
    "Q_NAMES",
    "StoredSubscription",
    "active_rows",
    "book_attempt",
    "claim_period",
    "fill_row",
    "fingerprint",
    "from_row",
    "load",
    "new_row",
    "page",
    "parse_body",
    "q_names",
    "to_body",
    "with_status",
]
