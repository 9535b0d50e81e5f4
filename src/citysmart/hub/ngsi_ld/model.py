"""The NGSI-LD entity model (ETSI GS CIM 009 V1.8, clauses 4.5, 4.6, 4.7, 5.5, 5.6) in pure Python.

:func:`parse_entity` and :func:`parse_attributes` validate a request body, in normalized or
concise form, into immutable :class:`EntityFragment` and :class:`AttributeInstance` values;
the operation helpers (:func:`append_attributes`, :func:`update_attributes`,
:func:`merge_attributes`, :func:`patch_attribute`, :func:`delete_attribute`,
:func:`replace_entity`) apply them to an entity's current attributes and say what changed
and what was not done, which the API turns into 204, 207 or 404. Rendering is in
``render.py``. Names arrive already expanded (``context.expand_entity``) and are kept as
given; no database, no HTTP.

Where the specification leaves room, this module decides as follows:

- A name is a term of clause 4.6.2 (a letter, then letters, digits and ``_``, optionally
  ``prefix:``) or an absolute IRI (what expansion yields); IRIs may not hold whitespace,
  a backslash, a backquote or any of ``< > " ' = ; ( ) { } | ^``.
- Concise bodies: a bare value is a Property, and a GeoProperty when it is a GeoJSON
  geometry or the attribute is ``location``, ``observationSpace`` or ``operationSpace``. An
  object whose ``type`` is an attribute type is normalized. An object with no attribute
  members (``value``, ``object``, ``languageMap``, ...) is a structured Property value,
  even when it has a ``type`` such as ``PostalAddress``, as in Smart Data Models examples
  and as Stellio reads them (clause 4.5.2.3 read literally would reject those).
- An array of objects that all look like attribute instances is a multi-attribute; any
  other array is a Property value (``"category": ["public"]``); a mix is refused.
- NGSI-LD Null is ``"urn:ngsi-ld:null"`` (clause 4.5.0). In update and merge bodies JSON
  ``null`` counts as the same (RFC 7396 habit); elsewhere both are BadRequestData.
- ``observedAt`` takes an offset other than ``Z`` (converted to UTC) and up to nine
  fractional digits (kept to the microsecond); clause 4.6.3 asks for ``Z``.
- ``createdAt``, ``modifiedAt``, ``deletedAt``, ``instanceId`` and output-only members
  (``previousValue``, ``lang``, ``entity``, ...) in a request are ignored, so an entity read
  with ``sysAttrs`` can be written back; ``expiresAt`` (transient entities) is refused.
- A GeoJSON geometry is checked for structure (positions, ranges, closed rings) with
  ``geo.py``'s checks, not for OGC validity: ``geo.matches`` repairs invalid polygons.
- Update Attributes (PATCH ``/attrs``) only replaces existing attributes and reports the
  others as not updated, as V1.8 says (V1.9 appends them instead).
- Merge (clause 5.5.12) merges JSON object values of Properties and JsonProperties and a
  languageMap language by language, recursing into sub-attributes; other values (a
  geometry, an object URI, a list) are replaced. A bare value merged into an existing
  attribute keeps that attribute's kind (clause 5.6.17); into a LanguageProperty it sets
  the request's ``lang`` (or ``@none``). A merge may not leave a languageMap empty.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

from citysmart.hub.ngsi_ld.geo import GEOMETRIES, GeoQueryError, _check_coordinates

NGSI_LD_NULL: Final = "urn:ngsi-ld:null"
NONE_LANGUAGE: Final = "@none"
CORE: Final = "https://uri.etsi.org/ngsi-ld/"
ERRORS: Final = CORE + "errors/"
GEO_NAMES: Final = frozenset(
    {"location", "observationSpace", "operationSpace"}
    | {CORE + n for n in ("location", "observationSpace", "operationSpace")}
)

_TITLES: Final = {
    "BadRequestData": "Bad request data",
    "InvalidRequest": "Invalid request",
    "ResourceNotFound": "Resource not found",
    "AlreadyExists": "Already exists",
    "OperationNotSupported": "Operation not supported",
}
_STATUS: Final = {
    "BadRequestData": 400,
    "InvalidRequest": 400,
    "ResourceNotFound": 404,
    "AlreadyExists": 409,
    "OperationNotSupported": 422,
}
# A URI (RFC 3986/3987): a scheme, a colon, then no whitespace or characters URIs exclude.
_URI: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20\x7f<>\"{}|\\^`]+")
_NAME_FORBIDDEN: Final = frozenset("'=;()")  # in IRIs too: the characters NGSI brokers refuse
_DATETIME: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)
_LANGUAGE_TAG: Final = re.compile(r"(?:[A-Za-z]{2,8}|[xXiI])(?:-[A-Za-z0-9]{1,8})*")


class NgsiLdError(Exception):
    """A request the API answers with an NGSI-LD problem document (clause 6.3.2)."""

    def __init__(
        self, problem_type: str, title: str | None, detail: str, status: int | None = None
    ) -> None:
        super().__init__(detail)
        short = problem_type.removeprefix(ERRORS)
        self.problem_type = ERRORS + short
        self.title = title or _TITLES.get(short, short)
        self.detail = detail
        self.status = status or _STATUS.get(short, 400)

    def as_problem(self) -> dict[str, Any]:
        """Return the problem details (RFC 7807) body."""
        return {
            "type": self.problem_type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }


def bad_request(detail: str) -> NgsiLdError:
    """Return a BadRequestData error."""
    return NgsiLdError("BadRequestData", None, detail)


class Kind(StrEnum):
    """The NGSI-LD type of an attribute instance."""

    PROPERTY = "Property"
    RELATIONSHIP = "Relationship"
    GEO_PROPERTY = "GeoProperty"
    LANGUAGE_PROPERTY = "LanguageProperty"
    JSON_PROPERTY = "JsonProperty"
    VOCAB_PROPERTY = "VocabProperty"
    LIST_PROPERTY = "ListProperty"
    LIST_RELATIONSHIP = "ListRelationship"

    @property
    def member(self) -> str:
        """Return the member that holds this kind's value (``value``, ``object``, ...)."""
        return _MEMBER[self]


_MEMBER: Final = {
    Kind.PROPERTY: "value",
    Kind.GEO_PROPERTY: "value",
    Kind.RELATIONSHIP: "object",
    Kind.LIST_RELATIONSHIP: "objectList",
    Kind.LANGUAGE_PROPERTY: "languageMap",
    Kind.VOCAB_PROPERTY: "vocab",
    Kind.JSON_PROPERTY: "json",
    Kind.LIST_PROPERTY: "valueList",
}
# Concise bodies: the member present tells the kind (clauses 4.5.x.3); "value" is checked last.
_KIND_OF_MEMBER: Final = {
    "object": Kind.RELATIONSHIP,
    "objectList": Kind.LIST_RELATIONSHIP,
    "languageMap": Kind.LANGUAGE_PROPERTY,
    "vocab": Kind.VOCAB_PROPERTY,
    "json": Kind.JSON_PROPERTY,
    "valueList": Kind.LIST_PROPERTY,
    "value": Kind.PROPERTY,
}
_KIND_NAMES: Final = {k.value: k for k in Kind} | {CORE + k.value: k for k in Kind}
_VALUE_MEMBERS: Final = frozenset(_KIND_OF_MEMBER)
_METADATA: Final = frozenset(
    {"type", "datasetId", "observedAt", "unitCode", "objectType", "valueType"}
)
_SYSTEM: Final = frozenset({"createdAt", "modifiedAt", "deletedAt", "instanceId"})
_OUTPUT_ONLY: Final = frozenset(
    {"lang", "entity", "entityList"} | {"previous" + m[0].upper() + m[1:] for m in _VALUE_MEMBERS}
)
_IGNORED: Final = _SYSTEM | _OUTPUT_ONLY  # in requests: see the module docstring
_UNSUPPORTED: Final = frozenset({"expiresAt"})
_RESERVED: Final = _VALUE_MEMBERS | _METADATA | _SYSTEM | _OUTPUT_ONLY | _UNSUPPORTED
_ENTITY_MEMBERS: Final = frozenset({"id", "type", "scope", "@context"})
_UNITLESS: Final = frozenset(
    {Kind.RELATIONSHIP, Kind.LIST_RELATIONSHIP, Kind.LANGUAGE_PROPERTY, Kind.VOCAB_PROPERTY}
    | {Kind.JSON_PROPERTY}
)
_RELATIONSHIPS: Final = frozenset({Kind.RELATIONSHIP, Kind.LIST_RELATIONSHIP})
_DELETABLE_METADATA: Final = frozenset({"observedAt", "unitCode", "objectType", "valueType"})
# Kinds whose NGSI-LD Null may also be an array holding it (clause 4.5.0).
_ARRAY_NULL: Final = frozenset(
    {Kind.LIST_PROPERTY, Kind.LIST_RELATIONSHIP, Kind.RELATIONSHIP, Kind.VOCAB_PROPERTY}
)
# Kinds whose JSON object values a merge patch merges into, member by member (clause 5.5.12).
_MERGEABLE: Final = frozenset({Kind.PROPERTY, Kind.JSON_PROPERTY, Kind.LANGUAGE_PROPERTY})


class Patch(StrEnum):
    """How a body treats NGSI-LD Null: what kind of request it is."""

    NONE = "none"  # create, append, replace: a null is bad data
    UPDATE = "update"  # partial update patch (clause 5.5.8): a null attribute is deleted
    MERGE = "merge"  # merge patch (clause 5.5.12): nulls inside values delete members too


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributeInstance:
    """One instance of an attribute; ``value`` holds the kind's member (``object``, ...).

    Values per kind: Property any JSON; GeoProperty a GeoJSON geometry; Relationship a URI
    or a list of URIs; ListRelationship a list of URIs; LanguageProperty the languageMap;
    JsonProperty the raw JSON; VocabProperty a string or list of strings; ListProperty a
    list. ``simplified`` marks a bare value in a concise body (a merge keeps the existing
    kind); ``deletes`` names the sub-attributes and metadata members an update or merge
    body sets to NGSI-LD Null.
    """

    name: str
    kind: Kind
    value: Any
    dataset_id: str | None = None
    observed_at: dt.datetime | None = None
    unit_code: str | None = None
    object_type: tuple[str, ...] = ()
    value_type: str | None = None
    sub_attributes: tuple[AttributeInstance, ...] = ()
    created_at: dt.datetime | None = None
    modified_at: dt.datetime | None = None
    simplified: bool = field(default=False, compare=False, repr=False)
    deletes: frozenset[str] = frozenset()

    @property
    def key(self) -> tuple[str, str | None]:
        """Return what identifies the instance within its entity: name and datasetId."""
        return self.name, self.dataset_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Deletion:
    """An attribute instance an update or merge body sets to NGSI-LD Null."""

    name: str
    dataset_id: str | None = None

    @property
    def key(self) -> tuple[str, str | None]:
        """Return the name and datasetId of the instance to delete."""
        return self.name, self.dataset_id


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityFragment:
    """An entity or a fragment of one; ``id`` and ``types`` may be missing in fragments.

    ``scope`` is ``None`` when the body has none; ``deletions`` only occur in update and
    merge bodies (a ``scope`` set to NGSI-LD Null is ``Deletion(name="scope")``).
    """

    id: str | None
    types: tuple[str, ...] = ()
    scope: tuple[str, ...] | None = None
    attributes: tuple[AttributeInstance, ...] = ()
    deletions: tuple[Deletion, ...] = ()
    created_at: dt.datetime | None = None
    modified_at: dt.datetime | None = None


# --- small checks --------------------------------------------------------------------------


def is_uri(text: object) -> bool:
    """Tell whether a value is an absolute URI (a scheme, a colon and more)."""
    return isinstance(text, str) and bool(_URI.fullmatch(text))


def _is_name_part(part: str) -> bool:
    """Tell whether text is ``unicodeLetter *(unicodeLetter / unicodeNumber / "_")``."""
    if not part or not unicodedata.category(part[0]).startswith("L"):
        return False
    return all(c == "_" or unicodedata.category(c)[0] in "LN" for c in part[1:])


def is_valid_name(name: object) -> bool:
    """Tell whether a type or attribute name is a clause 4.6.2 term or an absolute IRI."""
    if not isinstance(name, str):
        return False
    prefix, colon, local = name.partition(":")
    if _is_name_part(prefix) and (not colon or _is_name_part(local)):
        return True
    return is_uri(name) and not _NAME_FORBIDDEN.intersection(name)


def check_name(name: object, what: str = "attribute name") -> str:
    """Return a valid name or raise BadRequestData saying which rule it breaks."""
    if not isinstance(name, str) or not is_valid_name(name):
        raise bad_request(
            f"{what} {name!r} is not valid: use a letter followed by letters, digits or _ "
            "(clause 4.6.2), or an absolute IRI without whitespace or <>\"'=;(){}|\\^`"
        )
    return name


def check_uri(value: object, what: str) -> str:
    """Return a URI or raise BadRequestData."""
    if not isinstance(value, str) or not is_uri(value):
        raise bad_request(f"{what} must be a URI (scheme:rest, no spaces), not {value!r}")
    return value


def parse_datetime(value: object, what: str) -> dt.datetime:
    """Parse an ISO 8601 extended date-time with ``Z`` or an offset into aware UTC."""
    found = _DATETIME.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise bad_request(
            f"{what} must be an ISO 8601 date-time such as 2017-07-29T12:00:04Z, not {value!r}"
        )
    day, clock, fraction, zone = found.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    micro = f".{(fraction or '')[:6]:0<6}"
    try:
        parsed = dt.datetime.fromisoformat(f"{day}T{clock}{micro}{zone}")
    except ValueError as exc:
        raise bad_request(f"{what} is not a real date-time: {value!r} ({exc})") from None
    return parsed.astimezone(dt.UTC)


def check_scope(value: object) -> tuple[str, ...]:
    """Validate a scope (clause 4.18): one or a list of ``[/]Level(/Level)*``."""
    scopes = value if isinstance(value, list) else [value]
    if not scopes:
        raise bad_request("scope must not be an empty array")
    for scope in scopes:
        levels = scope.removeprefix("/").split("/") if isinstance(scope, str) else [""]
        if not all(_is_name_part(level) for level in levels):
            raise bad_request(
                f"scope {scope!r} is not valid: use /Level/Level with letters, digits and _"
            )
    return tuple(dict.fromkeys(scopes))


def is_language_tag(text: object) -> bool:
    """Tell whether text is a well-formed language tag (RFC 5646, roughly), not ``@none``."""
    return isinstance(text, str) and bool(_LANGUAGE_TAG.fullmatch(text))


def is_null(value: object) -> bool:
    """Tell whether a value is NGSI-LD Null (or JSON null, its RFC 7396 spelling)."""
    return value is None or value == NGSI_LD_NULL


def is_geometry(value: object) -> bool:
    """Tell whether a value looks like a supported GeoJSON geometry (type and coordinates)."""
    return isinstance(value, Mapping) and value.get("type") in GEOMETRIES and "coordinates" in value


def check_geometry(value: object, what: str) -> dict[str, Any]:
    """Return a valid GeoJSON geometry (a JSON string of one is accepted, clause 4.7.2)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise bad_request(f"{what}: not a GeoJSON geometry: {value!r}") from None
    if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
        raise bad_request(f"{what}: a GeoProperty value must be a GeoJSON geometry object")
    if value["type"] not in GEOMETRIES:
        raise bad_request(
            f"{what}: GeoJSON type {value['type']!r} is not supported; use one of "
            f"{', '.join(GEOMETRIES)} (clause 4.7.1 excludes GeometryCollection)"
        )
    if "coordinates" not in value:
        raise bad_request(f"{what}: a GeoJSON {value['type']} needs coordinates")
    try:
        _check_coordinates(value["type"], value["coordinates"])
    except GeoQueryError as exc:
        raise bad_request(f"{what}: invalid GeoJSON {value['type']}: {exc}") from None
    return dict(value)


def _contains_null(value: Any) -> bool:
    """Tell whether a JSON object somewhere inside a value has an NGSI-LD Null member."""
    if isinstance(value, Mapping):
        return any(v == NGSI_LD_NULL or _contains_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_null(v) for v in value)
    return False


# --- parsing -------------------------------------------------------------------------------


def _mode(merge: bool | Patch) -> Patch:
    if isinstance(merge, Patch):
        return merge
    return Patch.MERGE if merge else Patch.NONE


def parse_entity(
    body: object, require_id_type: bool = True, merge: bool | Patch = False
) -> EntityFragment:
    """Validate an entity (or, without ``require_id_type``, an entity fragment) body."""
    head, items = _parse_body(body, _mode(merge))
    if require_id_type and (head.id is None or not head.types):
        missing = " and ".join(n for n, v in (("id", head.id), ("type", head.types)) if not v)
        raise bad_request(f"an entity needs an id and a type; {missing} missing")
    return replace(
        head,
        attributes=tuple(i for i in items if isinstance(i, AttributeInstance)),
        deletions=tuple(i for i in items if isinstance(i, Deletion)),
    )


def parse_attributes(
    body: object, merge: bool | Patch = False
) -> tuple[AttributeInstance | Deletion, ...]:
    """Validate an attributes body (POST or PATCH ``/attrs``, merge): its attributes in order.

    ``merge=True`` (or ``Patch.MERGE``) reads a merge-patch body and ``Patch.UPDATE`` a
    partial-update one, where NGSI-LD Null yields :class:`Deletion` items; entity members
    (``id``, ``type``, ``scope``) are left to :func:`parse_entity` with
    ``require_id_type=False``.
    """
    _, items = _parse_body(body, _mode(merge))
    return tuple(i for i in items if i.name != "scope")


def _parse_body(
    body: object, mode: Patch
) -> tuple[EntityFragment, list[AttributeInstance | Deletion]]:
    """Parse an entity body into its entity members and its attribute items, in order."""
    if not isinstance(body, Mapping):
        raise bad_request("an entity must be a JSON object")
    head = EntityFragment(id=None)
    items: list[AttributeInstance | Deletion] = []
    for key, member in body.items():
        if key == "id":
            head = replace(head, id=check_uri(member, "the entity id"))
        elif key == "type":
            head = replace(head, types=_parse_types(member))
        elif key == "scope" and is_null(member) and mode is not Patch.NONE:
            items.append(Deletion(name="scope"))
        elif key == "scope":
            head = replace(head, scope=check_scope(member))
        elif key not in ("@context", "createdAt", "modifiedAt", "deletedAt"):
            items.extend(_parse_member(key, member, mode, key))
        # else: @context was consumed by expansion; the timestamps are system-generated
    _check_unique(items, "")
    return head, items


def parse_attribute(
    name: str, body: object, merge: bool | Patch = False
) -> tuple[AttributeInstance | Deletion, ...]:
    """Validate the body of one attribute (``/attrs/{attrId}``): one or several instances."""
    items = _parse_member(name, body, _mode(merge), name)
    _check_unique(items, "")
    return tuple(items)


def _parse_types(value: object) -> tuple[str, ...]:
    names = value if isinstance(value, list) else [value]
    if not names:
        raise bad_request("type must be a name or a non-empty array of names")
    return tuple(dict.fromkeys(check_name(n, "entity type") for n in names))


def _parse_member(
    name: str, raw: object, mode: Patch, path: str
) -> list[AttributeInstance | Deletion]:
    """Parse one entity member: a single instance or an array of instances."""
    if name.startswith("@") or name in _RESERVED or name in _ENTITY_MEMBERS:
        if name in _UNSUPPORTED:
            raise NgsiLdError("OperationNotSupported", None, f"{name} is not supported")
        raise bad_request(f"{name!r} is a reserved NGSI-LD name and cannot be an attribute")
    check_name(name)
    if isinstance(raw, list) and raw and all(looks_like_attribute(v) for v in raw):
        return [_parse_instance(name, v, mode, path) for v in raw]
    if isinstance(raw, list) and any(looks_like_attribute(v) for v in raw):
        raise bad_request(
            f"attribute {path!r}: an array mixes attribute instances and plain values; "
            'wrap a plain array as {"value": [...]}'
        )
    return [_parse_instance(name, raw, mode, path)]


def looks_like_attribute(value: object) -> bool:
    """Tell whether a JSON value reads as an attribute instance rather than a plain value."""
    if not isinstance(value, Mapping):
        return False
    return _kind_named(value.get("type")) is not None or not _VALUE_MEMBERS.isdisjoint(value)


def _kind_named(declared: object) -> Kind | None:
    """Return the kind a ``type`` member names (short or as an IRI), if it names one."""
    return _KIND_NAMES.get(declared) if isinstance(declared, str) else None


def _parse_instance(name: str, raw: object, mode: Patch, path: str) -> AttributeInstance | Deletion:
    if is_null(raw):
        if mode is Patch.NONE:
            raise bad_request(
                f"attribute {path!r}: null is only allowed in update and merge bodies"
            )
        return Deletion(name=name)
    if not isinstance(raw, Mapping):
        return _bare(name, raw, mode, path)
    declared = raw.get("type")
    named = _kind_named(declared)
    if named is not None:
        return _build(name, named, raw, mode, path)
    present = [m for m in _KIND_OF_MEMBER if m in raw]
    if is_geometry(raw) or not present:
        return _bare(name, raw, mode, path)
    if declared is not None:
        raise bad_request(
            f"attribute {path!r}: type {declared!r} is not an NGSI-LD attribute type "
            f"({', '.join(Kind)})"
        )
    if len(present) > 1:
        raise bad_request(f"attribute {path!r}: {' and '.join(present)} cannot go together")
    kind = _KIND_OF_MEMBER[present[0]]
    if kind is Kind.PROPERTY and (is_geometry(raw["value"]) or name in GEO_NAMES):
        kind = Kind.GEO_PROPERTY  # clause 4.7.3: a geometry value makes a GeoProperty
    return _build(name, kind, raw, mode, path)


def _bare(name: str, raw: object, mode: Patch, path: str) -> AttributeInstance:
    """Parse a concise attribute given by its value alone."""
    geo = name in GEO_NAMES or is_geometry(raw)
    kind = Kind.GEO_PROPERTY if geo else Kind.PROPERTY
    value = check_geometry(raw, f"attribute {path!r}") if geo else raw
    if not geo and mode is not Patch.MERGE and _contains_null(raw):
        raise bad_request(
            f"attribute {path!r}: NGSI-LD Null inside a value is only allowed in merge"
        )
    return AttributeInstance(name=name, kind=kind, value=value, simplified=True)


def _build(
    name: str, kind: Kind, raw: Mapping[str, Any], mode: Patch, path: str
) -> AttributeInstance | Deletion:
    """Parse an attribute instance given as an object of a known kind."""
    where = f"attribute {path!r}"
    member = kind.member
    for other in _VALUE_MEMBERS - {member}:
        if other in raw:
            raise bad_request(f"{where}: a {kind} cannot have {other!r}")
    if member not in raw:
        raise bad_request(f"{where}: a {kind} needs {member!r}")
    if name in GEO_NAMES and kind is not Kind.GEO_PROPERTY:
        raise bad_request(f"{where}: {name} must be a GeoProperty, not a {kind}")
    dataset_id = _dataset_id(raw.get("datasetId"), where)
    if _is_null_value(kind, raw[member]):
        if mode is Patch.NONE:
            raise bad_request(f"{where}: NGSI-LD Null is only allowed in update and merge bodies")
        return Deletion(name=name, dataset_id=dataset_id)
    value = _check_value(kind, raw[member], mode, where)
    meta, subs, deletes = _members(kind, raw, mode, path)
    return AttributeInstance(
        name=name,
        kind=kind,
        value=value,
        dataset_id=dataset_id,
        sub_attributes=subs,
        deletes=deletes,
        **meta,
    )


def _dataset_id(value: object, where: str) -> str | None:
    if value is None or value == NONE_LANGUAGE:
        return None  # "@none" names the default instance (clause 4.5.5)
    if value == NGSI_LD_NULL:
        raise bad_request(f"{where}: a datasetId cannot be NGSI-LD Null (clause 5.5.8)")
    return check_uri(value, f"{where}: datasetId")


def _is_null_value(kind: Kind, value: object) -> bool:
    """Tell whether a value member is NGSI-LD Null in the form its kind uses (clause 4.5.0)."""
    if kind is Kind.LANGUAGE_PROPERTY:
        return is_null(value) or value == {NONE_LANGUAGE: NGSI_LD_NULL}
    if kind in _ARRAY_NULL:  # "if an array is required, an array with one NGSI-LD Null"
        return is_null(value) or value == [NGSI_LD_NULL]
    return is_null(value)


def _check_value(kind: Kind, value: Any, mode: Patch, where: str) -> Any:
    """Validate a value member for its kind and return it as stored."""
    if kind is Kind.PROPERTY:
        if mode is not Patch.MERGE and _contains_null(value):
            raise bad_request(f"{where}: NGSI-LD Null inside a value is only allowed in merge")
        return value
    if kind is Kind.GEO_PROPERTY:
        return check_geometry(value, where)
    if kind is Kind.RELATIONSHIP:
        objects = value if isinstance(value, list) else [value]
        if not objects:
            raise bad_request(f"{where}: a Relationship needs at least one object")
        for obj in objects:
            _not_null(check_uri(obj, f"{where}: object"), where)
        return list(value) if isinstance(value, list) else value
    if kind is Kind.LIST_RELATIONSHIP:
        return _object_list(value, where)
    if kind is Kind.LANGUAGE_PROPERTY:
        return _language_map(value, mode, where)
    if kind is Kind.VOCAB_PROPERTY:
        return _vocab(value, where)
    if kind is Kind.JSON_PROPERTY:
        if not isinstance(value, dict | list):
            raise bad_request(f"{where}: json must be a JSON object or array")
        return value
    if not isinstance(value, list):  # ListProperty
        raise bad_request(f"{where}: valueList must be an array")
    return value


def _object_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise bad_request(f"{where}: objectList must be an array of URIs")
    objects = [v.get("object") if isinstance(v, Mapping) else v for v in value]
    return [_not_null(check_uri(obj, f"{where}: objectList item"), where) for obj in objects]


def _not_null(uri: str, where: str) -> str:
    if uri == NGSI_LD_NULL:
        raise bad_request(f"{where}: NGSI-LD Null cannot stand among other URIs")
    return uri


def _language_map(value: Any, mode: Patch, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not value:
        raise bad_request(f"{where}: languageMap must be a non-empty object of language tags")
    for tag, text in value.items():
        if tag != NONE_LANGUAGE and not is_language_tag(tag):
            raise bad_request(f"{where}: {tag!r} is not a language tag (RFC 5646) or @none")
        if mode is Patch.MERGE and is_null(text):
            continue  # merge: deletes that language
        strings = text if isinstance(text, list) else [text]
        if not strings or not all(isinstance(s, str) for s in strings) or NGSI_LD_NULL in strings:
            raise bad_request(f"{where}: languageMap[{tag!r}] must be a string or array of strings")
    return dict(value)


def _vocab(value: Any, where: str) -> str | list[str]:
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(n, str) and n and n != NGSI_LD_NULL for n in names):
        raise bad_request(f"{where}: vocab must be a name or an array of names")
    return list(value) if isinstance(value, list) else value


def _members(
    kind: Kind, raw: Mapping[str, Any], mode: Patch, path: str
) -> tuple[dict[str, Any], tuple[AttributeInstance, ...], frozenset[str]]:
    """Parse an instance's metadata members and sub-attributes."""
    where = f"attribute {path!r}"
    meta: dict[str, Any] = {}
    subs: list[AttributeInstance | Deletion] = []
    deletes: set[str] = set()
    for key, member in raw.items():
        if key in _VALUE_MEMBERS or key in ("type", "datasetId") or key in _IGNORED:
            continue
        if key in _DELETABLE_METADATA and is_null(member) and mode is not Patch.NONE:
            deletes.add(key)
        elif key == "observedAt":
            meta["observed_at"] = parse_datetime(member, f"{where}: observedAt")
        elif key == "unitCode":
            meta["unit_code"] = _unit_code(kind, member, where)
        elif key == "objectType":
            meta["object_type"] = _object_type(kind, member, where)
        elif key == "valueType":
            meta["value_type"] = _value_type(kind, member, where)
        elif key == "@context":
            raise bad_request(f"{where}: an attribute cannot embed an @context (clause 4.5.1)")
        else:
            subs.extend(_parse_member(key, member, mode, f"{path}.{key}"))
    _check_unique(subs, f"{path}.")
    deletes.update(s.name for s in subs if isinstance(s, Deletion))
    return meta, tuple(s for s in subs if isinstance(s, AttributeInstance)), frozenset(deletes)


def _unit_code(kind: Kind, value: object, where: str) -> str:
    if kind in _UNITLESS:
        raise bad_request(f"{where}: a {kind} cannot have a unitCode")
    if not isinstance(value, str) or not value:
        raise bad_request(f"{where}: unitCode must be a UN/CEFACT code string, not {value!r}")
    return value


def _object_type(kind: Kind, value: object, where: str) -> tuple[str, ...]:
    if kind not in _RELATIONSHIPS:
        raise bad_request(f"{where}: objectType only applies to a Relationship")
    names = value if isinstance(value, list) else [value]
    if not names:
        raise bad_request(f"{where}: objectType must be a type name or an array of them")
    return tuple(check_name(n, "objectType") for n in names)


def _value_type(kind: Kind, value: object, where: str) -> str:
    if kind in _RELATIONSHIPS:
        raise bad_request(f"{where}: a {kind} cannot have a valueType")
    if not isinstance(value, str) or not value:
        raise bad_request(f"{where}: valueType must be a string")
    return value


def _check_unique(items: Iterable[AttributeInstance | Deletion], prefix: str) -> None:
    """Refuse two instances of one attribute with the same datasetId (or two defaults)."""
    seen: set[tuple[str, str | None]] = set()
    for item in items:
        if item.key in seen:
            name, dataset_id = item.key
            which = f"datasetId {dataset_id}" if dataset_id else "no datasetId (the default)"
            raise bad_request(f"attribute {prefix + name!r}: two instances with {which}")
        seen.add(item.key)


# --- operations ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One instance an operation created, updated or deleted (what notifications need)."""

    name: str
    dataset_id: str | None
    before: AttributeInstance | None
    after: AttributeInstance | None

    @property
    def action(self) -> str:
        """Return ``created``, ``updated`` or ``deleted``."""
        if self.before is None:
            return "created"
        return "deleted" if self.after is None else "updated"


@dataclass(frozen=True, slots=True)
class NotUpdated:
    """An instance an operation left alone, and why (an UpdateResult ``notUpdated`` item)."""

    name: str
    dataset_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The attributes after an operation, what changed and what was not done."""

    attributes: tuple[AttributeInstance, ...]
    changes: tuple[Change, ...] = ()
    not_updated: tuple[NotUpdated, ...] = ()

    @property
    def updated(self) -> tuple[str, ...]:
        """Return the names of the attributes that changed, each once."""
        return tuple(dict.fromkeys(c.name for c in self.changes))

    def update_result(self) -> dict[str, Any]:
        """Return the UpdateResult body (clause 5.2.18), names not yet compacted."""
        return {
            "updated": list(self.updated),
            "notUpdated": [{"attributeName": n.name, "reason": n.reason} for n in self.not_updated],
        }


class _Book:
    """The attributes of one entity while an operation runs, keyed by name and datasetId."""

    def __init__(self, existing: Iterable[AttributeInstance], now: dt.datetime | None) -> None:
        self.items = {a.key: a for a in existing}
        self.now = now
        self.changes: list[Change] = []
        self.skipped: list[NotUpdated] = []

    def put(self, new: AttributeInstance) -> None:
        old = self.items.get(new.key)
        created = old.created_at if old else (self.now or new.created_at)  # kept on replace
        stamped = replace(new, created_at=created, modified_at=self.now or new.modified_at)
        stamped = replace(stamped, simplified=False, deletes=frozenset())
        self.items[new.key] = stamped
        self.changes.append(Change(new.name, new.dataset_id, old, stamped))

    def delete(self, key: tuple[str, str | None]) -> None:
        old = self.items.pop(key)
        self.changes.append(Change(key[0], key[1], old, None))

    def skip(self, key: tuple[str, str | None], reason: str) -> None:
        self.skipped.append(NotUpdated(key[0], key[1], reason))

    def outcome(self) -> Outcome:
        return Outcome(tuple(self.items.values()), tuple(self.changes), tuple(self.skipped))


def _missing(key: tuple[str, str | None]) -> str:
    name, dataset_id = key
    if dataset_id is None:
        return f"attribute {name} has no default instance"
    return f"attribute {name} has no instance with datasetId {dataset_id}"


def append_attributes(
    existing: Iterable[AttributeInstance],
    new: Iterable[AttributeInstance],
    no_overwrite: bool = False,
    *,
    now: dt.datetime | None = None,
) -> Outcome:
    """Append Attributes (clause 5.6.3): add new instances, replace or keep existing ones."""
    book = _Book(existing, now)
    for instance in new:
        if no_overwrite and instance.key in book.items:
            book.skip(instance.key, "attribute already exists and noOverwrite is set")
        else:
            book.put(_strip_nulls(instance))
    return book.outcome()


def update_attributes(
    existing: Iterable[AttributeInstance],
    new: Iterable[AttributeInstance | Deletion],
    *,
    now: dt.datetime | None = None,
) -> Outcome:
    """Update Attributes (clause 5.6.2, partial update patch): replace or delete existing ones."""
    book = _Book(existing, now)
    for item in new:
        if item.key not in book.items:
            book.skip(item.key, _missing(item.key))
        elif isinstance(item, Deletion):
            book.delete(item.key)
        else:
            book.put(item)
    return book.outcome()


def merge_attributes(
    existing: Iterable[AttributeInstance],
    patch: Iterable[AttributeInstance | Deletion],
    *,
    lang: str | None = None,
    observed_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Outcome:
    """Merge Entity (clauses 5.6.17, 5.5.12): merge into, append, or delete on NGSI-LD Null.

    ``lang`` and ``observed_at`` are the request's common language tag and observedAt.
    """
    book = _Book(existing, now)
    for item in patch:
        old = book.items.get(item.key)
        if isinstance(item, Deletion):
            if old is None:
                book.skip(item.key, _missing(item.key))
            else:
                book.delete(item.key)
        elif old is None:
            book.put(_strip_nulls(item))
        else:
            book.put(_merge_instance(old, item, lang, observed_at, deep=True))
    return book.outcome()


def patch_attribute(
    existing: Iterable[AttributeInstance],
    patch: AttributeInstance | Deletion,
    *,
    now: dt.datetime | None = None,
) -> Outcome:
    """Partial Attribute Update (clause 5.6.4): the members given replace those of one instance."""
    book = _Book(existing, now)
    old = book.items.get(patch.key)
    if old is None:
        book.skip(patch.key, _missing(patch.key))
    elif isinstance(patch, Deletion):
        book.delete(patch.key)
    else:
        book.put(_merge_instance(old, patch, None, None, deep=False))
    return book.outcome()


def delete_attribute(
    existing: Iterable[AttributeInstance],
    name: str,
    dataset_id: str | None = None,
    delete_all: bool = False,
) -> Outcome:
    """Delete Attribute (clause 5.6.5): one instance, or every instance with ``delete_all``."""
    book = _Book(existing, None)
    if delete_all:
        keys = [k for k in book.items if k[0] == name]
    else:
        keys = [k for k in [(name, dataset_id)] if k in book.items]
    if not keys and delete_all:
        book.skip((name, None), f"attribute {name} does not exist")
    elif not keys:
        book.skip((name, dataset_id), _missing((name, dataset_id)))
    for key in keys:
        book.delete(key)
    return book.outcome()


def replace_entity(
    existing: EntityFragment, new: EntityFragment, *, now: dt.datetime | None = None
) -> tuple[EntityFragment, Outcome]:
    """Replace Entity (clause 5.6.18): everything but the id and createdAt becomes ``new``."""
    if new.id is not None and new.id != existing.id:
        raise bad_request(f"the body's id {new.id} is not the entity's id {existing.id}")
    old = {a.key: a for a in existing.attributes}
    fresh = {a.key: _stamp(a, now) for a in new.attributes}
    changes = [Change(k[0], k[1], a, None) for k, a in old.items() if k not in fresh]
    changes += [Change(k[0], k[1], old.get(k), a) for k, a in fresh.items()]
    entity = replace(
        new,
        id=existing.id,
        types=new.types or existing.types,
        attributes=tuple(fresh.values()),
        deletions=(),
        created_at=existing.created_at,
        modified_at=now or new.modified_at,
    )
    return entity, Outcome(entity.attributes, tuple(changes))


def add_types(existing: Sequence[str], new: Iterable[str]) -> tuple[str, ...]:
    """Return the entity types with those of a fragment added (clauses 5.6.2, 5.6.3, 5.6.17)."""
    return tuple(dict.fromkeys([*existing, *new]))


def merge_scopes(
    existing: Sequence[str] | None, new: Sequence[str] | None, overwrite: bool = True
) -> tuple[str, ...] | None:
    """Return the scope after an append or merge: the new one, or both with ``overwrite=False``."""
    if new is None:
        return tuple(existing) if existing is not None else None
    if overwrite or existing is None:
        return tuple(new)
    return tuple(dict.fromkeys([*existing, *new]))


def _stamp(instance: AttributeInstance, now: dt.datetime | None) -> AttributeInstance:
    if now is None:
        return replace(instance, simplified=False, deletes=frozenset())
    return replace(instance, created_at=now, modified_at=now, simplified=False, deletes=frozenset())


def _merge_instance(
    old: AttributeInstance,
    patch: AttributeInstance,
    lang: str | None,
    observed_at: dt.datetime | None,
    *,
    deep: bool,
) -> AttributeInstance:
    """Merge a patch into an instance: members given win, absent ones are kept."""
    if patch.simplified:
        patch = _as_kind(old.kind, patch, lang)
    kind = patch.kind
    value = patch.value
    if deep and kind is old.kind and kind in _MERGEABLE:
        value = merge_json(old.value, patch.value)
    if kind is Kind.LANGUAGE_PROPERTY and not value:
        raise bad_request(f"attribute {old.name!r}: a merge cannot delete every language")
    if old.observed_at is not None and observed_at is not None:
        old = replace(old, observed_at=observed_at)  # the request's common observedAt
    return AttributeInstance(
        name=old.name,
        kind=kind,
        value=strip_nulls(value),
        dataset_id=old.dataset_id,
        observed_at=_kept(patch, old, "observed_at", "observedAt"),
        unit_code=None if kind in _UNITLESS else _kept(patch, old, "unit_code", "unitCode"),
        object_type=_kept(patch, old, "object_type", "objectType")
        if kind in _RELATIONSHIPS
        else (),
        value_type=None if kind in _RELATIONSHIPS else _kept(patch, old, "value_type", "valueType"),
        sub_attributes=_merge_subs(old.sub_attributes, patch, deep),
        created_at=old.created_at,
        modified_at=old.modified_at,
    )


def _kept(patch: AttributeInstance, old: AttributeInstance, field_name: str, member: str) -> Any:
    """Return a metadata member after a merge: the patch's, else the old one, unless deleted."""
    if member in patch.deletes:
        return () if field_name == "object_type" else None
    return getattr(patch, field_name) or getattr(old, field_name)


def _merge_subs(
    old: tuple[AttributeInstance, ...], patch: AttributeInstance, deep: bool
) -> tuple[AttributeInstance, ...]:
    subs = {s.key: s for s in old if s.name not in patch.deletes}
    for sub in patch.sub_attributes:
        previous = subs.get(sub.key)
        if previous is None or not deep:
            subs[sub.key] = _strip_nulls(replace(sub, simplified=False))
        else:
            subs[sub.key] = _merge_instance(previous, sub, None, None, deep=True)
    return tuple(subs.values())


def _as_kind(kind: Kind, patch: AttributeInstance, lang: str | None) -> AttributeInstance:
    """Read a bare value as the existing attribute's kind (clause 5.6.17: type is kept)."""
    where = f"attribute {patch.name!r}"
    value = patch.value
    if kind is Kind.LANGUAGE_PROPERTY:
        value = _language_map({lang or NONE_LANGUAGE: value}, Patch.MERGE, where)
    elif kind is Kind.GEO_PROPERTY and patch.kind is not Kind.GEO_PROPERTY:
        value = check_geometry(value, where)
    elif kind is not patch.kind and kind is not Kind.PROPERTY:
        value = _check_value(kind, value, Patch.MERGE, where)
    return replace(patch, kind=kind, value=value, simplified=False)


def merge_json(target: Any, patch: Any) -> Any:
    """Apply a JSON merge patch (RFC 7396) where NGSI-LD Null and null delete members."""
    if not isinstance(patch, Mapping) or not isinstance(target, Mapping):
        return patch
    merged = dict(target)
    for key, value in patch.items():
        if is_null(value):
            merged.pop(key, None)
        else:
            merged[key] = merge_json(merged.get(key), value)
    return merged


def strip_nulls(value: Any) -> Any:
    """Drop object members that are NGSI-LD Null or null (a merge patch applied to nothing)."""
    if isinstance(value, Mapping):
        return {k: strip_nulls(v) for k, v in value.items() if not is_null(v)}
    return value


def _strip_nulls(instance: AttributeInstance) -> AttributeInstance:
    if instance.kind not in _MERGEABLE:
        return instance
    subs = tuple(_strip_nulls(s) for s in instance.sub_attributes)
    return replace(instance, value=strip_nulls(instance.value), sub_attributes=subs)


__all__ = [
    "CORE",
    "ERRORS",
    "GEO_NAMES",
    "NGSI_LD_NULL",
    "NONE_LANGUAGE",
    "AttributeInstance",
    "Change",
    "Deletion",
    "EntityFragment",
    "Kind",
    "NgsiLdError",
    "NotUpdated",
    "Outcome",
    "Patch",
    "add_types",
    "append_attributes",
    "bad_request",
    "check_geometry",
    "check_name",
    "check_scope",
    "check_uri",
    "delete_attribute",
    "is_geometry",
    "is_language_tag",
    "is_null",
    "is_uri",
    "is_valid_name",
    "looks_like_attribute",
    "merge_attributes",
    "merge_json",
    "merge_scopes",
    "parse_attribute",
    "parse_attributes",
    "parse_datetime",
    "parse_entity",
    "patch_attribute",
    "replace_entity",
    "strip_nulls",
    "update_attributes",
]
