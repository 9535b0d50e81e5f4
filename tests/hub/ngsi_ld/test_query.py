"""NGSI-LD queries compiled to SQL (query.py) agree with the reference semantics, on both databases.

The property-style tests run many generated ``q`` strings (and type, id, attrs, geo and
scope selections) through SQL and through ``qlang.evaluate`` / ``query.accepts`` on the
rendered entities, over a seeded, varied data set, and check three things: the SQL
``low`` set is contained in the true result, the true result in the ``high`` set, and
``run_query`` returns exactly the true result, with the right count and pages.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

import citysmart.hub.ngsi_ld.query as query_module
from citysmart.core.db import make_engine
from citysmart.hub.models import Entity
from citysmart.hub.ngsi_ld.codec import stored_type
from citysmart.hub.ngsi_ld.context import core_context
from citysmart.hub.ngsi_ld.context_entity import expand_entity
from citysmart.hub.ngsi_ld.entity_store import insert_entity, load_entities
from citysmart.hub.ngsi_ld.geo import parse_geoquery
from citysmart.hub.ngsi_ld.http import expand_attribute
from citysmart.hub.ngsi_ld.model import NgsiLdError, parse_entity
from citysmart.hub.ngsi_ld.qlang import QSyntaxError, evaluate, map_attribute_names, parse_q
from citysmart.hub.ngsi_ld.query import (
    Compiler,
    Dialect,
    Page,
    QuerySpec,
    Selector,
    TypeAll,
    TypeAny,
    TypeName,
    accepts,
    compiler_for,
    load_fragments,
    parse_scope,
    parse_types,
    pg_regex,
    run_query,
    spec_from_body,
    spec_from_params,
    with_driver,
)
from citysmart.hub.ngsi_ld.render import render_entity
from citysmart.hub.runtime import HubRuntime

CTX = core_context()
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
SEED = 20261201
TEMPERATURES: list[Any] = [18, 20, 20.5, 25, -3, 0, "20", True, [18, 25], {"v": 20}, 1e6]
STATUSES: list[Any] = ["on", "off", "On", "o\nn", "ön", "on\n", "", 1, False, ["on", "x"], "O"]
INSTANTS = [
    "2026-01-01T10:00:00Z",
    "2026-01-01T10:00:00.500Z",
    "2026-01-01T11:00:00+01:00",
    "2026-02-30T00:00:00Z",
    "2024-02-29T00:00:00Z",
    "2026-02-29T00:00:00Z",
    "2026-01-01",
    "10:00:00",
    "2026-01-01T09:59:59Z",
    "0000-01-01T00:00:00Z",
    "2026-01-01T10:00Z",
    "2026-06-01T00:00:00Z",
]
DAYS = [
    "2026-01-01",
    "2024-02-29",
    "2026-02-29",
    "2026-12-31",
    "2025-13-01",
    "2026-01-01T00:00:00Z",
]
CLOCKS = ["10:00:00", "10:00", "09:00:00Z", "10:00:00+02:00", "23:59:59"]
OBSERVED = ["2026-01-01T10:00:00Z", "2026-01-01T10:00:00.250Z", "2025-12-31T23:00:00Z"]
PEOPLE = ["urn:ngsi-ld:Person:1", "urn:ngsi-ld:Person:2"]


# -- the data set -----------------------------------------------------------------------------


def _property(value: Any, rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Property", "value": value}
    if rng.random() < 0.5:
        out["observedAt"] = rng.choice(OBSERVED)
    if rng.random() < 0.3:
        out["accuracy"] = {"type": "Property", "value": rng.choice([0.5, 1, 2])}
    return out


def _temperature(rng: random.Random) -> Any:
    first = _property(rng.choice(TEMPERATURES), rng)
    if rng.random() < 0.25:  # a multi-attribute: a second instance with a datasetId
        other = _property(rng.choice(TEMPERATURES), rng)
        other["datasetId"] = "urn:ngsi-ld:Dataset:b"
        return [first, other]
    return first


def _name(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.5:
        return {"type": "LanguageProperty", "languageMap": {"en": "Park", "ko": "공원"}}
    return {"type": "Property", "value": rng.choice(["Park", "park", "Lot 1"])}


def _owner(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.3:
        return {"type": "ListRelationship", "objectList": [{"object": p} for p in PEOPLE]}
    return {"type": "Relationship", "object": rng.choice(PEOPLE)}


def _location(i: int) -> dict[str, Any]:
    lon, lat = 127.0 + (i % 7) * 0.01, 36.5 + (i // 7) * 0.01
    if i % 5 == 4:
        square = [[lon, lat], [lon + 0.004, lat], [lon + 0.004, lat + 0.004], [lon, lat]]
        return {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [square]}}
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


OPTIONAL: dict[str, Any] = {
    "temperature": _temperature,
    "status": lambda rng: _property(rng.choice(STATUSES), rng),
    "active": lambda rng: _property(rng.choice([True, False, 1, "true"]), rng),
    "count": lambda rng: _property(rng.choice([0, 1, 7, 7.5, -2]), rng),
    "observed": lambda rng: _property(rng.choice(INSTANTS), rng),
    "day": lambda rng: _property(rng.choice(DAYS), rng),
    "clock": lambda rng: _property(rng.choice(CLOCKS), rng),
    "owner": _owner,
    "name": _name,
    "tags": lambda rng: {"type": "ListProperty", "valueList": rng.choice([["a", "b"], ["on"]])},
    "address": lambda rng: _property({"city": rng.choice(["Sejong", "Daejeon"]), "zip": 3}, rng),
    "doc": lambda rng: {"type": "JsonProperty", "json": {"a": rng.choice([1, 2])}},
    "kind": lambda rng: {"type": "VocabProperty", "vocab": rng.choice(["Hot", "Cold"])},
}
TYPES = [["Sensor"], ["Station"], ["Sensor", "Station"], ["Other"], ["Sensor", "Device"]]


def entity_bodies(count: int = 60) -> list[dict[str, Any]]:
    """A seeded, varied data set: every attribute is missing from some entities."""
    rng = random.Random(SEED)
    bodies = []
    for i in range(count):
        body: dict[str, Any] = {"id": f"urn:ngsi-ld:Thing:t{i:03d}", "type": rng.choice(TYPES)}
        for name, make in OPTIONAL.items():
            if rng.random() < 0.7:
                body[name] = make(rng)
        if i % 6:
            body["location"] = _location(i)
        if i % 4 == 0:
            body["scope"] = rng.choice([["/Sejong/Park"], ["/Sejong/Lake/North"], ["/Daejeon"]])
        bodies.append(body)
    return bodies


def insert(session: Session, body: dict[str, Any], now: dt.datetime = NOW) -> None:
    insert_entity(session, parse_entity(expand_entity(body, CTX)), now)


@pytest.fixture
def sessions(runtime: HubRuntime) -> sessionmaker[Session]:
    return runtime.sessions


@pytest.fixture
def dataset(sessions: sessionmaker[Session]) -> list[dict[str, Any]]:
    """The varied data set, stored; returns the rendered entities (the reference view)."""
    bodies = entity_bodies()
    with sessions.begin() as session:
        for i, body in enumerate(bodies):
            insert(session, body, NOW + dt.timedelta(minutes=i))
    with sessions() as session:
        found = load_entities(session, [b["id"] for b in bodies])
    return [render_entity(found[b["id"]], "normalized", sys_attrs=True) for b in bodies]


def expand(term: str) -> str:
    return expand_attribute(CTX, term)


def q_spec(q: str) -> QuerySpec:
    return QuerySpec(q=map_attribute_names(parse_q(q), expand))


def ids_where(session: Session, condition: Any) -> set[str]:
    return set(session.scalars(select(Entity.id).where(condition)))


def check_spec(session: Session, spec: QuerySpec, expected: set[str]) -> None:
    """Check low ⊆ expected ⊆ high, and run_query finds exactly the expected ids."""
    bounds = compiler_for(session, spec).spec(spec)
    assert ids_where(session, bounds.low) <= expected
    assert expected <= ids_where(session, bounds.high)
    result = run_query(session, spec, Page(limit=1000, count=True))
    assert set(result.ids) == expected
    assert result.total == len(expected)
    assert result.ids == sorted(result.ids)


# -- q strings --------------------------------------------------------------------------------

ATTRS = [
    "temperature", "status", "active", "count", "observed", "day", "clock", "owner", "name",
    "tags", "address", "doc", "kind", "location", "missing", "createdAt", "modifiedAt",
    "temperature.observedAt", "temperature.createdAt", "temperature.modifiedAt",
    "temperature.accuracy", "temperature.unitCode", "address[city]", "name[en]", "observedAt",
]  # fmt: skip
OPERATORS = ["==", "!=", ">", ">=", "<", "<="]
VALUES = [
    "20", "20.5", "-3", "1000000", "true", "false", '"on"', '"On"', '"20"', '""',
    "urn:ngsi-ld:Person:1", "Hot", "2026-01-01T10:00:00Z", "2026-01-01T10:00:00.3Z",
    "2026-01-01T11:00:00+01:00", "2024-02-29T00:00:00Z", "2026-03-01T12:10:00Z",
    "2026-01-01", "2024-02-29", "10:00:00", "18..21", '"a".."p"', "0..1",
    "2026-01-01T00:00:00Z..2026-01-01T10:00:00Z", "2024-01-01..2026-01-01",
    "09:00:00..11:00:00", "18,25", '"on","off"', "urn:ngsi-ld:Person:1,urn:ngsi-ld:Person:3",
    '"Sejong"', '"Park"',
]  # fmt: skip
PATTERNS = [
    '"^o"', '"n$"', '".n"', '"O|o"', '"[a-z]+"', '"(?i)on"', r'"\\d"', '"o\nn"', '"^$"',
    '"ö|é"', '"[^o]"', '"Person:[12]"', '"^2026-01-01T1"', '"a{2,}"', '"(on)+?"', "^o",
]  # fmt: skip


def atoms() -> list[str]:
    """Every single-term q string the parser accepts."""
    out = [a for a in ATTRS] + ["!" + a for a in ATTRS]
    for attr, op, value in itertools.product(ATTRS, OPERATORS, VALUES):
        out.append(f"{attr}{op}{value}")
    for attr, op, pattern in itertools.product(ATTRS, ("~=", "!~="), PATTERNS):
        out.append(f"{attr}{op}{pattern}")
    parsed = []
    for q in out:
        try:
            parse_q(q)
        except QSyntaxError:
            continue
        parsed.append(q)
    return parsed


def combinations(pool: list[str], count: int) -> list[str]:
    """Random ``;``, ``|`` and parenthesised combinations of terms."""
    rng = random.Random(SEED)
    out = []
    for _ in range(count):
        a, b, c = rng.sample(pool, 3)
        shape = rng.choice(["{a};{b}", "{a}|{b}", "({a}|{b});{c}", "{a};({b}|{c})", "{a}|{b};{c}"])
        out.append(shape.format(a=a, b=b, c=c))
    return out


ATOMS = atoms()


def stratified(pool: list[str]) -> list[str]:
    """One q string per attribute and operator (seeded), so every pair is covered."""
    rng = random.Random(SEED)
    groups: dict[tuple[str, str], list[str]] = {}
    for q in pool:
        found = re.match(r"(!?)([^=!<>~]+)(==|!=|>=|<=|>|<|~=|!~=)?", q)
        assert found is not None
        groups.setdefault((found.group(1) + found.group(2), found.group(3) or ""), []).append(q)
    return [rng.choice(group) for group in groups.values()]


def test_q_strings_agree_with_qlang(
    sessions: sessionmaker[Session], dataset: list[dict[str, Any]]
) -> None:
    """Each attribute with each operator, and combinations, through SQL and qlang."""
    q_strings = stratified(ATOMS) + combinations(ATOMS, 80)
    assert len(q_strings) > 300
    with sessions() as session:
        for q in q_strings:
            expr = map_attribute_names(parse_q(q), expand)
            expected = {e["id"] for e in dataset if evaluate(expr, e)}
            try:
                check_spec(session, QuerySpec(q=expr), expected)
            except AssertionError as exc:
                raise AssertionError(f"q={q!r}: {exc}") from None


def test_the_loader_matches_entity_store(
    sessions: sessionmaker[Session], dataset: list[dict[str, Any]]
) -> None:
    ids = [e["id"] for e in dataset]
    with sessions() as session:
        mine = load_fragments(session, list(reversed(ids)))
        theirs = load_entities(session, ids)
    assert [f.id for f in mine] == list(reversed(ids))
    assert all(f == theirs[f.id] for f in mine if f.id is not None)


# -- exactness: what SQL decides alone ----------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "exact"),
    [
        ("count>1", True),  # numbers only: SQL pages and counts
        ("count==0..1;active==true", True),
        ("owner==urn:ngsi-ld:Person:1", False),  # some owners are ListRelationships (JSON)
        ("active!=true|count<=0", True),
        ("count.observedAt>=2026-01-01T00:00:00Z", True),
        ("count.modifiedAt<2026-03-01T13:00:00Z", True),
        ("createdAt>2026-03-01T12:30:00Z", True),
        ("temperature>20", False),  # some temperatures are arrays
        ('status=="on"', False),
        ("count.accuracy>0", False),  # a sub-property: Python
        ("observed>2026-01-01T10:00:00Z", False),  # non-canonical date-times: Python
        ("!count", True),
        ("count;!status", True),
    ],
)
def test_what_sql_decides_alone(
    sessions: sessionmaker[Session], dataset: list[dict[str, Any]], q: str, exact: bool
) -> None:
    spec = q_spec(q)
    with sessions() as session:
        assert compiler_for(session, spec).spec(spec).exact is exact
        expected = {e["id"] for e in dataset if evaluate(spec.q, e)}  # type: ignore[arg-type]
        check_spec(session, spec, expected)


def test_sure_rows_skip_python(
    sessions: sessionmaker[Session], dataset: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Canonical date-times decide in SQL; only the others are loaded and evaluated."""
    checked: list[str] = []
    real = query_module.accepts

    def spy(spec: QuerySpec, entity: Any) -> bool:
        checked.append(entity.id)
        return real(spec, entity)

    monkeypatch.setattr(query_module, "accepts", spy)
    spec = q_spec("observed>=2026-01-01T10:00:00Z")
    with sessions() as session:
        result = run_query(session, spec, Page(limit=1000, count=True))
    values = {e["id"]: e.get(expand("observed"), {}).get("value") for e in dataset}
    assert result.total == len(result.ids) > 0
    assert checked, "the non-canonical date-times go through Python"
    assert not [values[i] for i in checked if sure_in_sql(values[i])]


def sure_in_sql(value: Any) -> bool:
    """Tell whether SQL decides a date-time alone: valid, canonical, not February 29."""
    if not isinstance(value, str) or not CANONICAL.fullmatch(value) or "-02-29" in value:
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


# -- paging after Python checks -------------------------------------------------------------------


@pytest.mark.parametrize(
    "q", ["temperature>=20", 'status~="^o"', 'name[en]=="Park"', "observed<2026-06-01T00:00:00Z"]
)
def test_pages_and_counts_after_python_checks(
    sessions: sessionmaker[Session], dataset: list[dict[str, Any]], q: str
) -> None:
    spec = q_spec(q)
    expected = sorted(e["id"] for e in dataset if evaluate(spec.q, e))  # type: ignore[arg-type]
    assert len(expected) > 3, "the data set should match a few"
    with sessions() as session:
        assert not compiler_for(session, spec).spec(spec).exact
        for limit, offset in [(1, 0), (2, 1), (3, 2), (5, len(expected) - 2), (4, 99)]:
            for count in (False, True):
                result = run_query(session, spec, Page(limit, offset, count))
                assert result.ids == expected[offset : offset + limit]
                assert result.more == (offset + limit < len(expected))
                assert result.total == (len(expected) if count else None)
        only_count = run_query(session, spec, Page(0, 0, True))
        assert only_count.ids == []
        assert only_count.total == len(expected)


def test_exact_pages_and_counts(
    sessions: sessionmaker[Session], dataset: list[dict[str, Any]]
) -> None:
    spec = q_spec("count>=0")
    expected = sorted(e["id"] for e in dataset if evaluate(spec.q, e))  # type: ignore[arg-type]
    with sessions() as session:
        assert compiler_for(session, spec).spec(spec).exact
        for limit, offset in [(1, 0), (3, 2), (10, len(expected) - 3)]:
            result = run_query(session, spec, Page(limit, offset, True))
            assert result.ids == expected[offset : offset + limit]
            assert result.total == len(expected)
            assert result.more == (offset + limit < len(expected))


# -- types, ids, idPattern, attrs, geo, scope ------------------------------------------------


def stored(name: str) -> str:
    return stored_type(CTX.expand_type(name))


def test_type_expressions_parse() -> None:
    assert parse_types("A") == TypeName("A")
    assert parse_types("A,B|C") == TypeAny((TypeName("A"), TypeName("B"), TypeName("C")))
    assert parse_types("A;B") == TypeAll((TypeName("A"), TypeName("B")))
    assert parse_types("(A;B)|C") == TypeAny(
        (TypeAll((TypeName("A"), TypeName("B"))), TypeName("C"))
    )
    assert parse_types("A;(B,C)") == TypeAll(
        (TypeName("A"), TypeAny((TypeName("B"), TypeName("C"))))
    )
    for bad in ["", "A;", "(A", "A)", "A;;B", ",A"]:
        with pytest.raises(NgsiLdError):
            parse_types(bad)


SELECTIONS: list[dict[str, str]] = [
    {"type": "Sensor"},
    {"type": "Sensor,Other"},
    {"type": "Sensor|Other"},
    {"type": "Sensor;Station"},
    {"type": "(Sensor;Device)|Other"},
    {"type": "Station;(Sensor,Other)"},
    {"type": "Nothing"},
    {"id": "urn:ngsi-ld:Thing:t001,urn:ngsi-ld:Thing:t004,urn:ngsi-ld:Thing:t999"},
    {"idPattern": r"t0[0-2]\d$"},
    {"idPattern": r"(?i)T00\d"},  # not translatable for PostgreSQL: Python decides
    {"idPattern": "t01", "type": "Sensor"},
    {"attrs": "doc,kind"},
    {"attrs": "missing"},
    {"attrs": "location", "type": "Other"},
    {"type": "Sensor", "q": "count>0|!count"},
    {"scopeQ": "/Sejong/#"},
    {"scopeQ": "/Sejong/+"},
    {"scopeQ": "/Sejong/+/North,/Daejeon"},
    {"scopeQ": "/#", "type": "Sensor"},
    {"georel": "near;maxDistance==1500", "geometry": "Point", "coordinates": "[127.02, 36.52]"},
    {"georel": "near;minDistance==3000", "geometry": "Point", "coordinates": "[127.02, 36.52]"},
    {
        "georel": "within",
        "geometry": "Polygon",
        "coordinates": "[[[127.0,36.5],[127.035,36.5],[127.035,36.535],[127.0,36.535],"
        "[127.0,36.5]]]",
    },
    {
        "georel": "intersects",
        "geometry": "Polygon",
        "coordinates": "[[[127.041,36.5],[127.05,36.5],[127.05,36.6],[127.041,36.6],"
        "[127.041,36.5]]]",
    },
    {"georel": "disjoint", "geometry": "Point", "coordinates": "[127.0, 36.5]", "type": "Other"},
    {"georel": "contains", "geometry": "Point", "coordinates": "[127.042, 36.542]"},
]


@pytest.mark.parametrize(
    "params", SELECTIONS, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items())
)
def test_selections_agree_with_python(
    sessions: sessionmaker[Session], dataset: list[dict[str, Any]], params: dict[str, str]
) -> None:
    spec = spec_from_params(params, CTX, expand)
    with sessions() as session:
        fragments = load_entities(session, [e["id"] for e in dataset])
        expected = {i for i, f in fragments.items() if accepts(spec, f)}
        check_spec(session, spec, expected)
    if "type" in params and params["type"] == "Sensor;Station":
        assert expected == {
            e["id"] for e in dataset if {stored("Sensor"), stored("Station")} <= set(_types(e))
        }


def _types(entity: dict[str, Any]) -> list[str]:
    types = entity["type"] if isinstance(entity["type"], list) else [entity["type"]]
    return [stored_type(t) for t in types]


def test_scope_queries_parse() -> None:
    assert parse_scope("/A/B").tree == ("path", ("A", "B"))
    assert parse_scope("/A,/B;/C").tree == (
        "or",
        (("path", ("A",)), ("and", (("path", ("B",)), ("path", ("C",))))),
    )
    for bad in ["A", "/A/#/B", "/A,", "(/A", "/A b"]:
        with pytest.raises(NgsiLdError):
            parse_scope(bad)


def test_private_types_are_never_found(
    sessions: sessionmaker[Session], dataset: list[dict[str, Any]]
) -> None:
    spec = spec_from_params({"type": "Sensor,Other"}, CTX, expand)
    private = frozenset({stored("Station")})
    with sessions() as session:
        result = run_query(session, spec, Page(1000, 0, True), private)
    by_id = {e["id"]: _types(e) for e in dataset}
    assert result.ids
    assert all(stored("Station") not in by_id[i] for i in result.ids)
    assert result.total == len(result.ids)


# -- Query bodies --------------------------------------------------------------------------------


def test_a_query_body_is_a_spec() -> None:
    body = {
        "type": "Query",
        "entities": [{"type": "Sensor;Station"}, {"id": "urn:x:1"}, {"idPattern": "^urn:y"}],
        "attrs": ["temperature", "status"],
        "q": "temperature>20",
        "geoQ": {
            "geometry": "Point",
            "coordinates": [127.0, 36.5],
            "georel": "near;maxDistance==10",
        },
        "scopeQ": "/A/#",
        "lang": "ko",
        "temporalQ": {"timerel": "after", "timeAt": "2026-01-01T00:00:00Z"},
    }
    spec = spec_from_body(body, CTX, expand)
    assert spec.selectors == (
        Selector(types=TypeAll((TypeName(stored("Sensor")), TypeName(stored("Station"))))),
        Selector(ids=("urn:x:1",)),
        Selector(id_pattern="^urn:y"),
    )
    assert spec.attrs == (expand("temperature"), expand("status"))
    assert spec.q == map_attribute_names(parse_q("temperature>20"), expand)
    assert spec.geo == parse_geoquery("near;maxDistance==10", "Point", [127.0, 36.5])
    assert spec.scope is not None
    assert spec.lang == "ko"


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"entities": [{"type": "A"}]},
        {"type": "Subscription", "entities": [{"type": "A"}]},
        {"type": "Query", "entities": [{}]},
        {"type": "Query", "entities": {"type": "A"}},
        {"type": "Query", "attrs": [1]},
        {"type": "Query", "q": "a>>"},
        {"type": "Query", "q": 5},
        {"type": "Query", "geoQ": {"geometry": "Point", "georel": "near;maxDistance==1"}},
        {"type": "Query", "geoQ": "near"},
        {"type": "Query", "entities": [{"idPattern": "("}]},
        {"type": "Query", "scopeQ": "nope"},
    ],
)
def test_bad_query_bodies(body: Any) -> None:
    with pytest.raises(NgsiLdError) as caught:
        spec_from_body(body, CTX, expand)
    assert caught.value.status == 400


# -- PostgreSQL regular expressions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "translated"),
    [
        ("abc", "abc"),
        ("^a.c$", "^a[^\n]c(?=\n?$)"),
        ("a|b(c)*", "a|b(c)*"),
        ("[a-z]+?", "[a-z]+?"),
        ("x{2,3}", "x{2,3}"),
        (r"\.\$", r"\.\$"),
        ("[^0-9]", "[^0-9]"),
        (r"\d", None),
        ("(?i)a", None),
        ("a{,3}", None),
        ("a{300}", None),
        ("a*+", None),
        ("[[:alpha:]]", None),
        (r"[\w]", None),
        ("()", None),
        ("[]a]", None),
    ],
)
def test_pg_regex_translation(pattern: str, translated: str | None) -> None:
    assert pg_regex(pattern) == translated


TEXTS = ["abc", "a\nc", "abc\n", "x\n", "", "ön", "o\nn", "aaa", "Park 12", "]", "a.c", "a$"]
REGEXES = [
    "abc", "^a.c$", "c$", "c$\n", "a.c", "^$", "[^a]", "a|x", "(ab)+c", "a{2,}", "o[^x]n",
    r"\.", r"\$", "[0-9]+$", "^.*$", "n$|^o", "Park [1-3]", "ö", "[a-c]*", "\n", ".$",
]  # fmt: skip


@pytest.fixture
def pg_engine(postgresql_url: str) -> Iterator[Engine]:
    engine = make_engine(postgresql_url)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_translated_patterns_find_what_python_finds(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        for regex in REGEXES:
            translated = pg_regex(regex)
            assert translated is not None, regex
            for value in TEXTS:
                found = conn.execute(
                    text("SELECT CAST(:v AS text) ~ CAST(:p AS text)"),
                    {"v": value, "p": translated},
                ).scalar()
                assert found == (re.search(regex, value) is not None), (regex, value)


# -- loading and query counts ----------------------------------------------------------------------


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """Record the SQL statements a block sends."""
    seen: list[str] = []
    engine = session.get_bind()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_loading_a_page_takes_two_queries(
    sessions: sessionmaker[Session], dataset: list[dict[str, Any]]
) -> None:
    with sessions() as session, statements(session) as seen:
        load_fragments(session, [e["id"] for e in dataset[:20]])
    assert len(seen) == 2


def test_an_exact_query_uses_sql_paging(
    sessions: sessionmaker[Session], dataset: list[dict[str, Any]]
) -> None:
    spec = spec_from_params({"type": "Sensor", "q": "count>0"}, CTX, expand)
    with sessions() as session:
        with statements(session) as seen:
            run_query(session, spec, Page(5, 0, True))
        if session.get_bind().dialect.name == "postgresql":  # no generic plans (see query.py)
            assert session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
    # which attributes hold JSON, the driving terms' sizes, (PostgreSQL: custom plans), the
    # count, the page
    postgresql = sessions.kw["bind"].dialect.name == "postgresql"
    assert len(seen) == (5 if postgresql else 4)
    assert any("LIMIT" in s.upper() for s in seen)


NEAR = {"georel": "near;maxDistance==100", "geometry": "Point", "coordinates": "[127.0, 36.51]"}


@pytest.mark.parametrize(
    ("params", "index"),
    [
        ({"q": 'clock=="10:00"'}, "ix_attribute_attribute_text_value"),
        ({"q": "count>5"}, "ix_attribute_attribute_num_value"),
        (NEAR, "ix_attribute_attribute_box"),
        ({"type": "Device"}, "ix_entity_type_type"),
    ],
)
def test_selective_terms_use_their_index(
    sessions: sessionmaker[Session], dataset: list[dict[str, Any]], params: Any, index: str
) -> None:
    """SQLite: the whole query, driven by the term; PostgreSQL: the term's id lookup."""
    spec = spec_from_params(params, CTX, expand)
    with sessions() as session:
        bind = session.get_bind()
        compiler = compiler_for(session, spec)
        if bind.dialect.name == "sqlite":
            bounds = with_driver(session, compiler, spec).spec(spec)
            stmt: Any = select(Entity.id).where(bounds.high).order_by(Entity.id).limit(20)
            explain = "EXPLAIN QUERY PLAN "
        else:
            stmt = compiler.drivers(spec)[0][1]
            session.execute(text("ANALYZE attribute"))
            session.execute(text("SET LOCAL enable_seqscan = off"))
            explain = "EXPLAIN "
        sql = str(stmt.compile(bind, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(r[-1]) for r in session.execute(text(explain + sql)))
    assert index in plan, plan


def test_json_probe_uses_the_partial_index(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        bind = session.get_bind()
        if bind.dialect.name == "sqlite":
            sql = (
                "EXPLAIN QUERY PLAN SELECT 1 FROM attribute "
                "WHERE attribute = 'status' AND value_type = 'j'"
            )
            plan = " ".join(str(r[-1]) for r in session.execute(text(sql)))
            assert "ix_attribute_attribute_json" in plan
        else:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            sql = "EXPLAIN SELECT 1 FROM attribute WHERE attribute = 'status' AND value_type = 'j'"
            plan = " ".join(r[0] for r in session.execute(text(sql)))
            assert "ix_attribute_attribute_json" in plan


def test_the_postgis_path_compiles() -> None:
    """PostGIS is not installed here: only check the SQL it would run (not executed)."""
    spec = spec_from_params({**NEAR, "type": "Sensor"}, CTX, expand)
    bounds = Compiler(Dialect(postgresql=True), postgis=True).spec(spec)
    assert bounds.exact
    sql = str(select(Entity.id).where(bounds.low).compile(dialect=postgresql.dialect()))
    assert "ST_DWithin(g.geom::geography" in sql
    assert "ST_GeomFromGeoJSON(pa.text_value)" in sql
    assert "attribute.min_lon <=" in sql  # the box still narrows first
