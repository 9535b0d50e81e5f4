"""The NGSI-LD entity model: parsing, validation, rendering and the entity operations."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from typing import Any

import pytest

from citysmart.hub.ngsi_ld.context import compact_entity, core_context, expand_entity
from citysmart.hub.ngsi_ld.model import (
    NGSI_LD_NULL,
    AttributeInstance,
    Deletion,
    EntityFragment,
    Kind,
    NgsiLdError,
    Patch,
    add_types,
    append_attributes,
    check_name,
    delete_attribute,
    is_valid_name,
    merge_attributes,
    merge_json,
    merge_scopes,
    parse_attribute,
    parse_attributes,
    parse_datetime,
    parse_entity,
    patch_attribute,
    replace_entity,
    update_attributes,
)
from citysmart.hub.ngsi_ld.render import parse_lang, pick_language, render_attribute, render_entity

BAD = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
UTC = dt.UTC
T0 = dt.datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
T1 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

# --- ETSI GS CIM 009 annex C.2.2: the Vehicle entity ----------------------------------------

VEHICLE: dict[str, Any] = {
    "id": "urn:ngsi-ld:Vehicle:A4567",
    "type": "Vehicle",
    "brandName": {"type": "Property", "value": "Mercedes"},
    "street": {
        "type": "LanguageProperty",
        "languageMap": {"fr": "Grand Place", "nl": "Grote Markt"},
    },
    "isParked": {
        "type": "Relationship",
        "objectType": "OffStreetParking",
        "object": "urn:ngsi-ld:OffStreetParking:Downtown1",
        "observedAt": "2017-07-29T12:00:04Z",
        "providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Person:Bob"},
    },
    "category": {"type": "VocabProperty", "vocab": "non-commercial"},
    "tyreTreadDepths": {
        "type": "ListProperty",
        "valueList": [300, 300, 120, 6],
        "valueType": "Integer",
        "unitCode": "MMT",
    },
    "passengers": {
        "type": "Relationship",
        "objectType": "Person",
        "object": ["urn:ngsi-ld:Person:Alice", "urn:ngsi-ld:Person:Bob"],
    },
    "route": {
        "type": "ListRelationship",
        "objectType": "City",
        "objectList": [
            {"object": "urn:ngsi-ld:City:Antwerp"},
            {"object": "urn:ngsi-ld:City:Rotterdam"},
            {"object": "urn:ngsi-ld:City:Amsterdam"},
        ],
    },
}
VEHICLE_CONCISE: dict[str, Any] = {
    "id": "urn:ngsi-ld:Vehicle:A4567",
    "type": "Vehicle",
    "brandName": "Mercedes",
    "street": {"languageMap": {"fr": "Grand Place", "nl": "Grote Markt"}},
    "isParked": {
        "object": "urn:ngsi-ld:OffStreetParking:Downtown1",
        "objectType": "OffStreetParking",
        "observedAt": "2017-07-29T12:00:04Z",
        "providedBy": {"object": "urn:ngsi-ld:Person:Bob"},
    },
    "category": {"vocab": "non-commercial"},
    "tyreTreadDepths": {"valueList": [300, 300, 120, 6], "valueType": "Integer", "unitCode": "MMT"},
    "passengers": {
        "objectType": "Person",
        "object": ["urn:ngsi-ld:Person:Alice", "urn:ngsi-ld:Person:Bob"],
    },
    "route": {
        "objectType": "City",
        "objectList": [
            "urn:ngsi-ld:City:Antwerp",
            "urn:ngsi-ld:City:Rotterdam",
            "urn:ngsi-ld:City:Amsterdam",
        ],
    },
}
VEHICLE_KEY_VALUES: dict[str, Any] = {
    "id": "urn:ngsi-ld:Vehicle:A4567",
    "type": "Vehicle",
    "brandName": "Mercedes",
    "street": {"languageMap": {"fr": "Grand Place", "nl": "Grote Markt"}},
    "isParked": "urn:ngsi-ld:OffStreetParking:Downtown1",
    "category": {"vocab": "non-commercial"},
    "tyreTreadDepths": [300, 300, 120, 6],
    "passengers": ["urn:ngsi-ld:Person:Alice", "urn:ngsi-ld:Person:Bob"],
    "route": [
        "urn:ngsi-ld:City:Antwerp",
        "urn:ngsi-ld:City:Rotterdam",
        "urn:ngsi-ld:City:Amsterdam",
    ],
}

# --- annex C.2.3: the OffStreetParking entity -------------------------------------------------

PARKING: dict[str, Any] = {
    "id": "urn:ngsi-ld:OffStreetParking:Downtown1",
    "type": "OffStreetParking",
    "name": {"type": "Property", "value": "Downtown One"},
    "availableSpotNumber": {
        "type": "Property",
        "value": 121,
        "observedAt": "2017-07-29T12:05:02Z",
        "reliability": {"type": "Property", "value": 0.7},
        "providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Camera:C1"},
    },
    "totalSpotNumber": {"type": "Property", "value": 200},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-8.5, 41.2]}},
}
PARKING_CONCISE: dict[str, Any] = {
    "id": "urn:ngsi-ld:OffStreetParking:Downtown1",
    "type": "OffStreetParking",
    "name": "Downtown One",
    "availableSpotNumber": {
        "value": 121,
        "observedAt": "2017-07-29T12:05:02Z",
        "reliability": 0.7,
        "providedBy": {"object": "urn:ngsi-ld:Camera:C1"},
    },
    "totalSpotNumber": 200,
    "location": {"type": "Point", "coordinates": [-8.5, 41.2]},
}
PARKING_KEY_VALUES: dict[str, Any] = {
    "id": "urn:ngsi-ld:OffStreetParking:Downtown1",
    "type": "OffStreetParking",
    "name": "Downtown One",
    "availableSpotNumber": 121,
    "totalSpotNumber": 200,
    "location": {"type": "Point", "coordinates": [-8.5, 41.2]},
}

# --- annex C: a multi-attribute (clause 4.5.5) ------------------------------------------------

SPEEDOMETER = "urn:ngsi-ld:Property:speedometerA4567-speed"
GPS = "urn:ngsi-ld:Property:gpsBxyz123-speed"
SPEEDY: dict[str, Any] = {
    "id": "urn:ngsi-ld:Vehicle:B9211",
    "type": "Vehicle",
    "speed": [
        {
            "type": "Property",
            "value": 55,
            "datasetId": SPEEDOMETER,
            "source": {"type": "Property", "value": "Speedometer"},
        },
        {
            "type": "Property",
            "value": 54.5,
            "datasetId": GPS,
            "source": {"type": "Property", "value": "GPS"},
        },
        {"type": "Property", "value": 54.8},
    ],
}

# --- FIWARE Smart Data Models (dataModel.Environment, .Transportation, .Parking) -----------

AIR_QUALITY: dict[str, Any] = {
    "id": "urn:ngsi-ld:AirQualityObserved:Madrid-AmbientObserved-28079004-2016-03-15T11:00:00",
    "type": "AirQualityObserved",
    "dateObserved": {"type": "Property", "value": "2016-03-15T11:00:00/2016-03-15T12:00:00"},
    "areaServed": {"type": "Property", "value": "Brooklands"},
    "airQualityLevel": {"type": "Property", "value": "moderate"},
    "CO": {"type": "Property", "value": 500, "unitCode": "GP"},
    "NO2": {"type": "Property", "value": 69, "unitCode": "GQ"},
    "temperature": {"type": "Property", "value": 12.2},
    "refPointOfInterest": {
        "type": "Relationship",
        "object": "urn:ngsi-ld:PointOfInterest:28079004-Pza.deEspanya",
    },
    "location": {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [-3.712247222222222, 40.423852777777775]},
    },
    "address": {
        "type": "Property",
        "value": {
            "addressCountry": "ES",
            "addressLocality": "Madrid",
            "streetAddress": "Plaza de España",
            "type": "PostalAddress",
        },
    },
    "CO_Level": {"type": "Property", "value": "moderate"},
}
AIR_QUALITY_KEY_VALUES: dict[str, Any] = {
    "id": "urn:ngsi-ld:AirQualityObserved:Madrid-AmbientObserved-28079004-2016-03-15T11:00:00",
    "type": "AirQualityObserved",
    "co": 500,
    "no2": 69,
    "address": {
        "addressCountry": "ES",
        "addressLocality": "Madrid",
        "streetAddress": "Plaza de España",
        "type": "PostalAddress",
    },
    "airQualityIndex": 65,
    "dateObserved": "2016-03-15T11:00:00",
    "location": {"coordinates": [-3.712247222222222, 40.423852777777775], "type": "Point"},
    "refPointOfInterest": "urn:ngsi-ld:PointOfInterest:28079004-Pza.deEspanya",
    "relativeHumidity": 0.54,
    "source": "http://datos.madrid.es",
    "typeOfLocation": "outdoor",
}
BIKE_STATION: dict[str, Any] = {
    "id": "urn:ngsi-ld:Bcn-BikeHireDockingStation-1",
    "type": "BikeHireDockingStation",
    "address": {
        "type": "Property",
        "value": {
            "addressCountry": "ES",
            "addressLocality": "Barcelona",
            "streetAddress": "Gran Via Corts Catalanes,760",
        },
    },
    "agency_fare_url": {"type": "Property", "value": ""},
    "availableBikeNumber": {"type": "Property", "value": 20},
    "freeSlotNumber": {"type": "Property", "value": 10},
    "location": {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [2.180042, 41.397952]},
    },
    "observationDate": {
        "type": "Property",
        "value": {"@type": "DateTime", "@value": "2021-03-11T15:51:02+05:30"},
    },
    "status": {"type": "Property", "value": "working"},
}
BIKE_STATION_KEY_VALUES: dict[str, Any] = {
    "id": "urn:ngsi-ld:BikeHireDockingStation:Bcn-BikeHireDockingStation-1",
    "type": "BikeHireDockingStation",
    "address": {
        "addressCountry": "ES",
        "addressLocality": "Barcelona",
        "streetAddress": "Gran Via Corts Catalanes,760",
        "type": "PostalAddress",
    },
    "availableBikeNumber": 20,
    "freeSlotNumber": 10,
    "location": {"coordinates": [2.180042, 41.397952], "type": "Point"},
    "status": "working",
}
PORTO_PARKING: dict[str, Any] = {
    "id": "urn:ngsi-ld:OffStreetParking:porto-ParkingLot-23889",
    "type": "OffStreetParking",
    "accessModified": {
        "type": "Property",
        "value": {"@type": "DateTime", "@value": "2018-09-21T12:00:00Z"},
    },
    "allowedVehicleType": {"type": "Property", "value": ["car"]},
    "availableSpotNumber": {
        "type": "Property",
        "value": 132,
        "observedAt": "2018-09-21T12:00:00Z",
    },
    "category": {
        "type": "Property",
        "value": ["underground", "public", "feeCharged", "mediumTerm", "barrierAccess"],
    },
    "fourWheelerSlots": {
        "type": "Property",
        "value": {"availableSpotNumber": 25, "totalSpotNumber": 25, "occupiedSpotNumber": 0},
    },
    "location": {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [-8.60961198807, 41.150691773]},
    },
    "maximumParkingDuration": {"type": "Property", "value": "PT8H"},
    "name": {"type": "Property", "value": "Parque de estacionamento Trindade"},
    "occupancy": {"type": "Property", "value": 0.68},
    "requiredPermit": {"type": "Property", "value": []},
    "totalSpotNumber": {"type": "Property", "value": 414},
}
PORTO_PARKING_KEY_VALUES: dict[str, Any] = {
    "id": "urn:ngsi-ld:OffStreetParking:porto-ParkingLot-23889",
    "type": "OffStreetParking",
    "allowedVehicleType": ["car"],
    "availableSpotNumber": 132,
    "category": ["underground", "public", "feeCharged", "mediumTerm", "barrierAccess"],
    "layout": ["multiLevel"],
    "location": {"coordinates": [-8.60961198807, 41.150691773], "type": "Point"},
    "maximumParkingDuration": "PT8H",
    "modifiedAt": "2018-09-21T12:00:05Z",
    "name": "Parque de estacionamento Trindade",
    "occupancy": 0.68,
    "requiredPermit": [],
    "twoWheelerSlots": {"availableSpotNumber": 20, "totalSpotNumber": 20, "occupiedSpotNumber": 0},
    "@context": [
        "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld"
    ],
}


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def attrs_of(body: dict[str, Any], merge: bool | Patch = False) -> tuple[AttributeInstance, ...]:
    items = parse_attributes(body, merge)
    assert all(isinstance(i, AttributeInstance) for i in items)
    return tuple(i for i in items if isinstance(i, AttributeInstance))


def entity(body: dict[str, Any]) -> EntityFragment:
    return parse_entity(copy.deepcopy(body))


def by_name(attributes: tuple[AttributeInstance, ...], name: str) -> AttributeInstance:
    (found,) = [a for a in attributes if a.name == name and a.dataset_id is None]
    return found


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("normalized", "concise", "key_values"),
    [
        (VEHICLE, VEHICLE_CONCISE, VEHICLE_KEY_VALUES),
        (PARKING, PARKING_CONCISE, PARKING_KEY_VALUES),
    ],
    ids=["vehicle", "parking"],
)
def test_annex_examples_round_trip_in_every_form(
    normalized: dict[str, Any], concise: dict[str, Any], key_values: dict[str, Any]
) -> None:
    parsed = entity(normalized)
    assert render_entity(parsed, "normalized") == normalized
    assert render_entity(parsed, "concise") == concise
    assert render_entity(parsed, "keyValues") == key_values
    assert render_entity(parsed, "simplified") == key_values
    assert entity(concise) == parsed  # concise is lossless


def test_vehicle_model_has_every_attribute_kind() -> None:
    parsed = entity(VEHICLE)
    kinds = {a.name: a.kind for a in parsed.attributes}
    assert kinds == {
        "brandName": Kind.PROPERTY,
        "street": Kind.LANGUAGE_PROPERTY,
        "isParked": Kind.RELATIONSHIP,
        "category": Kind.VOCAB_PROPERTY,
        "tyreTreadDepths": Kind.LIST_PROPERTY,
        "passengers": Kind.RELATIONSHIP,
        "route": Kind.LIST_RELATIONSHIP,
    }
    is_parked = by_name(parsed.attributes, "isParked")
    assert is_parked.observed_at == dt.datetime(2017, 7, 29, 12, 0, 4, tzinfo=UTC)
    assert is_parked.object_type == ("OffStreetParking",)
    assert is_parked.sub_attributes[0].value == "urn:ngsi-ld:Person:Bob"
    assert by_name(parsed.attributes, "route").value == [
        "urn:ngsi-ld:City:Antwerp",
        "urn:ngsi-ld:City:Rotterdam",
        "urn:ngsi-ld:City:Amsterdam",
    ]


@pytest.mark.parametrize(
    "body", [AIR_QUALITY, BIKE_STATION, PORTO_PARKING], ids=lambda b: b["type"]
)
def test_smart_data_models_normalized_round_trip(body: dict[str, Any]) -> None:
    parsed = entity(body)
    assert render_entity(parsed, "normalized") == body
    concise = render_entity(parsed, "concise")
    assert entity(concise) == parsed
    assert render_entity(entity(render_entity(parsed, "keyValues")), "keyValues") == (
        render_entity(parsed, "keyValues")
    )


def test_smart_data_models_concise_shapes() -> None:
    concise = render_entity(entity(AIR_QUALITY), "concise")
    assert concise["CO"] == {"value": 500, "unitCode": "GP"}
    assert concise["temperature"] == 12.2
    assert concise["refPointOfInterest"] == {
        "object": "urn:ngsi-ld:PointOfInterest:28079004-Pza.deEspanya"
    }
    assert concise["location"] == {
        "type": "Point",
        "coordinates": [-3.712247222222222, 40.423852777777775],
    }
    # a structured value with a "type" of its own stays a bare Property value
    assert concise["address"]["type"] == "PostalAddress"


@pytest.mark.parametrize(
    "body",
    [AIR_QUALITY_KEY_VALUES, BIKE_STATION_KEY_VALUES, PORTO_PARKING_KEY_VALUES],
    ids=lambda b: b["type"],
)
def test_smart_data_models_key_values_are_accepted_as_concise(body: dict[str, Any]) -> None:
    parsed = entity(body)
    expected = without(body, "@context", "modifiedAt")  # consumed and system-generated
    assert render_entity(parsed, "keyValues") == expected
    assert render_entity(parsed, "concise") == expected
    assert by_name(parsed.attributes, "location").kind is Kind.GEO_PROPERTY
    address = [a for a in parsed.attributes if a.name == "address"]
    assert all(a.kind is Kind.PROPERTY for a in address)


def test_key_values_of_air_quality() -> None:
    key_values = render_entity(entity(AIR_QUALITY), "keyValues")
    assert key_values["refPointOfInterest"] == (
        "urn:ngsi-ld:PointOfInterest:28079004-Pza.deEspanya"
    )
    assert key_values["CO"] == 500
    assert key_values["address"]["streetAddress"] == "Plaza de España"


def test_expanded_names_round_trip_through_the_core_context() -> None:
    ctx = core_context()
    expanded = expand_entity(copy.deepcopy(PARKING), ctx)
    parsed = parse_entity(expanded)
    names = {a.name for a in parsed.attributes}
    assert "https://uri.etsi.org/ngsi-ld/default-context/availableSpotNumber" in names
    assert "location" in names  # core GeoProperties keep their short name
    assert compact_entity(render_entity(parsed), ctx) == PARKING


# --- concise parsing -----------------------------------------------------------------------


def test_concise_inference_rules() -> None:
    parsed = attrs_of(
        {
            "temperature": 21.5,
            "name": {"value": "Sejong", "observedAt": "2024-05-01T09:00:00Z"},
            "owner": {"object": "urn:ngsi-ld:Person:Kim"},
            "label": {"languageMap": {"ko": "세종", "en": "Sejong"}},
            "mode": {"vocab": "auto"},
            "raw": {"json": {"id": "not-a-uri", "value": 1}},
            "readings": {"valueList": [1, 2, 3]},
            "stops": {"objectList": ["urn:ngsi-ld:BusStop:1"]},
            "area": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            "spot": {"value": {"type": "Point", "coordinates": [127.0, 36.5]}, "floor": 2},
            "observationSpace": {"type": "Point", "coordinates": [127.0, 36.5]},
        }
    )
    kinds = {a.name: a.kind for a in parsed}
    assert kinds == {
        "temperature": Kind.PROPERTY,
        "name": Kind.PROPERTY,
        "owner": Kind.RELATIONSHIP,
        "label": Kind.LANGUAGE_PROPERTY,
        "mode": Kind.VOCAB_PROPERTY,
        "raw": Kind.JSON_PROPERTY,
        "readings": Kind.LIST_PROPERTY,
        "stops": Kind.LIST_RELATIONSHIP,
        "area": Kind.GEO_PROPERTY,
        "spot": Kind.GEO_PROPERTY,
        "observationSpace": Kind.GEO_PROPERTY,
    }
    assert by_name(parsed, "spot").sub_attributes[0].value == 2
    assert by_name(parsed, "temperature").simplified
    assert not by_name(parsed, "name").simplified


def test_plain_arrays_are_property_values_and_arrays_of_instances_are_multi_attributes() -> None:
    (tags,) = attrs_of({"tags": [{"a": 1}, {"b": 2}]})
    assert tags.kind is Kind.PROPERTY
    assert tags.value == [{"a": 1}, {"b": 2}]
    multi = attrs_of({"speed": [{"value": 1}, {"value": 2, "datasetId": GPS}]})
    assert [(a.value, a.dataset_id) for a in multi] == [(1, None), (2, GPS)]


def test_geometry_given_as_a_json_string_is_accepted() -> None:
    (location,) = attrs_of({"location": '{"type": "Point", "coordinates": [127.0, 36.5]}'})
    assert location.kind is Kind.GEO_PROPERTY
    assert location.value == {"type": "Point", "coordinates": [127.0, 36.5]}


def test_system_and_output_only_members_are_ignored() -> None:
    body = {
        "id": "urn:ngsi-ld:Thing:1",
        "type": "Thing",
        "createdAt": "2024-01-01T00:00:00Z",
        "modifiedAt": "2024-01-01T00:00:00Z",
        "temperature": {
            "type": "Property",
            "value": 20,
            "createdAt": "2024-01-01T00:00:00Z",
            "instanceId": "urn:ngsi-ld:Instance:1",
            "previousValue": 19,
        },
    }
    parsed = parse_entity(body)
    assert parsed.created_at is None
    assert parsed.attributes == (
        AttributeInstance(name="temperature", kind=Kind.PROPERTY, value=20),
    )


def test_type_as_iri_and_multiple_types_and_scope() -> None:
    parsed = parse_entity(
        {
            "id": "urn:ngsi-ld:Thing:1",
            "type": ["Sensor", "https://example.org/Device", "Sensor"],
            "scope": ["/Sejong/Hansol", "Sejong"],
            "x": {"type": "https://uri.etsi.org/ngsi-ld/Property", "value": 1},
        }
    )
    assert parsed.types == ("Sensor", "https://example.org/Device")
    assert parsed.scope == ("/Sejong/Hansol", "Sejong")
    assert parsed.attributes[0].kind is Kind.PROPERTY
    rendered = render_entity(parsed)
    assert rendered["type"] == ["Sensor", "https://example.org/Device"]
    assert rendered["scope"] == ["/Sejong/Hansol", "Sejong"]


def test_observed_at_forms() -> None:
    assert parse_datetime("2017-07-29T12:00:04Z", "t") == dt.datetime(
        2017, 7, 29, 12, 0, 4, tzinfo=UTC
    )
    assert parse_datetime("2017-07-29T21:00:04+09:00", "t") == dt.datetime(
        2017, 7, 29, 12, 0, 4, tzinfo=UTC
    )
    assert parse_datetime("2017-07-29T12:00:04,5Z", "t").microsecond == 500_000
    assert parse_datetime("2017-07-29T12:00:04.123456789Z", "t").microsecond == 123_456


@pytest.mark.parametrize(
    "text",
    ["2017-07-29", "2017-07-29T12:00:04", "2017-07-29 12:00:04Z", "20170729T120004Z",
     "2017-02-30T12:00:00Z", "yesterday", 1501329604],
)  # fmt: skip
def test_observed_at_rejections(text: object) -> None:
    with pytest.raises(NgsiLdError) as err:
        parse_datetime(text, "observedAt")
    assert err.value.problem_type == BAD


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("temperature", True),
        ("CO_Level", True),
        ("NO2", True),
        ("온도", True),
        ("sdm:pm25", True),
        ("https://smartdatamodels.org/dataModel.Environment/pm10", True),
        ("urn:ngsi-ld:attr:pm10", True),
        ("2ndFloor", False),
        ("_private", False),
        ("pm2.5", False),
        ("air quality", False),
        ("", False),
        ("bad<name", False),
        ("bad>name", False),
        ('bad"name', False),
        ("https://ex.org/it's", False),
        ("https://ex.org/a=b", False),
        ("https://ex.org/a;b", False),
        ("https://ex.org/f(x)", False),
        ("https://ex.org/a b", False),
    ],
)
def test_names(name: str, valid: bool) -> None:
    assert is_valid_name(name) is valid
    if not valid:
        with pytest.raises(NgsiLdError, match="is not valid"):
            check_name(name)


# --- rejections -----------------------------------------------------------------------------

ID = "urn:ngsi-ld:Thing:1"


def body_with(**attrs: Any) -> dict[str, Any]:
    return {"id": ID, "type": "Thing", **attrs}


REJECTIONS: list[tuple[str, object, str]] = [
    ("not an object", ["x"], "must be a JSON object"),
    ("no id", {"type": "Thing"}, "id missing"),
    ("no type", {"id": ID}, "type missing"),
    ("id not a URI", {"id": "Thing1", "type": "Thing"}, "the entity id must be a URI"),
    ("id with a space", {"id": "urn:ngsi-ld:a b", "type": "T"}, "must be a URI"),
    ("bad type", {"id": ID, "type": "Air Quality"}, "entity type 'Air Quality' is not valid"),
    ("empty type list", {"id": ID, "type": []}, "non-empty array"),
    ("bad attribute name", body_with(**{"bad<name": 1}), "attribute name 'bad<name'"),
    ("bad sub-attribute name", body_with(t={"value": 1, "a(b)": 2}), "'a(b)' is not valid"),
    ("reserved datasetId", body_with(datasetId="urn:x"), "'datasetId' is a reserved"),
    ("reserved observedAt", body_with(observedAt="2024-01-01T00:00:00Z"), "reserved"),
    ("reserved value", body_with(value=1), "'value' is a reserved"),
    ("keyword name", body_with(**{"@id": "urn:x"}), "'@id' is a reserved"),
    ("reserved sub id", body_with(t={"value": 1, "id": "urn:x"}), "'id' is a reserved"),
    ("property without value", body_with(t={"type": "Property"}), "a Property needs 'value'"),
    ("property with object", body_with(t={"type": "Property", "value": 1, "object": "urn:x"}),
     "a Property cannot have 'object'"),
    ("relationship to a name", body_with(r={"type": "Relationship", "object": "Bob"}),
     "object must be a URI"),
    ("relationship to nothing", body_with(r={"type": "Relationship", "object": []}),
     "at least one object"),
    ("relationship with value",
     body_with(r={"type": "Relationship", "object": "urn:x", "value": 1}),
     "a Relationship cannot have 'value'"),
    ("relationship with unitCode",
     body_with(r={"type": "Relationship", "object": "urn:x", "unitCode": "MTR"}),
     "a Relationship cannot have a unitCode"),
    ("objectType on a Property", body_with(t={"value": 1, "objectType": "T"}),
     "objectType only applies to a Relationship"),
    ("longitude out of range",
     body_with(location={"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [200, 0]}}),
     "longitude 200 is outside"),
    ("open ring", body_with(area={"type": "GeoProperty", "value": {
        "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}}),
     "a ring must end at its first position"),
    ("geometry collection", body_with(location={"type": "GeometryCollection", "geometries": []}),
     "GeometryCollection"),
    ("location as Property",
     body_with(location={"type": "Property", "value": {"type": "Point", "coordinates": [1, 2]}}),
     "location must be a GeoProperty"),
    ("location as text", body_with(location="Sejong City Hall"), "not a GeoJSON geometry"),
    ("location without geometry", body_with(location={"value": 3}), "must be a GeoJSON geometry"),
    ("observedAt without zone", body_with(t={"value": 1, "observedAt": "2024-05-01T09:00:00"}),
     "observedAt must be an ISO 8601 date-time"),
    ("unitCode not a string", body_with(t={"value": 1, "unitCode": 5}),
     "unitCode must be a UN/CEFACT code string"),
    ("null attribute", body_with(t=None), "null is only allowed in update and merge"),
    ("NGSI-LD Null attribute", body_with(t=NGSI_LD_NULL), "null is only allowed"),
    ("null value", body_with(t={"type": "Property", "value": None}),
     "NGSI-LD Null is only allowed"),
    ("null languageMap",
     body_with(t={"type": "LanguageProperty", "languageMap": {"@none": NGSI_LD_NULL}}),
     "NGSI-LD Null is only allowed"),
    ("null inside a value", body_with(t={"value": {"a": NGSI_LD_NULL}}),
     "inside a value is only allowed in merge"),
    ("two defaults", body_with(t=[{"value": 1}, {"value": 2}]), "two instances with no datasetId"),
    ("duplicate datasetId", body_with(t=[{"value": 1, "datasetId": GPS},
                                         {"value": 2, "datasetId": GPS}]),
     f"two instances with datasetId {GPS}"),
    ("datasetId not a URI", body_with(t={"value": 1, "datasetId": "gps"}),
     "datasetId must be a URI"),
    ("unknown attribute type", body_with(t={"type": "Text", "value": "x"}),
     "type 'Text' is not an NGSI-LD attribute type"),
    ("two value members", body_with(t={"value": 1, "object": "urn:x"}), "cannot go together"),
    ("mixed array", body_with(t=[{"value": 1}, 2]), "mixes attribute instances and plain values"),
    ("embedded @context", body_with(t={"value": 1, "@context": {}}), "cannot embed an @context"),
    ("bad language tag", body_with(t={"languageMap": {"english!": "x"}}), "not a language tag"),
    ("language value not text", body_with(t={"languageMap": {"en": 5}}), "must be a string"),
    ("empty languageMap", body_with(t={"languageMap": {}}), "non-empty object"),
    ("vocab not a name", body_with(t={"vocab": 5}), "vocab must be a name"),
    ("json not an object", body_with(t={"json": 5}), "json must be a JSON object"),
    ("valueList not an array", body_with(t={"valueList": 5}), "valueList must be an array"),
    ("null among objects", body_with(r={"object": ["urn:x", NGSI_LD_NULL]}),
     "NGSI-LD Null cannot stand among other URIs"),
    ("objectList with names", body_with(t={"objectList": ["Bob"]}),
     "objectList item must be a URI"),
    ("empty scope", {"id": ID, "type": "T", "scope": []}, "scope must not be an empty array"),
    ("point without coordinates", body_with(location={"type": "Point"}), "needs coordinates"),
    ("objectList not an array", body_with(t={"objectList": "urn:x"}), "must be an array of URIs"),
    ("empty objectType", body_with(r={"object": "urn:x", "objectType": []}),
     "objectType must be a type name"),
    ("valueType on a Relationship", body_with(r={"object": "urn:x", "valueType": "URI"}),
     "a Relationship cannot have a valueType"),
    ("valueType not a string", body_with(t={"value": 1, "valueType": 5}),
     "valueType must be a string"),
    ("duplicate sub-attribute", body_with(t={"value": 1, "a": [{"value": 1}, {"value": 2}]}),
     "attribute 't.a': two instances with no datasetId"),
    ("bad scope", {"id": ID, "type": "T", "scope": "/Sejong//Hansol"}, "scope '/Sejong//Hansol'"),
    ("scope with a space", {"id": ID, "type": "T", "scope": "Se jong"}, "is not valid"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_rejections(body: object, message: str) -> None:
    with pytest.raises(NgsiLdError) as err:
        parse_entity(body)
    assert err.value.problem_type == BAD
    assert err.value.status == 400
    assert message in err.value.detail


def test_transient_entities_are_not_supported() -> None:
    with pytest.raises(NgsiLdError) as err:
        parse_entity(body_with(expiresAt="2030-01-01T00:00:00Z"))
    assert err.value.problem_type.endswith("/OperationNotSupported")
    assert err.value.status == 422


def test_error_as_problem_document() -> None:
    with pytest.raises(NgsiLdError) as err:
        parse_entity({"type": "Thing"})
    assert err.value.as_problem() == {
        "type": BAD,
        "title": "Bad request data",
        "status": 400,
        "detail": "an entity needs an id and a type; id missing",
    }
    custom = NgsiLdError("ResourceNotFound", None, "no such entity")
    assert (custom.status, custom.title) == (404, "Resource not found")


def test_fragments_need_no_id_or_type() -> None:
    fragment = parse_entity({"temperature": 3}, require_id_type=False)
    assert fragment.id is None
    assert fragment.types == ()


# --- multi-attributes -----------------------------------------------------------------------


def test_multi_attribute_round_trip_and_simplified_dataset_form() -> None:
    parsed = entity(SPEEDY)
    assert [(a.dataset_id, a.value) for a in parsed.attributes] == [
        (SPEEDOMETER, 55),
        (GPS, 54.5),
        (None, 54.8),
    ]
    assert render_entity(parsed) == SPEEDY
    assert entity(render_entity(parsed, "concise")) == parsed
    assert render_entity(parsed, "keyValues")["speed"] == {
        "dataset": {SPEEDOMETER: 55, GPS: 54.5, "@none": 54.8}
    }


def test_none_dataset_id_is_the_default_instance() -> None:
    (speed,) = attrs_of({"speed": {"value": 5, "datasetId": "@none"}})
    assert speed.dataset_id is None
    assert render_attribute([speed]) == {"type": "Property", "value": 5}


def test_a_lone_non_default_instance_keeps_its_dataset_in_key_values() -> None:
    (speed,) = attrs_of({"speed": {"value": 5, "datasetId": GPS}})
    assert render_attribute([speed], "keyValues") == {"dataset": {GPS: 5}}
    assert render_attribute([speed], "concise") == {"value": 5, "datasetId": GPS}


# --- LanguageProperty and lang ----------------------------------------------------------------

STREET: dict[str, Any] = {
    "id": "urn:ngsi-ld:Street:1",
    "type": "Street",
    "name": {
        "type": "LanguageProperty",
        "languageMap": {"fr-CH": "Rue", "nl": "Straat", "@none": "Street", "ko": ["길", "거리"]},
        "alias": {"type": "LanguageProperty", "languageMap": {"fr": "Voie", "en": "Way"}},
    },
}


@pytest.mark.parametrize(
    ("lang", "tag", "text"),
    [
        ("nl", "nl", "Straat"),
        ("fr-CH", "fr-CH", "Rue"),
        ("fr", "fr-CH", "Rue"),  # a more specific tag matches
        ("fr-CH-u-co-phonebk", "fr-CH", "Rue"),  # the range is cut back at hyphens
        ("FR-ch", "fr-CH", "Rue"),  # tags compare without case
        ("ko", "ko", ["길", "거리"]),
        ("de", "@none", "Street"),  # no match: the default language
        ("*", "@none", "Street"),
        ("de,nl;q=0.5,fr;q=0.9", "fr-CH", "Rue"),  # by q-value, not order
        ("fr;q=0,nl", "nl", "Straat"),  # q=0 excludes
        ('"nl"', "nl", "Straat"),
    ],
)
def test_pick_language(lang: str, tag: str, text: Any) -> None:
    language_map = STREET["name"]["languageMap"]
    assert pick_language(language_map, parse_lang(lang)) == (tag, text)


def test_no_match_without_none_takes_the_first_language() -> None:
    assert pick_language({"fr": "Voie", "en": "Way"}, parse_lang("de")) == ("fr", "Voie")


@pytest.mark.parametrize("lang", ["", "fr;q=2", "fr;x=1", "english!", "fr;q=0"])
def test_bad_lang_filters(lang: str) -> None:
    with pytest.raises(NgsiLdError, match="lang"):
        parse_lang(lang)


def test_lang_turns_language_properties_into_properties_in_every_form() -> None:
    parsed = entity(STREET)
    assert render_entity(parsed, lang="nl")["name"] == {
        "type": "Property",
        "value": "Straat",
        "lang": "nl",
        "alias": {"type": "Property", "value": "Voie", "lang": "fr"},
    }
    assert render_entity(parsed, "concise", lang="en")["name"] == {
        "value": "Street",
        "lang": "@none",
        "alias": {"value": "Way", "lang": "en"},
    }
    assert render_entity(parsed, "keyValues", lang="nl")["name"] == "Straat"
    assert render_entity(parsed, "keyValues")["name"] == {
        "languageMap": STREET["name"]["languageMap"]
    }
    assert render_entity(entity(VEHICLE), "concise", lang="fr")["street"] == {
        "value": "Grand Place",
        "lang": "fr",
    }


# --- rendering options ----------------------------------------------------------------------


def test_sys_attrs_and_attrs_projection() -> None:
    parsed = entity(PARKING)
    stamped = EntityFragment(
        id=parsed.id,
        types=parsed.types,
        attributes=tuple(
            dataclasses.replace(a, created_at=T0, modified_at=T1) for a in parsed.attributes
        ),
        created_at=T0,
        modified_at=T1,
    )
    rendered = render_entity(stamped, sys_attrs=True, attrs={"name", "nothing"})
    assert rendered == {
        "id": PARKING["id"],
        "type": "OffStreetParking",
        "createdAt": "2024-05-01T09:00:00Z",
        "modifiedAt": "2024-05-01T10:00:00Z",
        "name": {
            "type": "Property",
            "value": "Downtown One",
            "createdAt": "2024-05-01T09:00:00Z",
            "modifiedAt": "2024-05-01T10:00:00Z",
        },
    }
    concise = render_entity(stamped, "concise", sys_attrs=True, attrs={"name"})
    assert concise["name"] == {
        "value": "Downtown One",
        "createdAt": "2024-05-01T09:00:00Z",
        "modifiedAt": "2024-05-01T10:00:00Z",
    }
    key_values = render_entity(stamped, "keyValues", sys_attrs=True, attrs={"name"})
    assert key_values == {**without(rendered, "name"), "name": "Downtown One"}
    # a sysAttrs rendering can be written back: the timestamps are ignored
    assert parse_entity(render_entity(stamped, sys_attrs=True)) == parsed


def test_concise_geo_property_with_metadata_and_geometry_valued_multi_properties() -> None:
    point = {"type": "Point", "coordinates": [127.289, 36.48]}
    location = AttributeInstance(
        name="location", kind=Kind.GEO_PROPERTY, value=point, created_at=T0
    )
    assert render_attribute([location], "concise", sys_attrs=True) == {
        "value": point,
        "createdAt": "2024-05-01T09:00:00Z",
    }
    spots = [
        AttributeInstance(name="spot", kind=Kind.PROPERTY, value=point),
        AttributeInstance(name="spot", kind=Kind.GEO_PROPERTY, value=point, dataset_id=GPS),
    ]
    concise = render_attribute(spots, "concise")
    assert concise == [{"type": "Property", "value": point}, {"value": point, "datasetId": GPS}]
    assert attrs_of({"spot": concise}) == tuple(spots)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(NgsiLdError, match="format 'geojson'"):
        render_entity(entity(PARKING), "geojson")


@pytest.mark.parametrize(
    ("value", "concise"),
    [
        ({"type": "Point", "coordinates": [1.0, 2.0]},
         {"type": "Property", "value": {"type": "Point", "coordinates": [1.0, 2.0]}}),
        ({"value": 3}, {"value": {"value": 3}}),
        ({"type": "Relationship", "x": 1}, {"value": {"type": "Relationship", "x": 1}}),
        ([{"object": "urn:x"}], {"value": [{"object": "urn:x"}]}),
        ({"street": "Hanuri-daero"}, {"street": "Hanuri-daero"}),
        ([1, 2], [1, 2]),
    ],
)  # fmt: skip
def test_concise_stays_lossless_for_values_that_look_like_attributes(
    value: Any, concise: Any
) -> None:
    instance = AttributeInstance(name="thing", kind=Kind.PROPERTY, value=value)
    assert render_attribute([instance], "concise") == concise
    (back,) = attrs_of({"thing": concise})
    assert (back.kind, back.value) == (Kind.PROPERTY, value)


def test_list_property_keeps_value_list_in_concise() -> None:
    (readings,) = attrs_of({"readings": {"type": "ListProperty", "valueList": [1, 2]}})
    assert render_attribute([readings], "concise") == {"valueList": [1, 2]}
    assert render_attribute([readings], "keyValues") == [1, 2]


def test_json_and_vocab_properties_in_every_form() -> None:
    raw = {"id": "85a6cc52-0589-45f9", "value": "Overstay 60 minutes"}
    parsed = attrs_of(
        {
            "parkingTickets": {"type": "JsonProperty", "json": raw},
            "gender": {"type": "VocabProperty", "vocab": ["Male", "Adult"]},
        }
    )
    tickets, gender = parsed
    assert render_attribute([tickets]) == {"type": "JsonProperty", "json": raw}
    assert render_attribute([tickets], "concise") == {"json": raw}
    assert render_attribute([tickets], "keyValues") == {"json": raw}
    assert render_attribute([gender], "keyValues") == {"vocab": ["Male", "Adult"]}


# --- NGSI-LD Null in update and merge bodies ------------------------------------------------


def test_nulls_become_deletions_in_patch_bodies() -> None:
    items = parse_attributes(
        {
            "type": "Thing",
            "a": NGSI_LD_NULL,
            "b": None,
            "c": {"type": "Property", "value": NGSI_LD_NULL, "datasetId": GPS},
            "d": {"type": "Relationship", "object": NGSI_LD_NULL},
            "e": {"type": "LanguageProperty", "languageMap": {"@none": NGSI_LD_NULL}},
            "f": {"type": "ListProperty", "valueList": [NGSI_LD_NULL]},
            "h": {"object": [NGSI_LD_NULL]},
            "g": {"value": 1, "unitCode": NGSI_LD_NULL, "accuracy": NGSI_LD_NULL},
        },
        merge=Patch.UPDATE,
    )
    assert items == (
        Deletion(name="a"),
        Deletion(name="b"),
        Deletion(name="c", dataset_id=GPS),
        Deletion(name="d"),
        Deletion(name="e"),
        Deletion(name="f"),
        Deletion(name="h"),
        AttributeInstance(
            name="g", kind=Kind.PROPERTY, value=1, deletes=frozenset({"unitCode", "accuracy"})
        ),
    )


def test_nulls_inside_values_need_a_merge() -> None:
    body = {"address": {"value": {"street": "Pariser Platz", "country": NGSI_LD_NULL}}}
    with pytest.raises(NgsiLdError, match="only allowed in merge"):
        parse_attributes(body, Patch.UPDATE)
    with pytest.raises(NgsiLdError, match="only allowed in merge"):
        parse_attributes({"address": body["address"]["value"]}, Patch.UPDATE)
    (address,) = attrs_of(body, merge=True)
    assert address.value == {"street": "Pariser Platz", "country": NGSI_LD_NULL}


def test_dataset_id_cannot_be_null() -> None:
    with pytest.raises(NgsiLdError, match="datasetId cannot be NGSI-LD Null"):
        parse_attributes({"a": {"value": 1, "datasetId": NGSI_LD_NULL}}, merge=True)


def test_scope_null_in_a_merge_fragment() -> None:
    fragment = parse_entity({"scope": NGSI_LD_NULL}, require_id_type=False, merge=True)
    assert fragment.deletions == (Deletion(name="scope"),)
    assert parse_attributes({"scope": NGSI_LD_NULL}, merge=True) == ()


def test_parse_attribute_for_one_attribute_body() -> None:
    items = parse_attribute("speed", [{"value": 1}, {"value": 2, "datasetId": GPS}])
    assert [i.key for i in items] == [("speed", None), ("speed", GPS)]
    with pytest.raises(NgsiLdError, match="'type' is a reserved"):
        parse_attribute("type", 1)


# --- operations: merge (clauses 5.6.17, 5.5.12) ----------------------------------------------

TEMPERATURE: dict[str, Any] = {
    "temperature": {
        "type": "Property",
        "value": 25,
        "unitCode": "CEL",
        "observedAt": "2022-03-14T01:59:26.535Z",
    }
}


def test_merge_example_1_keeps_members_not_given() -> None:
    existing = attrs_of(TEMPERATURE)
    patch = parse_attributes(
        {
            "temperature": {
                "type": "Property",
                "value": 100,
                "observedAt": "2022-03-14T13:00:00.000Z",
            }
        },
        merge=True,
    )
    outcome = merge_attributes(existing, patch)
    assert render_attribute(outcome.attributes) == {
        "type": "Property",
        "value": 100,
        "unitCode": "CEL",
        "observedAt": "2022-03-14T13:00:00Z",
    }
    (change,) = outcome.changes
    assert (change.action, change.before, change.after) == (
        "updated",
        existing[0],
        outcome.attributes[0],
    )
    assert outcome.update_result() == {"updated": ["temperature"], "notUpdated": []}


def test_merge_example_2_merges_into_json_values() -> None:
    existing = attrs_of(
        {
            "address": {
                "type": "Property",
                "value": {"street": "Straße des 17. Juni", "city": "Berlin", "country": "Germany"},
            }
        }
    )
    patch = parse_attributes(
        {
            "address": {
                "type": "Property",
                "value": {"street": "Pariser Platz", "country": NGSI_LD_NULL},
            }
        },
        merge=True,
    )
    outcome = merge_attributes(existing, patch)
    assert outcome.attributes[0].value == {"street": "Pariser Platz", "city": "Berlin"}


def test_merge_appends_deletes_and_reports() -> None:
    existing = attrs_of({**TEMPERATURE, "humidity": 40, "owner": {"object": "urn:ngsi-ld:P:1"}})
    patch = parse_attributes(
        {"humidity": NGSI_LD_NULL, "pressure": {"value": 1013, "x": {"a": NGSI_LD_NULL}},
         "ghost": None},
        merge=True,
    )  # fmt: skip
    outcome = merge_attributes(existing, patch, now=T1)
    names = [a.name for a in outcome.attributes]
    assert names == ["temperature", "owner", "pressure"]
    pressure = outcome.attributes[-1]
    assert pressure.sub_attributes[0].value == {}  # nulls removed from a new value
    assert (pressure.created_at, pressure.modified_at) == (T1, T1)
    assert [(c.name, c.action) for c in outcome.changes] == [
        ("humidity", "deleted"),
        ("pressure", "created"),
    ]
    assert outcome.update_result()["notUpdated"] == [
        {"attributeName": "ghost", "reason": "attribute ghost has no default instance"}
    ]


def test_merge_with_a_bare_value_keeps_the_existing_kind() -> None:
    existing = attrs_of(
        {
            "owner": {"object": "urn:ngsi-ld:Person:Kim", "since": 2020},
            "label": {"languageMap": {"ko": "세종", "en": "Sejong"}},
            "mode": {"vocab": "auto"},
        }
    )
    patch = parse_attributes(
        {"owner": "urn:ngsi-ld:Person:Lee", "label": "Sejong City", "mode": "manual"},
        merge=True,
    )
    outcome = merge_attributes(existing, patch, lang="en")
    owner, label, mode = outcome.attributes
    assert (owner.kind, owner.value) == (Kind.RELATIONSHIP, "urn:ngsi-ld:Person:Lee")
    assert owner.sub_attributes[0].value == 2020
    assert (label.kind, label.value) == (
        Kind.LANGUAGE_PROPERTY,
        {"ko": "세종", "en": "Sejong City"},
    )
    assert (mode.kind, mode.value) == (Kind.VOCAB_PROPERTY, "manual")


def test_merge_cannot_empty_a_language_map() -> None:
    existing = attrs_of({"label": {"languageMap": {"ko": "세종"}}})
    patch = parse_attributes({"label": {"languageMap": {"ko": NGSI_LD_NULL}}}, merge=True)
    with pytest.raises(NgsiLdError, match="cannot delete every language"):
        merge_attributes(existing, patch)
    patch = parse_attributes({"label": {"languageMap": {"ko": None, "en": "Sejong"}}}, merge=True)
    assert merge_attributes(existing, patch).attributes[0].value == {"en": "Sejong"}


def test_merge_refuses_a_bare_value_that_does_not_fit_the_existing_kind() -> None:
    existing = attrs_of({"owner": {"object": "urn:ngsi-ld:Person:Kim"}})
    patch = parse_attributes({"owner": "Kim"}, merge=True)
    with pytest.raises(NgsiLdError, match="object must be a URI"):
        merge_attributes(existing, patch)


def test_merge_sub_attributes_and_metadata_deletes() -> None:
    existing = attrs_of(
        {
            "pm10": {
                "value": 31,
                "unitCode": "GQ",
                "observedAt": "2024-05-01T09:00:00Z",
                "accuracy": {"value": 0.9, "unitCode": "P1"},
                "method": "beta",
            }
        }
    )
    patch = parse_attributes(
        {"pm10": {"value": 35, "unitCode": NGSI_LD_NULL, "accuracy": {"value": 0.8},
                  "method": None}},
        merge=True,
    )  # fmt: skip
    (pm10,) = merge_attributes(existing, patch).attributes
    assert render_attribute([pm10], "concise") == {
        "value": 35,
        "observedAt": "2024-05-01T09:00:00Z",
        "accuracy": {"value": 0.8, "unitCode": "P1"},
    }


def test_merge_common_observed_at_applies_where_there_was_one() -> None:
    existing = attrs_of({**TEMPERATURE, "humidity": 40})
    patch = parse_attributes({"temperature": 26, "humidity": 41}, merge=True)
    outcome = merge_attributes(existing, patch, observed_at=T1)
    temperature, humidity = outcome.attributes
    assert temperature.observed_at == T1
    assert temperature.unit_code == "CEL"
    assert humidity.observed_at is None


def test_merge_by_dataset_id() -> None:
    existing = entity(SPEEDY).attributes
    patch = parse_attributes(
        {"speed": [{"value": 60, "datasetId": GPS},
                   {"value": NGSI_LD_NULL, "datasetId": SPEEDOMETER},
                   {"value": 1, "datasetId": "urn:ngsi-ld:dataset:new"}]},
        merge=True,
    )  # fmt: skip
    outcome = merge_attributes(existing, patch)
    assert [(a.dataset_id, a.value) for a in outcome.attributes] == [
        (GPS, 60),
        (None, 54.8),
        ("urn:ngsi-ld:dataset:new", 1),
    ]
    assert outcome.attributes[0].sub_attributes[0].value == "GPS"
    assert outcome.updated == ("speed",)


def test_merge_json_is_rfc_7396_with_ngsi_ld_null() -> None:
    assert merge_json({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {
        "a": {"c": 2, "d": 3}
    }
    assert merge_json({"a": 1}, [1]) == [1]
    assert merge_json("x", {"a": 1}) == {"a": 1}


# --- operations: update, append, patch, delete, replace ---------------------------------------


def test_update_example_2_replaces_the_whole_attribute() -> None:
    existing = attrs_of(TEMPERATURE)
    new = parse_attributes(
        {
            "temperature": {
                "type": "Property",
                "value": 100,
                "observedAt": "2022-03-14T13:00:00.000Z",
            }
        },
        Patch.UPDATE,
    )
    outcome = update_attributes(existing, new)
    assert render_attribute(outcome.attributes) == {
        "type": "Property",
        "value": 100,
        "observedAt": "2022-03-14T13:00:00Z",
    }


def test_update_example_3_deletes_and_reports_what_is_missing() -> None:
    existing = attrs_of({**TEMPERATURE, "humidity": 40})
    new = parse_attributes(
        {"temperature": {"type": "Property", "value": NGSI_LD_NULL}, "pressure": 1013,
         "humidity": {"value": 41, "datasetId": GPS}},
        Patch.UPDATE,
    )  # fmt: skip
    outcome = update_attributes(existing, new)
    assert [a.name for a in outcome.attributes] == ["humidity"]
    assert [(c.name, c.action) for c in outcome.changes] == [("temperature", "deleted")]
    assert outcome.update_result()["notUpdated"] == [
        {"attributeName": "pressure", "reason": "attribute pressure has no default instance"},
        {"attributeName": "humidity",
         "reason": f"attribute humidity has no instance with datasetId {GPS}"},
    ]  # fmt: skip


def test_update_keeps_created_at_and_stamps_modified_at() -> None:
    existing = (
        AttributeInstance(name="t", kind=Kind.PROPERTY, value=1, created_at=T0, modified_at=T0),
    )
    outcome = update_attributes(existing, attrs_of({"t": 2}), now=T1)
    assert (outcome.attributes[0].created_at, outcome.attributes[0].modified_at) == (T0, T1)


def test_append_overwrites_unless_no_overwrite() -> None:
    existing = attrs_of({"t": 1, "u": 2})
    new = attrs_of({"t": 10, "v": 3, "u": {"value": 20, "datasetId": GPS}})
    overwritten = append_attributes(existing, new)
    assert [(a.name, a.dataset_id, a.value) for a in overwritten.attributes] == [
        ("t", None, 10), ("u", None, 2), ("v", None, 3), ("u", GPS, 20),
    ]  # fmt: skip
    kept = append_attributes(existing, new, no_overwrite=True)
    assert [(a.name, a.value) for a in kept.attributes] == [("t", 1), ("u", 2), ("v", 3), ("u", 20)]
    assert kept.update_result() == {
        "updated": ["v", "u"],
        "notUpdated": [
            {"attributeName": "t", "reason": "attribute already exists and noOverwrite is set"}
        ],
    }


def test_patch_attribute_example_1() -> None:
    existing = attrs_of(TEMPERATURE)
    (patch,) = parse_attribute(
        "temperature",
        {"type": "Property", "value": 100, "observedAt": "2022-03-14T13:00:00.000Z"},
        Patch.UPDATE,
    )
    outcome = patch_attribute(existing, patch)
    assert render_attribute(outcome.attributes) == {
        "type": "Property",
        "value": 100,
        "unitCode": "CEL",
        "observedAt": "2022-03-14T13:00:00Z",
    }
    missing = patch_attribute(existing, replace_name(patch, "pressure"))
    assert missing.not_updated[0].name == "pressure"
    assert missing.attributes == existing


def replace_name(instance: AttributeInstance | Deletion, name: str) -> AttributeInstance:
    assert isinstance(instance, AttributeInstance)
    return AttributeInstance(name=name, kind=instance.kind, value=instance.value)


def test_patch_attribute_deletes_with_null() -> None:
    existing = attrs_of({**TEMPERATURE, "humidity": 40})
    (deletion,) = parse_attribute("humidity", NGSI_LD_NULL, Patch.UPDATE)
    outcome = patch_attribute(existing, deletion)
    assert [a.name for a in outcome.attributes] == ["temperature"]


def test_merge_into_a_geo_property_needs_a_geometry() -> None:
    existing = attrs_of({"area": {"type": "Point", "coordinates": [1, 2]}})
    with pytest.raises(NgsiLdError, match="GeoProperty value must be a GeoJSON geometry"):
        merge_attributes(existing, parse_attributes({"area": 5}, merge=True))
    line = {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}
    moved = merge_attributes(existing, parse_attributes({"area": line}, merge=True))
    assert (moved.attributes[0].kind, moved.attributes[0].value) == (Kind.GEO_PROPERTY, line)


def test_patch_attribute_replaces_json_values_rather_than_merging() -> None:
    existing = attrs_of({"address": {"value": {"street": "A", "city": "Sejong"}}})
    patch = attrs_of({"address": {"value": {"street": "B"}}})[0]
    assert patch_attribute(existing, patch).attributes[0].value == {"street": "B"}


def test_delete_attribute_instances() -> None:
    existing = entity(SPEEDY).attributes
    default = delete_attribute(existing, "speed")
    assert [a.dataset_id for a in default.attributes] == [SPEEDOMETER, GPS]
    one = delete_attribute(existing, "speed", GPS)
    assert [a.dataset_id for a in one.attributes] == [SPEEDOMETER, None]
    everything = delete_attribute(existing, "speed", delete_all=True)
    assert everything.attributes == ()
    assert len(everything.changes) == 3
    assert {c.action for c in everything.changes} == {"deleted"}
    missing = delete_attribute(existing, "speed", "urn:ngsi-ld:dataset:none")
    assert missing.attributes == existing
    assert missing.not_updated[0].reason == (
        "attribute speed has no instance with datasetId urn:ngsi-ld:dataset:none"
    )
    assert delete_attribute(existing, "color", delete_all=True).not_updated[0].reason == (
        "attribute color does not exist"
    )


def test_replace_entity() -> None:
    existing = EntityFragment(
        id=PARKING["id"],
        types=("OffStreetParking",),
        attributes=entity(PARKING).attributes,
        created_at=T0,
        modified_at=T0,
    )
    new = parse_entity({"type": "OffStreetParking", "name": "Downtown 1", "capacity": 210},
                       require_id_type=False)  # fmt: skip
    replaced, outcome = replace_entity(existing, new, now=T1)
    assert replaced.id == PARKING["id"]
    assert (replaced.created_at, replaced.modified_at) == (T0, T1)
    assert render_entity(replaced, "keyValues") == {
        "id": PARKING["id"],
        "type": "OffStreetParking",
        "name": "Downtown 1",
        "capacity": 210,
    }
    assert sorted((c.name, c.action) for c in outcome.changes) == [
        ("availableSpotNumber", "deleted"),
        ("capacity", "created"),
        ("location", "deleted"),
        ("name", "updated"),
        ("totalSpotNumber", "deleted"),
    ]
    with pytest.raises(NgsiLdError, match="is not the entity's id"):
        replace_entity(existing, entity(VEHICLE))


def test_types_and_scopes() -> None:
    assert add_types(("A", "B"), ("B", "C")) == ("A", "B", "C")
    assert merge_scopes(("/a",), ("/b",)) == ("/b",)
    assert merge_scopes(("/a",), ("/b", "/a"), overwrite=False) == ("/a", "/b")
    assert merge_scopes(None, ("/b",), overwrite=False) == ("/b",)
    assert merge_scopes(("/a",), None) == ("/a",)
