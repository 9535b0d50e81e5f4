"""SenML (RFC 8428) JSON packs: parse, resolve base fields, validate into readings.

Pure functions: no database, no network. A pack maps onto one entity (the device's);
each record's resolved name ends in the attribute, after the last ``:`` or ``/``
(``urn:dev:mac:0024befffe804ff1:pm10`` and ``pm10`` both name ``pm10``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from citysmart.hub.vocabulary import ATTRIBUTE_RULES, UNITS

SUPPORTED_VERSION = 10
RELATIVE_TIME_LIMIT = 2**28  # RFC 8428 4.5.3: smaller times are relative to now
MAX_TEXT_VALUE = 4096
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-:./_]*$")
_ATTRIBUTE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_BASE64URL = re.compile(r"^[A-Za-z0-9_\-=]*$")
_KNOWN_FIELDS = frozenset(
    {"bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"}
)


class PackError(ValueError):
    """The pack as a whole is not acceptable: nothing of it is stored."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail


@dataclass(slots=True)
class Reading:
    """One validated reading, ready to store; ``t_us`` is epoch microseconds (UTC)."""

    attribute: str
    t_us: int
    num_value: float | None
    text_value: str | None
    value_type: str  # n(umber), s(tring), b(oolean), d(ata)
    unit: str | None


@dataclass(slots=True, frozen=True)
class Rejection:
    """A record that was not stored, with its index in the pack and why."""

    index: int
    reason: str


def _refuse_constant(name: str) -> float:
    # NaN and Infinity are not JSON; parse them to NaN so the record is refused with a reason.
    return math.nan


def parse_pack(raw: bytes | str) -> list[Any]:
    """Decode a SenML JSON pack; raise PackError when it is not JSON or not a pack."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackError("Not JSON", f"the body is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(data, list):
        kind = type(data).__name__
        raise PackError(
            "Not a SenML pack", f"a SenML pack is a JSON array of records, got a JSON {kind}"
        )
    if not data:
        raise PackError("Not a SenML pack", "the pack is empty: it has no records")
    if not any(isinstance(record, dict) for record in data):
        raise PackError("Not a SenML pack", "no element of the array is a SenML record (object)")
    return data


def _is_number(value: Any) -> bool:
    return type(value) is float or type(value) is int


class _Base:
    """Base fields in force while walking a pack (they carry over to later records)."""

    __slots__ = ("name", "time", "unit", "value", "sum", "version")

    def __init__(self) -> None:
        self.name = ""
        self.time = 0.0
        self.unit: str | None = None
        self.value: float | None = None
        self.sum: float | None = None
        self.version = SUPPORTED_VERSION


def _update_base(record: dict[str, Any], base: _Base) -> str | None:
    """Apply a record's base fields; return why they are invalid, or None."""
    if "bn" in record:
        if not isinstance(record["bn"], str):
            return "bn (base name) must be a string"
        base.name = record["bn"]
    if "bt" in record:
        if not _is_number(record["bt"]):
            return "bt (base time) must be a number"
        base.time = float(record["bt"])
    if "bu" in record:
        if not isinstance(record["bu"], str):
            return "bu (base unit) must be a string"
        base.unit = record["bu"]
    if "bv" in record:
        if not _is_number(record["bv"]):
            return "bv (base value) must be a number"
        base.value = float(record["bv"])
    if "bs" in record:
        if not _is_number(record["bs"]):
            return "bs (base sum) must be a number"
        base.sum = float(record["bs"])
    if "bver" in record:
        version = record["bver"]
        if type(version) is not int or version < 1:
            return "bver must be a positive integer"
        if version > SUPPORTED_VERSION:
            return f"bver {version} is newer than the supported SenML version {SUPPORTED_VERSION}"
        base.version = version
    return None


def _attribute_of(name: str) -> str:
    cut = max(name.rfind(":"), name.rfind("/"))
    return name[cut + 1 :] if cut >= 0 else name


def _value_of(
    record: dict[str, Any], base: _Base
) -> tuple[float | None, str | None, str] | str:
    """Return (number, text, type) for a record, or why it has no acceptable value."""
    present = [field for field in ("v", "vs", "vb", "vd") if field in record]
    if len(present) > 1:
        return f"a record carries exactly one value, this one has {', '.join(present)}"
    field = present[0] if present else None
    if field == "v":
        value = record["v"]
        if not _is_number(value):
            return "v (value) must be a number"
        number = float(value) + (base.value or 0.0)
        if not math.isfinite(number):
            return "v is NaN or infinite"
        return number, None, "n"
    if field == "vs":
        text = record["vs"]
        if not isinstance(text, str):
            return "vs (string value) must be a string"
        if len(text) > MAX_TEXT_VALUE:
            return f"vs is longer than {MAX_TEXT_VALUE} characters"
        return None, text, "s"
    if field == "vb":
        if type(record["vb"]) is not bool:
            return "vb (boolean value) must be true or false"
        return (1.0 if record["vb"] else 0.0), None, "b"
    if field == "vd":
        data = record["vd"]
        if not isinstance(data, str) or not _BASE64URL.match(data):
            return "vd (data value) must be a base64url string"
        if len(data) > MAX_TEXT_VALUE:
            return f"vd is longer than {MAX_TEXT_VALUE} characters"
        return None, data, "d"
    # No value field: a base value alone, or a sum, is the reading (RFC 8428 4.6).
    if "s" in record:
        if not _is_number(record["s"]):
            return "s (sum) must be a number"
        number = float(record["s"]) + (base.sum or 0.0)
        if not math.isfinite(number):
            return "s is NaN or infinite"
        return number, None, "n"
    if base.value is not None:
        return base.value, None, "n"
    if base.sum is not None:
        return base.sum, None, "n"
    return "the record has no value (v, vs, vb, vd or s)"


def _check_unit(attribute: str, unit: str | None, number: float | None) -> str | None | tuple[str]:
    """Return the unit to store (as a 1-tuple) or why the unit or value is refused."""
    rule = ATTRIBUTE_RULES.get(attribute)
    if unit is not None and unit not in UNITS:
        return f"unknown unit {unit!r}"
    if rule is None:
        return (unit,) if unit is not None else None
    if unit is None:
        unit = rule.units[0]
    elif unit not in rule.units:
        return f"unit {unit!r} is not valid for {attribute} (use {' or '.join(rule.units)})"
    if number is not None:
        if rule.minimum is not None and number < rule.minimum:
            return f"{attribute} {number:g} {unit} is below the physical minimum {rule.minimum:g}"
        if rule.maximum is not None and number > rule.maximum:
            return f"{attribute} {number:g} {unit} is above the physical maximum {rule.maximum:g}"
    return (unit,)


def resolve_pack(
    records: list[Any], now: float, max_skew_s: float
) -> tuple[list[Reading], list[Rejection]]:
    """Resolve and validate every record of a pack; ``now`` is epoch seconds."""
    readings: list[Reading] = []
    rejections: list[Rejection] = []
    base = _Base()
    latest_allowed = now + max_skew_s
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            rejections.append(Rejection(index, "a SenML record must be a JSON object"))
            continue
        problem = _update_base(record, base)
        if problem is None:
            unknown = [key for key in record if key not in _KNOWN_FIELDS and key.endswith("_")]
            if unknown:
                problem = f"must-understand field {unknown[0]!r} is not supported"
        if problem is not None:
            rejections.append(Rejection(index, problem))
            continue
        name = record.get("n", "")
        if not isinstance(name, str):
            rejections.append(Rejection(index, "n (name) must be a string"))
            continue
        full_name = base.name + name
        if not full_name or not _NAME.match(full_name):
            rejections.append(Rejection(index, f"invalid SenML name {full_name!r}"))
            continue
        attribute = _attribute_of(full_name)
        if not _ATTRIBUTE.match(attribute):
            rejections.append(
                Rejection(
                    index,
                    f"attribute {attribute!r} must start with a letter and use only "
                    "letters, digits and _ (at most 64)",
                )
            )
            continue
        offset = record.get("t", 0.0)
        if not _is_number(offset):
            rejections.append(Rejection(index, "t (time) must be a number"))
            continue
        when = base.time + offset
        if not math.isfinite(when):
            rejections.append(Rejection(index, "time is NaN or infinite"))
            continue
        if when < RELATIVE_TIME_LIMIT:
            when += now
        if when > latest_allowed:
            rejections.append(
                Rejection(
                    index,
                    f"time is {when - now:.0f} s in the future "
                    f"(the allowed clock skew is {max_skew_s:g} s)",
                )
            )
            continue
        value = _value_of(record, base)
        if isinstance(value, str):
            rejections.append(Rejection(index, value))
            continue
        number, text, value_type = value
        unit_field = record.get("u", base.unit)
        if unit_field is not None and not isinstance(unit_field, str):
            rejections.append(Rejection(index, "u (unit) must be a string"))
            continue
        unit = _check_unit(attribute, unit_field, number)
        if isinstance(unit, str):
            rejections.append(Rejection(index, unit))
            continue
        readings.append(
            Reading(
                attribute,
                round(when * 1_000_000),
                number,
                text,
                value_type,
                unit[0] if unit else None,
            )
        )
    return readings, rejections
