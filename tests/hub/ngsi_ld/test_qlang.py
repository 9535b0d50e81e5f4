"""The NGSI-LD query language: parsing, errors, name mapping and evaluation."""

from __future__ import annotations

import random
from typing import Any

import pytest

from citysmart.hub.ngsi_ld.qlang import (
    And,
    Comparison,
    Existence,
    Kind,
    Op,
    Or,
    Path,
    Pattern,
    QExpr,
    QSyntaxError,
    Range,
    Value,
    ValueList,
    evaluate,
    format_q,
    map_attribute_names,
    parse_q,
)


def num(value: float) -> Value:
    return Value(Kind.NUMBER, value)


def text(value: str) -> Value:
    return Value(Kind.STRING, value)


def cmp(attr: str, op: str, value: Any, *sub: str, keys: tuple[str, ...] = ()) -> Comparison:
    return Comparison(Path(attr, sub, keys), Op(op), value)


def has(attr: str, *sub: str, keys: tuple[str, ...] = ()) -> Existence:
    return Existence(Path(attr, sub, keys))


# -- parsing: the examples of clause 4.9 and of the ETSI test suite ----------------------

SPEC_EXAMPLES: list[tuple[str, QExpr]] = [
    ("temperature", has("temperature")),  # example 0
    ("temperature==20", cmp("temperature", "==", num(20))),
    ('brandName!="Mercedes"', cmp("brandName", "!=", text("Mercedes"))),
    (
        'isParked=="urn:ngsi-ld:OffStreetParking:Downtown1"',
        cmp("isParked", "==", text("urn:ngsi-ld:OffStreetParking:Downtown1")),
    ),
    (
        'speed>50;brandName!="Mercedes"',
        And((cmp("speed", ">", num(50)), cmp("brandName", "!=", text("Mercedes")))),
    ),
    ("isMonitoredBy", has("isMonitoredBy")),  # example 5
    (
        '((speed>50|rpm>3000);brandName=="Mercedes")',
        And(
            (
                Or((cmp("speed", ">", num(50)), cmp("rpm", ">", num(3000)))),
                cmp("brandName", "==", text("Mercedes")),
            )
        ),
    ),
    (
        "(temperature>=20;temperature<=25)|capacity<=10",
        Or(
            (
                And((cmp("temperature", ">=", num(20)), cmp("temperature", "<=", num(25)))),
                cmp("capacity", "<=", num(10)),
            )
        ),
    ),
    (
        "temperature.observedAt>=2017-12-24T12:00:00Z",  # example 8
        cmp("temperature", ">=", Value(Kind.DATETIME, "2017-12-24T12:00:00Z"), "observedAt"),
    ),
    ('address[city]=="Berlin"', cmp("address", "==", text("Berlin"), keys=("city",))),
    (
        "sensor.rawdata[airquality.particulate]==40",  # example 10
        cmp("sensor", "==", num(40), "rawdata", keys=("airquality", "particulate")),
    ),
    (
        'parkingTickets[value]=="Overstay 60 minutes"',
        cmp("parkingTickets", "==", text("Overstay 60 minutes"), keys=("value",)),
    ),
    ("gender==Male", cmp("gender", "==", Value(Kind.URI, "Male"))),  # example 12
    (
        "observedAt>=2018-12-04T12:00:00Z",  # valid grammar, though no attribute path
        cmp("observedAt", ">=", Value(Kind.DATETIME, "2018-12-04T12:00:00Z")),
    ),
    ("speed>50;speed<100", And((cmp("speed", ">", num(50)), cmp("speed", "<", num(100))))),
    (
        '(temperature>20|humidity<30);name=="Hansol"',
        And(
            (
                Or((cmp("temperature", ">", num(20)), cmp("humidity", "<", num(30)))),
                cmp("name", "==", text("Hansol")),
            )
        ),
    ),
    ('color=="black","red"', cmp("color", "==", ValueList((text("black"), text("red"))))),
    ("temperature==10..20", cmp("temperature", "==", Range(num(10), num(20)))),
    ('color[en]=="red"', cmp("color", "==", text("red"), keys=("en",))),
    ('color[*]!="red"', cmp("color", "!=", text("red"), keys=("*",))),
]


@pytest.mark.parametrize(("q", "expected"), SPEC_EXAMPLES, ids=[q for q, _ in SPEC_EXAMPLES])
def test_spec_examples_parse(q: str, expected: QExpr) -> None:
    assert parse_q(q) == expected


@pytest.mark.parametrize(("q", "expected"), SPEC_EXAMPLES, ids=[q for q, _ in SPEC_EXAMPLES])
def test_format_round_trips_spec_examples(q: str, expected: QExpr) -> None:
    assert parse_q(format_q(expected)) == expected


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("0", num(0)),
        ("42", num(42)),
        ("-7", num(-7)),
        ("3.25", num(3.25)),
        ("-0.5", num(-0.5)),
        ("1e3", num(1000.0)),
        ("2.5E-2", num(0.025)),
        ("-1.5e+2", num(-150.0)),
        ('"Hansol"', text("Hansol")),
        ('"say \\"hi\\""', text('say "hi"')),
        ('"a\\\\b\\u00e9\\n"', text("a\\bé\n")),
        ('"세종"', text("세종")),
        ('""', text("")),
        ('"a;b|c)"', text("a;b|c)")),
        ("true", Value(Kind.BOOLEAN, True)),
        ("false", Value(Kind.BOOLEAN, False)),
        ("2018-12-04T12:00:00Z", Value(Kind.DATETIME, "2018-12-04T12:00:00Z")),
        ("2018-12-04T12:00:00.123Z", Value(Kind.DATETIME, "2018-12-04T12:00:00.123Z")),
        ("2018-12-04T21:00:00+09:00", Value(Kind.DATETIME, "2018-12-04T21:00:00+09:00")),
        ("2018-12-04T12:00", Value(Kind.DATETIME, "2018-12-04T12:00")),
        ("2018-12-04", Value(Kind.DATE, "2018-12-04")),
        ("12:00:00Z", Value(Kind.TIME, "12:00:00Z")),
        ("06:30", Value(Kind.TIME, "06:30")),
        ("urn:ngsi-ld:Device:aq-01", Value(Kind.URI, "urn:ngsi-ld:Device:aq-01")),
        ("https://example.org/a/b?c=d#e", Value(Kind.URI, "https://example.org/a/b?c=d#e")),
        ("Male", Value(Kind.URI, "Male")),
    ],
)
def test_values(literal: str, expected: Value) -> None:
    assert parse_q(f"attr=={literal}") == cmp("attr", "==", expected)


@pytest.mark.parametrize("op", list(Op))
def test_every_operator(op: Op) -> None:
    value: Any = Pattern("^x") if op in (Op.MATCH, Op.NO_MATCH) else num(5)
    literal = '"^x"' if op in (Op.MATCH, Op.NO_MATCH) else "5"
    assert parse_q(f"level{op.value}{literal}") == cmp("level", op.value, value)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("a==1..5", Range(num(1), num(5))),
        ("a==-5..-1", Range(num(-5), num(-1))),
        ("a==1.5..2.5", Range(num(1.5), num(2.5))),
        ("a==3..3", Range(num(3), num(3))),
        ('a=="a".."m"', Range(text("a"), text("m"))),
        (
            "a!=2018-01-01..2018-12-31",
            Range(Value(Kind.DATE, "2018-01-01"), Value(Kind.DATE, "2018-12-31")),
        ),
        (
            "a==2018-12-04T09:00:00+09:00..2018-12-04T01:00:00Z",  # compared as instants
            Range(
                Value(Kind.DATETIME, "2018-12-04T09:00:00+09:00"),
                Value(Kind.DATETIME, "2018-12-04T01:00:00Z"),
            ),
        ),
        ("a==08:00..18:00", Range(Value(Kind.TIME, "08:00"), Value(Kind.TIME, "18:00"))),
    ],
)
def test_ranges(q: str, expected: Range) -> None:
    assert parse_q(q) == Comparison(Path("a"), Op(q[1:3]), expected)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("a==1,2,3", ValueList((num(1), num(2), num(3)))),
        ('a!="x","y"', ValueList((text("x"), text("y")))),
        ("a==urn:a,urn:b", ValueList((Value(Kind.URI, "urn:a"), Value(Kind.URI, "urn:b")))),
        ('a==1,"one",true', ValueList((num(1), text("one"), Value(Kind.BOOLEAN, True)))),
    ],
)
def test_value_lists(q: str, expected: ValueList) -> None:
    assert parse_q(q).value == expected  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("q", "regex"),
    [
        ('name~="^Han"', "^Han"),
        ('name~="\\d+"', "\\d+"),  # backslashes stay regex escapes
        ('name~="say \\"hi\\""', 'say "hi"'),
        ('name~="(?i)sejong|세종"', "(?i)sejong|세종"),
        ("name~=^Han.*", "^Han.*"),
        ("name~=(?i)^(han|sae)", "(?i)^(han|sae)"),
        ("name~=[;|)]x", "[;|)]x"),
        ("name~=a\\;b", "a\\;b"),
    ],
)
def test_patterns(q: str, regex: str) -> None:
    assert parse_q(q) == cmp("name", "~=", Pattern(regex))


def test_unquoted_pattern_ends_at_logical_operator_and_group() -> None:
    assert parse_q("(name~=^Han;x)|y~=(a|b) ;z") == Or(
        (
            And((cmp("name", "~=", Pattern("^Han")), has("x"))),
            And((cmp("y", "~=", Pattern("(a|b)")), has("z"))),
        )
    )


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("temperature.observedAt", has("temperature", "observedAt")),
        ("temperature.accuracy>0.5", cmp("temperature", ">", num(0.5), "accuracy")),
        ("a.b.c", has("a", "b", "c")),
        (
            'address[addressLocality]=="Sejong"',
            cmp("address", "==", text("Sejong"), keys=("addressLocality",)),
        ),
        ("address[postal][code]", has("address", keys=("postal", "code"))),
        ("address[postal.code]", has("address", keys=("postal", "code"))),
        ("sensor.rawdata[a][b.c]", has("sensor", "rawdata", keys=("a", "b", "c"))),
        ("ngsi-ld:xyz==1", cmp("ngsi-ld:xyz", "==", num(1))),
        ("schema:name.ngsi-ld:observedAt", has("schema:name", "ngsi-ld:observedAt")),
        ("air_quality2", has("air_quality2")),
        ("온도>20", cmp("온도", ">", num(20))),
        (
            "https://smartdatamodels.org/dataModel.Environment/pm10>40",
            cmp("https://smartdatamodels.org/dataModel.Environment/pm10", ">", num(40)),
        ),
        (
            "https://example.org/ns#pm25.observedAt",
            has("https://example.org/ns#pm25", "observedAt"),
        ),
        (
            "https://example.org/ns/address.verified[street]",
            has("https://example.org/ns/address", "verified", keys=("street",)),
        ),
    ],
)
def test_attribute_paths(q: str, expected: QExpr) -> None:
    assert parse_q(q) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("a|b;c", Or((has("a"), And((has("b"), has("c")))))),
        ("a;b|c", Or((And((has("a"), has("b"))), has("c")))),
        ("a;b|c;d", Or((And((has("a"), has("b"))), And((has("c"), has("d")))))),
        ("a;(b|c)", And((has("a"), Or((has("b"), has("c")))))),
        ("(a|b);(c|d)", And((Or((has("a"), has("b"))), Or((has("c"), has("d")))))),
        ("a;b;c", And((has("a"), has("b"), has("c")))),
        ("(a;b);c", And((has("a"), has("b"), has("c")))),
        ("a|(b|c)", Or((has("a"), has("b"), has("c")))),
        ("((a))", has("a")),
        (
            ' ( a > 1 ; b ) | c == "x y" ',
            Or((And((cmp("a", ">", num(1)), has("b"))), cmp("c", "==", text("x y")))),
        ),
    ],
)
def test_precedence_and_grouping(q: str, expected: QExpr) -> None:
    assert parse_q(q) == expected


# -- errors -------------------------------------------------------------------------------

ERRORS = [
    ("", "q: the expression is empty at 0"),
    ("   ", "q: the expression is empty at 3"),
    ("pm10=50", "q: expected an operator after 'pm10' at 4"),
    ("pm10 50", "q: expected an operator after 'pm10' at 4"),
    ("pm10=>50", "q: expected an operator after 'pm10' at 4"),
    ("(a==1", "q: expected ')' to close the '(' at 0 at 5"),
    ("((a==1)", "q: expected ')' to close the '(' at 0 at 7"),
    ("a==1)", "q: unexpected ')' without a matching '(' at 4"),
    ("a)", "q: unexpected ')' without a matching '(' at 1"),
    ("()", "q: expected an attribute name or '(' after '(' at 1"),
    ("a==1;", "q: expected an attribute name or '(' after ';' at 5"),
    ("a==1|", "q: expected an attribute name or '(' after '|' at 5"),
    ("a;;b", "q: expected an attribute name or '(' after ';' at 2"),
    ("a||b", "q: expected an attribute name or '(' after '|' at 2"),
    (";a", "q: expected an attribute name or '(' at 0"),
    ("==5", "q: expected an attribute name or '(' at 0"),
    ("1a==5", "q: expected an attribute name or '(' at 0"),
    ("!(temperature)", "q: expected an attribute name or '(' after '!' at 1"),
    ("a==", "q: expected a value after '==' at 3"),
    ("a>=;b", "q: expected a value after '>=' at 3"),
    ("a==1,", "q: expected a value after ',' at 5"),
    ("a==1..", "q: expected a value after '..' at 6"),
    ("a==..5", "q: invalid value '.' at 3"),
    ("a==5..1", "q: the range starts after it ends at 4"),
    ('a=="z".."a"', "q: the range starts after it ends at 6"),
    ('a==1.."x"', "q: a range from a number to a string at 4"),
    ("a==2018-01-01..2018-12-31T00:00:00Z", "q: a range from a date to a date-time at 13"),
    ("a==true..false", "q: a range of boolean values has no order at 7"),
    ("a==urn:a..urn:b", "q: a range of URI values has no order at 8"),
    ("a>1..5", "q: a range needs '==' or '!=', not '>' at 3"),
    ("a<=1,2", "q: a list of values needs '==' or '!=', not '<=' at 3"),
    (
        "a>true",
        "q: expected a number, a quoted string, a date-time, a date or a time after '>' at 2",
    ),
    (
        "a<urn:x",
        "q: expected a number, a quoted string, a date-time, a date or a time after '<' at 2",
    ),
    ("a==1 2", "q: expected ';', '|', ')' or the end after the value at 5"),
    ('a=="x"y', "q: expected ';', '|', ')' or the end after the value at 6"),
    ("a==12abc", "q: invalid value '12abc' at 3"),
    ("a==-", "q: invalid value '-' at 3"),
    ("a==1e999", "q: invalid number '1e999' at 3"),
    ("a>2018-13-01T00:00:00Z", "q: invalid date-time '2018-13-01T00:00:00Z' at 2"),
    ("a>2018-02-30", "q: invalid date '2018-02-30' at 2"),
    ("a>25:00", "q: invalid time '25:00' at 2"),
    ('a=="abc', "q: expected '\"' to end the string that starts at 3 at 7"),
    ('a=="\\q"', "q: invalid string: Invalid \\escape at 3"),
    ('a~="(x"', "q: invalid regular expression: missing ), unterminated subpattern at 3"),
    ("a~=", "q: expected a regular expression after '~=' at 3"),
    ("a!~=;b", "q: expected a regular expression after '!~=' at 4"),
    ('a~=""', "q: expected a regular expression after '~=' at 3"),
    ("a.==1", "q: expected a name after '.' at 2"),
    ("a..b", "q: expected a name after '.' at 2"),
    ("https://ex.org/ns#a.==1", "q: expected a name after '.' at 20"),
    ("a[]", "q: expected member names separated by '.' inside '[...]' at 2"),
    ("a[x..y]", "q: expected member names separated by '.' inside '[...]' at 2"),
    ("a[x", "q: expected ']' to close the '[' at 1 at 3"),
    ("sensor{humidity}==40", "q: linked-entity paths ('{...}') are not supported at 6"),
    ("(" * 40 + "a" + ")" * 40, "q: parentheses nest deeper than 32 at 32"),
]


@pytest.mark.parametrize(("q", "message"), ERRORS, ids=[q or "<empty>" for q, _ in ERRORS])
def test_errors(q: str, message: str) -> None:
    with pytest.raises(QSyntaxError) as caught:
        parse_q(q)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)
    assert message.endswith(f" at {caught.value.position}")


FRAGMENTS = list('ab.[]()";|,=!<>~ 12-:TZ*\\{}') + [
    *("a", "pm10", ".observedAt", "[x]", "[*]", "(", ")", ";", "|", ",", ".."),
    *("==", "!=", ">", ">=", "<", "<=", "~=", "!~="),
    *("1", "-2.5", "1e3", '"s"', '"a\\"b"', "2018-12-04", "2018-12-04T12:00:00Z", "12:00Z"),
    *("true", "urn:x", "https://ex.org/ns#t", "^a(b|c)", "[;)]"),
]


@pytest.mark.parametrize("seed", range(4))
def test_random_text_raises_only_syntax_errors(seed: int) -> None:
    rng = random.Random(seed)
    parsed = 0
    for _ in range(4000):
        q = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 9)))
        try:
            expr = parse_q(q)
        except QSyntaxError:
            continue
        parsed += 1
        assert parse_q(format_q(expr)) == expr, q
        evaluate(expr, {"id": "urn:x", "type": "T", "a": {"type": "Property", "value": [1, "b"]}})
    assert parsed > 100  # the fragments do reach valid expressions


def random_expr(rng: random.Random, depth: int = 0) -> QExpr:
    if depth < 3 and rng.random() < 0.35:
        group = rng.choice((And, Or))
        terms: list[QExpr] = []
        for _ in range(rng.randint(2, 3)):
            term = random_expr(rng, depth + 1)
            terms.extend(term.terms if isinstance(term, group) else (term,))
        return group(tuple(terms))
    path = Path(
        rng.choice(["pm10", "ngsi-ld:xyz", "온도", "https://ex.org/ns#t"]),
        tuple(rng.sample(["observedAt", "accuracy", "unitCode"], rng.randint(0, 2))),
        tuple(rng.sample(["city", "code", "x_1"], rng.randint(0, 2))),
    )
    values = [
        num(rng.randint(-99, 99)),
        num(rng.choice([0.5, -2.25, 1e-7, 12345.678])),
        text(rng.choice(["", "Hansol", 'a"b', "x;y|z)", "\\", "세종\n"])),
        Value(Kind.BOOLEAN, rng.random() < 0.5),
        Value(Kind.DATETIME, "2018-12-04T12:00:00Z"),
        Value(Kind.DATE, "2018-12-04"),
        Value(Kind.TIME, "12:00:00"),
        Value(Kind.URI, "urn:ngsi-ld:Thing:1"),
    ]
    choice = rng.randint(0, 5)
    if choice == 0:
        return Existence(path)
    if choice == 1:
        return Comparison(
            path,
            rng.choice([Op.MATCH, Op.NO_MATCH]),
            Pattern(rng.choice(["^a", "(x|y)", '"q"', r'\d+"\\', "a;b"])),
        )
    if choice == 2:
        return Comparison(path, rng.choice([Op.EQ, Op.NE]), Range(num(-1), num(rng.randint(-1, 9))))
    if choice == 3:
        return Comparison(path, rng.choice([Op.EQ, Op.NE]), ValueList(tuple(rng.sample(values, 3))))
    if choice == 4:
        return Comparison(path, rng.choice([Op.EQ, Op.NE]), rng.choice(values))
    ordered = [v for v in values if v.kind not in (Kind.BOOLEAN, Kind.URI)]
    return Comparison(path, rng.choice([Op.GT, Op.GE, Op.LT, Op.LE]), rng.choice(ordered))


def test_format_round_trips_random_expressions() -> None:
    rng = random.Random(2018)
    for _ in range(2000):
        expr = random_expr(rng)
        assert parse_q(format_q(expr)) == expr, format_q(expr)
        for entity in (AIR_QUALITY, DOCKING_STATION, WEATHER):
            evaluate(expr, entity)  # never raises, whatever the kinds


def test_ast_is_immutable_and_hashable() -> None:
    expr = parse_q("(a>1|b);c==1,2")
    assert isinstance(expr, And)
    assert hash(expr) == hash(parse_q("(a>1|b);c==1,2"))
    with pytest.raises(AttributeError):
        expr.terms = ()  # type: ignore[misc]


# -- name mapping -------------------------------------------------------------------------

CONTEXT = {
    "pm10": "https://smartdatamodels.org/dataModel.Environment/pm10",
    "accuracy": "https://example.org/accuracy",
    "address": "https://schema.org/address",
}


def expand(name: str) -> str:
    if ":" in name:
        return name.replace("ngsi-ld:", "https://uri.etsi.org/ngsi-ld/")
    return CONTEXT.get(name, "https://uri.etsi.org/ngsi-ld/default-context/" + name)


def test_map_attribute_names_expands_names_but_not_keys_or_metadata() -> None:
    expr = parse_q(
        '(pm10.observedAt>2018-01-01T00:00:00Z|pm10.accuracy>1);address[pm10]=="x";ngsi-ld:a'
    )
    assert map_attribute_names(expr, expand) == And(
        (
            Or(
                (
                    cmp(
                        CONTEXT["pm10"],
                        ">",
                        Value(Kind.DATETIME, "2018-01-01T00:00:00Z"),
                        "observedAt",
                    ),
                    cmp(CONTEXT["pm10"], ">", num(1), CONTEXT["accuracy"]),
                )
            ),
            cmp(CONTEXT["address"], "==", text("x"), keys=("pm10",)),
            has("https://uri.etsi.org/ngsi-ld/a"),
        )
    )


def test_map_attribute_names_leaves_the_original_alone() -> None:
    expr = parse_q("pm10>1")
    map_attribute_names(expr, expand)
    assert expr == cmp("pm10", ">", num(1))


# -- evaluation ---------------------------------------------------------------------------

AIR_QUALITY: dict[str, Any] = {
    "id": "urn:ngsi-ld:AirQualityObserved:Sejong-Hansol-01",
    "type": "AirQualityObserved",
    "createdAt": "2018-12-01T00:00:00Z",
    "pm10": {
        "type": "Property",
        "value": 42,
        "observedAt": "2018-12-04T12:00:00Z",
        "unitCode": "GQ",
    },
    "pm25": {
        "type": "Property",
        "value": 17.5,
        "observedAt": "2018-12-04T21:00:00+09:00",  # the same instant as pm10's
        "unitCode": "GQ",
        "accuracy": {"type": "Property", "value": 0.8},
    },
    "address": {
        "type": "Property",
        "value": {
            "addressLocality": "Sejong",
            "streetAddress": "Hansol-dong",
            "postal": {"code": "30151"},
        },
    },
    "airQualityLevel": {"type": "Property", "value": "moderate"},
    "pollutants": {"type": "Property", "value": ["pm10", "pm25", "o3"]},
    "isCalibrated": {"type": "Property", "value": True},
    "dateObserved": {
        "type": "Property",
        "value": {"@type": "DateTime", "@value": "2018-12-04T12:00:00Z"},
    },
    "reportedOn": {"type": "Property", "value": "2018-12-04"},
    "location": {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [127.289, 36.480]},
    },
    "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:aq-01"},
    "https://uri.etsi.org/ngsi-ld/default-context/noise": {"type": "Property", "value": 55},
}

DOCKING_STATION: dict[str, Any] = {
    "id": "urn:ngsi-ld:BikeHireDockingStation:Sejong-001",
    "type": "BikeHireDockingStation",
    "name": {
        "type": "LanguageProperty",
        "languageMap": {"ko": "한솔동 자전거 대여소", "en": "Hansol Bike Station"},
    },
    "availableBikeNumber": {"type": "Property", "value": 7},
    "status": {"type": "Property", "value": "working"},
    "openingTime": {"type": "Property", "value": "06:00:00"},
    "refPointOfInterest": {
        "type": "Relationship",
        "object": "urn:ngsi-ld:PointOfInterest:Hansol",
    },
    "owner": {
        "type": "Relationship",
        "object": ["urn:ngsi-ld:Organization:Sejong", "urn:ngsi-ld:Organization:Eoulling"],
    },
    "nearby": {
        "type": "ListRelationship",
        "objectList": [{"object": "urn:ngsi-ld:BusStop:1"}, {"object": "urn:ngsi-ld:BusStop:2"}],
    },
    "tags": {"type": "ListProperty", "valueList": ["solar", "24h"]},
    "category": {"type": "VocabProperty", "vocab": "https://example.org/Public"},
}

WEATHER: dict[str, Any] = {
    "id": "urn:ngsi-ld:WeatherObserved:Sejong-01",
    "type": "WeatherObserved",
    "temperature": [
        {
            "type": "Property",
            "value": 21.5,
            "datasetId": "urn:ngsi-ld:Dataset:sensor-a",
            "observedAt": "2024-05-01T09:00:00Z",
        },
        {
            "type": "Property",
            "value": 30,
            "datasetId": "urn:ngsi-ld:Dataset:sensor-b",
            "observedAt": "2024-05-01T09:05:00Z",
            "unitCode": "CEL",
        },
    ],
}

EVALUATIONS = [
    # numbers, units and time of observation
    ("pm10", AIR_QUALITY, True),
    ("pm1", AIR_QUALITY, False),
    ("pm10==42", AIR_QUALITY, True),
    ("pm10==42.0", AIR_QUALITY, True),
    ("pm10!=42", AIR_QUALITY, False),
    ("pm10>40;pm25<=17.5", AIR_QUALITY, True),
    ("pm10>50|pm25>20", AIR_QUALITY, False),
    ("pm10==40..45", AIR_QUALITY, True),
    ("pm10!=40..45", AIR_QUALITY, False),
    ("pm10==1,2,42", AIR_QUALITY, True),
    ("pm10!=1,2,42", AIR_QUALITY, False),
    ('pm10=="42"', AIR_QUALITY, False),  # a string is not a number
    ('pm10!="42"', AIR_QUALITY, True),  # ... so they are unequal
    ('pm10>"4"', AIR_QUALITY, False),
    ('pm10.unitCode=="GQ"', AIR_QUALITY, True),
    ("pm10.observedAt", AIR_QUALITY, True),
    ("airQualityLevel.observedAt", AIR_QUALITY, False),
    ("pm10.observedAt>=2018-12-04T12:00:00Z", AIR_QUALITY, True),
    ("pm10.observedAt>2018-12-04T12:00:00Z", AIR_QUALITY, False),
    ("pm25.observedAt==2018-12-04T12:00:00Z", AIR_QUALITY, True),  # offsets normalised
    ("pm10.observedAt==2018-12-04T20:00:00+08:00", AIR_QUALITY, True),
    ("pm10.observedAt<2018-12-05", AIR_QUALITY, False),  # a date-time is not a date
    ("pm10.observedAt==2018-12-04T00:00:00Z..2018-12-04T23:59:59Z", AIR_QUALITY, True),
    ("pm25.accuracy>0.5", AIR_QUALITY, True),
    ("pm25.accuracy.observedAt", AIR_QUALITY, False),
    ("pm10.accuracy", AIR_QUALITY, False),
    ("pm10.value", AIR_QUALITY, False),
    ("createdAt<2018-12-04T00:00:00Z", AIR_QUALITY, True),
    ("observedAt>=2018-12-04T12:00:00Z", AIR_QUALITY, False),  # metadata of no attribute
    ("id", AIR_QUALITY, False),
    ("https://uri.etsi.org/ngsi-ld/default-context/noise>50", AIR_QUALITY, True),
    # strings, patterns, booleans, dates
    ('airQualityLevel=="moderate"', AIR_QUALITY, True),
    ('airQualityLevel=="good","moderate"', AIR_QUALITY, True),
    ('airQualityLevel>"good"', AIR_QUALITY, True),
    ('airQualityLevel=="a".."n"', AIR_QUALITY, True),
    ("airQualityLevel==moderate", AIR_QUALITY, True),  # a bare term compares as text
    ('airQualityLevel~="^mod"', AIR_QUALITY, True),
    ('airQualityLevel~="^MOD"', AIR_QUALITY, False),
    ('airQualityLevel~="(?i)^MOD"', AIR_QUALITY, True),
    ("airQualityLevel~=erat", AIR_QUALITY, True),  # searched, not anchored
    ('airQualityLevel!~="^good"', AIR_QUALITY, True),
    ('airQualityLevel!~="^mod"', AIR_QUALITY, False),
    ('pm10~="4"', AIR_QUALITY, False),  # patterns need strings
    ('pm10!~="4"', AIR_QUALITY, False),
    ("isCalibrated==true", AIR_QUALITY, True),
    ("isCalibrated!=true", AIR_QUALITY, False),
    ("isCalibrated==1", AIR_QUALITY, False),  # a boolean is not a number
    ("pm10==true", AIR_QUALITY, False),
    ("dateObserved==2018-12-04T12:00:00Z", AIR_QUALITY, True),
    ("dateObserved>2018-12-04T12:00:00Z", AIR_QUALITY, False),
    ("reportedOn==2018-12-01..2018-12-31", AIR_QUALITY, True),
    ("reportedOn>2018-12-04", AIR_QUALITY, False),
    ('reportedOn=="2018-12-04"', AIR_QUALITY, True),
    # compound values
    ('address[addressLocality]=="Sejong"', AIR_QUALITY, True),
    ('address[addressLocality]=="Seoul"', AIR_QUALITY, False),
    ('address[postal][code]=="30151"', AIR_QUALITY, True),
    ('address[postal.code]~="^301"', AIR_QUALITY, True),
    ("address[country]", AIR_QUALITY, False),
    ('address[country]!="KR"', AIR_QUALITY, False),  # a missing member is no target
    ("address[postal.code.x]", AIR_QUALITY, False),
    ("address", AIR_QUALITY, True),
    ('address=="Sejong"', AIR_QUALITY, False),
    ('location[type]=="Point"', AIR_QUALITY, True),
    # arrays: == when included, != when not included
    ('pollutants=="o3"', AIR_QUALITY, True),
    ('pollutants=="no2"', AIR_QUALITY, False),
    ('pollutants=="no2","pm25"', AIR_QUALITY, True),
    ('pollutants!="o3"', AIR_QUALITY, False),
    ('pollutants!="no2","so2"', AIR_QUALITY, True),
    ('pollutants~="^pm"', AIR_QUALITY, True),
    ('pollutants!~="^pm"', AIR_QUALITY, False),
    ('pollutants!~="^no"', AIR_QUALITY, True),
    # relationships compare their object, and only with == and !=
    ('refDevice=="urn:ngsi-ld:Device:aq-01"', AIR_QUALITY, True),
    ("refDevice==urn:ngsi-ld:Device:aq-01", AIR_QUALITY, True),
    ("refDevice!=urn:ngsi-ld:Device:aq-02", AIR_QUALITY, True),
    ("refDevice==urn:ngsi-ld:Device:aq-02,urn:ngsi-ld:Device:aq-01", AIR_QUALITY, True),
    ('refDevice~="aq"', AIR_QUALITY, False),
    ('refDevice>"urn"', AIR_QUALITY, False),
    ("refDevice[x]", AIR_QUALITY, False),
    ("refPointOfInterest==urn:ngsi-ld:PointOfInterest:Hansol", DOCKING_STATION, True),
    ("owner==urn:ngsi-ld:Organization:Eoulling", DOCKING_STATION, True),
    ("owner!=urn:ngsi-ld:Organization:Eoulling", DOCKING_STATION, False),
    ("nearby==urn:ngsi-ld:BusStop:2", DOCKING_STATION, True),
    ("nearby!=urn:ngsi-ld:BusStop:3", DOCKING_STATION, True),
    # language properties: any language, one language, or [*]
    ('name=="Hansol Bike Station"', DOCKING_STATION, True),
    ('name=="한솔동 자전거 대여소"', DOCKING_STATION, True),
    ('name[ko]=="한솔동 자전거 대여소"', DOCKING_STATION, True),
    ('name[KO]=="한솔동 자전거 대여소"', DOCKING_STATION, True),
    ('name[en]=="한솔동 자전거 대여소"', DOCKING_STATION, False),
    ('name[*]~="자전거"', DOCKING_STATION, True),
    ('name~="(?i)bike"', DOCKING_STATION, True),
    ('name!="Hansol Bike Station"', DOCKING_STATION, False),  # no language may equal it
    ('name[ko]!="Hansol Bike Station"', DOCKING_STATION, True),
    ("name[fr]", DOCKING_STATION, False),
    ("name[ko]", DOCKING_STATION, True),
    ("name[ko][x]", DOCKING_STATION, False),
    # list, vocab, times
    ('tags=="24h"', DOCKING_STATION, True),
    ("category==https://example.org/Public", DOCKING_STATION, True),
    ("openingTime<07:00", DOCKING_STATION, True),
    ("openingTime==05:00:00Z..07:00:00Z", DOCKING_STATION, True),
    ("openingTime<=06:00:00+01:00", DOCKING_STATION, False),  # 05:00 UTC
    ('availableBikeNumber>0;status=="working"', DOCKING_STATION, True),
    ('(availableBikeNumber>10|status=="broken");name', DOCKING_STATION, False),
    # multi-attributes: any instance may match, each term on its own
    ("temperature>25", WEATHER, True),
    ("temperature<25", WEATHER, True),
    ("temperature>40", WEATHER, False),
    ("temperature==30.0", WEATHER, True),
    ("temperature!=21.5", WEATHER, True),  # instance b is unequal
    ("temperature!=21.5,30", WEATHER, False),
    ('temperature.datasetId=="urn:ngsi-ld:Dataset:sensor-b"', WEATHER, True),
    ("temperature.datasetId==urn:ngsi-ld:Dataset:sensor-c", WEATHER, False),
    ("temperature.unitCode", WEATHER, True),
    ("temperature.observedAt>2024-05-01T09:01:00Z", WEATHER, True),
    ("temperature.observedAt>2024-05-01T09:06:00Z", WEATHER, False),
]


@pytest.mark.parametrize(
    ("q", "entity", "expected"),
    EVALUATIONS,
    ids=[f"{entity['type']}:{q}" for q, entity, _ in EVALUATIONS],
)
def test_evaluate(q: str, entity: dict[str, Any], expected: bool) -> None:
    assert evaluate(parse_q(q), entity) is expected


def test_evaluate_spec_vehicle_examples() -> None:
    vehicle = {
        "id": "urn:ngsi-ld:Vehicle:A4567",
        "type": "Vehicle",
        "brandName": {"type": "Property", "value": "Kia"},
        "speed": {"type": "Property", "value": 80},
        "rpm": {"type": "Property", "value": 2500},
        "isParked": {
            "type": "Relationship",
            "object": "urn:ngsi-ld:OffStreetParking:Downtown1",
            "providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Person:Bob"},
        },
    }
    matches = {q: evaluate(parse_q(q), vehicle) for q, _ in SPEC_EXAMPLES[:8]}
    assert matches == {
        "temperature": False,
        "temperature==20": False,
        'brandName!="Mercedes"': True,
        'isParked=="urn:ngsi-ld:OffStreetParking:Downtown1"': True,
        'speed>50;brandName!="Mercedes"': True,
        "isMonitoredBy": False,
        '((speed>50|rpm>3000);brandName=="Mercedes")': False,
        "(temperature>=20;temperature<=25)|capacity<=10": False,
    }
    assert evaluate(parse_q("speed>50;speed<100"), vehicle)
    assert evaluate(parse_q("isParked.providedBy==urn:ngsi-ld:Person:Bob"), vehicle)


def test_evaluate_spec_compound_examples() -> None:
    place = {
        "id": "urn:ngsi-ld:placedescription:123",
        "type": "PlaceDescription",
        "address": {"type": "Property", "value": {"city": "Berlin", "street": "Ulrich Strasse"}},
    }
    particulate = {
        "id": "urn:ngsi-ld:particulatemeasurement:345",
        "type": "ParticulateMeasurement",
        "sensor": {
            "type": "Property",
            "value": 40,
            "rawdata": {
                "type": "Property",
                "value": {"airquality": {"particulate": 40, "PM20": 85}},
            },
        },
    }
    car = {
        "id": "urn:ngsi-ld:Car:6152s",
        "type": "Car",
        "parkingTickets": {
            "type": "JsonProperty",
            "json": {"id": "85a6cc52-0589-45f9", "value": "Overstay 60 minutes"},
        },
    }
    assert evaluate(parse_q('address[city]=="Berlin"'), place)
    assert evaluate(parse_q("sensor.rawdata[airquality.particulate]==40"), particulate)
    assert evaluate(parse_q('parkingTickets[value]=="Overstay 60 minutes"'), car)


def test_evaluate_with_expanded_names() -> None:
    entity = {
        "id": "urn:ngsi-ld:AirQualityObserved:1",
        "type": "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved",
        CONTEXT["pm10"]: {
            "type": "https://uri.etsi.org/ngsi-ld/Property",
            "value": 42,
            "observedAt": "2018-12-04T12:00:00Z",
            CONTEXT["accuracy"]: {"type": "Property", "value": 2},
        },
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [0, 0]}},
    }
    expr = map_attribute_names(
        parse_q("pm10>40;pm10.observedAt<2019-01-01T00:00:00Z;pm10.accuracy==2;ngsi-ld:location"),
        expand,
    )
    assert evaluate(expr, entity)
    # a caller that expands core names too still finds the compact core members
    every = map_attribute_names(
        parse_q("pm10.observedAt;location"), lambda name: expand("ngsi-ld:" + name)
    )
    entity["https://uri.etsi.org/ngsi-ld/pm10"] = entity[CONTEXT["pm10"]]
    assert evaluate(every, entity)


def test_evaluate_tolerates_odd_entities() -> None:
    odd: dict[str, Any] = {
        "id": "urn:x",
        "type": "T",
        "empty": [],
        "noValue": {"type": "Property"},
        "plain": 5,
        "weird": {"type": "Unknown", "value": 1},
        "listOfJunk": [1, 2],
        "nullValue": {"type": "Property", "value": None},
    }
    for q in ("empty", "plain", "weird", "listOfJunk", "plain==5", "weird==1"):
        assert not evaluate(parse_q(q), odd), q
    assert evaluate(parse_q("noValue"), odd)
    assert not evaluate(parse_q("noValue==1"), odd)
    assert evaluate(parse_q("nullValue!=1"), odd)
    assert not evaluate(parse_q("nullValue>1"), odd)
