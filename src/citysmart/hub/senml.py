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


# One decoder for every pack: json.loads with parse_constant builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_pack(raw: bytes | str) -> list[Any]:
    """Decode a SenML JSON pack; raise PackError when it is not JSON or not a pack."""
    try:
        data = _DECODER.decode(raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw)
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


def _value_of(record: dict[str, Any], base: _Base) -> tuple[float | None, str | None, str] | str:
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
        if "\x00" in text:
            return "vs contains a NUL character"
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


def _resolve_record(
    index: int, record: Any, base: _Base, now: float, max_skew_s: float
) -> Reading | Rejection:
    """Resolve one record of a pack against the base fields in force (and update them)."""
    if not isinstance(record, dict):
        return Rejection(index, "a SenML record must be a JSON object")
    problem = _update_base(record, base)
    if problem is None and not record.keys() <= _KNOWN_FIELDS:
        unknown = [key for key in record if key not in _KNOWN_FIELDS and key.endswith("_")]
        if unknown:
            problem = f"must-understand field {unknown[0]!r} is not supported"
    if problem is not None:
        return Rejection(index, problem)
    name = record.get("n", "")
    if not isinstance(name, str):
        return Rejection(index, "n (name) must be a string")
    full_name = base.name + name
    attribute = _plain_attribute(full_name)
    if attribute is _NOT_PLAIN:
        if not full_name or not _NAME.match(full_name):
            return Rejection(index, f"invalid SenML name {full_name!r}")
        attribute = _attribute_of(full_name)
        return Rejection(
            index,
            f"attribute {attribute!r} must start with a letter and use only "
            "letters, digits and _ (at most 64)",
        )
    offset = record.get("t", 0.0)
    if not _is_number(offset):
        return Rejection(index, "t (time) must be a number")
    when = base.time + offset
    if not math.isfinite(when):
        return Rejection(index, "time is NaN or infinite")
    if when < RELATIVE_TIME_LIMIT:
        when += now
    if when > now + max_skew_s:
        return Rejection(
            index,
            f"time is {when - now:.0f} s in the future "
            f"(the allowed clock skew is {max_skew_s:g} s)",
        )
    value = _value_of(record, base)
    if isinstance(value, str):
        return Rejection(index, value)
    number, text, value_type = value
    unit_field = record.get("u", base.unit)
    if unit_field is not None and not isinstance(unit_field, str):
        return Rejection(index, "u (unit) must be a string")
    unit = _check_unit(attribute, unit_field, number)
    if isinstance(unit, str):
        return Rejection(index, unit)
    return Reading(
        attribute, round(when * 1_000_000), number, text, value_type, unit[0] if unit else None
    )


# Records with only these fields and a number take resolve_pack's fast path; every other
# record (base fields, other values, anything refused) goes through _resolve_record.
_PLAIN_FIELDS = frozenset({"n", "t", "v", "u"})
_NOT_PLAIN = object()  # a remembered answer: this name or unit needs the full checks
_MEMO_SIZE = 4096  # names and (attribute, unit) pairs remembered across packs ...
_MEMO_KEY_CHARS = 256  # ... when they are short, as real ones are (memory stays bounded)
_attributes: dict[str, Any] = {}
_units: dict[tuple[str, str | None], tuple[Any, Any, Any]] = {}


def _plain_attribute(full_name: str) -> Any:
    """Return the attribute of a valid full name, or _NOT_PLAIN (remembered: names repeat)."""
    attribute = _attributes.get(full_name)
    if attribute is None:
        attribute = _NOT_PLAIN
        if full_name and _NAME.match(full_name):
            cut = _attribute_of(full_name)
            if _ATTRIBUTE.match(cut):
                attribute = cut
        if len(full_name) <= _MEMO_KEY_CHARS:
            if len(_attributes) >= _MEMO_SIZE:
                _attributes.clear()
            _attributes[full_name] = attribute
    return attribute


def _plain_unit(attribute: str, unit: str | None) -> Any:
    """Return (unit to store, minimum, maximum) for an accepted unit, or _NOT_PLAIN.

    Remembered per (attribute, unit), along with the rule and unit list it was derived from,
    so that a changed vocabulary is never answered from memory.
    """
    rule = ATTRIBUTE_RULES.get(attribute)
    memo = _units.get((attribute, unit))
    if memo is not None and memo[0] is rule and memo[1] is UNITS:
        return memo[2]
    checked = _check_unit(attribute, unit, None)
    answer: Any = _NOT_PLAIN
    if not isinstance(checked, str):
        minimum = -math.inf if rule is None or rule.minimum is None else rule.minimum
        maximum = math.inf if rule is None or rule.maximum is None else rule.maximum
        answer = (checked[0] if checked else None), minimum, maximum
    if unit is None or len(unit) <= _MEMO_KEY_CHARS:
        if len(_units) >= _MEMO_SIZE:
            _units.clear()
        _units[(attribute, unit)] = (rule, UNITS, answer)
    return answer


def _plain_info(full_name: str, unit: str | None) -> Any:
    """Return (attribute, unit to store, minimum, maximum) for a plain record, or _NOT_PLAIN."""
    attribute = _plain_attribute(full_name)
    if attribute is _NOT_PLAIN:
        return _NOT_PLAIN
    checked = _plain_unit(attribute, unit)
    return _NOT_PLAIN if checked is _NOT_PLAIN else (attribute, *checked)


def resolve_pack(
    records: list[Any], now: float, max_skew_s: float
) -> tuple[list[Reading], list[Rejection]]:
    """Resolve and validate every record of a pack; ``now`` is epoch seconds.

    Most records of a real pack are plain: a name, perhaps a time and a unit, and a number,
    under base fields set once. Those are resolved inline, with the checks of names and
    units remembered for the pack; any other record, and any record that fails a check, is
    resolved by ``_resolve_record``, so results and reasons are the same either way.
    """
    readings: list[Reading] = []
    rejections: list[Rejection] = []
    append = readings.append
    base = _Base()
    latest_allowed = now + max_skew_s
    # What a (name, unit) resolves to under the base name in force: names and units repeat
    # from record to record, so each pair is checked once per pack.
    plain: dict[tuple[str, str | None], Any] = {}
    plain_fields, not_plain, isfinite = _PLAIN_FIELDS, _NOT_PLAIN, math.isfinite
    # The base fields in force, as locals (refreshed after every record resolved in full).
    base_name, base_time, base_unit, base_value = "", 0.0, None, 0.0
    for index, record in enumerate(records):
        if type(record) is dict and record.keys() <= plain_fields:
            name = record.get("n", "")
            offset = record.get("t", 0.0)
            value = record.get("v", not_plain)
            unit = record.get("u", base_unit)
            number_type = type(value)
            offset_type = type(offset)
            if (
                type(name) is str
                and (number_type is float or number_type is int)
                and (offset_type is float or offset_type is int)
                and (unit is None or type(unit) is str)
            ):
                info = plain.get((name, unit))
                if info is None:
                    info = plain[(name, unit)] = _plain_info(base_name + name, unit)
                # The same checks, in the same order, as _resolve_record (so that even an
                # error raised, such as a number too large for a float, is raised alike).
                if info is not not_plain:
                    when = base_time + offset
                    if isfinite(when):
                        if when < RELATIVE_TIME_LIMIT:
                            when += now
                        if when <= latest_allowed:
                            number = float(value) + base_value
                            if isfinite(number) and info[2] <= number <= info[3]:
                                append(
                                    Reading(
                                        info[0],
                                        round(when * 1_000_000),
                                        number,
                                        None,
                                        "n",
                                        info[1],
                                    )
                                )
                                continue
        resolved = _resolve_record(index, record, base, now, max_skew_s)
        if type(resolved) is Reading:
            append(resolved)
        else:
            rejections.append(resolved)  # type: ignore[arg-type]
        if base.name != base_name:
            base_name, plain = base.name, {}
        base_time, base_unit, base_value = base.time, base.unit, base.value or 0.0
    return readings, rejections
