"""The NGSI-LD temporal API's pure parts: query parameters, representations, paging."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from citysmart.hub.ngsi_ld.model import AttributeInstance, Kind, NgsiLdError
from citysmart.hub.ngsi_ld.temporal import (
    AggregateRow,
    Representation,
    TemporalInstance,
    TemporalQuery,
    aggregate,
    aggregate_values,
    bucket_bounds,
    content_range,
    page_instances,
    parse_period,
    parse_temporal_query,
    period_starts,
    render_aggregated,
    render_temporal_entity,
)

BAD = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
UTC = dt.UTC
ID = "urn:ngsi-ld:Vehicle:A4567"


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2018, 8, 1, hour, minute, tzinfo=UTC)


def speed(value: Any, hour: int, minute: int = 0, **extra: Any) -> TemporalInstance:
    return TemporalInstance(value=value, observed_at=at(hour, minute), **extra)


def bad(params: dict[str, str]) -> str:
    with pytest.raises(NgsiLdError) as caught:
        parse_temporal_query(params)
    assert caught.value.problem_type == BAD
    assert caught.value.status == 400
    return caught.value.detail


# --- query parameters ----------------------------------------------------------------------


def test_no_parameters_give_the_defaults() -> None:
    query = parse_temporal_query({})
    assert query == TemporalQuery()
    assert query.timeproperty == "observedAt"
    assert query.representation == "normalized"
    assert query.selects(at(12))


def test_time_filters_parse_and_select() -> None:
    before = parse_temporal_query({"timerel": "before", "timeAt": "2018-08-01T12:00:00Z"})
    assert (before.timerel, before.time_at, before.end_time_at) == ("before", at(12), None)
    assert before.selects(at(11, 59))
    assert not before.selects(at(12))
    after = parse_temporal_query({"timerel": "after", "timeAt": "2018-08-01T14:00:00+02:00"})
    assert after.time_at == at(12)
    assert after.selects(at(12, 1))
    assert not after.selects(at(12))
    between = parse_temporal_query(
        {
            "timerel": "between",
            "timeAt": "2018-08-01T12:00:00Z",
            "endTimeAt": "2018-08-01T13:00:00Z",
        }
    )
    assert between.end_time_at == at(13)
    assert between.selects(at(12))
    assert between.selects(at(12, 59))
    assert not between.selects(at(13))


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"timerel": "during", "timeAt": "2018-08-01T12:00:00Z"}, "timerel"),
        ({"timerel": "before"}, "timeAt is required"),
        ({"timeAt": "2018-08-01T12:00:00Z"}, "timeAt needs timerel"),
        ({"endTimeAt": "2018-08-01T12:00:00Z"}, "endTimeAt needs timerel"),
        ({"timerel": "after", "timeAt": "yesterday"}, "timeAt must be an ISO 8601"),
        ({"timerel": "after", "timeAt": "2018-08-01T12:00:00"}, "timeAt must be an ISO 8601"),
        ({"timerel": "between", "timeAt": "2018-08-01T12:00:00Z"}, "endTimeAt is required"),
        (
            {"timerel": "between", "timeAt": "2018-08-01T12:00:00Z", "endTimeAt": "soon"},
            "endTimeAt must be an ISO 8601",
        ),
        (
            {
                "timerel": "between",
                "timeAt": "2018-08-01T12:00:00Z",
                "endTimeAt": "2018-08-01T12:00:00Z",
            },
            "endTimeAt (2018-08-01T12:00:00Z) must be later than timeAt",
        ),
        (
            {
                "timerel": "after",
                "timeAt": "2018-08-01T12:00:00Z",
                "endTimeAt": "2018-08-01T13:00:00Z",
            },
            "endTimeAt is only allowed with timerel=between",
        ),
        ({"timeproperty": "deletedAt"}, "timeproperty must be observedAt, createdAt or modifiedAt"),
        ({"lastN": "0"}, "lastN must be a whole number greater than 0"),
        ({"lastN": "-3"}, "lastN"),
        ({"lastN": "ten"}, "lastN"),
        ({"lastN": "2.5"}, "lastN"),
        ({"aggrMethods": "avg,median"}, "aggrMethods: 'median' is not one of totalCount"),
        ({"aggrMethods": "avg,,max"}, "aggrMethods: '' is not one of"),
        ({"options": "aggregatedValues"}, "aggrMethods is required with aggregatedValues"),
        ({"format": "aggregatedValues"}, "aggrMethods is required"),
        ({"format": "geojson"}, "format 'geojson' is not one of"),
        ({"options": "temporalValues,aggregatedValues", "aggrMethods": "avg"}, "both"),
        ({"aggrPeriodDuration": "1h"}, "aggrPeriodDuration must be an ISO 8601 duration"),
        ({"aggrPeriodDuration": "P"}, "aggrPeriodDuration must be"),
        ({"aggrPeriodDuration": "PT"}, "aggrPeriodDuration must be"),
        ({"aggrPeriodDuration": "P1DT"}, "aggrPeriodDuration must be"),
        ({"aggrPeriodDuration": "-PT1H"}, "aggrPeriodDuration must be"),
        ({"aggrPeriodDuration": "P99999999999W"}, "aggrPeriodDuration 'P99999999999W' is too long"),
    ],
)
def test_parameter_errors_name_the_parameter(params: dict[str, str], named: str) -> None:
    assert named in bad(params)


@pytest.mark.parametrize("duration", ["P1M", "P1Y", "P1Y2M", "P1MT1H"])
def test_months_and_years_are_refused_as_not_fixed_length(duration: str) -> None:
    detail = bad({"aggrMethods": "avg", "aggrPeriodDuration": duration})
    assert "only fixed-length durations (weeks, days, hours, minutes, seconds)" in detail


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("PT1H", dt.timedelta(hours=1)),
        ("P1D", dt.timedelta(days=1)),
        ("P1W", dt.timedelta(weeks=1)),
        ("PT15M", dt.timedelta(minutes=15)),
        ("PT0.5S", dt.timedelta(milliseconds=500)),
        ("P1DT2H30M", dt.timedelta(days=1, hours=2, minutes=30)),
        ("pt1h", dt.timedelta(hours=1)),
        ("P0D", None),
        ("PT0S", None),
        ("P0M", None),
    ],
)
def test_periods_parse_to_timedeltas(text: str, period: dt.timedelta | None) -> None:
    assert parse_period(text) == period
    assert parse_temporal_query({"aggrPeriodDuration": text}).aggr_period == period


def test_other_parameters_parse() -> None:
    query = parse_temporal_query(
        {
            "timeproperty": "modifiedAt",
            "lastN": "5",
            "options": "sysAttrs, aggregatedValues",
            "aggrMethods": "max,avg,max",
        }
    )
    assert query.timeproperty == "modifiedAt"
    assert query.last_n == 5
    assert query.sys_attrs
    assert query.representation is Representation.AGGREGATED_VALUES
    assert query.aggr_methods == ("max", "avg")
    assert query.aggr_period is None


def test_default_last_n_applies_only_without_last_n() -> None:
    assert parse_temporal_query({}, default_last_n=10).last_n == 10
    assert parse_temporal_query({"lastN": "3"}, default_last_n=10).last_n == 3
    assert parse_temporal_query({}).last_n is None


@pytest.mark.parametrize(
    ("params", "representation"),
    [
        ({"options": "temporalValues"}, "temporalValues"),
        ({"options": "sysAttrs,simplified"}, "temporalValues"),
        ({"format": "temporalValues"}, "temporalValues"),
        ({"format": "keyValues"}, "temporalValues"),
        ({"format": "concise"}, "normalized"),
        ({"format": "normalized", "options": "temporalValues"}, "normalized"),
        ({"format": "temporalValues", "options": "aggregatedValues"}, "temporalValues"),
        ({"format": "aggregatedValues", "aggrMethods": "sum"}, "aggregatedValues"),
        ({"options": "normalized,aggregatedValues", "aggrMethods": "sum"}, "aggregatedValues"),
    ],
)
def test_representation_comes_from_format_then_options(
    params: dict[str, str], representation: str
) -> None:
    assert parse_temporal_query(params).representation == representation


# --- normalized representation -------------------------------------------------------------


def test_normalized_renders_each_attribute_as_an_array_of_instances() -> None:
    attributes = {
        "speed": [
            speed(120, 12, 3, instance_id="urn:ngsi-ld:i:1", unit_code="KMH"),
            speed(80, 12, 5, instance_id="urn:ngsi-ld:i:2", unit_code="KMH"),
        ],
        "isParked": [
            TemporalInstance(
                value="urn:ngsi-ld:OffStreetParking:Downtown1",
                kind=Kind.RELATIONSHIP,
                observed_at=at(13),
                instance_id="urn:ngsi-ld:i:3",
            )
        ],
        "location": [
            TemporalInstance(
                value={"type": "Point", "coordinates": [-8.5, 41.2]},
                kind=Kind.GEO_PROPERTY,
                observed_at=at(13),
            )
        ],
        "name": [
            TemporalInstance(
                value={"en": "car", "fr": "voiture"},
                kind=Kind.LANGUAGE_PROPERTY,
                observed_at=at(13),
            )
        ],
        "empty": [],
    }
    out = render_temporal_entity(ID, ["Vehicle"], attributes, "normalized")
    assert out == {
        "id": ID,
        "type": "Vehicle",
        "speed": [
            {
                "type": "Property",
                "value": 120,
                "observedAt": "2018-08-01T12:03:00Z",
                "unitCode": "KMH",
                "instanceId": "urn:ngsi-ld:i:1",
            },
            {
                "type": "Property",
                "value": 80,
                "observedAt": "2018-08-01T12:05:00Z",
                "unitCode": "KMH",
                "instanceId": "urn:ngsi-ld:i:2",
            },
        ],
        "isParked": [
            {
                "type": "Relationship",
                "object": "urn:ngsi-ld:OffStreetParking:Downtown1",
                "observedAt": "2018-08-01T13:00:00Z",
                "instanceId": "urn:ngsi-ld:i:3",
            }
        ],
        "location": [
            {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [-8.5, 41.2]},
                "observedAt": "2018-08-01T13:00:00Z",
            }
        ],
        "name": [
            {
                "type": "LanguageProperty",
                "languageMap": {"en": "car", "fr": "voiture"},
                "observedAt": "2018-08-01T13:00:00Z",
            }
        ],
    }


def test_normalized_keeps_the_order_given_and_renders_sub_attributes_and_dataset() -> None:
    accuracy = AttributeInstance(name="accuracy", kind=Kind.PROPERTY, value=0.5)
    instances = [
        speed(80, 12, 5, dataset_id="urn:ngsi-ld:Dataset:gps"),
        speed(120, 12, 3, sub_attributes=(accuracy,)),
    ]
    out = render_temporal_entity(ID, ["Vehicle", "Car"], {"speed": instances})
    assert out["type"] == ["Vehicle", "Car"]
    assert out["speed"] == [
        {
            "type": "Property",
            "value": 80,
            "datasetId": "urn:ngsi-ld:Dataset:gps",
            "observedAt": "2018-08-01T12:05:00Z",
        },
        {
            "type": "Property",
            "value": 120,
            "observedAt": "2018-08-01T12:03:00Z",
            "accuracy": {"type": "Property", "value": 0.5},
        },
    ]


def test_normalized_adds_system_times_with_sys_attrs_and_the_queried_time_property() -> None:
    instance = TemporalInstance(
        value=1, observed_at=at(12), created_at=at(12, 1), modified_at=at(12, 2)
    )
    plain = render_temporal_entity(ID, ["T"], {"a": [instance]})
    assert plain["a"] == [{"type": "Property", "value": 1, "observedAt": "2018-08-01T12:00:00Z"}]
    by_created = render_temporal_entity(ID, ["T"], {"a": [instance]}, time_property="createdAt")
    assert by_created["a"][0]["createdAt"] == "2018-08-01T12:01:00Z"
    assert "modifiedAt" not in by_created["a"][0]
    with_sys = render_temporal_entity(ID, ["T"], {"a": [instance]}, sys_attrs=True)
    assert with_sys["a"][0]["createdAt"] == "2018-08-01T12:01:00Z"
    assert with_sys["a"][0]["modifiedAt"] == "2018-08-01T12:02:00Z"


# --- temporalValues ------------------------------------------------------------------------


def test_temporal_values_pair_each_value_with_its_time() -> None:
    attributes = {
        "speed": [speed(120, 12, 3), speed(80, 12, 5)],
        "isParked": [
            TemporalInstance(
                value="urn:ngsi-ld:Parking:1", kind=Kind.RELATIONSHIP, observed_at=at(13)
            )
        ],
        "name": [
            TemporalInstance(value={"en": "car"}, kind=Kind.LANGUAGE_PROPERTY, observed_at=at(9))
        ],
        "location": [
            TemporalInstance(
                value={"type": "Point", "coordinates": [1, 2]},
                kind=Kind.GEO_PROPERTY,
                observed_at=at(9),
            )
        ],
    }
    out = render_temporal_entity(ID, ["Vehicle"], attributes, "temporalValues")
    assert out == {
        "id": ID,
        "type": "Vehicle",
        "speed": {
            "type": "Property",
            "values": [[120, "2018-08-01T12:03:00Z"], [80, "2018-08-01T12:05:00Z"]],
        },
        "isParked": {
            "type": "Relationship",
            "objects": [["urn:ngsi-ld:Parking:1", "2018-08-01T13:00:00Z"]],
        },
        "name": {
            "type": "LanguageProperty",
            "languageMaps": [[{"en": "car"}, "2018-08-01T09:00:00Z"]],
        },
        "location": {
            "type": "GeoProperty",
            "values": [[{"type": "Point", "coordinates": [1, 2]}, "2018-08-01T09:00:00Z"]],
        },
    }


def test_temporal_values_group_per_dataset_id() -> None:
    gps, radar = "urn:ngsi-ld:Dataset:gps", "urn:ngsi-ld:Dataset:radar"
    instances = [
        speed(120, 12, dataset_id=gps),
        speed(118, 12),
        speed(121, 13, dataset_id=radar),
        speed(122, 14, dataset_id=gps),
    ]
    out = render_temporal_entity(ID, ["Vehicle"], {"speed": instances}, "temporalValues")
    assert out["speed"] == [
        {
            "type": "Property",
            "datasetId": gps,
            "values": [[120, "2018-08-01T12:00:00Z"], [122, "2018-08-01T14:00:00Z"]],
        },
        {"type": "Property", "values": [[118, "2018-08-01T12:00:00Z"]]},
        {"type": "Property", "datasetId": radar, "values": [[121, "2018-08-01T13:00:00Z"]]},
    ]
    one = render_temporal_entity(ID, ["V"], {"speed": instances[:1]}, "temporalValues")
    assert one["speed"] == {
        "type": "Property",
        "datasetId": gps,
        "values": [[120, "2018-08-01T12:00:00Z"]],
    }


def test_temporal_values_use_the_time_property_and_skip_instances_without_it() -> None:
    instances = [
        TemporalInstance(value=1, observed_at=at(12), modified_at=at(14)),
        TemporalInstance(value=2, observed_at=at(13)),
    ]
    out = render_temporal_entity(
        ID,
        ["T"],
        {"a": instances, "b": instances[1:]},
        "temporalValues",
        time_property="modifiedAt",
    )
    assert out == {
        "id": ID,
        "type": "T",
        "a": {"type": "Property", "values": [[1, "2018-08-01T14:00:00Z"]]},
    }


def test_render_temporal_entity_refuses_the_aggregated_representation() -> None:
    with pytest.raises(ValueError, match="aggregatedValues"):
        render_temporal_entity(ID, ["T"], {}, "aggregatedValues")


# --- aggregation ---------------------------------------------------------------------------


def test_bucket_bounds_align_on_the_origin() -> None:
    hour = dt.timedelta(hours=1)
    assert bucket_bounds(at(12, 30), hour, at(0, 15)) == (at(12, 15), at(13, 15))
    assert bucket_bounds(at(12, 15), hour, at(0, 15)) == (at(12, 15), at(13, 15))
    assert bucket_bounds(at(9, 10), hour, at(12)) == (at(9), at(10))  # before the origin
    with pytest.raises(ValueError, match="positive"):
        bucket_bounds(at(9), dt.timedelta(0), at(9))


def test_period_starts_step_from_time_at_to_before_end_time_at() -> None:
    starts = list(period_starts(at(12), at(14, 30), dt.timedelta(hours=1)))
    assert starts == [at(12), at(13), at(14)]
    assert list(period_starts(at(12), at(12), dt.timedelta(hours=1))) == []


def test_aggregate_values_per_method() -> None:
    methods = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
    assert aggregate_values([2, 4, 4, 6], methods) == {
        "totalCount": 4,
        "distinctCount": 3,
        "sum": 16,
        "avg": 4.0,
        "min": 2,
        "max": 6,
        "stddev": pytest.approx(1.4142135),
        "sumsq": 72,
    }
    assert aggregate_values([True, False, True], ("sum", "min", "max")) == {
        "sum": 2,
        "min": False,
        "max": True,
    }
    assert aggregate_values(["b", "a", "b"], methods) == {
        "totalCount": 3,
        "distinctCount": 2,
        "min": "a",
        "max": "b",
    }
    assert aggregate_values([{"a": 1}, {"a": 1}], ("distinctCount", "avg")) == {"distinctCount": 1}


def test_aggregate_buckets_per_period_aligned_on_time_at() -> None:
    query = parse_temporal_query(
        {
            "timerel": "after",
            "timeAt": "2018-08-01T11:30:00Z",
            "aggrMethods": "totalCount,avg",
            "aggrPeriodDuration": "PT1H",
            "options": "aggregatedValues",
        }
    )
    instances = [speed(10, 11, 40), speed(20, 12, 10), speed(30, 12, 40), speed(40, 14)]
    rows = aggregate(instances, query)
    assert rows == [
        AggregateRow(start=at(11, 30), end=at(12, 30), values={"totalCount": 2, "avg": 15.0}),
        AggregateRow(start=at(12, 30), end=at(13, 30), values={"totalCount": 1, "avg": 30.0}),
        AggregateRow(start=at(13, 30), end=at(14, 30), values={"totalCount": 1, "avg": 40.0}),
    ]


def test_aggregate_aligns_on_the_first_instance_without_time_at() -> None:
    query = TemporalQuery(aggr_methods=("max",), aggr_period=dt.timedelta(hours=1))
    rows = aggregate([speed(5, 12, 40), speed(7, 10, 20)], query)
    assert [(r.start, r.end, r.values) for r in rows] == [
        (at(10, 20), at(11, 20), {"max": 7}),
        (at(12, 20), at(13, 20), {"max": 5}),
    ]


def test_aggregate_without_period_spans_the_whole_query_window() -> None:
    instances = [speed(1, 12), speed(3, 13)]
    between = parse_temporal_query(
        {
            "timerel": "between",
            "timeAt": "2018-08-01T10:00:00Z",
            "endTimeAt": "2018-08-01T18:00:00Z",
            "aggrMethods": "sum",
        }
    )
    assert [(r.start, r.end) for r in aggregate(instances, between)] == [(at(10), at(18))]
    before = parse_temporal_query(
        {"timerel": "before", "timeAt": "2018-08-01T20:00:00Z", "aggrMethods": "sum"}
    )
    assert [(r.start, r.end) for r in aggregate(instances, before)] == [(at(12), at(20))]
    unbounded = TemporalQuery(aggr_methods=("sum",))
    rows = aggregate(instances, unbounded)
    assert [(r.start, r.end, r.values) for r in rows] == [(at(12), at(13), {"sum": 4})]
    assert aggregate([], unbounded) == []


def test_aggregate_groups_per_dataset_id_and_keeps_the_kind() -> None:
    query = TemporalQuery(aggr_methods=("totalCount",))
    parked = [
        TemporalInstance(value="urn:a", kind=Kind.RELATIONSHIP, observed_at=at(12)),
        TemporalInstance(
            value="urn:b", kind=Kind.RELATIONSHIP, observed_at=at(13), dataset_id="urn:d"
        ),
    ]
    rows = aggregate(parked, query)
    assert [(r.dataset_id, r.kind, r.values) for r in rows] == [
        (None, Kind.RELATIONSHIP, {"totalCount": 1}),
        ("urn:d", Kind.RELATIONSHIP, {"totalCount": 1}),
    ]


def test_render_aggregated_shape() -> None:
    rows = [
        AggregateRow(start=at(12), end=at(13), values={"totalCount": 2, "avg": 15.0}),
        AggregateRow(start=at(13), end=at(14), values={"totalCount": 1}),
    ]
    out = render_aggregated(ID, ["Vehicle"], {"speed": rows, "none": []}, ["totalCount", "avg"])
    assert out == {
        "id": ID,
        "type": "Vehicle",
        "speed": {
            "type": "Property",
            "totalCount": [
                [2, "2018-08-01T12:00:00Z", "2018-08-01T13:00:00Z"],
                [1, "2018-08-01T13:00:00Z", "2018-08-01T14:00:00Z"],
            ],
            "avg": [[15.0, "2018-08-01T12:00:00Z", "2018-08-01T13:00:00Z"]],
        },
    }


def test_render_aggregated_groups_per_dataset_id() -> None:
    rows = [
        AggregateRow(start=at(12), end=at(13), values={"max": 3}, dataset_id="urn:d1"),
        AggregateRow(start=at(12), end=at(13), values={"max": 5}),
    ]
    out = render_aggregated(ID, ["V"], {"speed": rows}, ["max"])
    assert out["speed"] == [
        {
            "type": "Property",
            "datasetId": "urn:d1",
            "max": [[3, "2018-08-01T12:00:00Z", "2018-08-01T13:00:00Z"]],
        },
        {"type": "Property", "max": [[5, "2018-08-01T12:00:00Z", "2018-08-01T13:00:00Z"]]},
    ]


# --- paging --------------------------------------------------------------------------------


def test_content_range_text() -> None:
    assert (
        content_range(
            dt.datetime(2017, 11, 27, tzinfo=UTC), dt.datetime(2017, 11, 27, 12, tzinfo=UTC), 10
        )
        == "date-time 2017-11-27T00:00:00Z-2017-11-27T12:00:00Z/10"
    )
    assert content_range(at(12), at(13)) == "date-time 2018-08-01T12:00:00Z-2018-08-01T13:00:00Z/*"


def values(page_attrs: dict[str, list[TemporalInstance]]) -> dict[str, list[Any]]:
    return {name: [i.value for i in found] for name, found in page_attrs.items()}


def test_a_result_within_the_limit_is_complete_and_sorted() -> None:
    page = page_instances({"a": [speed(2, 13), speed(1, 12)], "b": []}, 5)
    assert values(page.attributes) == {"a": [1, 2]}
    assert not page.partial
    assert page.status == 200
    assert page.content_range is None


def test_forward_paging_cuts_every_attribute_at_one_instant() -> None:
    attributes = {
        "a": [speed(n, 10 + n) for n in range(6)],  # 10:00 .. 15:00
        "b": [speed(n, 10 + n, 30) for n in range(6)],  # 10:30 .. 15:30
        "c": [speed("late", 20)],
    }
    page = page_instances(attributes, 3)
    assert values(page.attributes) == {"a": [0, 1, 2], "b": [0, 1]}
    assert page.partial
    assert page.status == 206
    assert page.content_range == "date-time 2018-08-01T10:00:00Z-2018-08-01T12:00:00Z/*"


def test_backward_paging_with_last_n() -> None:
    attributes = {"a": [speed(n, 10 + n) for n in range(8)]}  # 10:00 .. 17:00
    complete = page_instances(attributes, 10, last_n=3)
    assert values(complete.attributes) == {"a": [5, 6, 7]}
    assert not complete.partial
    assert complete.content_range is None
    partial = page_instances(attributes, 2, last_n=3)
    assert values(partial.attributes) == {"a": [6, 7]}  # newest first, returned ascending
    assert partial.status == 206
    assert partial.content_range == "date-time 2018-08-01T17:00:00Z-2018-08-01T16:00:00Z/3"


def test_paging_does_not_split_instances_sharing_an_instant() -> None:
    instances = [
        speed(1, 12, dataset_id="urn:x"),
        speed(2, 12, dataset_id="urn:y"),
        speed(3, 13, dataset_id="urn:x"),
        speed(4, 13, dataset_id="urn:y"),
    ]
    page = page_instances({"a": instances}, 3)
    assert values(page.attributes) == {"a": [1, 2]}
    assert page.content_range == "date-time 2018-08-01T12:00:00Z-2018-08-01T12:00:00Z/*"
    crowded = page_instances({"a": instances[:2] + [speed(9, 12)]}, 2)
    assert values(crowded.attributes) == {"a": [1, 2, 9]}  # no way to cut inside one instant
    assert crowded.partial


def test_paging_uses_the_time_property_and_drops_instances_without_it() -> None:
    instances = [
        TemporalInstance(value=1, created_at=at(14)),
        TemporalInstance(value=2, created_at=at(12)),
        TemporalInstance(value=3, observed_at=at(11)),
    ]
    page = page_instances({"a": instances}, 1, time_property="createdAt")
    assert values(page.attributes) == {"a": [2]}
    assert page.content_range == "date-time 2018-08-01T12:00:00Z-2018-08-01T12:00:00Z/*"
    with pytest.raises(ValueError, match="at least 1"):
        page_instances({}, 0)
