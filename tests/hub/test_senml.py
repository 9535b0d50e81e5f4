"""SenML resolution and validation (RFC 8428), without a database."""

from __future__ import annotations

import json

import pytest

from citysmart.hub.senml import PackError, parse_pack, resolve_pack

NOW = 1_790_000_000.0


def resolve(pack: list[object], skew: float = 300.0):  # type: ignore[no-untyped-def]
    return resolve_pack(pack, NOW, skew)


def test_base_fields_carry_over_to_later_records() -> None:
    readings, rejections = resolve(
        [
            {
                "bn": "urn:dev:mac:0024befffe804ff1:",
                "bt": NOW - 120,
                "bu": "ug/m3",
                "bv": 10,
                "n": "pm10",
                "v": 5,
            },
            {"n": "pm25", "t": 60, "v": 2},
            {"n": "temperature", "u": "Cel", "t": 60, "v": -1.5},
        ]
    )
    assert rejections == []
    assert [(r.attribute, r.t_us, r.num_value, r.unit) for r in readings] == [
        ("pm10", int((NOW - 120) * 1e6), 15.0, "ug/m3"),
        ("pm25", int((NOW - 60) * 1e6), 12.0, "ug/m3"),
        ("temperature", int((NOW - 60) * 1e6), 8.5, "Cel"),
    ]


def test_relative_time_is_counted_from_now() -> None:
    readings, _ = resolve([{"n": "pm10", "u": "ug/m3", "v": 1, "t": -30}, {"n": "pm25", "v": 1}])
    assert readings[0].t_us == int((NOW - 30) * 1e6)
    assert readings[1].t_us == int(NOW * 1e6)


def test_string_boolean_and_data_values_keep_their_type() -> None:
    readings, rejections = resolve(
        [
            {"n": "status", "vs": "open"},
            {"n": "doorOpen", "vb": True},
            {"n": "blob", "vd": "aGVsbG8"},
        ]
    )
    assert rejections == []
    assert [(r.value_type, r.num_value, r.text_value) for r in readings] == [
        ("s", None, "open"),
        ("b", 1.0, None),
        ("d", None, "aGVsbG8"),
    ]


def test_missing_unit_takes_the_attributes_unit() -> None:
    readings, _ = resolve([{"n": "pm10", "v": 3}])
    assert readings[0].unit == "ug/m3"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"n": "pm10", "u": "ug/m3", "v": -1}, "below the physical minimum"),
        ({"n": "relativeHumidity", "u": "%RH", "v": 101}, "above the physical maximum"),
        ({"n": "pm10", "u": "Cel", "v": 5}, "not valid for pm10"),
        ({"n": "pm10", "u": "furlongs", "v": 5}, "unknown unit"),
        ({"n": "pm10", "v": float("nan")}, "NaN or infinite"),
        ({"n": "pm10", "v": float("inf")}, "NaN or infinite"),
        ({"n": "pm10", "v": "12"}, "must be a number"),
        ({"n": "pm10", "v": True}, "must be a number"),
        ({"n": "pm10", "v": 1, "vs": "x"}, "exactly one value"),
        ({"n": "pm10"}, "has no value"),
        ({"n": "pm10", "v": 1, "t": NOW + 3600}, "in the future"),
        ({"n": "2pm", "v": 1}, "must start with a letter"),
        ({"n": "pm 10", "v": 1}, "invalid SenML name"),
        ({"v": 1}, "invalid SenML name"),
        ({"n": "pm10", "v": 1, "bver": 99}, "newer than the supported"),
        ({"n": "pm10", "v": 1, "crit_": 1}, "must-understand"),
        ({"n": "status", "vs": "open\x00"}, "NUL character"),
        ({"n": 5, "v": 1}, "must be a string"),
        ({"bt": "yesterday", "n": "pm10", "v": 1}, "bt (base time) must be a number"),
        ("pm10=5", "must be a JSON object"),
    ],
)
def test_bad_records_are_rejected_with_the_reason(record: object, reason: str) -> None:
    readings, rejections = resolve([{"n": "pm25", "u": "ug/m3", "v": 1}, record])
    assert [r.attribute for r in readings] == ["pm25"]
    assert len(rejections) == 1
    assert rejections[0].index == 1
    assert reason in rejections[0].reason


def test_clock_skew_is_configurable() -> None:
    record = {"n": "pm10", "v": 1, "t": NOW + 100}
    assert resolve([record], skew=300)[1] == []
    assert resolve([record], skew=10)[1][0].index == 0


@pytest.mark.parametrize(
    ("body", "title"),
    [
        (b"not json", "Not JSON"),
        (b"\xff\xfe", "Not JSON"),
        (b'{"n": "pm10", "v": 1}', "Not a SenML pack"),
        (b"[]", "Not a SenML pack"),
        (b"[1, 2]", "Not a SenML pack"),
    ],
)
def test_packs_that_are_not_senml_are_refused_whole(body: bytes, title: str) -> None:
    with pytest.raises(PackError) as caught:
        parse_pack(body)
    assert caught.value.title == title


def test_nan_literal_in_json_is_parsed_then_rejected() -> None:
    records = parse_pack(b'[{"n": "pm10", "v": NaN}, {"n": "pm10", "v": Infinity, "t": -1}]')
    readings, rejections = resolve(records)
    assert readings == []
    assert [r.index for r in rejections] == [0, 1]


def test_rfc8428_example_pack() -> None:
    # RFC 8428 section 5.1.2: a base name, base time and base unit with multiple measurements.
    pack = json.loads(
        """[{"bn":"urn:dev:ow:10e2073a01080063:","bt":1.320067464e+09,"bu":"%RH","v":20},
            {"u":"lon","v":24.30621},{"u":"lat","v":60.07965},
            {"t":60,"v":20.3},{"u":"lon","t":60,"v":24.30622},{"u":"lat","t":60,"v":60.07965},
            {"t":120,"v":20.7},{"u":"lon","t":120,"v":24.30623},{"u":"lat","t":120,"v":60.07966},
            {"u":"%EL","t":150,"v":98},{"t":180,"v":21.2},{"u":"lon","t":180,"v":24.30628},
            {"u":"lat","t":180,"v":60.07967}]"""
    )
    _, rejections = resolve(pack)
    # The example names no attribute after the base name, which ends in ':', so every
    # record is refused with a reason rather than stored under an empty attribute.
    assert len(rejections) == len(pack)
    assert all("attribute" in r.reason for r in rejections)
