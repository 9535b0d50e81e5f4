"""NGSI-LD subscriptions (ETSI GS CIM 009 V1.8 clauses 5.2.12-5.2.16, 5.8, 5.11), pure.

:func:`parse_subscription` validates a create body into an immutable :class:`Subscription`;
:func:`parse_update` and :func:`apply_update` do the same for a PATCH fragment (clause
5.8.2). :func:`matches` tells whether a :class:`ChangeEvent` should notify a subscription,
:func:`due_periodic` whether a ``timeInterval`` subscription is due, :func:`selects` whether
it is about an entity (for periodic notifications), :func:`record_attempt`
books a notification attempt, :func:`notification_body` builds the NotificationMessage and
:func:`render_subscription` writes a subscription back. Names arrive compacted in bodies and
are expanded with the caller's ``expand_term``/``expand_type``; they are stored expanded and
compacted again on output. No database, no HTTP. Errors are :class:`NgsiLdError`.

Where the specification leaves room, this module decides as follows:

- ``parse_subscription`` reads create bodies only; an update fragment has its own
  :func:`parse_update` (its members may be absent or null), applied by :func:`apply_update`.
  In a fragment, JSON ``null`` or NGSI-LD Null removes an optional member (RFC 7396 habit);
  ``notification``, ``endpoint`` and ``uri`` cannot be removed. Given members replace the
  old ones; ``notification`` and ``notification.endpoint`` merge member by member. The
  mutual exclusions are checked again on the result; ``id`` cannot change.
- ``type`` is required on create and must be ``Subscription``. Unknown members are
  BadRequestData (a typo must not silently widen a subscription); ``csf``, ``temporalQ``,
  ``application/geo+json`` notifications and entity type selections (``A,B``) are
  OperationNotSupported. Read-only members (``status``, ``createdAt``, ``timesSent``, ...)
  and ``@context`` are ignored, so a subscription read back can be written again.
  ``name`` (before V1.5) is read as ``subscriptionName``; a ``q`` that only parses once
  percent-decoded is decoded (ngsildclient encodes it as if for a URL).
- An entity selector has one type; ``id`` wins over ``idPattern``; ``idPattern`` is
  searched (``re.search``). ``timeInterval`` is a whole number of seconds, ``throttling``
  a number of seconds (0: none), endpoint ``timeout`` and ``cooldown`` milliseconds.
  Endpoint URIs are absolute ``http``, ``https``, ``mqtt`` or ``mqtts`` URIs with a host.
- ``status`` is ``expired`` once ``expiresAt`` has passed (even when paused), else
  ``paused`` when ``isActive`` is false, else ``active``. ``q`` and ``scopeQ`` render as
  given at creation; the notification ``status`` is ``failed`` when the last attempt failed.
- Triggers (V1.8): ``entityUpdated`` stands for the three attribute triggers, and creating
  an entity counts as ``attributeCreated`` too, so the default subscription hears of new
  entities as before V1.8; deleting an entity is only ``entityDeleted``. An event with no
  changed attribute names (entity created or deleted) changes all the entity's attributes
  for ``watchedAttributes``.
- ``q``, ``geoQ`` and ``scopeQ`` are tested on the entity after the change; for a deletion
  on the last state when the caller gives it, else they are not tested. A GeoProperty with
  several instances matches when any instance does. ``scopeQ``: ``,`` is or, ``;`` is and
  (binding tighter), parentheses group; ``+`` is one level and a final ``#`` any number of
  levels, none included (``/A/#`` matches ``/A``).
- ``throttling`` holds a notification back until ``throttling`` seconds after the last one;
  after a failure the endpoint's ``cooldown`` holds notifications back the same way.
- :func:`notification_body` takes expanded :class:`EntityFragment` values and renders them
  with ``render_entity`` (format, ``attributes`` projection, ``sysAttrs``, ``lang``). With
  ``showChanges`` (normalized and concise only) it adds ``previousValue``,
  ``previousObject``, ... from the instances the caller gives as they were before the
  change (``Change.before``); a bare concise value is then written ``{"value": ...}``.
  For ``application/ld+json`` endpoints the caller's ``context`` goes in ``@context``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields, replace
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from citysmart.core.time import isoformat
from citysmart.hub.ngsi_ld.geo import GeoQuery, GeoQueryError, parse_geoquery
from citysmart.hub.ngsi_ld.geo import matches as geo_matches
from citysmart.hub.ngsi_ld.model import (
    CORE,
    AttributeInstance,
    EntityFragment,
    NgsiLdError,
    bad_request,
    check_name,
    check_uri,
    is_geometry,
    is_null,
    parse_datetime,
)
from citysmart.hub.ngsi_ld.qlang import QExpr, QSyntaxError, evaluate, map_attribute_names, parse_q
from citysmart.hub.ngsi_ld.render import group_by_name, parse_lang, render_attribute, render_entity

Names = Callable[[str], str]
"""Expands or compacts one name (an ``ActiveContext`` method)."""


class Trigger(StrEnum):
    """What kind of change notifies (``notificationTrigger``, V1.8)."""

    ENTITY_CREATED = "entityCreated"
    ENTITY_UPDATED = "entityUpdated"
    ENTITY_DELETED = "entityDeleted"
    ATTRIBUTE_CREATED = "attributeCreated"
    ATTRIBUTE_UPDATED = "attributeUpdated"
    ATTRIBUTE_DELETED = "attributeDeleted"


DEFAULT_TRIGGERS: Final = (Trigger.ATTRIBUTE_CREATED, Trigger.ATTRIBUTE_UPDATED)
FORMATS: Final = ("normalized", "keyValues", "concise")
ACCEPTS: Final = ("application/json", "application/ld+json")
SCHEMES: Final = frozenset({"http", "https", "mqtt", "mqtts"})
SUBSCRIPTION_TYPES: Final = frozenset({"Subscription", CORE + "Subscription"})

# The subscription triggers an event satisfies (see the module docstring).
_SATISFIES: Final = {
    Trigger.ENTITY_CREATED: {Trigger.ENTITY_CREATED, Trigger.ATTRIBUTE_CREATED},
    Trigger.ENTITY_UPDATED: {Trigger.ENTITY_UPDATED, Trigger.ATTRIBUTE_UPDATED},
    Trigger.ENTITY_DELETED: {Trigger.ENTITY_DELETED},
    Trigger.ATTRIBUTE_CREATED: {Trigger.ATTRIBUTE_CREATED, Trigger.ENTITY_UPDATED},
    Trigger.ATTRIBUTE_UPDATED: {Trigger.ATTRIBUTE_UPDATED, Trigger.ENTITY_UPDATED},
    Trigger.ATTRIBUTE_DELETED: {Trigger.ATTRIBUTE_DELETED, Trigger.ENTITY_UPDATED},
}
_ENTITY_MEMBERS: Final = frozenset(
    {"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt", "@context"}
)
_VALUE_MEMBERS: Final = (
    "value", "object", "objectList", "languageMap", "vocab", "json", "valueList",
)  # fmt: skip
_MAX_NUMBER: Final = 1e12  # seconds or milliseconds: far beyond any use, within timedelta
_TYPE_SELECTION: Final = frozenset(",;|()")
_UNSUPPORTED: Final = frozenset({"csf", "temporalQ"})
_IGNORED: Final = frozenset({"@context", "status", "createdAt", "modifiedAt"})
_NOTIFICATION_IGNORED: Final = frozenset(
    {"status", "timesSent", "timesFailed", "lastNotification", "lastSuccess", "lastFailure"}
)


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntitySelector:
    """Which entities a subscription watches: a type, and an id or an id pattern."""

    type: str
    id: str | None = None
    id_pattern: str | None = None


@dataclass(frozen=True, slots=True)
class KeyValuePair:
    """One ``receiverInfo`` or ``notifierInfo`` item."""

    key: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """Where notifications go (clause 5.2.15); ``timeout`` and ``cooldown`` in milliseconds."""

    uri: str
    accept: str = "application/json"
    timeout: float | None = None
    cooldown: float | None = None
    receiver_info: tuple[KeyValuePair, ...] = ()
    notifier_info: tuple[KeyValuePair, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationParams:
    """How notifications look (clause 5.2.14); no ``attributes`` means all of them."""

    endpoint: Endpoint
    attributes: tuple[str, ...] = ()
    format: str = "normalized"
    show_changes: bool = False
    sys_attrs: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """A validated subscription (clause 5.2.12), names expanded, with the broker's counters.

    ``q`` is the text as given and ``q_expr`` its parse with expanded names; ``time_interval``
    and ``throttling`` are seconds. The counters and ``last_*`` times are kept by the broker
    through :func:`record_attempt`.
    """

    id: str
    notification: NotificationParams
    subscription_name: str | None = None
    description: str | None = None
    entities: tuple[EntitySelector, ...] = ()
    watched_attributes: tuple[str, ...] = ()
    notification_trigger: tuple[Trigger, ...] = DEFAULT_TRIGGERS
    time_interval: int | None = None
    q: str | None = None
    q_expr: QExpr | None = None
    geo_q: GeoQuery | None = None
    scope_q: str | None = None
    is_active: bool = True
    expires_at: dt.datetime | None = None
    throttling: float | None = None
    lang: str | None = None
    jsonld_context: str | None = None
    times_sent: int = 0
    times_failed: int = 0
    last_notification: dt.datetime | None = None
    last_success: dt.datetime | None = None
    last_failure: dt.datetime | None = None
    created_at: dt.datetime | None = None
    modified_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionUpdate:
    """A validated PATCH fragment: field name -> new value, per level."""

    subscription: Mapping[str, Any]
    notification: Mapping[str, Any]
    endpoint: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeEvent:
    """A change to one entity, names expanded.

    ``attributes`` names the changed attributes (empty when the entity was created or
    deleted); ``entity`` is the entity after the change in normalized form, as
    ``render_entity(..., sys_attrs=True)`` writes it, or None (or its last state) on delete.
    """

    entity_id: str
    entity_types: tuple[str, ...]
    trigger: Trigger
    attributes: frozenset[str] = frozenset()
    entity: Mapping[str, Any] | None = None


# --- parsing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reader:
    expand_term: Names
    expand_type: Names
    now: dt.datetime
    partial: bool


_Check = Callable[[Any, str, _Reader], Any]


@dataclass(frozen=True, slots=True)
class _Member:
    """How to read one JSON member into one or more dataclass fields."""

    read: Callable[[Any, str, _Reader], dict[str, Any]]
    nulls: Mapping[str, Any]  # the field values a null restores (empty: cannot be null)


def _defaults(cls: type[Any]) -> dict[str, Any]:
    return {f.name: f.default for f in fields(cls) if f.default is not MISSING}


def _member(cls: type[Any], name: str, check: _Check, *, nullable: bool = True) -> _Member:
    nulls = {name: _defaults(cls)[name]} if nullable else None
    return _Member(lambda v, w, r: {name: check(v, w, r)}, MappingProxyType(nulls or {}))


def parse_subscription(
    body: object, *, expand_term: Names, expand_type: Names, now: dt.datetime
) -> Subscription:
    """Validate a Create Subscription body (clause 5.8.1) into a :class:`Subscription`."""
    reader = _Reader(expand_term, expand_type, now, partial=False)
    obj = _body(body, "a subscription")
    if "type" not in obj:
        raise bad_request('type: missing; a subscription needs "type": "Subscription"')
    values = _read(obj, _SUBSCRIPTION, "", reader, nested="notification")
    if "notification" not in obj:
        raise bad_request("notification: missing; a subscription needs notification.endpoint")
    values["notification"] = _notification(obj["notification"], reader)
    values.setdefault("id", f"urn:ngsi-ld:Subscription:{uuid.uuid4()}")
    return _checked(Subscription(**values, created_at=now, modified_at=now))


def parse_update(
    body: object, *, expand_term: Names, expand_type: Names, now: dt.datetime
) -> SubscriptionUpdate:
    """Validate an Update Subscription fragment (clause 5.8.2); apply it with apply_update."""
    reader = _Reader(expand_term, expand_type, now, partial=True)
    obj = _body(body, "a subscription fragment")
    values = _read(obj, _SUBSCRIPTION, "", reader, nested="notification")
    notification: dict[str, Any] = {}
    endpoint: dict[str, Any] = {}
    if "notification" in obj:
        params = _object(obj["notification"], "notification")
        notification = _read(
            params,
            _NOTIFICATION,
            "notification",
            reader,
            skip=_NOTIFICATION_IGNORED,
            nested="endpoint",
        )
        if "endpoint" in params:
            where = "notification.endpoint"
            endpoint = _read(
                _object(params["endpoint"], where), _ENDPOINT, where, reader, skip=frozenset()
            )
    if not (values or notification or endpoint):
        raise bad_request("the subscription fragment changes nothing: give a member to update")
    return SubscriptionUpdate(
        MappingProxyType(values), MappingProxyType(notification), MappingProxyType(endpoint)
    )


def apply_update(
    existing: Subscription, update: SubscriptionUpdate, now: dt.datetime
) -> Subscription:
    """Apply a validated fragment: members replace, notification and endpoint merge."""
    values = dict(update.subscription)
    new_id = values.pop("id", existing.id)
    if new_id != existing.id:
        raise bad_request(f"id: a subscription's id cannot change (it is {existing.id})")
    notification = existing.notification
    if update.endpoint:
        notification = replace(
            notification, endpoint=replace(notification.endpoint, **update.endpoint)
        )
    notification = replace(notification, **update.notification)
    return _checked(replace(existing, **values, notification=notification, modified_at=now))


def _body(body: object, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise NgsiLdError("InvalidRequest", None, f"{what} must be a JSON object")
    return body


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise bad_request(f"{where}: must be a JSON object, not {value!r}")
    return value


def _read(
    body: Mapping[str, Any],
    table: Mapping[str, _Member],
    where: str,
    reader: _Reader,
    *,
    skip: frozenset[str] = _IGNORED,
    nested: str | None = None,
) -> dict[str, Any]:
    """Read the members of one level into field values; ``nested`` is left to the caller."""
    values: dict[str, Any] = {}
    for key, value in body.items():
        path = f"{where}.{key}" if where else key
        if key in skip or key == nested:
            continue
        if key in _UNSUPPORTED:
            raise NgsiLdError("OperationNotSupported", None, f"{path} is not supported")
        member = table.get(key)
        if member is None:
            known = ", ".join(sorted({*table, *([nested] if nested else [])}))
            raise bad_request(f"{path}: unknown member; expected one of {known}")
        if is_null(value) and reader.partial and member.nulls:
            values.update(member.nulls)
        elif is_null(value):
            hint = "cannot be removed" if reader.partial else "cannot be null on create"
            raise bad_request(f"{path}: {hint}")
        else:
            values.update(member.read(value, path, reader))
    return values


def _notification(value: object, reader: _Reader) -> NotificationParams:
    params = _object(value, "notification")
    values = _read(
        params, _NOTIFICATION, "notification", reader, skip=_NOTIFICATION_IGNORED, nested="endpoint"
    )
    if "endpoint" not in params:
        raise bad_request("notification.endpoint: missing; say where notifications go")
    where = "notification.endpoint"
    endpoint = _read(_object(params["endpoint"], where), _ENDPOINT, where, reader, skip=frozenset())
    if "uri" not in endpoint:
        raise bad_request(f"{where}.uri: missing; give the URI notifications are sent to")
    return NotificationParams(endpoint=Endpoint(**endpoint), **values)


def _checked(sub: Subscription) -> Subscription:
    """Check the rules that tie members together (clause 5.8.1)."""
    if not sub.entities and not sub.watched_attributes:
        raise bad_request("a subscription needs entities or watchedAttributes (or both)")
    if sub.time_interval is not None and sub.watched_attributes:
        raise bad_request(
            "timeInterval and watchedAttributes cannot go together: a periodic subscription "
            "does not watch changes"
        )
    if sub.time_interval is not None and sub.throttling is not None:
        raise bad_request("timeInterval and throttling cannot go together")
    return sub


# --- member checks -------------------------------------------------------------------------


def _string(value: Any, where: str, _: _Reader) -> str:
    if not isinstance(value, str):
        raise bad_request(f"{where}: must be a string, not {value!r}")
    return value


def _boolean(value: Any, where: str, _: _Reader) -> bool:
    if not isinstance(value, bool):
        raise bad_request(f"{where}: must be true or false, not {value!r}")
    return value


def _number(value: Any, where: str, unit: str) -> float:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or (isinstance(value, float) and not math.isfinite(value)):
        raise bad_request(f"{where}: must be a number of {unit}, not {value!r}")
    if value < 0:
        raise bad_request(f"{where}: must not be negative, got {value!r}")
    if value > _MAX_NUMBER:
        raise bad_request(f"{where}: too large, at most {_MAX_NUMBER:.0e} {unit}")
    checked: float = value  # an int stays an int, so it renders as given
    return checked


def _seconds(value: Any, where: str, _: _Reader) -> float:
    return _number(value, where, "seconds")


def _milliseconds(value: Any, where: str, _: _Reader) -> float:
    return _number(value, where, "milliseconds")


def _interval(value: Any, where: str, _: _Reader) -> int:
    number = _number(value, where, "seconds")
    if number <= 0 or not float(number).is_integer():
        raise bad_request(f"{where}: must be a whole number of seconds above 0, not {value!r}")
    return int(number)


def _array(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise bad_request(f"{where}: must be a non-empty array")
    return value


def _names(value: Any, where: str, reader: _Reader) -> tuple[str, ...]:
    names = _array(value, where)
    checked = [check_name(n, f"{where}[{i}]") for i, n in enumerate(names)]
    return tuple(dict.fromkeys(reader.expand_term(n) for n in checked))


def _entities(value: Any, where: str, reader: _Reader) -> tuple[EntitySelector, ...]:
    items = _array(value, where)
    return tuple(_selector(item, f"{where}[{i}]", reader) for i, item in enumerate(items))


def _selector(value: Any, where: str, reader: _Reader) -> EntitySelector:
    item = _object(value, where)
    unknown = set(item) - {"id", "idPattern", "type"}
    if unknown:
        raise bad_request(
            f"{where}: unknown member {sorted(unknown)[0]!r}; use id, idPattern, type"
        )
    if "type" not in item:
        raise bad_request(f"{where}.type: missing; every entities item needs a type")
    entity_type = item["type"]
    if isinstance(entity_type, str) and _TYPE_SELECTION.intersection(entity_type):
        raise NgsiLdError(
            "OperationNotSupported",
            None,
            f"{where}.type: type selections ({entity_type!r}) are not supported; "
            "give one entities item per type",
        )
    check_name(entity_type, f"{where}.type")
    entity_id = check_uri(item["id"], f"{where}.id") if "id" in item else None
    pattern = _pattern(item["idPattern"], f"{where}.idPattern") if "idPattern" in item else None
    return EntitySelector(reader.expand_type(entity_type), entity_id, pattern)


def _pattern(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise bad_request(f"{where}: must be a regular expression string, not {value!r}")
    try:
        re.compile(value)
    except re.error as exc:
        raise bad_request(f"{where}: not a valid regular expression: {exc}") from None
    return value


def _triggers(value: Any, where: str, _: _Reader) -> tuple[Trigger, ...]:
    items = _array(value, where)
    for item in items:
        if not isinstance(item, str) or item not in set(Trigger):
            raise bad_request(f"{where}: {item!r} is not one of {', '.join(Trigger)}")
    return tuple(dict.fromkeys(Trigger(item) for item in items))


def _q(value: Any, where: str, reader: _Reader) -> dict[str, Any]:
    text = _string(value, where, reader)
    try:
        expr = parse_q(text)
    except QSyntaxError as exc:
        decoded = urllib.parse.unquote(text) if _PERCENT.search(text) else text
        try:
            # Some clients (ngsildclient) percent-encode q in the body as in a URL.
            expr, text = parse_q(decoded), decoded
        except QSyntaxError:
            raise bad_request(f"{where}: {exc.detail} at character {exc.position}") from None
    return {"q": text, "q_expr": map_attribute_names(expr, reader.expand_term)}


_PERCENT: Final = re.compile(r"%[0-9A-Fa-f]{2}")


_GEOQ_MEMBERS: Final = frozenset({"geometry", "coordinates", "georel", "geoproperty"})


def _geoq(value: Any, where: str, reader: _Reader) -> GeoQuery:
    body = _object(value, where)
    unknown = set(body) - _GEOQ_MEMBERS
    if unknown:
        raise bad_request(f"{where}: unknown member {sorted(unknown)[0]!r}")
    parts = {k: body.get(k) for k in ("georel", "geometry", "geoproperty")}
    for key, part in parts.items():
        if part is not None and not isinstance(part, str):
            raise bad_request(f"{where}.{key}: must be a string, not {part!r}")
    coordinates = body.get("coordinates")
    if coordinates is not None and not isinstance(coordinates, list | str):
        raise bad_request(f"{where}.coordinates: must be an array or its JSON text")
    try:
        query = parse_geoquery(
            parts["georel"], parts["geometry"], coordinates, parts["geoproperty"]
        )
    except GeoQueryError as exc:
        raise bad_request(f"{where}: {exc}") from None
    return replace(query, geoproperty=reader.expand_term(query.geoproperty))


def _scope_q(value: Any, where: str, reader: _Reader) -> str:
    text = _string(value, where, reader)
    try:
        _parse_scope_q(text)
    except ValueError as exc:
        raise bad_request(f"{where}: {exc}") from None
    return text


def _future(value: Any, where: str, reader: _Reader) -> dt.datetime:
    moment = parse_datetime(value, where)
    if moment <= reader.now:
        raise bad_request(f"{where}: {value} is not in the future")
    return moment


def _lang(value: Any, where: str, reader: _Reader) -> str:
    parse_lang(_string(value, where, reader))
    return str(value)


def _format(value: Any, where: str, _: _Reader) -> str:
    if value not in FORMATS:
        raise bad_request(f"{where}: {value!r} is not one of {', '.join(FORMATS)}")
    return str(value)


def _accept(value: Any, where: str, _: _Reader) -> str:
    if value == "application/geo+json":
        raise NgsiLdError(
            "OperationNotSupported", None, f"{where}: GeoJSON notifications are not supported"
        )
    if value not in ACCEPTS:
        raise bad_request(f"{where}: {value!r} is not one of {', '.join(ACCEPTS)}")
    return str(value)


def _endpoint_uri(value: Any, where: str, _: _Reader) -> str:
    uri = check_uri(value, where)
    parts = urlsplit(uri)
    if parts.scheme.lower() not in SCHEMES or not parts.netloc:
        raise bad_request(
            f"{where}: {uri!r} must be an absolute http, https, mqtt or mqtts URI with a host"
        )
    return uri


def _key_values(value: Any, where: str, _: _Reader) -> tuple[KeyValuePair, ...]:
    if not isinstance(value, list):
        raise bad_request(f"{where}: must be an array of {{key, value}} objects")
    pairs = []
    for i, item in enumerate(value):
        pair = item if isinstance(item, Mapping) else {}
        if set(pair) != {"key", "value"} or not all(isinstance(v, str) for v in pair.values()):
            raise bad_request(f'{where}[{i}]: must be {{"key": string, "value": string}}')
        pairs.append(KeyValuePair(pair["key"], pair["value"]))
    return tuple(pairs)


def _subscription_type(value: Any, where: str, _: _Reader) -> dict[str, Any]:
    if not isinstance(value, str) or value not in SUBSCRIPTION_TYPES:
        raise bad_request(f'{where}: must be "Subscription", not {value!r}')
    return {}


_SUBSCRIPTION: Final[Mapping[str, _Member]] = {
    "id": _member(Subscription, "id", lambda v, w, r: check_uri(v, w), nullable=False),
    "type": _Member(_subscription_type, MappingProxyType({})),
    "subscriptionName": _member(Subscription, "subscription_name", _string),
    "name": _member(Subscription, "subscription_name", _string),  # before V1.5; clients use it
    "description": _member(Subscription, "description", _string),
    "entities": _member(Subscription, "entities", _entities),
    "watchedAttributes": _member(Subscription, "watched_attributes", _names),
    "notificationTrigger": _member(Subscription, "notification_trigger", _triggers),
    "timeInterval": _member(Subscription, "time_interval", _interval),
    "q": _Member(_q, MappingProxyType({"q": None, "q_expr": None})),
    "geoQ": _member(Subscription, "geo_q", _geoq),
    "scopeQ": _member(Subscription, "scope_q", _scope_q),
    "isActive": _member(Subscription, "is_active", _boolean),
    "expiresAt": _member(Subscription, "expires_at", _future),
    "throttling": _member(Subscription, "throttling", _seconds),
    "lang": _member(Subscription, "lang", _lang),
    "jsonldContext": _member(Subscription, "jsonld_context", lambda v, w, r: check_uri(v, w)),
}
_NOTIFICATION: Final[Mapping[str, _Member]] = {
    "attributes": _member(NotificationParams, "attributes", _names),
    "format": _member(NotificationParams, "format", _format),
    "showChanges": _member(NotificationParams, "show_changes", _boolean),
    "sysAttrs": _member(NotificationParams, "sys_attrs", _boolean),
}
_ENDPOINT: Final[Mapping[str, _Member]] = {
    "uri": _member(Endpoint, "uri", _endpoint_uri, nullable=False),
    "accept": _member(Endpoint, "accept", _accept),
    "timeout": _member(Endpoint, "timeout", _milliseconds),
    "cooldown": _member(Endpoint, "cooldown", _milliseconds),
    "receiverInfo": _member(Endpoint, "receiver_info", _key_values),
    "notifierInfo": _member(Endpoint, "notifier_info", _key_values),
}


# --- scope queries (clause 4.19) -----------------------------------------------------------

_ScopeExpr = tuple[str, tuple[Any, ...]]  # ("or" | "and", parts) or ("path", levels)
_SCOPE_TOKEN: Final = re.compile(r"\s*(?:([(),;])|(/[^\s(),;]*))\s*")
_SCOPE_LEVEL: Final = re.compile(r"[^\W\d_]\w*|\+|#")


@lru_cache(maxsize=256)
def _parse_scope_q(text: str) -> _ScopeExpr:
    """Parse a scopeQ, or raise ValueError saying what is wrong."""
    tokens: list[str] = []
    position = 0
    while position < len(text):
        found = _SCOPE_TOKEN.match(text, position)
        if found is None:
            raise ValueError(f"unexpected {text[position:]!r} at character {position}")
        tokens.append(found.group(1) or found.group(2))
        position = found.end()
    if not tokens:
        raise ValueError("empty scope query")
    end, expr = _scope_join(tokens, 0, ",")
    if end != len(tokens):
        raise ValueError(f"unexpected {tokens[end]!r}")
    return expr


def _scope_join(tokens: list[str], at: int, separator: str) -> tuple[int, _ScopeExpr]:
    """Parse terms joined by ``,`` (or) or, one level down, by ``;`` (and)."""
    parse = _scope_primary if separator == ";" else lambda t, i: _scope_join(t, i, ";")
    at, first = parse(tokens, at)
    parts = [first]
    while at < len(tokens) and tokens[at] == separator:
        at, part = parse(tokens, at + 1)
        parts.append(part)
    if len(parts) == 1:
        return at, first
    return at, ("or" if separator == "," else "and", tuple(parts))


def _scope_primary(tokens: list[str], at: int) -> tuple[int, _ScopeExpr]:
    if at >= len(tokens):
        raise ValueError("a scope is missing at the end")
    token = tokens[at]
    if token == "(":
        at, expr = _scope_join(tokens, at + 1, ",")
        if at >= len(tokens) or tokens[at] != ")":
            raise ValueError("a parenthesis is not closed")
        return at + 1, expr
    if not token.startswith("/"):
        raise ValueError(f"expected a scope such as /Level/Level, not {token!r}")
    levels = tuple(token[1:].split("/"))
    bad = [lv for lv in levels if not _SCOPE_LEVEL.fullmatch(lv)]
    if bad or "#" in levels[:-1]:
        raise ValueError(
            f"{token!r} is not a scope: use /Level/Level with letters, digits and _, "
            "+ for one level and # (last) for any"
        )
    return at + 1, ("path", levels)


def _scope_matches(expr: _ScopeExpr, scopes: Sequence[tuple[str, ...]]) -> bool:
    kind, parts = expr
    if kind == "or":
        return any(_scope_matches(part, scopes) for part in parts)
    if kind == "and":
        return all(_scope_matches(part, scopes) for part in parts)
    return any(_path_matches(parts, scope) for scope in scopes)


def _path_matches(pattern: tuple[str, ...], scope: tuple[str, ...]) -> bool:
    if pattern[-1] == "#":
        pattern, scope = pattern[:-1], scope[: len(pattern) - 1]
    if len(scope) != len(pattern):
        return False
    return all(p in ("+", s) for p, s in zip(pattern, scope, strict=True))


def _entity_scopes(entity: Mapping[str, Any]) -> list[tuple[str, ...]]:
    scope = entity.get("scope")
    scopes = scope if isinstance(scope, list) else [scope] if isinstance(scope, str) else []
    return [tuple(s.removeprefix("/").split("/")) for s in scopes if isinstance(s, str)]


# --- matching ------------------------------------------------------------------------------


def status(sub: Subscription, now: dt.datetime) -> str:
    """Return ``active``, ``paused`` (isActive false) or ``expired`` (expiresAt passed)."""
    if sub.expires_at is not None and sub.expires_at <= now:
        return "expired"
    return "active" if sub.is_active else "paused"


def matches(
    sub: Subscription, event: ChangeEvent, now: dt.datetime, last_sent: dt.datetime | None
) -> bool:
    """Tell whether a change notifies a subscription now (clause 5.11); periodic ones never."""
    return (
        sub.time_interval is None
        and status(sub, now) == "active"
        and bool(_SATISFIES[event.trigger].intersection(sub.notification_trigger))
        and _selected(sub.entities, event)
        and _watched(sub.watched_attributes, event)
        and (event.entity is None or _filters_hold(sub, event.entity))
        and not _held_back(sub, now, last_sent)
    )


def due_periodic(sub: Subscription, now: dt.datetime) -> bool:
    """Tell whether a timeInterval subscription is due (its interval passed since the last)."""
    if sub.time_interval is None or status(sub, now) != "active":
        return False
    if _held_back(sub, now, None):
        return False
    last = sub.last_notification
    return last is None or last + dt.timedelta(seconds=sub.time_interval) <= now


def selects(
    sub: Subscription, entity_id: str, entity_types: Sequence[str], entity: Mapping[str, Any]
) -> bool:
    """Tell whether an entity is one the subscription is about (entities, q, geoQ, scopeQ)."""
    probe = ChangeEvent(
        entity_id=entity_id, entity_types=tuple(entity_types), trigger=Trigger.ENTITY_UPDATED
    )
    return _selected(sub.entities, probe) and _filters_hold(sub, entity)


def record_attempt(sub: Subscription, now: dt.datetime, ok: bool) -> Subscription:
    """Return the subscription with one notification attempt booked (timesSent, last*)."""
    if ok:
        return replace(sub, times_sent=sub.times_sent + 1, last_notification=now, last_success=now)
    return replace(
        sub,
        times_sent=sub.times_sent + 1,
        times_failed=sub.times_failed + 1,
        last_notification=now,
        last_failure=now,
    )


def _selected(selectors: Sequence[EntitySelector], event: ChangeEvent) -> bool:
    return not selectors or any(_selects(s, event) for s in selectors)


def _selects(selector: EntitySelector, event: ChangeEvent) -> bool:
    if selector.type not in event.entity_types:
        return False
    if selector.id is not None:
        return selector.id == event.entity_id
    if selector.id_pattern is not None:
        return _compiled(selector.id_pattern).search(event.entity_id) is not None
    return True


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _watched(watched: Sequence[str], event: ChangeEvent) -> bool:
    if not watched:
        return True
    changed: Iterable[str] | None = event.attributes or None
    if changed is None and event.entity is not None:
        changed = (k for k in event.entity if k not in _ENTITY_MEMBERS)
    return changed is None or not set(watched).isdisjoint(changed)


def _filters_hold(sub: Subscription, entity: Mapping[str, Any]) -> bool:
    if sub.q_expr is not None and not evaluate(sub.q_expr, entity):
        return False
    if sub.geo_q is not None and not _geo_holds(sub.geo_q, entity):
        return False
    return sub.scope_q is None or _scope_matches(
        _parse_scope_q(sub.scope_q), _entity_scopes(entity)
    )


def _geo_holds(query: GeoQuery, entity: Mapping[str, Any]) -> bool:
    name = query.geoproperty
    node = entity.get(name, entity.get(name.removeprefix(CORE)))
    instances = node if isinstance(node, list) else [node]
    for instance in instances:
        geometry = instance if is_geometry(instance) else None
        if geometry is None and isinstance(instance, Mapping):
            geometry = instance.get("value")
        if isinstance(geometry, Mapping) and geo_matches(query, geometry):
            return True
    return False


def _held_back(sub: Subscription, now: dt.datetime, last_sent: dt.datetime | None) -> bool:
    """Tell whether throttling or the endpoint's cooldown after a failure holds back now."""
    throttling = sub.throttling
    if throttling and last_sent is not None and last_sent + dt.timedelta(seconds=throttling) > now:
        return True
    cooldown = sub.notification.endpoint.cooldown
    failed = sub.last_failure
    if cooldown and failed is not None and (sub.last_success is None or failed > sub.last_success):
        return failed + dt.timedelta(milliseconds=cooldown) > now
    return False


# --- output --------------------------------------------------------------------------------


def render_subscription(
    sub: Subscription,
    compact_term: Names,
    compact_type: Names,
    now: dt.datetime,
    *,
    sys_attrs: bool = False,
) -> dict[str, Any]:
    """Write a subscription in the clause 5.2.12 JSON shape, names compacted."""
    out: dict[str, Any] = {"id": sub.id, "type": "Subscription"}
    optional = {
        "subscriptionName": sub.subscription_name,
        "description": sub.description,
        "entities": [_render_selector(s, compact_type) for s in sub.entities] or None,
        "watchedAttributes": [compact_term(a) for a in sub.watched_attributes] or None,
        "notificationTrigger": [str(t) for t in sub.notification_trigger],
        "timeInterval": sub.time_interval,
        "q": sub.q,
        "geoQ": _render_geoq(sub.geo_q, compact_term) if sub.geo_q else None,
        "scopeQ": sub.scope_q,
        "isActive": sub.is_active,
        "status": status(sub, now),
        "expiresAt": isoformat(sub.expires_at) if sub.expires_at else None,
        "throttling": sub.throttling,
        "lang": sub.lang,
        "jsonldContext": sub.jsonld_context,
        "notification": _render_notification(sub, compact_term),
    }
    out.update((k, v) for k, v in optional.items() if v is not None)
    if sys_attrs:
        times = {"createdAt": sub.created_at, "modifiedAt": sub.modified_at}
        out.update((k, isoformat(v)) for k, v in times.items() if v is not None)
    return out


def _render_selector(selector: EntitySelector, compact_type: Names) -> dict[str, str]:
    out = {"id": selector.id, "idPattern": selector.id_pattern}
    kept = {k: v for k, v in out.items() if v is not None}
    return {**kept, "type": compact_type(selector.type)}


def _render_geoq(query: GeoQuery, compact_term: Names) -> dict[str, Any]:
    geoq = query.to_geoq()
    geoq["geoproperty"] = compact_term(query.geoproperty)
    return geoq


def _render_notification(sub: Subscription, compact_term: Names) -> dict[str, Any]:
    params = sub.notification
    out: dict[str, Any] = {}
    if params.attributes:
        out["attributes"] = [compact_term(a) for a in params.attributes]
    out |= {"format": params.format, "showChanges": params.show_changes}
    out |= {"sysAttrs": params.sys_attrs, "endpoint": _render_endpoint(params.endpoint)}
    if sub.last_notification is not None:
        failed = sub.last_failure is not None and sub.last_failure == sub.last_notification
        out["status"] = "failed" if failed else "ok"
    out |= {"timesSent": sub.times_sent, "timesFailed": sub.times_failed}
    times = {
        "lastNotification": sub.last_notification,
        "lastSuccess": sub.last_success,
        "lastFailure": sub.last_failure,
    }
    out.update((k, isoformat(v)) for k, v in times.items() if v is not None)
    return out


def _render_endpoint(endpoint: Endpoint) -> dict[str, Any]:
    out: dict[str, Any] = {"uri": endpoint.uri, "accept": endpoint.accept}
    if endpoint.timeout is not None:
        out["timeout"] = endpoint.timeout
    if endpoint.cooldown is not None:
        out["cooldown"] = endpoint.cooldown
    for key, pairs in (
        ("receiverInfo", endpoint.receiver_info),
        ("notifierInfo", endpoint.notifier_info),
    ):
        if pairs:
            out[key] = [{"key": p.key, "value": p.value} for p in pairs]
    return out


def notification_body(
    sub: Subscription,
    entities: Sequence[EntityFragment],
    now: dt.datetime,
    *,
    compact_term: Names,
    compact_type: Names,
    previous: Mapping[str, Iterable[AttributeInstance]] | None = None,
    context: Any = None,
) -> dict[str, Any]:
    """Build the NotificationMessage (clause 5.2.16); ``previous`` by entity id, for showChanges."""
    params = sub.notification
    attrs = {compact_term(a) for a in params.attributes} if params.attributes else None
    data = []
    for entity in entities:
        rendered = render_entity(
            _compacted(entity, compact_term, compact_type),
            params.format,
            sys_attrs=params.sys_attrs,
            attrs=attrs,
            lang=sub.lang,
        )
        before = (previous or {}).get(entity.id or "")
        if params.show_changes and params.format != "keyValues" and before is not None:
            _add_changes(rendered, before, compact_term, sub.lang)
        data.append(rendered)
    body: dict[str, Any] = {
        "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
        "type": "Notification",
        "subscriptionId": sub.id,
        "notifiedAt": isoformat(now),
        "data": data,
    }
    if params.endpoint.accept == "application/ld+json" and context is not None:
        body["@context"] = context
    return body


def _compacted(entity: EntityFragment, compact_term: Names, compact_type: Names) -> EntityFragment:
    types = tuple(compact_type(t) for t in entity.types)
    attributes = tuple(_compact_instance(a, compact_term, compact_type) for a in entity.attributes)
    return replace(entity, types=types, attributes=attributes)


def _compact_instance(
    instance: AttributeInstance, compact_term: Names, compact_type: Names
) -> AttributeInstance:
    subs = tuple(_compact_instance(s, compact_term, compact_type) for s in instance.sub_attributes)
    object_type = tuple(compact_type(t) for t in instance.object_type)
    return replace(
        instance, name=compact_term(instance.name), sub_attributes=subs, object_type=object_type
    )


def _add_changes(
    out: dict[str, Any], before: Iterable[AttributeInstance], compact_term: Names, lang: str | None
) -> None:
    """Add ``previousValue`` (or ``previousObject``, ...) to the attributes that changed."""
    for name, olds in group_by_name(before).items():
        key = compact_term(name)
        if key not in out:
            continue
        by_dataset = {old.dataset_id: old for old in olds}
        current = out[key]
        if isinstance(current, list):
            out[key] = [
                _with_previous(i, by_dataset.get(i.get("datasetId")), lang) for i in current
            ]
        else:
            dataset = current.get("datasetId") if _is_instance(current) else None
            out[key] = _with_previous(current, by_dataset.get(dataset), lang)


def _is_instance(rendered: Any) -> bool:
    """Tell a rendered instance object from a bare concise value."""
    return isinstance(rendered, dict) and any(m in rendered for m in _VALUE_MEMBERS)


def _with_previous(current: Any, old: AttributeInstance | None, lang: str | None) -> Any:
    if old is None:
        return current
    node = dict(current) if _is_instance(current) else {"value": current}
    was = render_attribute([old], "normalized", lang=lang)
    member = next(m for m in _VALUE_MEMBERS if m in was)
    node["previous" + member[0].upper() + member[1:]] = was[member]
    return node


__all__ = [
    "ACCEPTS",
    "DEFAULT_TRIGGERS",
    "FORMATS",
    "SCHEMES",
    "ChangeEvent",
    "Endpoint",
    "EntitySelector",
    "KeyValuePair",
    "Names",
    "NotificationParams",
    "Subscription",
    "SubscriptionUpdate",
    "Trigger",
    "apply_update",
    "due_periodic",
    "matches",
    "notification_body",
    "parse_subscription",
    "parse_update",
    "record_attempt",
    "render_subscription",
    "selects",
    "status",
]
