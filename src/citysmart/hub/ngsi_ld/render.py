"""Render NGSI-LD entities (ETSI GS CIM 009 V1.8 clauses 4.5, 4.15) from the model in model.py.

:func:`render_entity` writes an :class:`~citysmart.hub.ngsi_ld.model.EntityFragment` in
normalized, concise or simplified (``keyValues``) form, with ``sysAttrs``, an ``attrs``
projection and the ``lang`` filter. Names come out as stored (expanded); compacting them
with the client's @context is ``context.compact_entity``'s job.

Where the specification leaves room, this module decides as follows:

- Concise output stays lossless: a Property becomes its bare value only when it has no
  sub-attributes or metadata and the value cannot be misread on the way back in (a
  GeoJSON geometry, or an object or array that looks like an attribute, keeps
  ``{"value": ...}``; a Property holding a geometry keeps ``"type": "Property"``, as clause
  4.7.3 would otherwise infer a GeoProperty). A ListProperty keeps ``{"valueList": [...]}``
  because a bare array reads back as a Property; a ListRelationship's ``objectList`` is
  plain URIs (clause 4.5.22.3).
- Simplified (``keyValues``): an attribute with any non-default instance becomes
  ``{"dataset": {"@none": ..., "<datasetId>": ...}}`` (clause 4.5.4); with ``sysAttrs``
  only the entity's own createdAt and modifiedAt are added.
- ``lang`` (clause 4.15) accepts ``en``, ``fr-CH,fr``, ``*`` and q-values; ``q=0`` excludes
  a tag. Per range in preference order: the exact tag, then the range cut back at hyphens
  (``fr-CH`` finds ``fr``), then a more specific tag (``fr`` finds ``fr-CH``). With no
  match, or ``*``: ``@none`` if present, else the first language. The chosen tag goes in
  ``lang``; the LanguageProperty becomes a Property, also in sub-attributes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Final

from citysmart.core.time import isoformat
from citysmart.hub.ngsi_ld.model import (
    NONE_LANGUAGE,
    AttributeInstance,
    EntityFragment,
    Kind,
    bad_request,
    is_geometry,
    is_language_tag,
    looks_like_attribute,
)

FORMS: Final = {
    "normalized": "normalized",
    "concise": "concise",
    "keyValues": "keyValues",
    "simplified": "keyValues",
}
_QUALITY: Final = re.compile(r"\s*q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*")

Languages = tuple[str, ...]
"""Language ranges in order of preference, from :func:`parse_lang`."""


def render_entity(
    entity: EntityFragment,
    form: str = "normalized",
    *,
    sys_attrs: bool = False,
    attrs: Collection[str] | None = None,
    lang: str | None = None,
    compact: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Render an entity; ``attrs`` keeps only the named attributes (id and type always).

    ``compact`` renames types and attribute names (a context's ``compact_iri``); ``attrs``
    names attributes before it.
    """
    style = _form(form)
    ranges = parse_lang(lang) if lang is not None else None
    types = entity.types if compact is None else [compact(t) for t in entity.types]
    out: dict[str, Any] = {"id": entity.id, "type": _one_or_list(types)}
    if entity.scope:
        out["scope"] = _one_or_list(entity.scope)
    if sys_attrs:
        _put_times(out, entity.created_at, entity.modified_at)
    for name, instances in group_by_name(entity.attributes).items():
        if attrs is None or name in attrs:
            key = name if compact is None else compact(name)
            out[key] = _attribute(instances, style, sys_attrs, ranges, compact)
    return out


def render_attribute(
    instances: Sequence[AttributeInstance],
    form: str = "normalized",
    *,
    sys_attrs: bool = False,
    lang: str | None = None,
) -> Any:
    """Render the instances of one attribute: an object, or an array for several."""
    ranges = parse_lang(lang) if lang is not None else None
    return _attribute(instances, _form(form), sys_attrs, ranges, None)


def group_by_name(
    attributes: Iterable[AttributeInstance],
) -> dict[str, list[AttributeInstance]]:
    """Group instances by attribute name, in the order names first appear."""
    groups: dict[str, list[AttributeInstance]] = {}
    for instance in attributes:
        groups.setdefault(instance.name, []).append(instance)
    return groups


def parse_lang(text: str) -> Languages:
    """Parse a ``lang`` filter (clause 4.15) into language ranges, most preferred first."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(text.strip().strip('"').split(",")):
        tag, _, params = part.partition(";")
        tag = tag.strip()
        quality = 1.0
        if params:
            found = _QUALITY.fullmatch(params)
            if found is None:
                raise bad_request(f"lang: {part.strip()!r} has no valid q=0..1 weight")
            quality = float(found.group(1))
        if tag != "*" and not is_language_tag(tag):
            raise bad_request(f"lang: {tag!r} is not a language tag (RFC 5646) or *")
        if quality > 0:  # q=0 means "not this one"
            ranked.append((-quality, position, tag))
    if not ranked:
        raise bad_request(f"lang: {text!r} accepts no language")
    return tuple(tag for _, _, tag in sorted(ranked))


def pick_language(language_map: Mapping[str, Any], ranges: Languages) -> tuple[str, Any]:
    """Return the best tag of a languageMap for the ranges, and its string (or strings)."""
    by_lower = {tag.lower(): tag for tag in language_map}
    for wanted in ranges:
        if wanted == "*":
            break
        tag = _lookup(wanted.lower(), by_lower)
        if tag is not None:
            return tag, language_map[tag]
    tag = NONE_LANGUAGE if NONE_LANGUAGE in language_map else next(iter(language_map))
    return tag, language_map[tag]


def _lookup(wanted: str, by_lower: Mapping[str, str]) -> str | None:
    probe = wanted
    while probe:  # RFC 4647 lookup: fr-ch, then fr
        if probe in by_lower:
            return by_lower[probe]
        probe = probe.rpartition("-")[0]
    for lower, tag in by_lower.items():  # basic filtering: fr matches fr-ch
        if lower.startswith(wanted + "-"):
            return tag
    return None


def _form(form: str) -> str:
    style = FORMS.get(form)
    if style is None:
        raise bad_request(f"format {form!r} is not one of normalized, concise, keyValues")
    return style


def _one_or_list(values: Sequence[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


def _put_times(
    out: dict[str, Any], created: dt.datetime | None, modified: dt.datetime | None
) -> None:
    if created is not None:
        out["createdAt"] = isoformat(created)
    if modified is not None:
        out["modifiedAt"] = isoformat(modified)


def _attribute(
    instances: Sequence[AttributeInstance],
    style: str,
    sys_attrs: bool,
    ranges: Languages | None,
    compact: Callable[[str], str] | None,
) -> Any:
    if style == "keyValues":
        return _simplified(instances, ranges)
    concise = style == "concise"
    if len(instances) == 1:
        return _instance(instances[0], concise, sys_attrs, ranges, compact, bare=True)
    # in an array every instance stays an object, or it would read back as a plain value
    return [_instance(i, concise, sys_attrs, ranges, compact, bare=False) for i in instances]


def _instance(
    instance: AttributeInstance,
    concise: bool,
    sys_attrs: bool,
    ranges: Languages | None,
    compact: Callable[[str], str] | None,
    *,
    bare: bool,
) -> Any:
    """Render one instance in normalized or concise form."""
    kind, value, lang = instance.kind, instance.value, None
    if kind is Kind.LANGUAGE_PROPERTY and ranges is not None:
        lang, value = pick_language(value, ranges)
        kind = Kind.PROPERTY
    out: dict[str, Any] = {} if concise else {"type": str(kind)}
    if kind is Kind.LIST_RELATIONSHIP and not concise:
        out["objectList"] = [{"object": uri} for uri in value]
    else:
        out[kind.member] = value
    if instance.object_type:
        out["objectType"] = _one_or_list(instance.object_type)
    if instance.dataset_id is not None:
        out["datasetId"] = instance.dataset_id
    if instance.observed_at is not None:
        out["observedAt"] = isoformat(instance.observed_at)
    if instance.unit_code is not None:
        out["unitCode"] = instance.unit_code
    if instance.value_type is not None:
        out["valueType"] = instance.value_type
    if lang is not None:
        out["lang"] = lang
    if sys_attrs:
        _put_times(out, instance.created_at, instance.modified_at)
    style = "concise" if concise else "normalized"
    for name, subs in group_by_name(instance.sub_attributes).items():
        key = name if compact is None else compact(name)
        out[key] = _attribute(subs, style, sys_attrs, ranges, compact)
    if not concise:
        return out
    return _reduce(kind, value, out) if bare else _typed_if_geometry(kind, value, out)


def _reduce(kind: Kind, value: Any, out: dict[str, Any]) -> Any:
    """Shorten a concise Property or GeoProperty where it reads back the same."""
    if kind is Kind.GEO_PROPERTY:
        return value if len(out) == 1 else out
    if kind is Kind.PROPERTY and len(out) == 1 and not _misreadable(value):
        return value
    return _typed_if_geometry(kind, value, out)


def _typed_if_geometry(kind: Kind, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    """Keep ``"type": "Property"`` on a geometry value, or it reads back as a GeoProperty."""
    if kind is Kind.PROPERTY and is_geometry(value):
        return {"type": str(Kind.PROPERTY), **out}
    return out


def _misreadable(value: Any) -> bool:
    """Tell whether a bare value would read back as something other than a Property value."""
    if is_geometry(value):
        return True
    if isinstance(value, list):
        return any(looks_like_attribute(v) for v in value)
    return looks_like_attribute(value)


def _simplified(instances: Sequence[AttributeInstance], ranges: Languages | None) -> Any:
    if any(i.dataset_id is not None for i in instances):
        return {
            "dataset": {i.dataset_id or NONE_LANGUAGE: _key_value(i, ranges) for i in instances}
        }
    return _key_value(instances[0], ranges)


def _key_value(instance: AttributeInstance, ranges: Languages | None) -> Any:
    """Return an instance's simplified value (clause 4.5.4)."""
    kind, value = instance.kind, instance.value
    if kind is Kind.LANGUAGE_PROPERTY:
        return pick_language(value, ranges)[1] if ranges is not None else {"languageMap": value}
    if kind in (Kind.VOCAB_PROPERTY, Kind.JSON_PROPERTY):
        return {kind.member: value}
    return value


__all__ = [
    "FORMS",
    "Languages",
    "group_by_name",
    "parse_lang",
    "pick_language",
    "render_attribute",
    "render_entity",
]
