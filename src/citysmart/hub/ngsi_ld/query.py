r"""NGSI-LD entity queries (clauses 4.9, 4.10, 4.17, 4.19, 5.7.2, 5.2.23) compiled to SQL.

A :class:`QuerySpec` comes from the ``GET /entities`` parameters (:func:`spec_from_params`)
or from a ``POST /entityOperations/query`` body (:func:`spec_from_body`).
:func:`run_query` answers it with one page of entity ids and, if asked, the count;
:func:`load_fragments` loads entities in two queries (entity rows with their types, then
attributes).

How a query runs. :meth:`Compiler.spec` turns a spec into two conditions on ``entity``:
``low`` (the entity surely matches) and ``high`` (it may match), with
``low`` ⊆ matches ⊆ ``high``. When both are one expression the query is *exact*: SQL
pages (``ORDER BY id LIMIT OFFSET``) and counts. Otherwise SQL yields the ``high``
candidates in id order with ``low`` as a flag; the candidates not surely matching are
loaded and checked in Python with the reference semantics (:func:`accepts`:
``qlang.evaluate`` on the rendered entity, ``geo.matches``, ...), and paging happens after
that check, so pages and counts stay right. The count is ``count(low)`` in SQL plus the
unsure candidates Python accepts.

Plans. Each term is a correlated ``EXISTS``: PostgreSQL turns those into semi-joins and
chooses the order itself. SQLite runs them once per entity in id order, which is fast
when matches are dense and a full scan when they are rare, so on SQLite
:func:`with_driver` counts (capped, in the indexes) what each top-level conjunct selects
and compiles the smallest, if small, as ``id IN (...)``, which SQLite reads first.

What compiles to SQL, each ``q`` term an ``EXISTS`` on ``attribute`` (any instance, any
datasetId, matches):

- comparisons of a top-level attribute's value with a number (``num_value``, value_type
  ``n``), a boolean (``b``, 0/1), a string or URI (``text_value``, value_type ``s`` or
  ``d``), a date-time or date (``text_value``, see below); ranges ``a..b``, lists
  ``==a,b,c``, ``!=`` (the attribute exists and no value equals), ``~=`` and ``!~=``;
  relationships take only ``==`` and ``!=``, as in ``qlang``;
- existence ``attr`` and non-existence ``!attr``;
- ``attr.observedAt``, ``attr.createdAt``, ``attr.modifiedAt`` compared with date-times
  (columns ``observed_at``, ``created_at``, ``modified_at``, falling back as the renderer
  does), and the entity's own ``createdAt`` and ``modifiedAt``;
- ``type`` expressions (``,`` and ``|`` or, ``;`` and, parentheses) through ``entity_type``,
  ``id`` lists, ``idPattern``, ``attrs`` (the entity has at least one of them), private
  types (never returned).

Where SQL cannot decide, a term is *unsure* and Python decides on the rows SQL narrowed:

- values stored as JSON (value_type ``j``: arrays, objects, languageMaps, list
  relationships, null): before compiling, one probe (partial index on ``value_type =
  'j'``) asks which of the query's attributes have such rows; only those make a term
  unsure, so queries over plain readings stay exact;
- date-times are compared as text only when stored in the canonical form
  ``YYYY-MM-DDTHH:MM:SSZ`` and valid (SQLite: a ``strftime(..., '+0 days')`` round trip,
  which normalizes February 30 away; PostgreSQL: a regular expression of valid months
  and days, February 29 left unsure); other date-time shapes (offsets, fractions) are
  unsure. Dates likewise; times are always unsure;
- sub-property paths (``a.b``), ``[...]`` member paths, metadata other than the three
  times, string comparisons with ``createdAt``-style metadata;
- ``~=`` on PostgreSQL when the pattern is outside the subset whose meaning is the same in
  Python ``re`` and PostgreSQL AREs (literals, ``.``, classes without escapes, groups
  without ``(?``, ``|``, ``^``, ``$``, quantifiers and ``{m,n}``; ``.`` and ``$`` are
  rewritten to keep Python's newline rules). SQLite uses SQLAlchemy's ``REGEXP``
  function, which is Python's ``re.search``, so every pattern compiles there;
- ``idPattern`` on PostgreSQL under the same rule;
- geo-queries: a bounding-box pre-filter on the GeoProperty's ``min_lon ... max_lat``
  (the box of the circle for ``near;maxDistance``; none for ``disjoint`` and
  ``near;minDistance``), then ``geo.matches`` in Python. Only GeoProperty instances count.
  When PostGIS is installed (``pg_extension``, checked once per engine, and its functions
  on the search path) the predicate is ``geo.to_postgis_sql`` in SQL instead. That path
  is optional; without PostGIS here, the tests only compile its SQL;
- ``scopeQ`` (``,`` or, ``;`` and, ``+`` one level, ``#`` any levels below): entities
  with a scope are pre-filtered in SQL, the expression is tested in Python.

``lang`` and ``temporalQ`` of a Query body do not filter: ``lang`` picks the language of
LanguageProperties in the response, ``temporalQ`` is ignored. A selector of a Query body
(``entities``) needs at least one of ``id``, ``idPattern`` and ``type``; an entity
matches when any selector does. Type names and ``idPattern`` in one selector must all
hold. String order is code-point order (``COLLATE "C"`` on PostgreSQL), as in Python.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import typing
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    Text,
    and_,
    cast,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session

from citysmart.core.geo import EARTH_RADIUS_M
from citysmart.hub.models import Attribute, Entity, EntityType
from citysmart.hub.ngsi_ld.codec import expanded_name, expanded_type, row_instance, stored_name
from citysmart.hub.ngsi_ld.codec import stored_type as _stored_type
from citysmart.hub.ngsi_ld.context import ActiveContext
from citysmart.hub.ngsi_ld.driver_sizes import SizeCache
from citysmart.hub.ngsi_ld.geo import (
    GeoQuery,
    GeoQueryError,
    Georel,
    bounding_box,
    matches,
    parse_geoquery,
    to_postgis_sql,
)
from citysmart.hub.ngsi_ld.model import CORE, EntityFragment, Kind, bad_request
from citysmart.hub.ngsi_ld.qlang import (
    METADATA_MEMBERS,
    And,
    Comparison,
    Existence,
    Op,
    Or,
    Pattern,
    QExpr,
    QSyntaxError,
    Range,
    Value,
    ValueList,
    evaluate,
    map_attribute_names,
    parse_q,
)
from citysmart.hub.ngsi_ld.qlang import Kind as Lit
from citysmart.hub.ngsi_ld.render import render_entity

CHUNK: Final = 500  # ids per IN (...) and per Python check
DRIVER_CAP: Final = 2000  # a conjunct matching fewer entities drives a SQLite query
_SIZES: Final = SizeCache()  # recent driver sizes (they steer plans, never answers)
NEAR_SHELL_M: Final = 0.01  # near: distances this close to the limit are decided in Python
SHORT_TEXT: Final = 256  # text values indexed by ix_attribute_attribute_text_value
_SCAN_MIN: Final = 200
_SCAN_MAX: Final = 5000
_STRINGS: Final = ("s", "d")  # value types whose value is text_value as a string
_RELATIONSHIP: Final = Kind.RELATIONSHIP.value
_GEO: Final = Kind.GEO_PROPERTY.value

# -- the query model ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeName:
    """One entity type, as stored."""

    name: str


@dataclass(frozen=True, slots=True)
class TypeAll:
    """All of these type expressions hold (``;``)."""

    terms: tuple[TypeExpr, ...]


@dataclass(frozen=True, slots=True)
class TypeAny:
    """Any of these type expressions holds (``,`` or ``|``)."""

    terms: tuple[TypeExpr, ...]


TypeExpr = TypeName | TypeAll | TypeAny


@dataclass(frozen=True, slots=True)
class Selector:
    """Which entities by id, id pattern and type; every part given must hold."""

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    types: TypeExpr | None = None


@dataclass(frozen=True, slots=True)
class ScopeQuery:
    """A parsed ``scopeQ``: ``("or"|"and", parts)`` or ``("path", levels)`` nodes."""

    text: str
    tree: tuple[str, tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """What to find: selectors (any), attrs (any), q, a geo-query and a scope query.

    Attribute names are expanded (``qlang`` and ``render`` names); types are stored names.
    """

    selectors: tuple[Selector, ...] = ()
    attrs: tuple[str, ...] = ()
    q: QExpr | None = None
    geo: GeoQuery | None = None
    scope: ScopeQuery | None = None
    lang: str | None = None

    @property
    def restricted(self) -> bool:
        """Tell whether the spec names types, ids, an id pattern, attrs, q or a geo-query."""
        return bool(self.selectors or self.attrs or self.q is not None or self.geo is not None)


@dataclass(frozen=True, slots=True)
class Page:
    """Which slice of the id-ordered result, and whether to count it all."""

    limit: int
    offset: int = 0
    count: bool = False


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One page of ids, the total when counted, and whether more follow the page."""

    ids: list[str]
    total: int | None
    more: bool


# -- parsing: type expressions (clause 4.17) ---------------------------------------------

_TYPE_TOKEN: Final = re.compile(r"\s*(?:([(),;|])|([^\s(),;|]+))\s*")


def parse_types(text_: str, expand: Callable[[str], str] = lambda t: t) -> TypeExpr:
    """Parse a type expression; ``expand`` maps each name to its stored form."""
    tokens = _type_tokens(text_)
    at, expr = _type_or(tokens, 0, expand)
    if at != len(tokens):
        raise bad_request(f"type: unexpected {tokens[at]!r} in {text_!r}")
    return expr


def _type_tokens(text_: str) -> list[str]:
    """Split a type expression into names and ``( ) , ; |``."""
    tokens: list[str] = []
    position = 0
    while position < len(text_):
        found = _TYPE_TOKEN.match(text_, position)
        if found is None or found.end() == position:
            raise bad_request(f"type: cannot read {text_[position:]!r}")
        tokens.append(found.group(1) or found.group(2))
        position = found.end()
    if not tokens:
        raise bad_request("type: empty")
    return tokens


def _type_or(tokens: list[str], at: int, expand: Callable[[str], str]) -> tuple[int, TypeExpr]:
    """Parse AND groups joined by ``,`` or ``|``."""
    at, first = _type_and(tokens, at, expand)
    terms = [first]
    while at < len(tokens) and tokens[at] in ",|":
        at, term = _type_and(tokens, at + 1, expand)
        terms.append(term)
    return at, first if len(terms) == 1 else TypeAny(tuple(terms))


def _type_and(tokens: list[str], at: int, expand: Callable[[str], str]) -> tuple[int, TypeExpr]:
    """Parse names or groups joined by ``;``."""
    at, first = _type_primary(tokens, at, expand)
    terms = [first]
    while at < len(tokens) and tokens[at] == ";":
        at, term = _type_primary(tokens, at + 1, expand)
        terms.append(term)
    return at, first if len(terms) == 1 else TypeAll(tuple(terms))


def _type_primary(tokens: list[str], at: int, expand: Callable[[str], str]) -> tuple[int, TypeExpr]:
    """Parse a name or a parenthesised expression."""
    if at >= len(tokens):
        raise bad_request("type: a type name is missing at the end")
    token = tokens[at]
    if token == "(":
        at, expr = _type_or(tokens, at + 1, expand)
        if at >= len(tokens) or tokens[at] != ")":
            raise bad_request("type: a parenthesis is not closed")
        return at + 1, expr
    if token in "),;|":
        raise bad_request(f"type: expected a type name, not {token!r}")
    return at + 1, TypeName(expand(token))


def types_match(expr: TypeExpr, types: frozenset[str]) -> bool:
    """Tell whether an entity with these stored types satisfies a type expression."""
    if isinstance(expr, TypeName):
        return expr.name in types
    if isinstance(expr, TypeAll):
        return all(types_match(t, types) for t in expr.terms)
    return any(types_match(t, types) for t in expr.terms)


# -- parsing: scope queries (clause 4.19) --------------------------------------------------

_SCOPE_TOKEN: Final = re.compile(r"\s*(?:([(),;])|(/[^\s(),;]*))\s*")
_SCOPE_LEVEL: Final = re.compile(r"[^\W\d_]\w*|\+|#")


def parse_scope(text_: str) -> ScopeQuery:
    """Parse a ``scopeQ`` (``,`` or, ``;`` and, parentheses; ``+`` and ``#`` wildcards)."""
    tokens: list[str] = []
    position = 0
    while position < len(text_):
        found = _SCOPE_TOKEN.match(text_, position)
        if found is None or found.end() == position:
            raise bad_request(f"scopeQ: cannot read {text_[position:]!r}")
        tokens.append(found.group(1) or found.group(2))
        position = found.end()
    if not tokens:
        raise bad_request("scopeQ: empty")
    at, tree = _scope_join(tokens, 0, ",")
    if at != len(tokens):
        raise bad_request(f"scopeQ: unexpected {tokens[at]!r}")
    return ScopeQuery(text_, tree)


def _scope_join(tokens: list[str], at: int, sep: str) -> tuple[int, tuple[str, tuple[Any, ...]]]:
    """Parse terms joined by ``,`` (or), each made of terms joined by ``;`` (and)."""
    parts = []
    while True:
        if sep == ",":
            at, part = _scope_join(tokens, at, ";")
        else:
            at, part = _scope_primary(tokens, at)
        parts.append(part)
        if at >= len(tokens) or tokens[at] != sep:
            break
        at += 1
    return at, parts[0] if len(parts) == 1 else ("or" if sep == "," else "and", tuple(parts))


def _scope_primary(tokens: list[str], at: int) -> tuple[int, tuple[str, tuple[Any, ...]]]:
    """Parse a scope path or a parenthesised scope query."""
    if at >= len(tokens):
        raise bad_request("scopeQ: a scope is missing at the end")
    token = tokens[at]
    if token == "(":
        at, tree = _scope_join(tokens, at + 1, ",")
        if at >= len(tokens) or tokens[at] != ")":
            raise bad_request("scopeQ: a parenthesis is not closed")
        return at + 1, tree
    levels = tuple(token[1:].split("/")) if token.startswith("/") else ()
    if not levels or not all(_SCOPE_LEVEL.fullmatch(v) for v in levels) or "#" in levels[:-1]:
        raise bad_request(f"scopeQ: {token!r} is not a scope such as /Level/Level, /A/+ or /A/#")
    return at + 1, ("path", levels)


def scope_matches(tree: tuple[str, tuple[Any, ...]], scopes: Sequence[str] | None) -> bool:
    """Tell whether an entity with these scopes satisfies a parsed scope query."""
    kind, parts = tree
    if kind == "or":
        return any(scope_matches(p, scopes) for p in parts)
    if kind == "and":
        return all(scope_matches(p, scopes) for p in parts)
    return any(_scope_path_matches(parts, tuple(s[1:].split("/"))) for s in scopes or ())


def _scope_path_matches(pattern: tuple[str, ...], scope: tuple[str, ...]) -> bool:
    """Match one scope against a pattern with ``+`` (one level) and a final ``#``."""
    if pattern[-1] == "#":
        pattern, scope = pattern[:-1], scope[: len(pattern) - 1]
    if len(scope) != len(pattern):
        return False
    return all(p in ("+", s) for p, s in zip(pattern, scope, strict=True))


# -- parsing: specs --------------------------------------------------------------------------


def spec_from_params(
    params: Mapping[str, str], ctx: ActiveContext, expand: Callable[[str], str]
) -> QuerySpec:
    """Build a spec from GET /entities parameters; ``expand`` expands attribute names."""
    types = params.get("type")
    ids = tuple(i.strip() for i in params.get("id", "").split(",") if i.strip())
    pattern = _id_pattern(params.get("idPattern") or None)
    selector = Selector(ids, pattern, _types(types, ctx) if types else None)
    has_selector = bool(ids or pattern or types)
    attrs = tuple(expand(a.strip()) for a in params.get("attrs", "").split(",") if a.strip())
    georel, geometry, coordinates = (params.get(n) for n in ("georel", "geometry", "coordinates"))
    geo = None
    if georel is not None or geometry is not None or coordinates is not None:
        geo = _geo(georel, geometry, coordinates, params.get("geoproperty"), expand)
    return QuerySpec(
        selectors=(selector,) if has_selector else (),
        attrs=attrs,
        q=_q(params.get("q") or None, expand),
        geo=geo,
        scope=parse_scope(params["scopeQ"]) if params.get("scopeQ") else None,
        lang=params.get("lang"),
    )


def spec_from_body(body: Any, ctx: ActiveContext, expand: Callable[[str], str]) -> QuerySpec:
    """Build a spec from a Query body (clause 5.2.23); ``temporalQ`` is ignored."""
    if not isinstance(body, dict):
        raise bad_request("a query body is a JSON object")
    if body.get("type") != "Query":
        raise bad_request('a query body needs "type": "Query"')
    entities = body.get("entities", [])
    if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
        raise bad_request("entities: expected an array of entity selectors")
    geo = body.get("geoQ")
    if geo is not None and not isinstance(geo, dict):
        raise bad_request("geoQ: expected an object")
    return QuerySpec(
        selectors=tuple(_selector(e, ctx) for e in entities),
        attrs=tuple(expand(a) for a in _strings(body.get("attrs"), "attrs")),
        q=_q(_string(body.get("q"), "q"), expand),
        geo=None if geo is None else _geo_member(geo, expand),
        scope=_scope(_string(body.get("scopeQ"), "scopeQ")),
        lang=_string(body.get("lang"), "lang"),
    )


def _selector(data: Mapping[str, Any], ctx: ActiveContext) -> Selector:
    """Read one entity selector of a Query body."""
    entity_id = _string(data.get("id"), "entities[].id")
    pattern = _id_pattern(_string(data.get("idPattern"), "entities[].idPattern"))
    types = _string(data.get("type"), "entities[].type")
    if entity_id is None and pattern is None and types is None:
        raise bad_request("entities: a selector needs id, idPattern or type")
    ids = (entity_id,) if entity_id is not None else ()
    return Selector(ids, pattern, _types(types, ctx) if types is not None else None)


def _types(text_: str, ctx: ActiveContext) -> TypeExpr:
    return parse_types(text_, lambda t: _stored_type(ctx.expand_type(t)))


def _string(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise bad_request(f"{where}: expected a string")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"{where}: expected an array of strings")
    return list(value)


def _id_pattern(pattern: str | None) -> str | None:
    if pattern is None:
        return None
    try:
        re.compile(pattern)
    except re.error as exc:
        raise bad_request(f"idPattern: not a regular expression: {exc}") from None
    return pattern


def _q(text_: str | None, expand: Callable[[str], str]) -> QExpr | None:
    if text_ is None:
        return None
    try:
        return map_attribute_names(parse_q(text_), expand)
    except QSyntaxError as exc:
        raise bad_request(str(exc)) from None


def _scope(text_: str | None) -> ScopeQuery | None:
    return None if text_ is None else parse_scope(text_)


def _geo(
    georel: str | None,
    geometry: str | None,
    coordinates: str | list[Any] | None,
    geoproperty: str | None,
    expand: Callable[[str], str],
) -> GeoQuery:
    try:
        query = parse_geoquery(georel, geometry, coordinates, geoproperty)
    except GeoQueryError as exc:
        raise bad_request(str(exc)) from None
    return replace(query, geoproperty=expand(query.geoproperty))


def _geo_member(geo: Mapping[str, Any], expand: Callable[[str], str]) -> GeoQuery:
    coordinates = geo.get("coordinates")
    if coordinates is not None and not isinstance(coordinates, str | list):
        raise bad_request("geoQ.coordinates: expected an array")
    return _geo(
        _string(geo.get("georel"), "geoQ.georel"),
        _string(geo.get("geometry"), "geoQ.geometry"),
        coordinates,
        _string(geo.get("geoproperty"), "geoQ.geoproperty"),
        expand,
    )


# -- the reference semantics, in Python --------------------------------------------------------


def accepts(spec: QuerySpec, entity: EntityFragment) -> bool:
    """Tell whether an entity matches the spec (what SQL must agree with)."""
    assert entity.id is not None
    types = frozenset(_stored_type(t) for t in entity.types)
    if spec.selectors and not any(_selected(s, entity.id, types) for s in spec.selectors):
        return False
    names = {a.name for a in entity.attributes}
    if spec.attrs and names.isdisjoint(spec.attrs):
        return False
    if spec.geo is not None and not _geo_accepts(spec.geo, entity):
        return False
    if spec.scope is not None and not scope_matches(spec.scope.tree, entity.scope):
        return False
    if spec.q is None:
        return True
    return evaluate(spec.q, render_entity(entity, "normalized", sys_attrs=True))


def _selected(selector: Selector, entity_id: str, types: frozenset[str]) -> bool:
    if selector.ids and entity_id not in selector.ids:
        return False
    if selector.id_pattern is not None and not re.search(selector.id_pattern, entity_id):
        return False
    return selector.types is None or types_match(selector.types, types)


def _geo_accepts(query: GeoQuery, entity: EntityFragment) -> bool:
    return any(
        matches(query, a.value)
        for a in entity.attributes
        if a.name == query.geoproperty and a.kind is Kind.GEO_PROPERTY and isinstance(a.value, dict)
    )


# -- SQL: row tests ------------------------------------------------------------------------------

Condition = ColumnElement[bool]


@dataclass(frozen=True, slots=True)
class RowTest:
    """A test on one row: where it surely holds, and where only Python can tell."""

    sure: Condition
    unsure: Condition | None = None

    def either(self) -> Condition:
        """Return where the test may hold."""
        return self.sure if self.unsure is None else or_(self.sure, self.unsure)


def _any_of(tests: Sequence[RowTest]) -> RowTest:
    """Combine tests of which one must hold."""
    unsure = [t.unsure for t in tests if t.unsure is not None]
    return RowTest(or_(*(t.sure for t in tests)), or_(*unsure) if unsure else None)


def _not(test: RowTest, present: Condition) -> RowTest:
    """Negate a test on rows that have a target (``present``)."""
    sure = and_(present, not_(func.coalesce(test.either(), false())))
    return RowTest(sure, test.unsure)


FALSE: Final = RowTest(false())


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the databases when compiling."""

    postgresql: bool

    def ordered(self, column: ColumnElement[str]) -> ColumnElement[str]:
        """Return a text column that orders by code point."""
        return column.collate("C") if self.postgresql else column

    def regex(self, column: ColumnElement[str], pattern: str) -> Condition | None:
        """Return ``column`` searched with a Python pattern, or None if SQL cannot."""
        if not self.postgresql:
            return column.regexp_match(pattern)
        translated = pg_regex(pattern)
        return None if translated is None else column.regexp_match(translated)


# -- SQL: values of attribute rows -------------------------------------------------------------

_DATETIME_SHAPE_SQLITE: Final = (
    "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z"
)
_DATE_SHAPE_SQLITE: Final = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
_PG_VALID_DATE: Final = (
    "(?!0000)[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    "|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
)
_PG_VALID_DATETIME: Final = "^" + _PG_VALID_DATE + "T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"


class _Values:
    """Tests on the value of an attribute row (one atom per non-JSON row)."""

    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect
        self.a = Attribute.__table__.c

    def strings(self, ordered: bool) -> Condition:
        """Rows holding a string an operator may test (relationships: only == and !=)."""
        kinds = self.a.value_type.in_(_STRINGS)
        return and_(kinds, self.a.kind != _RELATIONSHIP) if ordered else kinds

    def equal(self, value: Value) -> RowTest:
        """Rows whose value equals a literal."""
        a = self.a
        if value.kind is Lit.NUMBER:
            return RowTest(and_(a.value_type == "n", a.num_value == value.value))
        if value.kind is Lit.BOOLEAN:
            return RowTest(and_(a.value_type == "b", a.num_value == float(bool(value.value))))
        if value.kind in (Lit.STRING, Lit.URI):
            return RowTest(and_(self.strings(False), *self.text_equal(str(value.value))))
        return self.compare_text(Op.EQ, value, ordered=False)

    def text_equal(self, wanted: str) -> list[Condition]:
        """Conditions for text equality, using the partial index on short texts."""
        conditions: list[Condition] = [self.a.text_value == wanted]
        if len(wanted) <= SHORT_TEXT:
            length = func.length(self.a.text_value)
            conditions.append(length <= literal_column(str(SHORT_TEXT)))
        return conditions

    def compare(self, op: Op, value: Value) -> RowTest:
        """Rows whose value compares with a literal by an ordering operator."""
        a = self.a
        if value.kind is Lit.NUMBER:
            return RowTest(and_(a.value_type == "n", _ORDER[op](a.num_value, value.value)))
        if value.kind is Lit.STRING:
            column = self.d.ordered(a.text_value)
            return RowTest(and_(self.strings(True), _ORDER[op](column, value.value)))
        return self.compare_text(op, value, ordered=True)

    def within(self, bounds: Range) -> RowTest:
        """Rows whose value lies in an inclusive range."""
        low, high = bounds.low, bounds.high
        if low.kind is Lit.NUMBER:
            column = self.a.num_value
            return RowTest(and_(self.a.value_type == "n", column.between(low.value, high.value)))
        if low.kind is Lit.STRING:
            text_ = self.d.ordered(self.a.text_value)  # no BETWEEN: PG refuses its COLLATE
            return RowTest(and_(self.strings(False), text_ >= low.value, text_ <= high.value))
        first = self.compare_text(Op.GE, low, ordered=False)
        second = self.compare_text(Op.LE, high, ordered=False)
        unsure = first.unsure if first.unsure is not None else second.unsure
        return RowTest(and_(first.sure, second.sure), unsure)

    def compare_text(self, op: Op, value: Value, *, ordered: bool) -> RowTest:
        """Compare date-times and dates held as canonical text; times stay unsure."""
        strings = self.strings(ordered)
        column = self.a.text_value
        if value.kind is Lit.DATETIME:
            return self._datetime(op, str(value.value), strings)
        if value.kind is Lit.DATE:
            return self._date(op, str(value.value), strings)
        if value.kind is Lit.TIME:
            return RowTest(false(), and_(strings, column.like("__:__%")))
        return FALSE

    def _datetime(self, op: Op, literal: str, strings: Condition) -> RowTest:
        column = self.a.text_value
        seconds, fraction = _canonical_instant(literal)
        canonical = self.canonical_datetime(column)
        unsure = and_(strings, column.like("____-__-__T%"), not_(canonical))
        if fraction and op is Op.EQ:
            return RowTest(false(), unsure)
        if fraction:  # second-precision values against a literal between two seconds
            op = Op.GT if op in (Op.GT, Op.GE) else Op.LE
        return RowTest(and_(strings, canonical, _ORDER_OR_EQ[op](column, seconds)), unsure)

    def _date(self, op: Op, literal: str, strings: Condition) -> RowTest:
        column = self.a.text_value
        if self.d.postgresql:
            valid: Condition = column.regexp_match("^" + _PG_VALID_DATE + "$")
            unsure: Condition | None = and_(strings, column.like("____-02-29"))
        else:
            valid = and_(
                column.op("GLOB")(_DATE_SHAPE_SQLITE),
                func.date(column, "+0 days") == column,  # the modifier normalizes 02-30
                not_(column.like("0000%")),
            )
            unsure = None
        valid = func.coalesce(valid, false())
        return RowTest(and_(strings, valid, _ORDER_OR_EQ[op](column, literal)), unsure)

    def canonical_datetime(self, column: ColumnElement[str]) -> Condition:
        """Tell whether text is a valid date-time written ``YYYY-MM-DDTHH:MM:SSZ``."""
        if self.d.postgresql:
            return func.coalesce(column.regexp_match(_PG_VALID_DATETIME), false())
        return func.coalesce(
            and_(
                column.op("GLOB")(_DATETIME_SHAPE_SQLITE),
                func.strftime("%Y-%m-%dT%H:%M:%SZ", column, "+0 days") == column,
                not_(column.like("0000%")),
            ),
            false(),
        )

    def pattern(self, regex: str, negated: bool) -> RowTest:
        """Rows holding a string the pattern finds (``~=``) or does not find (``!~=``)."""
        strings = self.strings(True)
        found = self.d.regex(self.a.text_value, regex)
        if found is None:
            return RowTest(false(), strings)
        return RowTest(and_(strings, not_(found) if negated else found))


_ORDER: Final[dict[Op, Callable[[Any, Any], Condition]]] = {
    Op.GT: lambda c, v: c > v,
    Op.GE: lambda c, v: c >= v,
    Op.LT: lambda c, v: c < v,
    Op.LE: lambda c, v: c <= v,
}
_ORDER_OR_EQ: Final[dict[Op, Callable[[Any, Any], Condition]]] = {
    **_ORDER,
    Op.EQ: lambda c, v: c == v,
}


def _canonical_instant(literal: str) -> tuple[str, bool]:
    """Return a date-time literal as UTC ``YYYY-MM-DDTHH:MM:SSZ``, and if it had a fraction."""
    moment = dt.datetime.fromisoformat(literal)
    moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    whole = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )
    return whole, moment.microsecond != 0


def _instant(literal: str) -> dt.datetime:
    """Return a date-time literal as an aware UTC datetime (naive means UTC)."""
    moment = dt.datetime.fromisoformat(literal)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


# -- SQL: instants (observedAt, createdAt, modifiedAt) -------------------------------------------


@dataclass(frozen=True, slots=True)
class _Instants:
    """Tests on a time rendered as ISO 8601 text (a metadata member)."""

    column: ColumnElement[dt.datetime]
    present: Condition

    def equal(self, value: Value) -> RowTest:
        """Rows whose time equals a literal."""
        return self.compare(Op.EQ, value)

    def compare(self, op: Op, value: Value) -> RowTest:
        """Rows whose time compares with a literal."""
        if value.kind is Lit.DATETIME:
            moment = _instant(str(value.value))
            return RowTest(and_(self.present, _ORDER_OR_EQ[op](self.column, moment)))
        if value.kind is Lit.STRING:
            return RowTest(false(), self.present)  # compares with the text: Python
        return FALSE  # numbers, booleans, dates, times and URIs never match a date-time

    def within(self, bounds: Range) -> RowTest:
        """Rows whose time lies in an inclusive range."""
        if bounds.low.kind is not Lit.DATETIME:
            return self.compare(Op.EQ, bounds.low)
        low, high = _instant(str(bounds.low.value)), _instant(str(bounds.high.value))
        return RowTest(and_(self.present, self.column.between(low, high)))

    def pattern(self, regex: str, negated: bool) -> RowTest:
        """Patterns on the text: Python."""
        return RowTest(false(), self.present)


_Source = _Values | _Instants


def _test(source: _Source, op: Op, operand: Any, present: Condition) -> RowTest:
    """Compile ``op operand`` against one kind of target."""
    if isinstance(operand, Pattern):
        return source.pattern(operand.regex, negated=op is Op.NO_MATCH)
    if op in (Op.EQ, Op.NE):
        positive = _equal(source, operand)
        return positive if op is Op.EQ else _not(positive, present)
    return source.compare(op, operand)


def _equal(source: _Source, operand: Value | Range | ValueList) -> RowTest:
    if isinstance(operand, ValueList):
        return _any_of([_equal(source, item) for item in operand.items])
    if isinstance(operand, Range):
        return source.within(operand)
    return source.equal(operand)


# -- SQL: q ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bounds:
    """Where an entity surely matches (``low``) and where it may (``high``)."""

    low: Condition
    high: Condition

    @property
    def exact(self) -> bool:
        """Tell whether SQL alone decides."""
        return self.low is self.high

    @staticmethod
    def exactly(condition: Condition) -> Bounds:
        """Return bounds SQL decides alone."""
        return Bounds(condition, condition)


def _both(parts: Sequence[Bounds]) -> Bounds:
    if all(p.exact for p in parts):
        return Bounds.exactly(and_(*(p.low for p in parts)))
    return Bounds(and_(*(p.low for p in parts)), and_(*(p.high for p in parts)))


def _either(parts: Sequence[Bounds]) -> Bounds:
    if all(p.exact for p in parts):
        return Bounds.exactly(or_(*(p.low for p in parts)))
    return Bounds(or_(*(p.low for p in parts)), or_(*(p.high for p in parts)))


_ENTITY_TIMES: Final = {
    "createdAt": Entity.__table__.c.created_at,
    "modifiedAt": Entity.__table__.c.modified_at,
}
_NO_ENTITY_MEMBER: Final = frozenset({"id", "type", "@context"})


@dataclass(frozen=True, slots=True)
class Compiler:
    """Compile a spec for one database, knowing which attributes hold JSON values."""

    dialect: Dialect
    json_names: frozenset[str] = frozenset()
    postgis: bool = False
    driver: object | None = None  # the conjunct compiled as "id IN (...)", see drivers()
    fenced: bool = False  # PostgreSQL: keep EXISTS as per-entity tests, see run_query

    def has(self, entity_id: Any, *conditions: Condition) -> Condition:
        """Return EXISTS over rows of an entity; fenced, PostgreSQL cannot turn it into a join."""
        rows = select(literal(1)).where(entity_id == Entity.id, *conditions)
        return (rows.offset(0) if self.fenced else rows).exists()

    @property
    def values(self) -> _Values:
        """Return the tests on attribute values for this database."""
        return _Values(self.dialect)

    def q(self, expr: QExpr) -> Bounds:
        """Compile a q expression."""
        if isinstance(expr, And):
            return _both([self.q(t) for t in expr.terms])
        if isinstance(expr, Or):
            return _either([self.q(t) for t in expr.terms])
        bounds = self.term(expr)
        if not (isinstance(expr, Existence) and getattr(expr, "negated", False)):
            return bounds
        if bounds.exact:
            return Bounds.exactly(not_(bounds.low))
        return Bounds(not_(bounds.high), not_(bounds.low))

    def term(self, term: Comparison | Existence) -> Bounds:
        """Compile one query term."""
        path = term.path
        if path.attr in _NO_ENTITY_MEMBER:
            return Bounds.exactly(false())
        short = path.attr.removeprefix(CORE)
        if short in METADATA_MEMBERS:
            return self.entity_member(short, term)
        name = stored_name(path.attr)
        if expanded_name(name) not in (path.attr, short):
            return Bounds.exactly(false())  # no stored attribute renders under this name
        if path.keys or len(path.subpath) > 1:
            return Bounds(false(), self.rows(name, true()))
        if path.subpath:
            return self.metadata(name, path.subpath[0], term)
        if isinstance(term, Existence):
            return Bounds.exactly(self.rows(name, true(), None if term.negated else term))
        return self.value_rows(name, self.value_test(term), term)

    def value_test(self, term: Comparison) -> RowTest:
        """Compile a comparison on an attribute's value (negations skip JSON rows)."""
        return _test(self.values, term.op, term.value, Attribute.value_type != "j")

    def rows(self, name: str, condition: Condition, key: object = None) -> Condition:
        """Return: the entity has an instance of this attribute meeting a condition.

        The driving term (``key`` equal to ``self.driver``) becomes ``id IN (...)``.
        """
        a = Attribute.__table__.c
        if key is not None and key == self.driver:
            return Entity.id.in_(select(a.entity_id).where(a.attribute == name, condition))
        return self.has(a.entity_id, a.attribute == name, condition)

    def value_rows(self, name: str, test: RowTest, key: object = None) -> Bounds:
        """Return the bounds of a value test (which never holds surely on JSON rows)."""
        unsure = test.unsure
        if name in self.json_names:
            is_json = Attribute.value_type == "j"
            unsure = is_json if unsure is None else or_(unsure, is_json)
        if unsure is None:
            return Bounds.exactly(self.rows(name, test.sure, key))
        return Bounds(self.rows(name, test.sure), self.rows(name, or_(test.sure, unsure)))

    def metadata(self, name: str, member: str, term: Comparison | Existence) -> Bounds:
        """Compile ``attr.observedAt`` (createdAt, modifiedAt) terms; other members: Python."""
        source = self.instance_time(member)
        if source is None:
            return Bounds(false(), self.rows(name, true()))
        if isinstance(term, Existence):
            return Bounds.exactly(self.rows(name, source.present))
        test = _test(source, term.op, term.value, source.present)
        low = self.rows(name, test.sure)
        if test.unsure is None:
            return Bounds.exactly(low)
        return Bounds(low, self.rows(name, test.either()))

    @staticmethod
    def instance_time(member: str) -> _Instants | None:
        """Return an instance's time as the renderer fills it in, or None."""
        a = Attribute.__table__.c
        if member == "observedAt":
            return _Instants(a.observed_at, a.observed_at.is_not(None))
        if member == "createdAt":
            column = func.coalesce(a.created_at, a.observed_at, Entity.created_at)
            return _Instants(column, true())
        if member == "modifiedAt":
            column = func.coalesce(a.modified_at, a.observed_at, a.created_at, Entity.created_at)
            return _Instants(column, true())
        return None

    def entity_member(self, short: str, term: Comparison | Existence) -> Bounds:
        """Compile a term on the entity's createdAt or modifiedAt (other members: none)."""
        column = _ENTITY_TIMES.get(short)
        if column is None or term.path.subpath or term.path.keys:
            return Bounds.exactly(false())
        if isinstance(term, Existence):
            return Bounds.exactly(true())
        test = _test(_Instants(column, true()), term.op, term.value, true())
        if test.unsure is None:
            return Bounds.exactly(test.sure)
        return Bounds(test.sure, test.either())

    # -- the rest of a spec

    def spec(self, spec: QuerySpec, private: frozenset[str] = frozenset()) -> Bounds:
        """Compile a whole spec (and the private types to leave out)."""
        parts: list[Bounds] = []
        if spec.selectors:
            parts.append(_either([self.selector(s) for s in spec.selectors]))
        if spec.attrs:
            names = sorted({stored_name(a) for a in spec.attrs})
            a = Attribute.__table__.c
            parts.append(Bounds.exactly(self.rows_any(a.attribute.in_(names), spec.attrs)))
        if spec.q is not None:
            parts.append(self.q(spec.q))
        if spec.geo is not None:
            parts.append(self.geo(spec.geo))
        if spec.scope is not None:
            scoped = cast(Entity.scope, Text).like('%"/%')
            parts.append(Bounds(false(), scoped))
        if private:
            t = EntityType.__table__.c
            hidden = self.has(t.entity_id, t.type.in_(sorted(private)))
            parts.append(Bounds.exactly(not_(hidden)))
        return _both(parts) if parts else Bounds.exactly(true())

    def rows_any(self, condition: Condition, key: object = None) -> Condition:
        """Return: the entity has some attribute instance meeting a condition."""
        a = Attribute.__table__.c
        if key is not None and key == self.driver:
            return Entity.id.in_(select(a.entity_id).where(condition))
        return self.has(a.entity_id, condition)

    def selector(self, selector: Selector) -> Bounds:
        """Compile ids, an id pattern and a type expression (all must hold)."""
        exact: list[Condition] = []
        if selector.ids:
            exact.append(Entity.id.in_(selector.ids))
        if selector.types is not None:
            exact.append(self.types(selector.types))
        if selector.id_pattern is not None:
            found = self.dialect.regex(Entity.__table__.c.id, selector.id_pattern)
            if found is None:
                return Bounds(false(), and_(true(), *exact))
            exact.append(found)
        return Bounds.exactly(and_(true(), *exact))

    def types(self, expr: TypeExpr) -> Condition:
        """Compile a type expression through ``entity_type``."""
        t = EntityType.__table__.c
        names = _type_names(expr)
        if names and (expr == self.driver or self.fenced):
            # Fenced, the type's index is walked in id order and drives the other tests.
            return Entity.id.in_(select(t.entity_id).where(t.type.in_(names)))
        if names:
            return self.has(t.entity_id, t.type.in_(names))
        assert not isinstance(expr, TypeName)
        parts = [self.types(x) for x in expr.terms]
        return and_(*parts) if isinstance(expr, TypeAll) else or_(*parts)

    def drivers(self, spec: QuerySpec) -> list[tuple[object, Select[tuple[str]]]]:
        """Return the top-level conjuncts that could drive the query, with the ids they select."""
        out: list[tuple[object, Select[tuple[str]]]] = []
        types = spec.selectors[0].types if len(spec.selectors) == 1 else None
        names = _type_names(types) if types is not None else []
        if names and not spec.selectors[0].ids:
            t = EntityType.__table__.c
            out.append((types, select(t.entity_id).where(t.type.in_(names))))
        a = Attribute.__table__.c
        if spec.attrs:
            stored = sorted({stored_name(n) for n in spec.attrs})
            out.append((spec.attrs, select(a.entity_id).where(a.attribute.in_(stored))))
        for term in _conjuncts(spec.q):
            condition = self.driving_condition(term)
            if condition is not None:
                name = stored_name(term.path.attr)
                out.append((term, select(a.entity_id).where(a.attribute == name, condition)))
        if spec.geo is not None and bounding_box(spec.geo) is not None:
            name = stored_name(spec.geo.geoproperty)
            box = _box_condition(spec.geo)
            out.append((spec.geo, select(a.entity_id).where(a.attribute == name, box)))
        return out

    def driving_condition(self, term: Comparison | Existence) -> Condition | None:
        """Return the row condition of a plain, exact, positive term, or None."""
        path = term.path
        if path.subpath or path.keys or path.attr in _NO_ENTITY_MEMBER:
            return None
        short = path.attr.removeprefix(CORE)
        name = stored_name(path.attr)
        if short in METADATA_MEMBERS or expanded_name(name) not in (path.attr, short):
            return None
        if isinstance(term, Existence):
            return None if term.negated else true()
        if term.op in (Op.NE, Op.MATCH, Op.NO_MATCH) or name in self.json_names:
            return None
        test = self.value_test(term)
        return test.sure if test.unsure is None else None

    def geo(self, query: GeoQuery) -> Bounds:
        """Pre-filter by bounding box (exact with PostGIS); Python decides otherwise."""
        name = stored_name(query.geoproperty)
        prefilter = self.rows(name, _box_condition(query), query)
        if self.postgis:
            return Bounds.exactly(and_(prefilter, _postgis_condition(query, name)))
        near = _near_points(query) if self.dialect.postgresql else None
        if near is not None:
            sure, possible = near
            box = _box_condition(query)
            high = self.rows(name, and_(box, possible), query)
            return Bounds(self.rows(name, and_(box, sure)), high)
        return Bounds(false(), prefilter)


def _box_condition(query: GeoQuery) -> Condition:
    """Return: a GeoProperty instance whose bounding box meets the query's box."""
    a = Attribute.__table__.c
    box = bounding_box(query)
    if box is None:
        return a.kind == _GEO
    min_lon, min_lat, max_lon, max_lat = box
    return and_(  # only GeoProperties have a box: the index on it answers alone
        a.min_lon <= max_lon,
        a.max_lon >= min_lon,
        a.min_lat <= max_lat,
        a.max_lat >= min_lat,
    )


def _near_points(query: GeoQuery) -> tuple[Condition, Condition] | None:
    """Return (surely matches, may match) of a near query on point locations, in SQL.

    A GeoProperty whose box is one point is that point: its great-circle distance is
    computed in SQL as ``geo.matches`` does in Python. Only a shell of NEAR_SHELL_M either
    side of the distance is left to Python, so floating-point differences cannot decide.
    """
    if query.georel is not Georel.NEAR:
        return None
    a = Attribute.__table__.c
    lon, lat = query.coordinates[0], query.coordinates[1]
    dlat = func.radians(a.min_lat - lat) / 2
    dlon = func.radians(a.min_lon - lon) / 2
    h = func.power(func.sin(dlat), 2) + math.cos(math.radians(lat)) * func.cos(
        func.radians(a.min_lat)
    ) * func.power(func.sin(dlon), 2)
    distance = 2 * EARTH_RADIUS_M * func.asin(func.sqrt(func.least(h, 1.0)))
    point = and_(a.min_lon == a.max_lon, a.min_lat == a.max_lat)
    if query.max_distance is not None:
        limit = query.max_distance
        return and_(point, distance <= limit - NEAR_SHELL_M), or_(
            not_(point), distance <= limit + NEAR_SHELL_M
        )
    assert query.min_distance is not None
    limit = query.min_distance
    return and_(point, distance >= limit + NEAR_SHELL_M), or_(
        not_(point), distance >= limit - NEAR_SHELL_M
    )


def _type_names(expr: TypeExpr) -> list[str]:
    """Return the names of a type or of an OR of types, else nothing."""
    if isinstance(expr, TypeName):
        return [expr.name]
    if isinstance(expr, TypeAny) and all(isinstance(x, TypeName) for x in expr.terms):
        return sorted({x.name for x in expr.terms if isinstance(x, TypeName)})
    return []


def _conjuncts(expr: QExpr | None) -> list[Comparison | Existence]:
    """Return the terms a q expression ANDs at its top."""
    if expr is None or isinstance(expr, Or):
        return []
    terms = expr.terms if isinstance(expr, And) else (expr,)
    return [t for t in terms if isinstance(t, Comparison | Existence)]


def _postgis_condition(query: GeoQuery, name: str) -> Condition:
    """Return the geo-query as a PostGIS predicate on the GeoProperty's GeoJSON text."""
    predicate, params = to_postgis_sql(query, "g.geom")
    sql = (
        "EXISTS (SELECT 1 FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON(pa.text_value), 4326)"
        " AS geom FROM attribute AS pa WHERE pa.entity_id = entity.id"
        " AND pa.attribute = :geoq_name AND pa.kind = 'GeoProperty') AS g"
        f" WHERE {predicate})"
    )
    clause = text(sql).bindparams(geoq_name=name, **params)
    return typing.cast(Condition, clause)  # and_() takes a text clause as a condition


# -- PostgreSQL regular expressions ----------------------------------------------------------------

_BOUND: Final = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
_PG_MAX_REPEAT: Final = 255


@lru_cache(maxsize=256)
def pg_regex(pattern: str) -> str | None:
    r"""Return a PostgreSQL ARE that finds what Python's ``re.search`` finds, or None.

    Only a subset translates: literals, escaped punctuation, ``.``, simple classes,
    plain groups, ``|``, ``^``, ``$`` and quantifiers. ``.`` becomes ``[^\n]`` and ``$``
    a look-ahead for an optional final newline, as in Python.
    """
    out: list[str] = []
    atom = False  # whether the last token can take a quantifier
    i = 0
    while i < len(pattern):
        step = _pg_token(pattern, i, atom)
        if step is None:
            return None
        token, i, atom = step
        out.append(token)
    return "".join(out)


def _pg_token(pattern: str, i: int, atom: bool) -> tuple[str, int, bool] | None:
    """Translate the token at ``i``: (ARE text, next index, is an atom), or None."""
    char = pattern[i]
    if char == "\\":
        nxt = pattern[i + 1 : i + 2]
        if not nxt or not nxt.isascii() or nxt.isalnum():
            return None
        return pattern[i : i + 2], i + 2, True
    if char == "[":
        end = _class_end(pattern, i)
        return None if end < 0 else (pattern[i:end], end, True)
    if char in "*+?{":
        return _pg_quantifier(pattern, i) if atom else None
    if char == "(":
        if pattern.startswith(("(?", "()"), i):
            return None
        return "(", i + 1, False
    simple = {")": (")", True), "|": ("|", False), "^": ("^", False), ".": ("[^\n]", True)}
    if char in simple:
        token, is_atom = simple[char]
        return token, i + 1, is_atom
    if char == "$":
        return "(?=\n?$)", i + 1, False
    if char in "]}":
        return "\\" + char, i + 1, True
    return char, i + 1, True


def _pg_quantifier(pattern: str, i: int) -> tuple[str, int, bool] | None:
    """Translate a quantifier (and a lazy ``?``); refuse stacked or possessive ones."""
    if pattern[i] == "{":
        bound = _BOUND.match(pattern, i)
        if bound is None:
            return None
        numbers = [int(n) for n in (bound.group(1), bound.group(3)) if n]
        if any(n > _PG_MAX_REPEAT for n in numbers):
            return None
        end = bound.end()
    else:
        end = i + 1
    if pattern.startswith("?", end):
        end += 1
    if end < len(pattern) and pattern[end] in "*+?{":
        return None
    return pattern[i:end], end, False


def _class_end(pattern: str, i: int) -> int:
    """Return the index after a simple ``[...]`` class, or -1 if it is not simple."""
    j = i + 1
    if pattern.startswith("^", j):
        j += 1
    if pattern.startswith("]", j):
        return -1
    end = pattern.find("]", j)
    if end < 0:
        return -1
    body = pattern[j:end]
    if "[" in body or "\\" in body or any(d in body for d in ("--", "&&", "~~", "||")):
        return -1
    return end + 1


# -- running -------------------------------------------------------------------------------

_POSTGIS: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def has_postgis(session: Session) -> bool:
    """Tell whether PostGIS is installed and on the search path (asked once per engine)."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name != "postgresql":
        return False
    known = _POSTGIS.get(engine)
    if known is None:
        known = bool(
            session.scalar(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis')"
                    " AND to_regprocedure('st_geomfromgeojson(text)') IS NOT NULL"
                )
            )
        )
        _POSTGIS[engine] = known
    return known


def value_names(expr: QExpr | None) -> set[str]:
    """Return the stored names of attributes whose values a q expression compares."""
    if expr is None:
        return set()
    if isinstance(expr, And | Or):
        return set().union(*(value_names(t) for t in expr.terms))
    path = expr.path
    if isinstance(expr, Existence) or path.subpath or path.keys:
        return set()
    return {stored_name(path.attr)}


def json_names(session: Session, names: Iterable[str]) -> frozenset[str]:
    """Return which of these attributes have instances whose value is stored as JSON."""
    wanted = sorted(set(names))
    if not wanted:
        return frozenset()
    a = Attribute.__table__.c
    is_json = a.value_type == literal_column("'j'")  # a literal, to match the partial index
    # min() plans as an ordered index scan; EXISTS may seq-scan for a row that is not there
    probes = [
        select(func.min(a.attribute)).where(a.attribute == n, is_json).scalar_subquery()
        for n in wanted
    ]
    row = session.execute(select(*probes)).one()
    return frozenset(n for n in row if n is not None)


def compiler_for(session: Session, spec: QuerySpec) -> Compiler:
    """Return a compiler for the session's database and the spec's attributes."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    return Compiler(
        Dialect(postgresql),
        json_names(session, value_names(spec.q)),
        postgis=spec.geo is not None and has_postgis(session),
    )


def run_query(
    session: Session, spec: QuerySpec, page: Page, private: frozenset[str] = frozenset()
) -> QueryResult:
    """Return one page of the ids matching a spec, in id order, and the count if asked."""
    compiler = with_driver(session, compiler_for(session, spec), spec)
    if compiler.dialect.postgresql:
        custom_plans(session)
        if compiler.driver is None:
            # No conjunct is rare: walk entities in id order, testing each, and stop at the
            # page's end. PostgreSQL would otherwise join every match of each conjunct and
            # sort them (0.5 s for 30k matches at 100k entities): its estimates of how
            # common a value is within one attribute are far off.
            compiler = replace(compiler, fenced=True)
    bounds = compiler.spec(spec, private)
    if bounds.exact:
        return _exact(session, bounds.low, page)
    return _checked(session, spec, bounds, page)


def custom_plans(session: Session) -> None:
    """Plan this transaction's statements with their values (PostgreSQL 12 or later).

    psycopg prepares a statement run five times on a connection, and PostgreSQL then
    switches to a generic plan, blind to the values that decide whether a term is rare
    (``text_value = 'on'`` or ``= 'Station 4242'``): at 100k entities such a plan took
    0.8 s where the custom one takes 3 ms.
    """
    session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def with_driver(session: Session, compiler: Compiler, spec: QuerySpec) -> Compiler:
    """Pick the conjunct selecting fewest entities (under DRIVER_CAP) to drive the query.

    A correlated EXISTS tested once per entity in id order is fast when matches are dense
    and a full scan when they are rare. A conjunct with few matches is compiled as
    ``id IN (...)`` instead, read through an index first. Sizes are counted in the
    indexes, capped, in one query (on both databases), and remembered for a few seconds
    (``driver_sizes.py``).
    """
    candidates = compiler.drivers(spec)
    if not candidates or any(s.ids for s in spec.selectors):
        return compiler
    # The bind tells databases and tenants apart; repr names a conjunct by its content.
    keys = [(id(session.get_bind()), repr(key)) for key, _ in candidates]
    sizes = [_SIZES.get(k) for k in keys]
    todo = [i for i, n in enumerate(sizes) if n is None]
    if todo:
        counts = [
            select(func.count())
            .select_from(candidates[i][1].limit(DRIVER_CAP).subquery())
            .scalar_subquery()
            for i in todo
        ]
        for i, n in zip(todo, session.execute(select(*counts)).one(), strict=True):
            sizes[i] = int(n)
            _SIZES.put(keys[i], int(n))
    size, index = min((n, i) for i, n in enumerate(sizes) if n is not None)
    return replace(compiler, driver=candidates[index][0]) if size < DRIVER_CAP else compiler


def _exact(session: Session, where: Condition, page: Page) -> QueryResult:
    """Page and count in SQL."""
    total = None
    if page.count:
        total = int(session.scalar(select(func.count()).select_from(Entity).where(where)) or 0)
    ids: list[str] = []
    if page.limit:
        stmt = select(Entity.id).where(where).order_by(Entity.id)
        ids = list(session.scalars(stmt.limit(page.limit + 1).offset(page.offset)))
    elif total is not None:
        return QueryResult([], total, total > page.offset)
    more = len(ids) > page.limit
    return QueryResult(ids[: page.limit], total, more)


class _Checker:
    """Checks unsure candidates in Python, once each."""

    def __init__(self, session: Session, spec: QuerySpec) -> None:
        self.session = session
        self.spec = spec
        self.known: dict[str, bool] = {}

    def accepted(self, ids: Sequence[str]) -> set[str]:
        """Return which of these ids match."""
        todo = [i for i in ids if i not in self.known]
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            found = {f.id: f for f in load_fragments(self.session, chunk)}
            for entity_id in chunk:
                fragment = found.get(entity_id)
                self.known[entity_id] = fragment is not None and accepts(self.spec, fragment)
        return {i for i in ids if self.known[i]}


def _checked(session: Session, spec: QuerySpec, bounds: Bounds, page: Page) -> QueryResult:
    """Page (and count) after checking in Python what SQL could not decide."""
    checker = _Checker(session, spec)
    total = None
    if page.count:
        sure = select(func.count()).select_from(Entity).where(bounds.high, bounds.low)
        unsure = select(Entity.id).where(bounds.high, not_(bounds.low)).order_by(Entity.id)
        unsure_ids = list(session.scalars(unsure))
        total = int(session.scalar(sure) or 0) + len(checker.accepted(unsure_ids))
    if not page.limit:
        return QueryResult([], total, total is not None and total > page.offset)
    accepted = _scan(session, bounds, page.offset + page.limit + 1, checker)
    more = len(accepted) > page.offset + page.limit
    return QueryResult(accepted[page.offset : page.offset + page.limit], total, more)


def _scan(session: Session, bounds: Bounds, need: int, checker: _Checker) -> list[str]:
    """Return the first ``need`` matching ids, checking candidates batch by batch."""
    accepted: list[str] = []
    after: str | None = None
    size = min(max(2 * need, _SCAN_MIN), _SCAN_MAX)
    while len(accepted) < need:
        size = min(size * 2, _SCAN_MAX) if after is not None else size
        stmt = select(Entity.id, bounds.low.label("sure")).where(bounds.high)
        if after is not None:
            stmt = stmt.where(Entity.id > after)
        rows = session.execute(stmt.order_by(Entity.id).limit(size)).all()
        ok = checker.accepted([r.id for r in rows if not r.sure])
        accepted += [r.id for r in rows if r.sure or r.id in ok]
        if len(rows) < size:
            break
        after = rows[-1].id
    return accepted[:need]


# -- loading -------------------------------------------------------------------------------


def load_fragments(
    session: Session, ids: Sequence[str], attrs: Iterable[str] | None = None
) -> list[EntityFragment]:
    """Load entities by id in two queries, in the order given; ``attrs`` (stored) narrows."""
    found: dict[str, EntityFragment] = {}
    wanted = list(dict.fromkeys(ids))
    names = sorted(set(attrs)) if attrs is not None else None
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        heads = _entity_heads(session, chunk)
        if heads:
            found.update(_with_attributes(session, heads, names))
    return [found[i] for i in wanted if i in found]


def entity_head(session: Session, entity_id: str) -> tuple[Any, list[str]] | None:
    """Return one entity's row and stored types in one query, or None."""
    return _entity_heads(session, [entity_id]).get(entity_id)


def fragment_of(
    session: Session, head: tuple[Any, list[str]], attrs: Iterable[str] | None = None
) -> EntityFragment:
    """Load the attributes of an entity whose head is known (one query)."""
    row = head[0]
    names = sorted(set(attrs)) if attrs is not None else None
    return _with_attributes(session, {row.id: head}, names)[row.id]


def _entity_heads(session: Session, ids: Sequence[str]) -> dict[str, tuple[Any, list[str]]]:
    """Return entity rows and their stored types, by id."""
    e = Entity.__table__.c
    t = EntityType.__table__.c
    stmt = (
        select(e.id, e.type, e.scope, e.created_at, e.modified_at, t.type.label("other_type"))
        .outerjoin(EntityType.__table__, t.entity_id == e.id)
        .where(e.id.in_(ids))
    )
    heads: dict[str, tuple[Any, list[str]]] = {}
    for row in session.execute(stmt):
        head = heads.setdefault(row.id, (row, []))
        if row.other_type is not None:
            head[1].append(row.other_type)
    return heads


def _with_attributes(
    session: Session, heads: Mapping[str, tuple[Any, list[str]]], names: list[str] | None
) -> dict[str, EntityFragment]:
    """Return the entities of these heads with their attribute instances."""
    a = Attribute.__table__.c
    stmt = select(Attribute.__table__).where(a.entity_id.in_(list(heads)))
    if names is not None:
        stmt = stmt.where(a.attribute.in_(names))
    rows: dict[str, list[Any]] = {i: [] for i in heads}
    for row in session.execute(stmt.order_by(a.entity_id, a.attribute, a.dataset_id)):
        rows[row.entity_id].append(row)
    return {i: fragment_from_rows(head, types, rows[i]) for i, (head, types) in heads.items()}


def fragment_from_rows(row: Any, types: list[str], attributes: list[Any]) -> EntityFragment:
    """Assemble an entity as entity_store does: the main type first, then the others."""
    ordered = [row.type, *sorted(t for t in types if t != row.type)]
    return EntityFragment(
        id=row.id,
        types=tuple(expanded_type(t) for t in ordered),
        scope=tuple(row.scope) if row.scope else None,
        attributes=tuple(row_instance(a, row.created_at) for a in attributes),
        created_at=row.created_at,
        modified_at=row.modified_at,
    )


__all__ = [
    "Bounds",
    "Compiler",
    "Dialect",
    "Page",
    "QueryResult",
    "QuerySpec",
    "RowTest",
    "ScopeQuery",
    "Selector",
    "TypeAll",
    "TypeAny",
    "TypeExpr",
    "TypeName",
    "accepts",
    "compiler_for",
    "custom_plans",
    "entity_head",
    "fragment_from_rows",
    "fragment_of",
    "has_postgis",
    "json_names",
    "load_fragments",
    "parse_scope",
    "parse_types",
    "pg_regex",
    "run_query",
    "scope_matches",
    "spec_from_body",
    "spec_from_params",
    "types_match",
    "value_names",
    "with_driver",
]
