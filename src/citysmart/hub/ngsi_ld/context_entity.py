"""Expanding and compacting entities (normalized representation, clause 4.5)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from citysmart.hub.ngsi_ld.context_errors import BadContextRequest
from citysmart.hub.ngsi_ld.jsonld_terms import ActiveContext, core_context

# Entity members that are not attributes: kept as they are.
_ENTITY_MEMBERS = frozenset({"id", "scope", "createdAt", "modifiedAt", "deletedAt"})
# Core GeoProperties: stored under their short names (the core context fixes their IRI),
# their sub-attributes still expanded.
_CORE_ATTRIBUTES = frozenset({"location", "observationSpace", "operationSpace"})
# Members of an attribute that are not sub-attributes (clauses 4.5.2 to 4.5.9).
_ATTRIBUTE_MEMBERS = frozenset(
    {
        "type", "value", "object", "objectType", "objectList", "languageMap", "vocab",
        "json", "valueList", "observedAt", "unitCode", "datasetId", "createdAt",
        "modifiedAt", "deletedAt", "instanceId", "lang", "entity", "previousValue",
        "previousObject", "previousObjectList", "previousLanguageMap", "previousVocab",
        "previousJson", "previousValueList",
    }
)  # fmt: skip
_ENTITY_LEVEL = _ENTITY_MEMBERS | _CORE_ATTRIBUTES | {"type"}
_VALUE_MEMBERS = frozenset({"value", "previousValue"})
_VOCAB_MEMBERS = frozenset({"vocab", "previousVocab"})  # "@type": "@vocab" in the core
# What makes an object an attribute instance rather than a concise value (clause 4.5).
_HOLDERS = frozenset({"value", "object", "objectList", "languageMap", "vocab", "json", "valueList"})
_KINDS = frozenset(
    {"Property", "Relationship", "GeoProperty", "LanguageProperty", "JsonProperty"}
    | {"VocabProperty", "ListProperty", "ListRelationship"}
)
_CORE = "https://uri.etsi.org/ngsi-ld/"


@cache
def _core_names() -> dict[str, str]:
    """Map the IRIs of the core names above back to the names ("@type" -> "type")."""
    core = core_context()
    return {core.expand_term(name): name for name in _ENTITY_LEVEL | _ATTRIBUTE_MEMBERS}


def _core_name(key: str, ctx: ActiveContext, allowed: frozenset[str]) -> str | None:
    """Return the core name a key stands for (``value``, an IRI of it...) if in ``allowed``."""
    name = key if key in allowed else _core_names().get(ctx.expand_term(key))
    return name if name in allowed else None


def _map_strings(value: Any, convert: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return convert(value)
    if isinstance(value, list):
        return [convert(v) if isinstance(v, str) else v for v in value]
    return value


def _coerced(value: Any, coercion: str | None, convert: Callable[[str, bool], str]) -> Any:
    """Expand or compact a value whose term says ``"@type": "@vocab"`` or ``"@id"``."""
    if coercion == "@vocab":
        return _map_strings(value, lambda v: convert(v, True))
    if coercion == "@id":
        return _map_strings(value, lambda v: convert(v, False))
    return value


def _put(out: dict[str, Any], name: str, value: Any, key: str) -> None:
    if name in out:
        raise BadContextRequest(f"attribute {key!r} expands to {name}, which is already present")
    out[name] = value


def expand_entity(entity: Mapping[str, Any], ctx: ActiveContext) -> dict[str, Any]:
    """Expand an entity fragment's type and attribute names (not ``id`` or core members).

    Values are kept as given, with these exceptions: the ``value`` of an attribute whose
    term says ``"@type": "@vocab"`` (strings expand like terms) or ``"@id"`` (compact IRIs
    expand), as Orion-LD does (a strict JSON-LD processor coerces only values given
    directly, as in the concise form); the ``vocab`` of a VocabProperty and a
    Relationship's ``objectType`` (the core context coerces both). ``id`` and ``object``
    are absolute URIs in NGSI-LD already. The ``@context`` member is dropped: consumed.
    """
    out: dict[str, Any] = {}
    for key, value in entity.items():
        if key == "@context":
            continue
        name = _core_name(key, ctx, _ENTITY_LEVEL)
        if name == "type":
            out["type"] = _map_strings(value, ctx.expand_type)
        elif name in _ENTITY_MEMBERS:
            out[name] = value
        elif name is not None:
            out[name] = _expand_attribute(value, ctx, None)
        else:
            definition = ctx.term(key)
            coercion = definition.type_mapping if definition else None
            _put(out, _attribute_iri(key, ctx), _expand_attribute(value, ctx, coercion), key)
    return out


def _attribute_iri(key: str, ctx: ActiveContext) -> str:
    iri = ctx.expand_term(key)
    if iri.startswith("@"):
        raise BadContextRequest(f"{key!r} maps to the keyword {iri}, not to an attribute")
    return iri


def _is_instance(value: Mapping[str, Any], ctx: ActiveContext) -> bool:
    """Tell an attribute instance from a concise bare value (a geometry, a structured value)."""
    kind = value.get("type")
    if isinstance(kind, str) and ctx.expand_term(kind).removeprefix(_CORE) in _KINDS:
        return True
    return any(_core_name(k, ctx, _ATTRIBUTE_MEMBERS) in _HOLDERS for k in value)


def _expand_attribute(value: Any, ctx: ActiveContext, coercion: str | None) -> Any:
    if isinstance(value, list):  # several instances, told apart by datasetId
        return [_expand_attribute(v, ctx, coercion) if isinstance(v, Mapping) else v for v in value]
    if not isinstance(value, Mapping) or not _is_instance(value, ctx):
        return value  # a concise value given alone is kept as it is, like any value
    out: dict[str, Any] = {}
    for key, member in value.items():
        name = _core_name(key, ctx, _ATTRIBUTE_MEMBERS)
        if name is None:  # a sub-attribute
            definition = ctx.term(key)
            sub_coercion = definition.type_mapping if definition else None
            _put(out, _attribute_iri(key, ctx), _expand_attribute(member, ctx, sub_coercion), key)
        elif name in _VALUE_MEMBERS:
            out[name] = _coerced(member, coercion, lambda v, vocab: ctx.expand_iri(v, vocab=vocab))
        elif name in _VOCAB_MEMBERS:
            out[name] = _map_strings(member, ctx.expand_term)
        elif name == "objectType":
            out[name] = _map_strings(member, ctx.expand_type)
        else:
            out[name] = member
    return out


def compact_entity(entity: Mapping[str, Any], ctx: ActiveContext) -> dict[str, Any]:
    """Compact an expanded entity with the client's context: the reverse of expand_entity."""
    out: dict[str, Any] = {}
    for key, value in entity.items():
        if key == "@context":
            continue
        name = _core_name(key, ctx, _ENTITY_LEVEL)
        if name == "type":
            out["type"] = _map_strings(value, ctx.compact_type)
        elif name in _ENTITY_MEMBERS:
            out[name] = value
        elif name is not None:
            out[name] = _compact_attribute(value, ctx, None)
        else:
            term = ctx.compact_iri(key)
            definition = ctx.term(term)
            coercion = definition.type_mapping if definition else None
            out[term] = _compact_attribute(value, ctx, coercion)
    return out


def _compact_attribute(value: Any, ctx: ActiveContext, coercion: str | None) -> Any:
    if isinstance(value, list):
        return [
            _compact_attribute(v, ctx, coercion) if isinstance(v, Mapping) else v for v in value
        ]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, member in value.items():
        name = _core_name(key, ctx, _ATTRIBUTE_MEMBERS)
        if name is None:
            term = ctx.compact_iri(key)
            definition = ctx.term(term)
            sub_coercion = definition.type_mapping if definition else None
            out[term] = _compact_attribute(member, ctx, sub_coercion)
        elif name in _VALUE_MEMBERS:
            out[name] = _coerced(member, coercion, lambda v, vocab: ctx.compact_iri(v, vocab=vocab))
        elif name in _VOCAB_MEMBERS:
            out[name] = _map_strings(member, ctx.compact_iri)
        elif name == "objectType":
            out[name] = _map_strings(member, ctx.compact_type)
        else:
            out[name] = member
    return out
