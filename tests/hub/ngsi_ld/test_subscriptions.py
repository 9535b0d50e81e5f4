"""NGSI-LD subscriptions: parsing, updates, matching, notification bodies."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any
from urllib.parse import quote

import pytest

from citysmart.hub.ngsi_ld.context import core_context
from citysmart.hub.ngsi_ld.model import AttributeInstance, EntityFragment, Kind, NgsiLdError
from citysmart.hub.ngsi_ld.qlang import map_attribute_names, parse_q
from citysmart.hub.ngsi_ld.render import render_entity
from citysmart.hub.ngsi_ld.subscriptions import (
    DEFAULT_TRIGGERS,
    ChangeEvent,
    Endpoint,
    EntitySelector,
    KeyValuePair,
    Subscription,
    Trigger,
    apply_update,
    due_periodic,
    matches,
    notification_body,
    parse_subscription,
    parse_update,
    record_attempt,
    render_subscription,
    status,
)

CTX = core_context()
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
CORE = "https://uri.etsi.org/ngsi-ld/"
ERRORS = CORE + "errors/"
NOW = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)
VEHICLE = "urn:ngsi-ld:Vehicle:A4567"

# ETSI GS CIM 009 annex C.5-like subscription, every member given.
FULL: dict[str, Any] = {
    "id": "urn:ngsi-ld:Subscription:mySubscription",
    "type": "Subscription",
    "subscriptionName": "fast cars",
    "description": "Vehicles going fast near the station",
    "entities": [
        {"type": "Vehicle", "idPattern": "^urn:ngsi-ld:Vehicle:"},
        {"type": "Bus", "id": "urn:ngsi-ld:Bus:1"},
    ],
    "watchedAttributes": ["speed"],
    "notificationTrigger": ["attributeCreated", "attributeUpdated", "entityDeleted"],
    "q": "speed>50",
    "geoQ": {
        "georel": "near;maxDistance==2000",
        "geometry": "Point",
        "coordinates": [127.29, 36.48],
        "geoproperty": "location",
    },
    "scopeQ": "/Sejong/#",
    "isActive": True,
    "expiresAt": "2030-01-01T00:00:00Z",
    "throttling": 5,
    "lang": "ko,en",
    "notification": {
        "attributes": ["speed", "brandName"],
        "format": "keyValues",
        "showChanges": True,
        "sysAttrs": True,
        "endpoint": {
            "uri": "https://example.org/notify",
            "accept": "application/ld+json",
            "timeout": 2000,
            "cooldown": 10000,
            "receiverInfo": [{"key": "Authorization", "value": "Bearer x"}],
            "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}],
        },
    },
}
MINIMAL: dict[str, Any] = {
    "type": "Subscription",
    "entities": [{"type": "Vehicle"}],
    "notification": {"endpoint": {"uri": "http://localhost:1026/notify"}},
}


def parse(body: Any, now: dt.datetime = NOW) -> Subscription:
    return parse_subscription(
        body, expand_term=CTX.expand_term, expand_type=CTX.expand_type, now=now
    )


def update(existing: Subscription, fragment: Any, now: dt.datetime = LATER) -> Subscription:
    patch = parse_update(
        fragment, expand_term=CTX.expand_term, expand_type=CTX.expand_type, now=now
    )
    return apply_update(existing, patch, now)


def render(sub: Subscription, now: dt.datetime = NOW, **kw: Any) -> dict[str, Any]:
    return render_subscription(sub, CTX.compact_iri, CTX.compact_type, now, **kw)


def with_(base: dict[str, Any], **members: Any) -> dict[str, Any]:
    body = copy.deepcopy(base)
    body.update(members)
    return body


def with_notification(base: dict[str, Any], **members: Any) -> dict[str, Any]:
    body = copy.deepcopy(base)
    body["notification"].update(members)
    return body


def with_endpoint(base: dict[str, Any], **members: Any) -> dict[str, Any]:
    body = copy.deepcopy(base)
    body["notification"]["endpoint"].update(members)
    return body


def without(base: dict[str, Any], *path: str) -> dict[str, Any]:
    body = copy.deepcopy(base)
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


# --- parsing -------------------------------------------------------------------------------


def test_full_subscription_is_parsed_with_expanded_names() -> None:
    sub = parse(FULL)
    assert sub.id == FULL["id"]
    assert sub.subscription_name == "fast cars"
    assert sub.entities == (
        EntitySelector(VOCAB + "Vehicle", id_pattern="^urn:ngsi-ld:Vehicle:"),
        EntitySelector(VOCAB + "Bus", id="urn:ngsi-ld:Bus:1"),
    )
    assert sub.watched_attributes == (VOCAB + "speed",)
    assert sub.notification_trigger == (
        Trigger.ATTRIBUTE_CREATED,
        Trigger.ATTRIBUTE_UPDATED,
        Trigger.ENTITY_DELETED,
    )
    assert sub.q == "speed>50"
    assert sub.q_expr == map_attribute_names(parse_q("speed>50"), CTX.expand_term)
    assert sub.geo_q is not None
    assert sub.geo_q.geoproperty == CORE + "location"
    assert sub.geo_q.max_distance == 2000
    assert sub.expires_at == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert sub.throttling == 5
    assert sub.notification.attributes == (VOCAB + "speed", VOCAB + "brandName")
    assert sub.notification.format == "keyValues"
    assert sub.notification.show_changes
    assert sub.notification.sys_attrs
    assert sub.notification.endpoint == Endpoint(
        uri="https://example.org/notify",
        accept="application/ld+json",
        timeout=2000,
        cooldown=10000,
        receiver_info=(KeyValuePair("Authorization", "Bearer x"),),
        notifier_info=(KeyValuePair("MQTT-QoS", "1"),),
    )
    assert sub.created_at == sub.modified_at == NOW


def test_full_subscription_renders_back_as_given_plus_status() -> None:
    out = render(parse(FULL))
    expected = copy.deepcopy(FULL)
    expected["geoQ"]["georel"] = "near;maxDistance==2000"
    expected["status"] = "active"
    expected["notification"] |= {"timesSent": 0, "timesFailed": 0}
    assert out == expected


def test_rendered_subscription_can_be_written_back() -> None:
    sub = record_attempt(parse(FULL), NOW, ok=True)
    again = parse(render(sub, sys_attrs=True))
    assert again.notification == sub.notification
    assert again.q_expr == sub.q_expr
    assert again.entities == sub.entities


def test_minimal_subscription_gets_defaults() -> None:
    sub = parse(MINIMAL)
    assert re.fullmatch(r"urn:ngsi-ld:Subscription:[0-9a-f-]{36}", sub.id)
    assert sub.notification_trigger == DEFAULT_TRIGGERS
    assert sub.is_active
    assert sub.watched_attributes == ()
    assert sub.q is None
    assert sub.notification.format == "normalized"
    assert sub.notification.endpoint.accept == "application/json"
    assert not sub.notification.show_changes
    assert not sub.notification.sys_attrs
    assert parse(MINIMAL).id != sub.id


def test_watched_attributes_alone_are_enough() -> None:
    sub = parse(with_(without(MINIMAL, "entities"), watchedAttributes=["speed"]))
    assert sub.entities == ()
    assert sub.watched_attributes == (VOCAB + "speed",)


def test_geoq_coordinates_may_be_json_text() -> None:
    geoq = {"georel": "within", "geometry": "Polygon", "coordinates": "[[[0,0],[1,0],[1,1],[0,0]]]"}
    sub = parse(with_(MINIMAL, geoQ=geoq))
    assert sub.geo_q is not None
    assert sub.geo_q.coordinates[0][1] == (1.0, 0.0)


def test_read_only_members_are_ignored() -> None:
    body = with_(MINIMAL, status="expired", createdAt="2020-01-01T00:00:00Z")
    body["notification"] |= {"timesSent": 9, "status": "failed", "lastSuccess": "x"}
    sub = parse(body)
    assert sub.times_sent == 0
    assert status(sub, NOW) == "active"


BAD = "BadRequestData"
UNSUPPORTED = "OperationNotSupported"
PAST = "2020-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("body", "problem", "detail"),
    [
        (without(MINIMAL, "type"), BAD, "type: missing"),
        (with_(MINIMAL, type="Vehicle"), BAD, 'type: must be "Subscription"'),
        (with_(MINIMAL, id="not a uri"), BAD, "id must be a URI"),
        (without(MINIMAL, "entities"), BAD, "needs entities or watchedAttributes"),
        (with_(MINIMAL, entities=[]), BAD, "entities: must be a non-empty array"),
        (with_(MINIMAL, entities=[{"id": VEHICLE}]), BAD, "entities[0].type: missing"),
        (with_(MINIMAL, entities=[{"type": "V", "ID": "x"}]), BAD, "entities[0]: unknown member"),
        (with_(MINIMAL, entities=[{"type": "V", "id": "x y"}]), BAD, "entities[0].id"),
        (with_(MINIMAL, entities=[{"type": "V", "idPattern": "("}]), BAD, "entities[0].idPattern"),
        (with_(MINIMAL, entities=[{"type": "Bad Type"}]), BAD, "entities[0].type"),
        (with_(MINIMAL, entities=[{"type": "A,B"}]), UNSUPPORTED, "type selections"),
        (with_(MINIMAL, watchedAttributes=[]), BAD, "watchedAttributes: must be a non-empty"),
        (with_(MINIMAL, watchedAttributes=["a b"]), BAD, "watchedAttributes[0]"),
        (with_(MINIMAL, notificationTrigger=["changed"]), BAD, "notificationTrigger: 'changed'"),
        (with_(MINIMAL, timeInterval=0), BAD, "timeInterval: must be a whole number"),
        (with_(MINIMAL, timeInterval=1.5), BAD, "timeInterval: must be a whole number"),
        (with_(MINIMAL, timeInterval="60"), BAD, "timeInterval: must be a number"),
        (with_(MINIMAL, timeInterval=60, watchedAttributes=["speed"]), BAD, "cannot go together"),
        (with_(MINIMAL, timeInterval=60, throttling=5), BAD, "throttling cannot go together"),
        (with_(MINIMAL, throttling=-1), BAD, "throttling: must not be negative"),
        (with_(MINIMAL, throttling=True), BAD, "throttling: must be a number"),
        (with_(MINIMAL, throttling=float("nan")), BAD, "throttling: must be a number"),
        (with_(MINIMAL, timeInterval=10**400), BAD, "timeInterval: too large"),
        (with_(MINIMAL, type={"a": 1}), BAD, 'type: must be "Subscription"'),
        (with_(MINIMAL, notificationTrigger=[{"a": 1}]), BAD, "notificationTrigger: {'a': 1}"),
        (with_(MINIMAL, q="speed>"), BAD, "q: "),
        (
            with_(MINIMAL, geoQ={"georel": "within", "geometry": "Point"}),
            BAD,
            "coordinates missing",
        ),
        (with_(MINIMAL, geoQ={**FULL["geoQ"], "georel": "close"}), BAD, "geoQ: georel"),
        (with_(MINIMAL, geoQ={**FULL["geoQ"], "coords": []}), BAD, "geoQ: unknown member"),
        (with_(MINIMAL, scopeQ="Sejong"), BAD, "scopeQ: "),
        (with_(MINIMAL, scopeQ="/A/#/B"), BAD, "scopeQ: "),
        (with_(MINIMAL, isActive="yes"), BAD, "isActive: must be true or false"),
        (
            with_(MINIMAL, expiresAt=PAST),
            BAD,
            "expiresAt: 2020-01-01T00:00:00Z is not in the future",
        ),
        (with_(MINIMAL, expiresAt="tomorrow"), BAD, "expiresAt must be an ISO 8601"),
        (with_(MINIMAL, lang="not a tag"), BAD, "lang: "),
        (with_(MINIMAL, subscriptionName=3), BAD, "subscriptionName: must be a string"),
        (with_(MINIMAL, watchedAttribute=["speed"]), BAD, "watchedAttribute: unknown member"),
        (with_(MINIMAL, csf="p==1"), UNSUPPORTED, "csf is not supported"),
        (with_(MINIMAL, q=None), BAD, "q: cannot be null on create"),
        (without(MINIMAL, "notification"), BAD, "notification: missing"),
        (with_(MINIMAL, notification=[]), BAD, "notification: must be a JSON object"),
        (without(MINIMAL, "notification", "endpoint"), BAD, "notification.endpoint: missing"),
        (without(MINIMAL, "notification", "endpoint", "uri"), BAD, "endpoint.uri: missing"),
        (with_notification(MINIMAL, format="simple"), BAD, "notification.format: 'simple'"),
        (with_notification(MINIMAL, attributes=[]), BAD, "notification.attributes: must be"),
        (with_notification(MINIMAL, sysAttrs="true"), BAD, "notification.sysAttrs: must be"),
        (with_notification(MINIMAL, showChanges=1), BAD, "notification.showChanges: must be"),
        (with_endpoint(MINIMAL, uri="ftp://example.org/x"), BAD, "must be an absolute http"),
        (with_endpoint(MINIMAL, uri="/notify"), BAD, "notification.endpoint.uri must be a URI"),
        (with_endpoint(MINIMAL, uri="http:notify"), BAD, "with a host"),
        (with_endpoint(MINIMAL, accept="text/plain"), BAD, "endpoint.accept: 'text/plain'"),
        (with_endpoint(MINIMAL, accept="application/geo+json"), UNSUPPORTED, "GeoJSON"),
        (with_endpoint(MINIMAL, timeout=-5), BAD, "endpoint.timeout: must not be negative"),
        (with_endpoint(MINIMAL, receiverInfo=[{"key": "k"}]), BAD, "receiverInfo[0]: must be"),
        (with_endpoint(MINIMAL, notifierInfo={"k": "v"}), BAD, "notifierInfo: must be an array"),
    ],
)
def test_invalid_bodies_are_refused_saying_where(body: Any, problem: str, detail: str) -> None:
    with pytest.raises(NgsiLdError) as caught:
        parse(body)
    assert caught.value.problem_type == ERRORS + problem
    assert detail in caught.value.detail


def test_a_body_that_is_no_object_is_an_invalid_request() -> None:
    with pytest.raises(NgsiLdError) as caught:
        parse(["Subscription"])
    assert caught.value.problem_type == ERRORS + "InvalidRequest"
    assert caught.value.status == 400


# --- update --------------------------------------------------------------------------------


def test_update_replaces_given_members_and_keeps_the_rest() -> None:
    sub = parse(FULL)
    new = update(sub, {"q": "speed>80", "watchedAttributes": ["speed", "fuel"]})
    assert new.q == "speed>80"
    assert new.q_expr == parse(with_(FULL, q="speed>80")).q_expr
    assert new.watched_attributes == (VOCAB + "speed", VOCAB + "fuel")
    assert new.entities == sub.entities
    assert new.geo_q == sub.geo_q
    assert new.created_at == NOW
    assert new.modified_at == LATER


def test_update_merges_notification_and_endpoint() -> None:
    sub = parse(FULL)
    new = update(
        sub, {"notification": {"format": "concise", "endpoint": {"accept": "application/json"}}}
    )
    assert new.notification.format == "concise"
    assert new.notification.attributes == sub.notification.attributes
    assert new.notification.endpoint.accept == "application/json"
    assert new.notification.endpoint.uri == "https://example.org/notify"
    assert new.notification.endpoint.receiver_info == sub.notification.endpoint.receiver_info


def test_update_null_removes_optional_members() -> None:
    sub = parse(FULL)
    new = update(
        sub,
        {"throttling": None, "q": "urn:ngsi-ld:null", "notification": {"attributes": None}},
    )
    assert new.throttling is None
    assert new.q is None
    assert new.q_expr is None
    assert new.notification.attributes == ()
    assert update(sub, {"notificationTrigger": None}).notification_trigger == DEFAULT_TRIGGERS


def test_update_can_pause_and_resume() -> None:
    sub = parse(MINIMAL)
    paused = update(sub, {"isActive": False})
    assert status(paused, LATER) == "paused"
    assert status(update(paused, {"isActive": True}), LATER) == "active"


def test_update_keeping_the_same_id_is_allowed() -> None:
    sub = parse(FULL)
    assert update(sub, {"id": sub.id, "type": "Subscription", "description": "x"}).id == sub.id


@pytest.mark.parametrize(
    ("fragment", "detail"),
    [
        ({"id": "urn:ngsi-ld:Subscription:other"}, "id: a subscription's id cannot change"),
        ({"timeInterval": 60}, "timeInterval and watchedAttributes cannot go together"),
        ({"entities": None, "watchedAttributes": None}, "needs entities or watchedAttributes"),
        ({"notification": None}, "notification: must be a JSON object"),
        ({"notification": {"endpoint": {"uri": None}}}, "notification.endpoint.uri: cannot be"),
        ({"expiresAt": PAST}, "is not in the future"),
        ({"type": "Vehicle"}, 'type: must be "Subscription"'),
        ({}, "changes nothing"),
        ({"notification": {}}, "changes nothing"),
        ({"isActive": 0}, "isActive: must be true or false"),
    ],
)
def test_invalid_updates_are_refused(fragment: dict[str, Any], detail: str) -> None:
    with pytest.raises(NgsiLdError) as caught:
        update(parse(FULL), fragment)
    assert caught.value.problem_type == ERRORS + "BadRequestData"
    assert detail in caught.value.detail


def test_update_to_periodic_after_dropping_watched_attributes_and_throttling() -> None:
    sub = update(parse(FULL), {"timeInterval": 60, "watchedAttributes": None, "throttling": None})
    assert sub.time_interval == 60


# --- status --------------------------------------------------------------------------------


def test_status_active_paused_expired() -> None:
    sub = parse(with_(MINIMAL, expiresAt="2024-05-01T10:00:00Z"))
    assert status(sub, NOW) == "active"
    paused = update(sub, {"isActive": False}, now=NOW)
    assert status(paused, NOW) == "paused"
    assert status(sub, LATER) == "expired"
    assert status(paused, LATER) == "expired"
    assert render(sub, LATER)["status"] == "expired"


# --- matching ------------------------------------------------------------------------------


def attribute(name: str, value: Any, kind: Kind = Kind.PROPERTY) -> AttributeInstance:
    return AttributeInstance(name=CTX.expand_term(name), kind=kind, value=value)


def vehicle(
    speed: float = 60, lon: float = 127.29, scope: str | None = "/Sejong/Downtown"
) -> EntityFragment:
    return EntityFragment(
        id=VEHICLE,
        types=(VOCAB + "Vehicle",),
        scope=(scope,) if scope else None,
        attributes=(
            attribute("speed", speed),
            attribute("brandName", "Mercedes"),
            attribute(
                "location", {"type": "Point", "coordinates": [lon, 36.48]}, Kind.GEO_PROPERTY
            ),
        ),
        created_at=NOW,
        modified_at=NOW,
    )


def event(
    trigger: Trigger = Trigger.ATTRIBUTE_UPDATED,
    changed: tuple[str, ...] = ("speed",),
    entity: EntityFragment | None = None,
    entity_id: str = VEHICLE,
    types: tuple[str, ...] = (VOCAB + "Vehicle",),
) -> ChangeEvent:
    fragment = entity or vehicle()
    return ChangeEvent(
        entity_id=entity_id,
        entity_types=types,
        trigger=trigger,
        attributes=frozenset(CTX.expand_term(n) for n in changed),
        entity=render_entity(fragment, sys_attrs=True),
    )


def test_a_matching_change_notifies() -> None:
    assert matches(parse(FULL), event(), NOW, None)


def test_paused_and_expired_subscriptions_do_not_match() -> None:
    sub = parse(FULL)
    assert not matches(update(sub, {"isActive": False}, now=NOW), event(), NOW, None)
    expired = parse(with_(FULL, expiresAt="2024-05-01T09:30:00Z"))
    assert matches(expired, event(), NOW, None)
    assert not matches(expired, event(), LATER, None)


def test_entity_selectors_match_id_pattern_and_type() -> None:
    by_id = parse(with_(MINIMAL, entities=[{"type": "Vehicle", "id": VEHICLE}]))
    assert matches(by_id, event(), NOW, None)
    assert not matches(by_id, event(entity_id=VEHICLE + "0"), NOW, None)
    by_pattern = parse(with_(MINIMAL, entities=[{"type": "Vehicle", "idPattern": "A45"}]))
    assert matches(by_pattern, event(), NOW, None)  # searched, not anchored
    assert not matches(by_pattern, event(entity_id="urn:ngsi-ld:Vehicle:B1"), NOW, None)
    assert not matches(parse(MINIMAL), event(types=(VOCAB + "Bus",)), NOW, None)
    two_types = event(types=(VOCAB + "Bus", VOCAB + "Vehicle"))
    assert matches(parse(MINIMAL), two_types, NOW, None)


def test_id_wins_over_id_pattern() -> None:
    sub = parse(with_(MINIMAL, entities=[{"type": "Vehicle", "id": VEHICLE, "idPattern": "^$"}]))
    assert matches(sub, event(), NOW, None)


def test_watched_attributes_must_intersect_the_changed_ones() -> None:
    sub = parse(with_(MINIMAL, watchedAttributes=["speed", "fuel"]))
    assert matches(sub, event(changed=("speed", "brandName")), NOW, None)
    assert not matches(sub, event(changed=("brandName",)), NOW, None)
    unwatched = parse(MINIMAL)
    assert matches(unwatched, event(changed=("brandName",)), NOW, None)


def test_entity_creation_changes_all_its_attributes() -> None:
    created = event(Trigger.ENTITY_CREATED, changed=())
    assert matches(parse(with_(MINIMAL, watchedAttributes=["speed"])), created, NOW, None)
    assert not matches(parse(with_(MINIMAL, watchedAttributes=["fuel"])), created, NOW, None)


@pytest.mark.parametrize(
    ("triggers", "happened", "notified"),
    [
        (None, Trigger.ATTRIBUTE_CREATED, True),
        (None, Trigger.ATTRIBUTE_UPDATED, True),
        (None, Trigger.ATTRIBUTE_DELETED, False),
        (None, Trigger.ENTITY_CREATED, True),  # creating an entity creates its attributes
        (None, Trigger.ENTITY_DELETED, False),
        (["entityUpdated"], Trigger.ATTRIBUTE_DELETED, True),
        (["entityUpdated"], Trigger.ATTRIBUTE_CREATED, True),
        (["entityUpdated"], Trigger.ENTITY_CREATED, False),
        (["entityCreated"], Trigger.ENTITY_CREATED, True),
        (["entityCreated"], Trigger.ATTRIBUTE_UPDATED, False),
        (["entityDeleted"], Trigger.ENTITY_DELETED, True),
        (["attributeDeleted"], Trigger.ENTITY_DELETED, False),
        (["attributeDeleted"], Trigger.ATTRIBUTE_DELETED, True),
    ],
)
def test_notification_triggers(
    triggers: list[str] | None, happened: Trigger, notified: bool
) -> None:
    body = with_(MINIMAL, notificationTrigger=triggers) if triggers else MINIMAL
    entity_level = happened in (Trigger.ENTITY_CREATED, Trigger.ENTITY_DELETED)
    changed = () if entity_level else ("speed",)
    assert matches(parse(body), event(happened, changed), NOW, None) is notified


def test_q_is_evaluated_on_the_entity_after_the_change() -> None:
    sub = parse(with_(MINIMAL, q='speed>50;brandName=="Mercedes"'))
    assert matches(sub, event(entity=vehicle(speed=60)), NOW, None)
    assert not matches(sub, event(entity=vehicle(speed=40)), NOW, None)


def test_geoq_is_tested_on_the_geoproperty() -> None:
    sub = parse(with_(MINIMAL, geoQ=FULL["geoQ"]))  # within 2 km of (127.29, 36.48)
    assert matches(sub, event(entity=vehicle(lon=127.29)), NOW, None)
    assert not matches(sub, event(entity=vehicle(lon=127.40)), NOW, None)
    elsewhere = with_(MINIMAL, geoQ={**FULL["geoQ"], "geoproperty": "observationSpace"})
    assert not matches(parse(elsewhere), event(), NOW, None)  # no such GeoProperty


def test_scopeq_is_tested_on_the_entity_scope() -> None:
    def notified(scope_q: str, scope: str | None = "/Sejong/Downtown") -> bool:
        sub = parse(with_(MINIMAL, scopeQ=scope_q))
        return matches(sub, event(entity=vehicle(scope=scope)), NOW, None)

    assert notified("/Sejong/Downtown")
    assert notified("/Sejong/#")
    assert notified("/#")
    assert notified("/Sejong/Downtown/#")
    assert notified("/+/Downtown")
    assert not notified("/Sejong")
    assert not notified("/Daejeon/#")
    assert notified("/Daejeon,/Sejong/+")
    assert not notified("/Daejeon;/Sejong/+")
    assert notified("(/Daejeon,/Sejong/#);/+/Downtown")
    assert not notified("/#", scope=None)


def test_a_deleted_entity_without_state_skips_q_and_geoq() -> None:
    sub = parse(with_(MINIMAL, q="speed>100", notificationTrigger=["entityDeleted"]))
    gone = ChangeEvent(
        entity_id=VEHICLE, entity_types=(VOCAB + "Vehicle",), trigger=Trigger.ENTITY_DELETED
    )
    assert matches(sub, gone, NOW, None)
    last_state = event(Trigger.ENTITY_DELETED, changed=(), entity=vehicle(speed=60))
    assert not matches(sub, last_state, NOW, None)


def test_throttling_holds_notifications_back() -> None:
    sub = parse(with_(MINIMAL, throttling=10))
    assert matches(sub, event(), NOW, None)
    assert not matches(sub, event(), NOW, NOW - dt.timedelta(seconds=9))
    assert matches(sub, event(), NOW, NOW - dt.timedelta(seconds=10))
    assert matches(parse(MINIMAL), event(), NOW, NOW)  # no throttling


def test_cooldown_after_a_failure_holds_notifications_back() -> None:
    sub = record_attempt(parse(with_endpoint(MINIMAL, cooldown=5000)), NOW, ok=False)
    assert not matches(sub, event(), NOW + dt.timedelta(seconds=4), None)
    assert matches(sub, event(), NOW + dt.timedelta(seconds=5), None)
    recovered = record_attempt(sub, NOW + dt.timedelta(seconds=1), ok=True)
    assert matches(recovered, event(), NOW + dt.timedelta(seconds=2), None)


def test_periodic_subscriptions_never_match_changes_but_fall_due() -> None:
    sub = parse(with_(MINIMAL, timeInterval=60))
    assert not matches(sub, event(), NOW, None)
    assert due_periodic(sub, NOW)  # never sent yet
    sent = record_attempt(sub, NOW, ok=True)
    assert not due_periodic(sent, NOW + dt.timedelta(seconds=59))
    assert due_periodic(sent, NOW + dt.timedelta(seconds=60))
    assert not due_periodic(update(sent, {"isActive": False}), LATER)
    assert not due_periodic(parse(MINIMAL), NOW)  # not periodic


# --- counters ------------------------------------------------------------------------------


def test_attempts_are_counted_and_rendered() -> None:
    sub = parse(MINIMAL)
    first = record_attempt(sub, NOW, ok=True)
    second = record_attempt(first, LATER, ok=False)
    out = render(second, LATER)["notification"]
    assert out["timesSent"] == 2
    assert out["timesFailed"] == 1
    assert out["lastNotification"] == "2024-05-01T10:00:00Z"
    assert out["lastSuccess"] == "2024-05-01T09:00:00Z"
    assert out["lastFailure"] == "2024-05-01T10:00:00Z"
    assert out["status"] == "failed"
    assert render(first)["notification"]["status"] == "ok"
    assert "status" not in render(sub)["notification"]


def test_sys_attrs_render_creation_and_modification_times() -> None:
    sub = update(parse(MINIMAL), {"description": "x"})
    out = render(sub, sys_attrs=True)
    assert out["createdAt"] == "2024-05-01T09:00:00Z"
    assert out["modifiedAt"] == "2024-05-01T10:00:00Z"
    assert "createdAt" not in render(sub)


# --- notification body ---------------------------------------------------------------------


def body_for(members: dict[str, Any], **kw: Any) -> dict[str, Any]:
    sub = parse(with_notification(MINIMAL, **members))
    return notification_body(
        sub, [vehicle()], LATER, compact_term=CTX.compact_iri, compact_type=CTX.compact_type, **kw
    )


def test_notification_message_envelope() -> None:
    sub = parse(MINIMAL)
    body = notification_body(
        sub, [vehicle()], LATER, compact_term=CTX.compact_iri, compact_type=CTX.compact_type
    )
    assert re.fullmatch(r"urn:ngsi-ld:Notification:[0-9a-f-]{36}", body["id"])
    assert body["type"] == "Notification"
    assert body["subscriptionId"] == sub.id
    assert body["notifiedAt"] == "2024-05-01T10:00:00Z"
    assert "@context" not in body


def test_notification_in_normalized_form() -> None:
    (entity,) = body_for({})["data"]
    assert entity == {
        "id": VEHICLE,
        "type": "Vehicle",
        "scope": "/Sejong/Downtown",
        "speed": {"type": "Property", "value": 60},
        "brandName": {"type": "Property", "value": "Mercedes"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [127.29, 36.48]},
        },
    }


def test_notification_in_concise_form() -> None:
    (entity,) = body_for({"format": "concise"})["data"]
    assert entity["speed"] == 60
    assert entity["type"] == "Vehicle"
    assert entity["location"] == {"type": "Point", "coordinates": [127.29, 36.48]}


def test_notification_in_key_values_form() -> None:
    (entity,) = body_for({"format": "keyValues"})["data"]
    assert entity["speed"] == 60
    assert entity["brandName"] == "Mercedes"


def test_notification_projects_attributes() -> None:
    (entity,) = body_for({"attributes": ["speed", "fuel"]})["data"]
    assert set(entity) == {"id", "type", "scope", "speed"}


def test_notification_with_sys_attrs() -> None:
    (entity,) = body_for({"sysAttrs": True})["data"]
    assert entity["createdAt"] == entity["modifiedAt"] == "2024-05-01T09:00:00Z"
    (plain,) = body_for({})["data"]
    assert "createdAt" not in plain


def test_notification_to_ld_json_endpoint_carries_the_context() -> None:
    endpoint = {"uri": "http://localhost/n", "accept": "application/ld+json"}
    body = body_for({"endpoint": endpoint}, context="https://example.org/ctx.jsonld")
    assert body["@context"] == "https://example.org/ctx.jsonld"


def test_notification_shows_changes_when_asked() -> None:
    before = {VEHICLE: [attribute("speed", 45)]}
    (normalized,) = body_for({"showChanges": True}, previous=before)["data"]
    assert normalized["speed"] == {"type": "Property", "value": 60, "previousValue": 45}
    assert "previousValue" not in normalized["brandName"]
    (concise,) = body_for({"showChanges": True, "format": "concise"}, previous=before)["data"]
    assert concise["speed"] == {"value": 60, "previousValue": 45}
    (key_values,) = body_for({"showChanges": True, "format": "keyValues"}, previous=before)["data"]
    assert key_values["speed"] == 60
    (not_asked,) = body_for({}, previous=before)["data"]
    assert "previousValue" not in not_asked["speed"]


def test_notification_applies_the_subscription_lang() -> None:
    street = attribute(
        "street", {"ko": "한누리대로", "en": "Hannuri-daero"}, Kind.LANGUAGE_PROPERTY
    )
    entity = EntityFragment(id=VEHICLE, types=(VOCAB + "Vehicle",), attributes=(street,))
    sub = parse(with_(MINIMAL, lang="en"))
    body = notification_body(
        sub, [entity], LATER, compact_term=CTX.compact_iri, compact_type=CTX.compact_type
    )
    assert body["data"][0]["street"] == {"type": "Property", "value": "Hannuri-daero", "lang": "en"}


def test_q_renders_as_given_and_parses_to_the_stored_expression() -> None:
    sub = parse(with_(MINIMAL, q="speed>50"))
    assert render(sub)["q"] == "speed>50"
    assert sub.q_expr is not None
    assert sub.q_expr != parse_q("speed>50")  # names are expanded


def test_a_percent_encoded_q_and_the_old_name_member_are_understood() -> None:
    body = {
        "type": "Subscription",
        "name": "lots filling up",
        "entities": [{"type": "OffStreetParking"}],
        "q": quote('availableSpotNumber<50;status=="open"'),
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }
    sub = parse_subscription(body, expand_term=lambda t: t, expand_type=lambda t: t, now=NOW)
    assert sub.subscription_name == "lots filling up"
    assert sub.q == 'availableSpotNumber<50;status=="open"'
