"""The pure parts of the NGSI-LD temporal API: query parameters, representations, paging.

ETSI GS CIM 009 V1.8 clauses 4.5.7, 4.5.8, 4.5.19, 4.11, 5.7.3, 5.7.4 and 6.3.10.
:func:`parse_temporal_query` validates the temporal query parameters (``timerel``,
``timeAt``, ``endTimeAt``, ``timeproperty``, ``lastN``, ``aggrMethods``,
``aggrPeriodDuration``, ``options``, ``format``) into a :class:`TemporalQuery`.
:func:`render_temporal_entity` writes an entity's attribute instances
(:class:`TemporalInstance`) in the normalized temporal representation or as
``temporalValues``; :func:`aggregate` computes, and :func:`render_aggregated` writes, the
aggregated temporal representation. :func:`page_instances` limits a result to a maximum
number of instances per attribute and gives the 206 status and ``Content-Range`` header
(:func:`content_range`) of a partial response. No database, no HTTP.

Where the specification leaves room, this module decides as follows:

- Time filters: ``before`` selects ``t < timeAt``, ``after`` ``t > timeAt`` and ``between``
  ``timeAt <= t < endTimeAt`` (:meth:`TemporalQuery.selects`). ``timerel`` and ``timeAt``
  need each other; ``endTimeAt`` is only accepted with ``between``. ``timeproperty`` is
  ``observedAt`` (default), ``createdAt`` or ``modifiedAt``. All errors are BadRequestData.
- Representation: ``format`` wins over ``options``; ``options`` may not name both
  ``temporalValues`` and ``aggregatedValues``. ``simplified`` and ``keyValues`` mean
  ``temporalValues``; ``concise`` is answered with the (lossless) normalized form.
  ``aggrMethods`` is validated whenever given and required with ``aggregatedValues``.
- ``aggrPeriodDuration`` takes only fixed-length ISO 8601 durations (weeks, days, hours,
  minutes, seconds): ``P1M`` and ``P1Y`` are refused, as a month or a year has no fixed
  length. A zero duration (``P0D``, ``PT0S``) or none means one period over the whole
  time range: from ``timeAt`` (``after``, ``between``) or the first instance, to
  ``endTimeAt`` (``between``), ``timeAt`` (``before``) or the last instance.
- Aggregation periods are half-open ``[start, start + period)`` and aligned on ``timeAt``
  when the query has one, otherwise on the attribute's first instance; periods without
  instances are left out. Instances are grouped per datasetId, each group in its own
  object. ``sum``, ``avg``, ``stddev`` and ``sumsq`` use numbers (booleans count as 0/1
  when there are no numbers); ``min`` and ``max`` compare numbers, else booleans, else
  strings; ``stddev`` is the population standard deviation; a method that applies to
  none of a period's values is left out of that period.
- Rendering keeps the instance order given; :func:`page_instances` returns each
  attribute in ascending time order, also for ``lastN``. In the normalized form every
  attribute is an array, even of one instance, each instance carries ``instanceId`` when
  known and the queried time property even without ``sysAttrs``. ``temporalValues``
  (``values``, ``objects``, ``languageMaps``, ...) pairs each value with the queried time
  property; instances without it are left out there, in aggregation and in paging.
  Attributes without instances are left out. One datasetId group (the default or not)
  is one object, several are an array of objects each with its ``datasetId``.
- Paging (clause 6.3.10): each attribute holds at most ``limit`` instances; when one has
  more, every attribute is cut at the same instant so that no instance is skipped by the
  next request. Without ``lastN`` paging goes forwards (oldest first) and the range runs
  from the oldest to the newest instance returned, with size ``*``; continue with
  ``timerel=after&timeAt=<range end>``. With ``lastN`` the newest ``lastN`` instances are
  the complete answer and paging goes backwards: the range runs from the newest to the
  oldest returned, with size ``lastN``; continue with ``timerel=before``. Instances
  sharing the cut instant are never split, so an attribute exceeds ``limit`` only when
  more than ``limit`` of them share its first instant. A complete answer is 200 with no
  ``Content-Range``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from citysmart.core.time import isoformat
from citysmart.hub.ngsi_ld.model import (
    AttributeInstance,
    Kind,
    bad_request,
    parse_datetime,
)
from citysmart.hub.ngsi_ld.render import render_attribute

TIMERELS: Final = ("before", "after", "between")
TIME_PROPERTIES: Final = ("observedAt", "createdAt", "modifiedAt")
AGGREGATION_METHODS: Final = (
    "totalCount",
    "distinctCount",
    "sum",
    "avg",
    "min",
    "max",
    "stddev",
    "sumsq",
)
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DURATION: Final = re.compile(
    r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?"
)
_TEMPORAL_MEMBERS: Final = {
    Kind.PROPERTY: "values",
    Kind.GEO_PROPERTY: "values",
    Kind.RELATIONSHIP: "objects",
    Kind.LANGUAGE_PROPERTY: "languageMaps",
    Kind.VOCAB_PROPERTY: "vocabs",
    Kind.JSON_PROPERTY: "jsons",
    Kind.LIST_PROPERTY: "valueLists",
    Kind.LIST_RELATIONSHIP: "objectLists",
}


class Representation(StrEnum):
    """How a temporal result is written (clauses 4.5.7, 4.5.8, 4.5.19)."""

    NORMALIZED = "normalized"
    TEMPORAL_VALUES = "temporalValues"
    AGGREGATED_VALUES = "aggregatedValues"


_FORMATS: Final = {
    "normalized": Representation.NORMALIZED,
    "concise": Representation.NORMALIZED,
    "temporalValues": Representation.TEMPORAL_VALUES,
    "simplified": Representation.TEMPORAL_VALUES,
    "keyValues": Representation.TEMPORAL_VALUES,
    "aggregatedValues": Representation.AGGREGATED_VALUES,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TemporalQuery:
    """A validated temporal query (clause 4.11) and the representation asked for."""

    timerel: str | None = None
    time_at: dt.datetime | None = None
    end_time_at: dt.datetime | None = None
    timeproperty: str = "observedAt"
    last_n: int | None = None
    aggr_methods: tuple[str, ...] = ()
    aggr_period: dt.timedelta | None = None
    representation: Representation = Representation.NORMALIZED
    sys_attrs: bool = False

    def selects(self, instant: dt.datetime) -> bool:
        """Tell whether an instant passes the time filter (no filter selects everything)."""
        if self.timerel is None or self.time_at is None:
            return True
        if self.timerel == "before":
            return instant < self.time_at
        if self.timerel == "after":
            return instant > self.time_at
        assert self.end_time_at is not None
        return self.time_at <= instant < self.end_time_at


@dataclass(frozen=True, slots=True, kw_only=True)
class TemporalInstance:
    """One stored instance of an attribute; ``value`` holds the kind's member, as in model."""

    value: Any
    kind: Kind = Kind.PROPERTY
    observed_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    modified_at: dt.datetime | None = None
    dataset_id: str | None = None
    unit_code: str | None = None
    instance_id: str | None = None
    sub_attributes: tuple[AttributeInstance, ...] = ()

    def time(self, time_property: str = "observedAt") -> dt.datetime | None:
        """Return the instance's ``observedAt``, ``createdAt`` or ``modifiedAt``."""
        if time_property == "createdAt":
            return self.created_at
        if time_property == "modifiedAt":
            return self.modified_at
        if time_property == "observedAt":
            return self.observed_at
        raise ValueError(f"{time_property!r} is not one of {', '.join(TIME_PROPERTIES)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregateRow:
    """The aggregates of one period of an attribute (or of one datasetId of it).

    ``values`` maps an aggregation method to its value; a method missing from it is left
    out of that period in :func:`render_aggregated`.
    """

    start: dt.datetime
    end: dt.datetime
    values: Mapping[str, Any]
    dataset_id: str | None = None
    kind: Kind = Kind.PROPERTY


# --- query parameters ----------------------------------------------------------------------


def parse_temporal_query(
    params: Mapping[str, str], *, default_last_n: int | None = None
) -> TemporalQuery:
    """Validate temporal query parameters; ``default_last_n`` applies when lastN is absent."""
    timerel, time_at, end_time_at = _time_filter(params)
    options = _options(params.get("options"))
    representation = _representation(params.get("format"), options)
    methods = _aggr_methods(params.get("aggrMethods"))
    if representation is Representation.AGGREGATED_VALUES and not methods:
        raise bad_request("aggrMethods is required with aggregatedValues (e.g. aggrMethods=avg)")
    last_n = params.get("lastN")
    return TemporalQuery(
        timerel=timerel,
        time_at=time_at,
        end_time_at=end_time_at,
        timeproperty=_timeproperty(params.get("timeproperty")),
        last_n=_last_n(last_n) if last_n is not None else default_last_n,
        aggr_methods=methods,
        aggr_period=_aggr_period(params.get("aggrPeriodDuration")),
        representation=representation,
        sys_attrs="sysAttrs" in options,
    )


def parse_period(text: str) -> dt.timedelta | None:
    """Parse a fixed-length ISO 8601 duration (``PT1H``); a zero duration gives ``None``."""
    found = _DURATION.fullmatch(text.strip().upper())
    if found is None or text.strip().upper() in ("P", "PT") or text.strip().endswith("T"):
        raise bad_request(
            f"aggrPeriodDuration must be an ISO 8601 duration such as PT1H or P1D, not {text!r}"
        )
    years, months, weeks, days, hours, minutes, seconds = found.groups()
    if int(years or 0) or int(months or 0):
        raise bad_request(
            f"aggrPeriodDuration {text!r}: only fixed-length durations (weeks, days, hours, "
            "minutes, seconds) are supported, not months or years"
        )
    try:
        period = dt.timedelta(
            weeks=int(weeks or 0),
            days=int(days or 0),
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            seconds=float((seconds or "0").replace(",", ".")),
        )
    except OverflowError:
        raise bad_request(f"aggrPeriodDuration {text!r} is too long") from None
    return period or None


def _time_filter(
    params: Mapping[str, str],
) -> tuple[str | None, dt.datetime | None, dt.datetime | None]:
    timerel = params.get("timerel")
    raw_at, raw_end = params.get("timeAt"), params.get("endTimeAt")
    if timerel is None:
        if raw_at is not None or raw_end is not None:
            name = "timeAt" if raw_at is not None else "endTimeAt"
            raise bad_request(f"{name} needs timerel (before, after or between)")
        return None, None, None
    if timerel not in TIMERELS:
        raise bad_request(f"timerel must be before, after or between, not {timerel!r}")
    if raw_at is None:
        raise bad_request(f"timeAt is required with timerel={timerel}")
    time_at = parse_datetime(raw_at, "timeAt")
    if timerel != "between":
        if raw_end is not None:
            raise bad_request(f"endTimeAt is only allowed with timerel=between, not {timerel}")
        return timerel, time_at, None
    if raw_end is None:
        raise bad_request("endTimeAt is required with timerel=between")
    end_time_at = parse_datetime(raw_end, "endTimeAt")
    if end_time_at <= time_at:
        raise bad_request(f"endTimeAt ({raw_end}) must be later than timeAt ({raw_at})")
    return timerel, time_at, end_time_at


def _timeproperty(value: str | None) -> str:
    if value is None:
        return "observedAt"
    if value not in TIME_PROPERTIES:
        raise bad_request(
            f"timeproperty must be observedAt, createdAt or modifiedAt, not {value!r}"
        )
    return value


def _last_n(text: str) -> int:
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or int(digits) < 1:
        raise bad_request(f"lastN must be a whole number greater than 0, not {text!r}")
    return int(digits)


def _options(text: str | None) -> frozenset[str]:
    if text is None:
        return frozenset()
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def _representation(form: str | None, options: frozenset[str]) -> Representation:
    if form is not None:
        if form not in _FORMATS:
            raise bad_request(
                f"format {form!r} is not one of normalized, temporalValues, aggregatedValues"
            )
        return _FORMATS[form]
    named = {_FORMATS[o] for o in options if o in _FORMATS} - {Representation.NORMALIZED}
    if len(named) > 1:
        raise bad_request("options may not ask for both temporalValues and aggregatedValues")
    return named.pop() if named else Representation.NORMALIZED


def _aggr_methods(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    names = [name.strip() for name in text.split(",")]
    for name in names:
        if name not in AGGREGATION_METHODS:
            raise bad_request(
                f"aggrMethods: {name!r} is not one of {', '.join(AGGREGATION_METHODS)}"
            )
    return tuple(dict.fromkeys(names))


def _aggr_period(text: str | None) -> dt.timedelta | None:
    return None if text is None else parse_period(text)


# --- normalized and simplified temporal representations ------------------------------------


def render_temporal_entity(
    entity_id: str,
    types: Sequence[str],
    attributes: Mapping[str, Sequence[TemporalInstance]],
    representation: str = Representation.NORMALIZED,
    *,
    time_property: str = "observedAt",
    sys_attrs: bool = False,
) -> dict[str, Any]:
    """Render an entity's temporal evolution, normalized or as ``temporalValues``."""
    if representation not in (Representation.NORMALIZED, Representation.TEMPORAL_VALUES):
        raise ValueError(f"render_temporal_entity cannot write {representation!r}")
    out: dict[str, Any] = {"id": entity_id, "type": _one_or_list(types)}
    for name, instances in attributes.items():
        if representation == Representation.NORMALIZED:
            rendered: Any = [_normalized(name, i, time_property, sys_attrs) for i in instances]
        else:
            rendered = _temporal_values(instances, time_property)
        if rendered:
            out[name] = rendered
    return out


def _normalized(
    name: str, instance: TemporalInstance, time_property: str, sys_attrs: bool
) -> dict[str, Any]:
    """Render one instance as in clause 4.5.7: the entity-form instance plus instanceId."""
    plain = AttributeInstance(
        name=name,
        kind=instance.kind,
        value=instance.value,
        dataset_id=instance.dataset_id,
        observed_at=instance.observed_at,
        unit_code=instance.unit_code,
        sub_attributes=instance.sub_attributes,
        created_at=instance.created_at,
        modified_at=instance.modified_at,
    )
    out: dict[str, Any] = render_attribute([plain], "normalized", sys_attrs=sys_attrs)
    when = instance.time(time_property)
    if when is not None and time_property not in out:
        out[time_property] = isoformat(when)
    if instance.instance_id is not None:
        out["instanceId"] = instance.instance_id
    return out


def _temporal_values(instances: Sequence[TemporalInstance], time_property: str) -> Any:
    """Render an attribute as clause 4.5.8 ``[value, time]`` pairs, one object per datasetId."""
    groups = _by_dataset(i for i in instances if i.time(time_property) is not None)
    objects = [_values_object(group, time_property) for group in groups.values()]
    if not objects:
        return None
    return objects[0] if len(objects) == 1 else objects


def _values_object(group: Sequence[TemporalInstance], time_property: str) -> dict[str, Any]:
    kind = group[0].kind
    out: dict[str, Any] = {"type": str(kind)}
    if group[0].dataset_id is not None:
        out["datasetId"] = group[0].dataset_id
    out[_TEMPORAL_MEMBERS[kind]] = [
        [i.value, isoformat(_required_time(i, time_property))] for i in group
    ]
    return out


def _required_time(instance: TemporalInstance, time_property: str) -> dt.datetime:
    when = instance.time(time_property)
    assert when is not None  # instances without it are filtered out before
    return when


def _by_dataset(instances: Iterable[TemporalInstance]) -> dict[str | None, list[TemporalInstance]]:
    groups: dict[str | None, list[TemporalInstance]] = {}
    for instance in instances:
        groups.setdefault(instance.dataset_id, []).append(instance)
    return groups


def _one_or_list(values: Sequence[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


# --- aggregated temporal representation ----------------------------------------------------


def bucket_bounds(
    start: dt.datetime, period: dt.timedelta, origin: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """Return the period ``[begin, begin + period)`` holding ``start``, aligned on ``origin``."""
    if period <= dt.timedelta(0):
        raise ValueError(f"a period must be positive, not {period}")
    begin = origin + ((start - origin) // period) * period
    return begin, begin + period


def period_starts(
    time_at: dt.datetime, end_time_at: dt.datetime, period: dt.timedelta
) -> Iterator[dt.datetime]:
    """Yield the starts of the periods from ``time_at`` up to (not including) ``end_time_at``."""
    if period <= dt.timedelta(0):
        raise ValueError(f"a period must be positive, not {period}")
    start = time_at
    while start < end_time_at:
        yield start
        start += period


def aggregate(instances: Sequence[TemporalInstance], query: TemporalQuery) -> list[AggregateRow]:
    """Aggregate one attribute's instances per period and datasetId (clause 4.5.19)."""
    timed = sorted(
        ((t, i) for i in instances if (t := i.time(query.timeproperty)) is not None),
        key=lambda pair: pair[0],
    )
    if not timed:
        return []
    whole = _whole_window(query, timed[0][0], timed[-1][0])
    origin = query.time_at or timed[0][0]
    rows: list[AggregateRow] = []
    for dataset_id, group in _by_dataset(i for _, i in timed).items():
        buckets: dict[tuple[dt.datetime, dt.datetime], list[Any]] = {}
        for instance in group:
            when = _required_time(instance, query.timeproperty)
            period = query.aggr_period
            bounds = whole if period is None else bucket_bounds(when, period, origin)
            buckets.setdefault(bounds, []).append(instance.value)
        rows.extend(
            AggregateRow(
                start=start,
                end=end,
                values=aggregate_values(values, query.aggr_methods),
                dataset_id=dataset_id,
                kind=group[0].kind,
            )
            for (start, end), values in buckets.items()
        )
    return rows


def _whole_window(
    query: TemporalQuery, first: dt.datetime, last: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    start = query.time_at if query.timerel in ("after", "between") else None
    end = query.end_time_at if query.timerel == "between" else None
    end = query.time_at if query.timerel == "before" else end
    return start or first, end or last


def aggregate_values(values: Sequence[Any], methods: Sequence[str]) -> dict[str, Any]:
    """Compute the named aggregation methods over the values of one period."""
    out: dict[str, Any] = {}
    numbers = _numbers(values)
    comparable = _comparable(values)
    for method in methods:
        if method == "totalCount":
            out[method] = len(values)
        elif method == "distinctCount":
            out[method] = len({json.dumps(v, sort_keys=True) for v in values})
        elif method in ("min", "max") and comparable:
            out[method] = min(comparable) if method == "min" else max(comparable)
        elif numbers:
            out.update(_numeric(method, numbers))
    return out


def _numbers(values: Sequence[Any]) -> list[float]:
    found: list[float] = [
        v for v in values if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    return found or [int(v) for v in values if isinstance(v, bool)]


def _comparable(values: Sequence[Any]) -> list[Any]:
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    booleans = [v for v in values if isinstance(v, bool)]
    return numbers or booleans or [v for v in values if isinstance(v, str)]


def _numeric(method: str, numbers: Sequence[float]) -> dict[str, float]:
    if method == "sum":
        return {method: _whole_if_integral(math.fsum(numbers), numbers)}
    if method == "avg":
        return {method: math.fsum(numbers) / len(numbers)}
    if method == "stddev":
        return {method: statistics.pstdev(numbers)}
    if method == "sumsq":
        return {method: _whole_if_integral(math.fsum(n * n for n in numbers), numbers)}
    return {}


def _whole_if_integral(total: float, numbers: Sequence[float]) -> float:
    """Keep a sum of integers an integer (``3``, not ``3.0``) in the JSON output."""
    return int(total) if all(isinstance(n, int) for n in numbers) else total


def render_aggregated(
    entity_id: str,
    types: Sequence[str],
    aggregates: Mapping[str, Sequence[AggregateRow]],
    methods: Sequence[str],
) -> dict[str, Any]:
    """Render aggregates as clause 4.5.19: ``{"avg": [[value, start, end], ...], ...}``."""
    out: dict[str, Any] = {"id": entity_id, "type": _one_or_list(types)}
    for name, rows in aggregates.items():
        groups: dict[str | None, list[AggregateRow]] = {}
        for row in rows:
            groups.setdefault(row.dataset_id, []).append(row)
        objects = [_aggregated_object(group, methods) for group in groups.values()]
        if objects:
            out[name] = objects[0] if len(objects) == 1 else objects
    return out


def _aggregated_object(rows: Sequence[AggregateRow], methods: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": str(rows[0].kind)}
    if rows[0].dataset_id is not None:
        out["datasetId"] = rows[0].dataset_id
    for method in methods:
        out[method] = [
            [row.values[method], isoformat(row.start), isoformat(row.end)]
            for row in rows
            if method in row.values
        ]
    return out


# --- paging (clause 6.3.10) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TemporalPage:
    """What :func:`page_instances` kept, and the status and header it calls for."""

    attributes: dict[str, list[TemporalInstance]]
    partial: bool
    range_start: dt.datetime | None = None
    range_end: dt.datetime | None = None
    size: int | None = None

    @property
    def status(self) -> int:
        """Return 206 for a partial result, else 200."""
        return 206 if self.partial else 200

    @property
    def content_range(self) -> str | None:
        """Return the ``Content-Range`` header value of a partial result, else ``None``."""
        if not self.partial or self.range_start is None or self.range_end is None:
            return None
        return content_range(self.range_start, self.range_end, self.size)


def content_range(first: dt.datetime, last: dt.datetime, size: int | None = None) -> str:
    """Return ``date-time <first>-<last>/<size or *>`` (clause 6.3.10)."""
    return f"date-time {isoformat(first)}-{isoformat(last)}/{'*' if size is None else size}"


def page_instances(
    attributes: Mapping[str, Sequence[TemporalInstance]],
    limit: int,
    *,
    time_property: str = "observedAt",
    last_n: int | None = None,
) -> TemporalPage:
    """Keep at most ``limit`` instances per attribute, cut at one instant; see the module doc."""
    if limit < 1:
        raise ValueError(f"the instance limit must be at least 1, not {limit}")
    backwards = last_n is not None

    def key(instance: TemporalInstance) -> dt.timedelta:
        when = _required_time(instance, time_property)
        return _EPOCH - when if backwards else when - _EPOCH

    ordered = {
        name: sorted((i for i in found if i.time(time_property) is not None), key=key)[:last_n]
        for name, found in attributes.items()
    }
    found_bounds = (_bound([key(i) for i in keys], limit) for keys in ordered.values())
    bounds = [b for b in found_bounds if b is not None]
    cut = min(bounds) if bounds else None
    kept = {
        name: [i for i in found if cut is None or key(i) <= cut] for name, found in ordered.items()
    }
    kept = {name: found[::-1] if backwards else found for name, found in kept.items() if found}
    times = sorted(_required_time(i, time_property) for found in kept.values() for i in found)
    if not times:
        return TemporalPage(attributes=kept, partial=False, size=last_n)
    first, last = (times[-1], times[0]) if backwards else (times[0], times[-1])
    return TemporalPage(
        attributes=kept, partial=cut is not None, range_start=first, range_end=last, size=last_n
    )


def _bound(keys: Sequence[dt.timedelta], limit: int) -> dt.timedelta | None:
    """Return the last key an attribute may keep so that the first ``limit`` fit, if cut."""
    if len(keys) <= limit:
        return None
    following = keys[limit]
    earlier = [k for k in keys[:limit] if k < following]
    return earlier[-1] if earlier else following


__all__ = [
    "AGGREGATION_METHODS",
    "TIMERELS",
    "TIME_PROPERTIES",
    "AggregateRow",
    "Representation",
    "TemporalInstance",
    "TemporalPage",
    "TemporalQuery",
    "aggregate",
    "aggregate_values",
    "bucket_bounds",
    "content_range",
    "page_instances",
    "parse_period",
    "parse_temporal_query",
    "period_starts",
    "render_aggregated",
    "render_temporal_entity",
]
